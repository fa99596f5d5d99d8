"""Baselines to score against: a numpy-only classifier with a box regressor, and random guessing.

Both predict, per image, ``k`` ranked labels and one box per guess (tiny-image pixel-edge
coordinates), the form the clsloc metric takes.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from builder.errors import InputError


@dataclasses.dataclass
class NearestClassMean:
    """Rank classes by distance to their mean image; place the box by ridge regression on the pixels.

    Images are uint8 arrays (N, H, W, C); boxes are each training image's first ground-truth box.
    """

    ridge: float = 10.0
    means: np.ndarray = dataclasses.field(default=None, repr=False)
    box_weights: np.ndarray = dataclasses.field(default=None, repr=False)
    image_size: tuple[int, int] = (0, 0)

    def fit(self, images: np.ndarray, labels: np.ndarray, boxes: Sequence[Sequence[Sequence[float]]]) -> "NearestClassMean":
        features = _features(images)
        num_classes = int(labels.max()) + 1
        counts = np.bincount(labels, minlength=num_classes)
        if (counts == 0).any():
            raise InputError(f"every class needs training images; none for class(es) {np.flatnonzero(counts == 0).tolist()}")
        self.means = np.zeros((num_classes, features.shape[1]))
        np.add.at(self.means, labels, features)
        self.means /= counts[:, None]
        # Boxes relative to the image size, so one regressor serves every size.
        self.image_size = (images.shape[2], images.shape[1])
        with_box = np.array([len(b) > 0 for b in boxes])
        targets = np.array([b[0] for b in boxes if len(b)], dtype=np.float64) / np.tile(self.image_size, 2)
        design = _with_bias(features[with_box])
        gram = design.T @ design + self.ridge * np.eye(design.shape[1])
        self.box_weights = np.linalg.solve(gram, design.T @ targets)
        return self

    def predict(self, images: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Ranked labels (N, k) and boxes (N, k, 4): the regressed box, clipped to the image, for every guess."""
        features = _features(images)
        distances = ((features[:, None, :] - self.means[None, :, :]) ** 2).sum(axis=2)
        labels = np.argsort(distances, axis=1, kind="stable")[:, :k]
        scale = np.tile(self.image_size, 2)
        boxes = np.clip(_with_bias(features) @ self.box_weights, 0.0, 1.0) * scale
        boxes = np.stack([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1)
        boxes = boxes.reshape(-1, 4)
        return labels, np.repeat(boxes[:, None, :], labels.shape[1], axis=1)


def random_guesses(
    num_images: int, num_classes: int, image_size: tuple[int, int], k: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Chance: k distinct random labels and k random boxes per image."""
    rng = np.random.default_rng(seed)
    labels = np.argsort(rng.random((num_images, num_classes)), axis=1)[:, :k]
    corners = rng.random((num_images, k, 2, 2)) * np.array(image_size)
    boxes = np.concatenate([corners.min(axis=2), corners.max(axis=2)], axis=2)
    return labels, boxes


def _features(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float64) / 255.0


def _with_bias(features: np.ndarray) -> np.ndarray:
    return np.hstack([features, np.ones((len(features), 1))])
