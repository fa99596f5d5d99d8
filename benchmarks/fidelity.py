"""How far the fast (DCT-downscaled) decode is from a full decode, on real JPEGs.

    python benchmarks/fidelity.py [FOLDER_OF_JPEGS] [--fit-mode crop|pad|squash] [--plain-pillow]
                                                        (default: ../shared/imagenet-sample, crop)

Prints, per config, the mean absolute difference in grey levels (0..255) between the builder's
images and the same images made from a full decode (the builder's own, colour-managed at full
resolution), averaged over images, and the worst image. ``--plain-pillow`` adds a second reference:
plain Pillow's full decode (``Image.open(p).convert(mode)``, then a box resize; no colour management),
which with ``--fit-mode squash`` is the recipe of the Downsampled-ImageNet files (Chrabaszcz et al. 2017).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from builder.geometry import FIT_MODES, fit_geometry
from builder.transform import OUTPUT_MODES, RESAMPLING, tiny_image

CONFIGS = (((8, 8), "gray"), ((16, 16), "sRGB"), ((32, 32), "sRGB"), ((32, 32), "gray"), ((64, 64), "sRGB"))
DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "imagenet-sample"


@dataclasses.dataclass(frozen=True)
class Fidelity:
    size: tuple[int, int]
    color: str
    images: int
    mean: float
    worst: float


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).mean())


def full_decode_reference(decoded: Image.Image, size: tuple[int, int], fit_mode: str = "crop") -> np.ndarray:
    """A decoded image fitted by box resampling from its full resolution."""
    fit = fit_geometry(decoded.size, size, fit_mode)
    x0, y0, x1, y1 = (int(c) for c in fit.target_region)
    return np.asarray(decoded.resize((x1 - x0, y1 - y0), RESAMPLING["box"], box=fit.source_region), dtype=np.float64)


def plain_pillow_reference(path: Path, size: tuple[int, int], color: str, fit_mode: str = "crop") -> np.ndarray:
    """Full decode, Pillow's own conversion (no ICC profile applied), box resize: Chrabaszcz et al.'s recipe for squash."""
    with Image.open(path) as image:
        x0, y0, _, _ = (int(c) for c in fit_geometry(image.size, size, fit_mode).target_region)
        fitted = full_decode_reference(image.convert(OUTPUT_MODES[color]), size, fit_mode)
    canvas = np.zeros((size[1], size[0], *fitted.shape[2:]))  # pad: centred on black, as the builder does
    canvas[y0 : y0 + fitted.shape[0], x0 : x0 + fitted.shape[1]] = fitted
    return canvas


def measure_fidelity(paths: Sequence[Path], size: tuple[int, int], color: str, fit_mode: str = "crop") -> Fidelity:
    """The fast decode against the builder's own full decode."""
    return measure_difference(paths, size, color, fit_mode, lambda p: tiny_image(p, size, color, fit_mode, draft=False).image)


def measure_against_plain_pillow(paths: Sequence[Path], size: tuple[int, int], color: str, fit_mode: str = "crop") -> Fidelity:
    """The builder's images against plain Pillow's full decode."""
    return measure_difference(paths, size, color, fit_mode, lambda p: plain_pillow_reference(p, size, color, fit_mode))


def measure_difference(
    paths: Sequence[Path], size: tuple[int, int], color: str, fit_mode: str, reference: Callable[[Path], object]
) -> Fidelity:
    differences = [mean_abs_difference(tiny_image(p, size, color, fit_mode).image, reference(p)) for p in paths]
    return Fidelity(size, color, len(differences), float(np.mean(differences)), float(np.max(differences)))


def main(folder: str, fit_mode: str = "crop", plain_pillow: bool = False) -> None:
    paths = sorted(Path(folder).glob("*.JPEG"))
    print(f"Fast decode vs full decode on {len(paths)} JPEGs in {folder}, fit {fit_mode} (grey levels, 0..255):")
    if plain_pillow:
        print(f"  {'config':<11}  {'vs the builder full decode':<29}  vs plain Pillow full decode")
    for size, color in CONFIGS:
        own = measure_fidelity(paths, size, color, fit_mode)
        config = f"{size[0]}x{size[1]} {color}"
        line = f"  {config:<11}  mean {own.mean:5.2f}  worst image {own.worst:5.2f}"
        if plain_pillow:
            plain = measure_against_plain_pillow(paths, size, color, fit_mode)
            line += f"  mean {plain.mean:5.2f}  worst image {plain.worst:5.2f}"
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER), help="a folder of JPEGs")
    parser.add_argument("--fit-mode", choices=FIT_MODES, default="crop")
    parser.add_argument(
        "--plain-pillow", action="store_true",
        help="also compare with plain Pillow's full decode (no colour management; Chrabaszcz et al.'s recipe with squash)",
    )
    arguments = parser.parse_args()
    main(arguments.folder, arguments.fit_mode, arguments.plain_pillow)
