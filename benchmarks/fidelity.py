"""How far the builder's images are from the same images made from a full decode, on real JPEGs.

    python benchmarks/fidelity.py [FOLDER_OF_JPEGS] [--fit-mode crop|pad|squash] [--plain-pillow]
                                                        (default: ../shared/imagenet-sample, every fit mode)

Prints, for every predefined size (8, 16, 32, 64), both colours and each fit mode, the mean absolute
difference in grey levels (0..255) between the builder's images (one shared decode per image, as a
one-pass build makes them: ``builder.transform.tiny_images``) and the same images made from a full decode
(the builder's own, colour-managed and converted at full resolution), averaged over images, and the
worst image. ``--plain-pillow`` adds a second reference: plain Pillow's full decode
(``Image.open(p).convert(mode)``, then a box resize; no colour management), which with ``--fit-mode
squash`` is the recipe of the Downsampled-ImageNet files (Chrabaszcz et al. 2017).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from builder.config import COLORS, PREDEFINED_SIZES
from builder.geometry import FIT_MODES, fit_geometry
from builder.transform import OUTPUT_MODES, RESAMPLING, TinyRequest, tiny_image, tiny_images

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "imagenet-sample"
BOUND = 2.0  # grey levels: the most a config's mean may differ from the full-decode reference


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


def predefined_requests(fit_modes: Sequence[str] = FIT_MODES) -> list[TinyRequest]:
    """Every predefined size in both colours, in each of ``fit_modes``."""
    return [TinyRequest((s, s), color, fit) for fit in fit_modes for s in PREDEFINED_SIZES for color in COLORS]


def measure_requests(paths: Sequence[Path], requests: Sequence[TinyRequest]) -> dict[TinyRequest, Fidelity]:
    """The builder's images of every request against the builder's own full decode, each image decoded once
    for all requests (and once in full)."""
    differences: dict[TinyRequest, list[float]] = {request: [] for request in requests}
    for path in paths:
        fast, full = tiny_images(path, requests), tiny_images(path, requests, draft=False)
        for request, got, reference in zip(requests, fast, full):
            differences[request].append(mean_abs_difference(np.asarray(got.image), np.asarray(reference.image)))
    return {request: _summary(request, found) for request, found in differences.items()}


def measure_fidelity(paths: Sequence[Path], size: tuple[int, int], color: str, fit_mode: str = "crop") -> Fidelity:
    """The builder's images of one config against the builder's own full decode."""
    return measure_requests(paths, [TinyRequest(size, color, fit_mode)])[TinyRequest(size, color, fit_mode)]


def measure_against_plain_pillow(paths: Sequence[Path], size: tuple[int, int], color: str, fit_mode: str = "crop") -> Fidelity:
    """The builder's images against plain Pillow's full decode."""
    return measure_difference(paths, size, color, fit_mode, lambda p: plain_pillow_reference(p, size, color, fit_mode))


def measure_difference(
    paths: Sequence[Path], size: tuple[int, int], color: str, fit_mode: str, reference: Callable[[Path], object]
) -> Fidelity:
    differences = [mean_abs_difference(tiny_image(p, size, color, fit_mode).image, reference(p)) for p in paths]
    return _summary(TinyRequest(size, color, fit_mode), differences)


def _summary(request: TinyRequest, differences: Sequence[float]) -> Fidelity:
    return Fidelity(request.size, request.color, len(differences), float(np.mean(differences)), float(np.max(differences)))


def main(folder: str, fit_modes: Sequence[str] = FIT_MODES, plain_pillow: bool = False) -> dict[TinyRequest, Fidelity]:
    paths = sorted(Path(folder).glob("*.JPEG"))
    requests = predefined_requests(fit_modes)
    print(f"The builder's images vs a full decode on {len(paths)} JPEGs in {folder} (grey levels, 0..255; "
          f"bound: mean <= {BOUND:g}):")
    header = f"  {'config':<17}  {'vs the builder full decode':<29}"
    print(header + ("  vs plain Pillow full decode" if plain_pillow else ""))
    results = measure_requests(paths, requests)
    for request, own in results.items():
        config = f"{request.size[0]}x{request.size[1]} {request.color} {request.fit_mode}"
        line = f"  {config:<17}  mean {own.mean:5.2f}  worst image {own.worst:5.2f}"
        if plain_pillow:
            plain = measure_against_plain_pillow(paths, request.size, request.color, request.fit_mode)
            line += f"  mean {plain.mean:5.2f}  worst image {plain.worst:5.2f}"
        print(line + ("" if own.mean <= BOUND else "  OVER THE BOUND"))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER), help="a folder of JPEGs")
    parser.add_argument("--fit-mode", choices=FIT_MODES, default=None, help="only this fit mode (default: all three)")
    parser.add_argument(
        "--plain-pillow", action="store_true",
        help="also compare with plain Pillow's full decode (no colour management; Chrabaszcz et al.'s recipe with squash)",
    )
    arguments = parser.parse_args()
    main(arguments.folder, [arguments.fit_mode] if arguments.fit_mode else FIT_MODES, arguments.plain_pillow)
