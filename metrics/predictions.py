"""Prediction files from a model's guesses on an ImageNet-tiny dataset, for the devkit and Kaggle scorers.

A model trained on a tiny variant guesses class indices of the dataset's ``label`` feature (WNIDs in
sorted order) and, for localization, boxes in tiny-image coordinates (continuous pixel edges,
``0..W``). These helpers write them as the challenge's files: rows in validation image order, labels as
ILSVRC2014_IDs (devkit) or WNIDs (Kaggle), and boxes mapped back to inclusive pixels of the original
image through the config's fit (``crop``, ``pad`` or ``squash``), so that they are scored against the
original annotations.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional, Sequence

import numpy as np

from builder.classes import ClassTable, ClassTableError, ilsvrc_classes
from builder.config import parse_config_name
from builder.errors import InputError
from builder.geometry import fit_geometry, original_boxes
from builder.ilsvrc_files import prediction_string, validation_image_number, write_kaggle_csv
from metrics.devkit_files import EvaluationFileError, devkit_prediction_line, write_lines
from metrics.imagenet_clsloc.imagenet_clsloc import invalid_boxes, invalid_labels

REQUIRED_COLUMNS = ("image_id", "original_width", "original_height")


@dataclasses.dataclass(frozen=True)
class PredictionRows:
    """Guesses in validation image order: WNIDs and original-image boxes (inclusive pixels) of each."""

    image_ids: list[str]
    wnids: list[list[str]]
    boxes: Optional[list[np.ndarray]]  # (k_i, 4) integer-valued boxes per image, or None


def prediction_rows(
    dataset: Any,
    labels: Sequence[Sequence[int]],
    boxes: Optional[Sequence[Any]] = None,
    config_name: Optional[str] = None,
) -> PredictionRows:
    """The model's ranked guesses for each example of ``dataset``, ready to be written.

    Args:
        dataset: an ImageNet-tiny ``datasets.Dataset`` (columns ``image_id``, ``original_width``,
            ``original_height``, and a ``label`` ClassLabel whose names are WNIDs).
        labels: per example, the guessed class indices, best first ((N, k) array or ragged lists).
        boxes: per example, the (k, 4) boxes of those guesses in tiny-image coordinates.
        config_name: the dataset's config name, e.g. ``32x32-sRGB-100-pad``, which says how the
            original images were fitted; needed with ``boxes``.
    """
    missing = [c for c in REQUIRED_COLUMNS + ("label",) if c not in dataset.column_names]
    if missing:
        raise InputError(f"the dataset lacks column(s) {', '.join(missing)}: it must be an ImageNet-tiny split")
    names = dataset.features["label"].names
    columns = dataset.select_columns(list(REQUIRED_COLUMNS)).to_dict()
    if len(dataset) == 0:
        raise InputError("the dataset is empty: there is nothing to write")
    if len(labels) != len(dataset):
        raise InputError(f"{len(labels)} predictions for a dataset of {len(dataset)} examples: give one per example")
    counts = np.array([len(row) for row in labels], dtype=np.int64)
    given = np.asarray([label for row in labels for label in row])
    bad = np.flatnonzero(invalid_labels(given))  # 1.9 is refused here, not truncated to 1
    if bad.size == 0:
        flat_labels = given.astype(np.int64)
        bad = np.flatnonzero((flat_labels < 0) | (flat_labels >= len(names)))
    if bad.size:
        image, guess = _locate(int(bad[0]), counts)
        raise InputError(
            f"labels[{image}][{guess}] = {given[bad[0]].item()!r} "
            f"is not a class index of the dataset (0..{len(names) - 1})"
        )

    numbers = [validation_image_number(name, "the dataset's image_id", EvaluationFileError) for name in columns["image_id"]]
    order = np.argsort(numbers, kind="stable")
    wnid_rows = np.split(np.asarray(names, dtype=object)[flat_labels], np.cumsum(counts)[:-1])
    box_rows = None
    if boxes is not None:
        if config_name is None:
            raise InputError("boxes need the dataset's config name (e.g. 32x32-sRGB-100-pad) to map them back")
        original = _original_boxes(
            boxes,
            counts,
            parse_config_name(config_name),
            np.array(columns["original_width"]),
            np.array(columns["original_height"]),
        )
        box_rows = np.split(original, np.cumsum(counts)[:-1])
    return PredictionRows(
        image_ids=[columns["image_id"][i] for i in order],
        wnids=[list(wnid_rows[i]) for i in order],
        boxes=None if box_rows is None else [box_rows[i] for i in order],
    )


def metric_inputs(rows: PredictionRows, source_images: Sequence[Any], label_names: Sequence[str]) -> tuple[list, list]:
    """``predictions`` and ``references`` for the clsloc metric at original resolution (devkit boxes).

    ``source_images`` are the download's :class:`builder.sources.SourceImage` of the same images (their
    WNIDs and original boxes are the ground truth); labels are indices into ``label_names``.
    """
    if rows.boxes is None:
        raise InputError("the predictions have no boxes: localization needs a box per guess")
    truth = {image.image_id: image for image in source_images}
    missing = [i for i in rows.image_ids if i not in truth]
    if missing:
        raise InputError(f"{len(missing)} predicted image(s) are not in the source, e.g. {missing[0]}")
    unboxed = [i for i in rows.image_ids if not truth[i].source_boxes]
    if unboxed:
        raise InputError(f"{len(unboxed)} image(s) have no ground-truth box to localize against, e.g. {unboxed[0]}")
    index = {wnid: i for i, wnid in enumerate(label_names)}
    predictions = [
        [{"label": index[w], "bbox": box.tolist()} for w, box in zip(wnids, boxes)]
        for wnids, boxes in zip(rows.wnids, rows.boxes)
    ]
    references = [
        [{"label": index[truth[i].wnid], "bbox": list(box)} for box in truth[i].source_boxes] for i in rows.image_ids
    ]
    return predictions, references


def write_devkit_predictions(path: str | os.PathLike, rows: PredictionRows, table: Optional[ClassTable] = None) -> None:
    """The devkit's prediction file: one line per image, labels as ILSVRC2014_IDs from ``table`` (ImageNet's by default)."""
    table = ilsvrc_classes() if table is None else table
    if table.ilsvrc2014_ids is None:
        raise ClassTableError(f"{table.source} has no ILSVRC2014_IDs: devkit files need meta_clsloc.mat (or .tsv)")
    id_of = dict(zip(table.wnids, table.ilsvrc2014_ids))
    unknown = sorted({w for row in rows.wnids for w in row if w not in id_of})
    if unknown:
        raise ClassTableError(f"{len(unknown)} guessed class(es) are not in {table.source}, e.g. {unknown[0]}")
    write_lines(
        path,
        (
            devkit_prediction_line([id_of[w] for w in wnids], None if rows.boxes is None else rows.boxes[i])
            for i, wnids in enumerate(rows.wnids)
        ),
    )


def write_kaggle_predictions(path: str | os.PathLike, rows: PredictionRows) -> None:
    """A Kaggle submission: ``ImageId,PredictionString`` with WNIDs (and boxes)."""
    strings = [
        prediction_string(wnids, None if rows.boxes is None else rows.boxes[i])
        for i, wnids in enumerate(rows.wnids)
    ]
    write_kaggle_csv(path, rows.image_ids, strings)


def _original_boxes(
    boxes: Sequence[Any], counts: np.ndarray, config: dict[str, Any], widths: np.ndarray, heights: np.ndarray
) -> np.ndarray:
    """Tiny edge boxes of all guesses as inclusive original pixels, rounded and clipped to each image."""
    if len(boxes) != len(counts):
        raise InputError(f"{len(boxes)} rows of boxes for {len(counts)} examples: give one per example")
    box_counts = np.array([len(row) for row in boxes], dtype=np.int64)
    if not np.array_equal(box_counts, counts):
        image = int(np.flatnonzero(box_counts != counts)[0])
        raise InputError(f"example {image} has {counts[image]} guessed labels but {box_counts[image]} boxes")
    flat = np.asarray([box for row in boxes for box in row], dtype=np.float64).reshape(-1, 4)
    bad = np.flatnonzero(invalid_boxes(flat))
    if bad.size:
        image, guess = _locate(int(bad[0]), counts)
        raise InputError(
            f"boxes[{image}][{guess}] = {flat[bad[0]].tolist()} must be finite with xmin <= xmax and ymin <= ymax"
        )

    image_of_guess = np.repeat(np.arange(len(counts)), counts)
    sizes = np.stack([widths, heights], axis=1)[image_of_guess]
    result = np.empty_like(flat)
    # One fit per distinct original size, not per image: validation images share few sizes.
    unique_sizes, group = np.unique(sizes, axis=0, return_inverse=True)
    order = np.argsort(group.reshape(-1), kind="stable")
    starts = np.searchsorted(group.reshape(-1)[order], np.arange(len(unique_sizes)))
    target = (config["width"], config["height"])
    for (w, h), chosen in zip(unique_sizes, np.split(order, starts[1:])):
        result[chosen] = original_boxes(fit_geometry((int(w), int(h)), target, config["fit_mode"]), flat[chosen])
    # Inside the image (ground truth always is, so this never lowers an overlap), in whole pixels; a
    # box thinner than a pixel still covers the one it starts in.
    limits = np.concatenate([sizes, sizes], axis=1) - 1
    result = np.rint(np.clip(result, 0, limits))
    result[:, 2:] = np.maximum(result[:, 2:], result[:, :2])
    return result


def _locate(flat_index: int, counts: np.ndarray) -> tuple[int, int]:
    """(example, guess) of the ``flat_index``-th guess."""
    ends = np.cumsum(counts)
    image = int(np.searchsorted(ends, flat_index, side="right"))
    return image, flat_index - int(ends[image] - counts[image])
