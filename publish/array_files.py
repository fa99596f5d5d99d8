"""A variant's arrays (``builder.arrays.variant_arrays``) as files: numpy ``.npz`` or MATLAB ``.mat``, and a
Kaggle-style class competition.

The successor of the Matlab version's ``read_ImageNet_tiny`` and of its Python ``read_images.py``.
"""

from __future__ import annotations

import csv
import os
from typing import Mapping

import numpy as np

from builder.errors import InputError


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
        raise InputError(f"{path}: the file name must end in .npz (numpy) or .mat (MATLAB)")


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
