"""Where a source image lands in a tiny image, and where its boxes go: pure functions, no pixels.

Coordinates are continuous pixel edges: pixel ``i`` covers ``[i, i + 1)``, so a W-wide image spans
``[0, W]``. ImageNet's annotations (Kaggle CSVs, devkit XML) are *inclusive* 0-based pixel indices
instead (a box over the whole of a 500-wide image is ``xmin=0, xmax=499``);
:func:`source_to_edges` and :func:`edges_to_source` convert between the two.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from builder.errors import InputError

FIT_MODES = ("crop", "pad", "squash")

Box = tuple[float, float, float, float]  # (xmin, ymin, xmax, ymax)


@dataclasses.dataclass(frozen=True)
class Fit:
    """The region ``source_region`` of the source image is scaled onto ``target_region`` of the tiny image.

    For ``crop`` the source region is the centred part with the target's aspect ratio and the target
    region is the whole tiny image; for ``pad`` the whole source lands, aspect kept, centred on black;
    for ``squash`` the whole source fills the whole target.
    """

    source_region: Box
    target_region: Box
    target_size: tuple[int, int]
    source_size: tuple[int, int]

    @property
    def scale(self) -> tuple[float, float]:
        """Tiny pixels per source pixel, along x and y."""
        sx0, sy0, sx1, sy1 = self.source_region
        tx0, ty0, tx1, ty1 = self.target_region
        return (tx1 - tx0) / (sx1 - sx0), (ty1 - ty0) / (sy1 - sy0)

    def to_target(self, boxes: np.ndarray) -> np.ndarray:
        """Map (N, 4) edge boxes from source to tiny coordinates (no clipping)."""
        return _affine(boxes, self.source_region, self.target_region)

    def to_source(self, boxes: np.ndarray) -> np.ndarray:
        """Map (N, 4) edge boxes from tiny to source coordinates: the inverse of :meth:`to_target`."""
        return _affine(boxes, self.target_region, self.source_region)


def fit_geometry(source_size: tuple[int, int], target_size: tuple[int, int], fit_mode: str) -> Fit:
    """How an image of ``source_size`` (w, h) is fitted into ``target_size`` (W, H) by ``fit_mode``."""
    w, h = source_size
    W, H = target_size
    if min(w, h, W, H) <= 0:
        raise InputError(f"sizes must be positive, got source {source_size} and target {target_size}")
    if fit_mode == "crop":
        # The full extent along the tighter axis, written exactly (no float drift outside the image).
        if W * h >= H * w:
            crop_h = w * H / W
            source = (0.0, (h - crop_h) / 2, float(w), (h + crop_h) / 2)
        else:
            crop_w = h * W / H
            source = ((w - crop_w) / 2, 0.0, (w + crop_w) / 2, float(h))
        return Fit(source, (0.0, 0.0, float(W), float(H)), (W, H), (w, h))
    if fit_mode == "pad":
        scale = min(W / w, H / h)
        # Whole tiny pixels for the image, so that the black border is exact and the image is sharp.
        inner_w = min(W, max(1, round(w * scale)))
        inner_h = min(H, max(1, round(h * scale)))
        left, top = (W - inner_w) // 2, (H - inner_h) // 2
        target = (float(left), float(top), float(left + inner_w), float(top + inner_h))
        return Fit((0.0, 0.0, float(w), float(h)), target, (W, H), (w, h))
    if fit_mode == "squash":
        return Fit((0.0, 0.0, float(w), float(h)), (0.0, 0.0, float(W), float(H)), (W, H), (w, h))
    raise InputError(f"unknown fit mode {fit_mode!r}: expected one of {', '.join(FIT_MODES)}")


def source_to_edges(source_boxes: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Inclusive pixel-index boxes (ImageNet annotations) to continuous edge boxes."""
    boxes = np.asarray(source_boxes, dtype=np.float64).reshape(-1, 4)
    return boxes + np.array([0.0, 0.0, 1.0, 1.0])


def edges_to_source(boxes: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Continuous edge boxes to inclusive pixel-index boxes (floats; round them for integer pixels)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes - np.array([0.0, 0.0, 1.0, 1.0])


def clip_boxes(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Clip (N, 4) edge boxes to an image of ``size`` and drop those left with no area."""
    clipped, has_area = _clip(boxes, size)
    return clipped[has_area]


def _clip(boxes: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) edge boxes clipped to an image of ``size``, and which of them keep some area."""
    W, H = size
    clipped = np.clip(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), 0.0, [W, H, W, H])
    return clipped, (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])


def tiny_boxes(fit: Fit, source_boxes: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Ground-truth boxes (inclusive source pixels) as edge boxes in the tiny image, clipped to it.

    A box is first clipped to the source image (an annotation may reach outside it, and with ``pad`` the
    part outside would land on the black border; :func:`source_box_fates` says which boxes were). A box
    that the crop cuts away entirely, or that lies wholly outside the source image, has no area left in
    the tiny image and is left out.
    """
    inside = clip_boxes(source_to_edges(source_boxes), fit.source_size)
    return clip_boxes(fit.to_target(inside), fit.target_size)


# What becomes of an annotation box in its source image (source_box_fates).
INSIDE, CLIPPED, DROPPED = "inside", "clipped", "dropped"


def source_box_fates(source_boxes: np.ndarray | Sequence[Sequence[float]], size: tuple[int, int]) -> list[str]:
    """Per box (inclusive source pixels), whether it lies ``inside`` the image of ``size``, reaches outside
    it and is ``clipped`` to it, or has no area in it and is ``dropped``."""
    edges = source_to_edges(source_boxes)
    clipped, has_area = _clip(edges, size)
    moved = np.any(clipped != edges, axis=1)
    return np.where(has_area, np.where(moved, CLIPPED, INSIDE), DROPPED).tolist()


def original_boxes(fit: Fit, boxes: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Tiny-image edge boxes back to inclusive source pixels (floats), e.g. to score predictions at full size."""
    return edges_to_source(fit.to_source(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)))


def _affine(boxes: np.ndarray, from_region: Box, to_region: Box) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    fx0, fy0, fx1, fy1 = from_region
    tx0, ty0, tx1, ty1 = to_region
    scale = np.array([(tx1 - tx0) / (fx1 - fx0), (ty1 - ty0) / (fy1 - fy0)] * 2)
    return (boxes - [fx0, fy0, fx0, fy0]) * scale + [tx0, ty0, tx0, ty0]
