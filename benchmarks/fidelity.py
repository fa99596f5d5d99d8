"""How far the fast (DCT-downscaled) decode is from a full decode, on real JPEGs.

    python benchmarks/fidelity.py [FOLDER_OF_JPEGS]     (default: ../shared/imagenet-sample)

Prints, per config, the mean absolute difference in grey levels (0..255) between the builder's
images and the same images made from a full decode, averaged over images, and the worst image.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from builder.geometry import fit_geometry
from builder.transform import RESAMPLING, tiny_image

CONFIGS = (((8, 8), "gray"), ((16, 16), "sRGB"), ((32, 32), "sRGB"), ((32, 32), "gray"), ((64, 64), "sRGB"))


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


def measure_fidelity(paths: Sequence[Path], size: tuple[int, int], color: str) -> Fidelity:
    differences = [
        mean_abs_difference(tiny_image(p, size, color).image, tiny_image(p, size, color, draft=False).image)
        for p in paths
    ]
    return Fidelity(size, color, len(differences), float(np.mean(differences)), float(np.max(differences)))


def main(folder: str) -> None:
    paths = sorted(Path(folder).glob("*.JPEG"))
    print(f"Fast decode vs full decode on {len(paths)} JPEGs in {folder} (grey levels, 0..255):")
    for size, color in CONFIGS:
        result = measure_fidelity(paths, size, color)
        print(f"  {size[0]}x{size[1]} {color:<4}  mean {result.mean:.2f}  worst image {result.worst:.2f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[2] / "shared" / "imagenet-sample"))
