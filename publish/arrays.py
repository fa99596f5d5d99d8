"""ImageNet-tiny as plain arrays: numpy ``.npz`` or MATLAB ``.mat``, and a Kaggle-style class competition.

The successor of the Matlab version's ``read_ImageNet_tiny`` and of its Python ``read_images.py``.
"""

from __future__ import annotations

import csv
import os
from typing import Mapping

import datasets
import numpy as np

from builder.arrays import load_arrays


def to_arrays(split: datasets.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """All images of a split as one uint8 array (N, H, W, C) (C is 1 for gray) and the labels (N,) as int64.

    Through :func:`builder.arrays.load_arrays`: decoded once, then read from its cache.
    """
    return load_arrays(split)


def variant_arrays(dataset: datasets.DatasetDict) -> dict[str, np.ndarray]:
    """``x_train, y_train, x_val, y_val`` (and ``x_test`` when present) plus the class table (``wnids``, ``words``)."""
    arrays: dict[str, np.ndarray] = {}
    for split, suffix in (("train", "train"), ("validation", "val"), ("test", "test")):
        if split in dataset:
            x, y = to_arrays(dataset[split])
            arrays[f"x_{suffix}"] = x
            if split != "test":
                arrays[f"y_{suffix}"] = y
    some_split = next(iter(dataset.values()))
    wnids = some_split.features["label"].names
    arrays["wnids"] = np.array(wnids)
    arrays["words"] = np.array(class_words(dataset, wnids))
    return arrays


def class_words(dataset: datasets.DatasetDict, wnids: list[str]) -> list[str]:
    """Each class's words, read from the examples themselves (the ``words`` column): one row per class."""
    words: dict[int, str] = {}
    for split in dataset.values():
        labels = np.asarray(split.data.table.column("label").to_numpy())
        found, first_rows = np.unique(labels, return_index=True)  # vectorised: no pass over every row in Python
        texts = split.data.table.column("words").take(first_rows).to_pylist()
        for label, text in zip(found.tolist(), texts):
            if label >= 0:
                words.setdefault(label, text)
    return [words.get(i, "") for i in range(len(wnids))]


def write_arrays(arrays: Mapping[str, np.ndarray], path: str) -> None:
    """``.npz`` for numpy (``np.load``), ``.mat`` for MATLAB's ``load`` (and ``scipy.io.loadmat``)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if path.endswith(".mat"):
        import scipy.io

        # Object arrays become cell arrays: MATLAB users get {'n01440764', ...}, not a padded char matrix.
        cells = {k: v.astype(object) if v.dtype.kind == "U" else v for k, v in arrays.items()}
        scipy.io.savemat(path, cells, do_compression=True)
    elif path.endswith(".npz"):
        np.savez_compressed(path, **arrays)
    else:
        raise ValueError(f"{path}: the file name must end in .npz (numpy) or .mat (MATLAB)")


def write_kaggle_competition(labels: np.ndarray, num_classes: int, folder: str, seed: int = 0) -> tuple[str, str]:
    """A class competition on the validation images, as ``read_images.py`` set one up.

    ``test.csv`` is the solution (``Id,Category``: position in ``x_val``, label) and
    ``sample_submission.csv`` the same ids with random labels, the format participants submit.
    """
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = os.path.join(folder, "test.csv"), os.path.join(folder, "sample_submission.csv")
    for path, categories in zip(paths, (labels, rng.integers(0, num_classes, size=len(labels)))):
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["Id", "Category"])
            writer.writerows(enumerate(int(c) for c in categories))
    return paths
