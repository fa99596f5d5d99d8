"""A variant as Downsampled-ImageNet files (Chrabaszcz et al. 2017: Imagenet16x16, Imagenet32x32, Imagenet64x64).

Existing training code for those datasets reads a folder of pickled batches; this writes that folder, so
the code runs unchanged on any square sRGB variant. Every fact below is from the authors' scripts,
github.com/PatrykChrabaszcz/Imagenet32_Scripts:

- ``image2numpy_imagenet_train.py`` writes ``train_data_batch_1`` .. ``train_data_batch_10``: all training
  rows shuffled (``np.random.shuffle``), the first nine files ``N // 10`` rows each, the tenth the rest.
  Each is a pickled dict: ``data`` uint8 ``(rows, 3*size*size)``, a row being the image's R plane, then G,
  then B, each row-major (``img[:, :, c].flatten()``); ``labels`` a list of Python ints, the 1-based
  ILSVRC2014_ID of the class (``get_label_dict`` in ``utils.py`` reads them from ``map_clsloc.txt``, the
  devkit table); ``mean`` float64 ``(3*size*size,)``, ``np.mean`` over all training rows, the same array
  in every batch.
- ``image2numpy_imagenet_val.py`` writes one file ``val_data``: ``data`` and ``labels`` as above, no ``mean``.
- Both call ``pickle.dump(d, f)`` under Python 3, whose default protocol was then 3 (their Python 3
  loaders call ``pickle.load`` with no ``encoding``).
- ``WRNs_imagenet.py`` reads all eleven files from one folder (``load_databatch``,
  ``load_validation_data``): it subtracts 1 from the labels, subtracts ``mean`` (of
  ``train_data_batch_1``) and reshapes ``data`` to ``N x 3 x size x size``. The published downloads
  unpack to ``Imagenet32_train/`` and ``Imagenet32_val/``; code written for those takes the same files.
- ``image_resizer_imagent.py`` converts each image to RGB and squashes it to ``size x size``
  (``im.resize((size, size), alg)``); the published datasets used the box filter. ImageNet-tiny's
  ``{S}x{S}-sRGB-full-squash`` config follows that recipe (box is its default filter).

Where this differs: the training rows are shuffled with ``seed`` (reproducible), and ``val_data`` keeps the
dataset's order (the scripts took ``os.listdir`` order). Class subsets keep their devkit IDs, as the
scripts' subsampled folders did; the test split is not written (the format has none).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import NamedTuple

import datasets
import numpy as np

from builder.arrays import load_arrays
from builder.classes import ClassTable
from builder.errors import ImageNetTinyError

TRAIN_BATCHES = 10
TRAIN_FILE = "train_data_batch_{}"
VALIDATION_FILE = "val_data"
PICKLE_PROTOCOL = 3  # Python 3's default when the authors wrote their files


class Imagenet32File(NamedTuple):
    path: Path
    data_shape: tuple[int, int]  # rows, 3*size*size


class Imagenet32FormatError(ImageNetTinyError, ValueError):
    """A variant that the Downsampled-ImageNet layout cannot hold (gray, not square, no training split)."""


def write_imagenet32(
    dataset: datasets.DatasetDict,
    folder: str | os.PathLike,
    classes: ClassTable,
    seed: int = 0,
) -> list[Imagenet32File]:
    """Write ``train_data_batch_1`` .. ``10`` (and ``val_data`` when there is a validation split) into ``folder``.

    ``classes`` is the devkit's class table (``meta_clsloc.mat``), which gives each WNID its ILSVRC2014_ID.
    Returns the files written, in order, with the shape of their ``data``.
    """
    if "train" not in dataset:
        raise Imagenet32FormatError(
            f"the Imagenet32 layout needs a train split (its files carry the mean training image); this dataset has {', '.join(dataset)}"
        )
    devkit_ids = ilsvrc2014_ids(dataset["train"].features["label"].names, classes)
    images, labels = _rgb_arrays(dataset["train"], "train")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # Sums of uint8 in float64 are exact, so this is bit for bit the scripts' np.mean(x, axis=0).
    mean = planar_rows(images.sum(axis=0, dtype=np.float64)[np.newaxis])[0] / len(images)
    order = np.random.default_rng(seed).permutation(len(images))
    size = len(images) // TRAIN_BATCHES
    written = []
    for number in range(1, TRAIN_BATCHES + 1):
        rows = order[(number - 1) * size : number * size if number < TRAIN_BATCHES else None]
        batch = {"data": planar_rows(images[rows]), "labels": devkit_ids[labels[rows]].tolist(), "mean": mean}
        written.append(_dump(batch, folder / TRAIN_FILE.format(number)))
    del images

    if "validation" in dataset:
        images, labels = _rgb_arrays(dataset["validation"], "validation")
        written.append(_dump({"data": planar_rows(images), "labels": devkit_ids[labels].tolist()}, folder / VALIDATION_FILE))
    return written


def ilsvrc2014_ids(wnids: list[str], classes: ClassTable) -> np.ndarray:
    """The 1-based ILSVRC2014_ID of each class index (position in ``wnids``), as an int64 array."""
    if classes.ilsvrc2014_ids is None:
        raise Imagenet32FormatError(
            f"class table {classes.source} has no ILSVRC2014_IDs: give the devkit's meta_clsloc.mat (or meta_clsloc.tsv)"
        )
    return np.array([classes.ilsvrc2014_ids[classes.index(wnid)] for wnid in wnids], dtype=np.int64)


def planar_rows(images: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` images as ``(N, 3*H*W)`` rows: all R values, then all G, then all B, each row-major."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), -1)


def _rgb_arrays(split: datasets.Dataset, name: str) -> tuple[np.ndarray, np.ndarray]:
    mode = getattr(split.features.get("image"), "mode", None)
    if mode not in (None, "RGB"):  # caught before decoding a whole split for nothing
        raise Imagenet32FormatError(f"the {name} split's images are {mode}: the Imagenet32 layout is RGB only; use an sRGB config")
    images, labels = load_arrays(split)
    if len(images) == 0:
        raise Imagenet32FormatError(f"the {name} split has no images")
    if images.ndim != 4 or images.shape[3] != 3:
        raise Imagenet32FormatError(
            f"the {name} split's images have shape {images.shape[1:]}: the Imagenet32 layout is RGB only; use an sRGB config"
        )
    if images.shape[1] != images.shape[2]:
        raise Imagenet32FormatError(
            f"the {name} split's images are {images.shape[2]}x{images.shape[1]}: Imagenet32 readers reshape "
            "every row to size x size; use a square config such as 32x32-sRGB-full-squash"
        )
    unlabelled = np.flatnonzero(labels < 0)
    if unlabelled.size:
        raise Imagenet32FormatError(f"row {unlabelled[0]} of the {name} split has no label; every Imagenet32 row needs one")
    return images, labels


def _dump(batch: dict, path: Path) -> Imagenet32File:
    # Written beside and renamed, so that an interrupted export never leaves a truncated batch behind.
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        pickle.dump(batch, f, protocol=PICKLE_PROTOCOL)
    os.replace(partial, path)
    return Imagenet32File(path, batch["data"].shape)
