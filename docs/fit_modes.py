"""Draw docs/fit-modes.png: one synthetic image fitted into 32x32 by crop, pad and squash.

    python docs/fit_modes.py [OUT.png]

The README shows the picture; a test redraws it and checks that the committed file is what this draws.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from builder.transform import tiny_image
from publish.preview import PreviewPair, draw_pairs

SIZE = (32, 32)


def fit_modes_picture() -> Image.Image:
    # A wide picture: a disc in the centre, a triangle near the left edge, a white frame.
    wide = Image.new("RGB", (300, 150), (128, 128, 128))
    draw = ImageDraw.Draw(wide)
    draw.ellipse((115, 40, 185, 110), fill=(200, 30, 30))
    draw.polygon([(12, 130), (72, 130), (42, 70)], fill=(20, 30, 110))
    draw.rectangle((0, 0, 299, 149), outline=(255, 255, 255), width=4)
    buffer = io.BytesIO()
    wide.save(buffer, format="PNG")
    pairs = [
        PreviewPair(wide, tiny_image(io.BytesIO(buffer.getvalue()), SIZE, "sRGB", mode).image, f"{mode}: {SIZE[0]}x{SIZE[1]}")
        for mode in ("crop", "pad", "squash")
    ]
    return draw_pairs(pairs, "fit modes")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("fit-modes.png"))
    fit_modes_picture().save(out, format="PNG")
    print(f"Wrote {out}")
