"""Score prediction files against the validation ground truth: the devkit's eval_clsloc.m on files."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional

from builder.classes import checked_ilsvrc_classes
from metrics.devkit_files import (
    EvaluationFileError,
    LabelSpace,
    attach_boxes,
    check_guess_layout,
    checked_max_guesses,
    read_blacklist,
    read_boxes,
    read_filelist,
    read_ground_truth,
    read_predictions,
)
from metrics.imagenet_clsloc.imagenet_clsloc import DEFAULT_MAX_GUESSES, clsloc_errors

PathLike = str | os.PathLike


@dataclasses.dataclass(frozen=True)
class FileScore:
    """The metric's results, and what a reader of them should know (e.g. why there is no clsloc error)."""

    results: dict[str, Any]
    num_images: int
    num_blacklisted: int
    notes: tuple[str, ...]


def score_files(
    predictions: PathLike,
    ground_truth: PathLike,
    *,
    boxes: Optional[PathLike] = None,
    blacklist: Optional[PathLike] = None,
    meta: Optional[PathLike] = None,
    filelist: Optional[PathLike] = None,
    max_guesses: int = DEFAULT_MAX_GUESSES,
    guesses: Optional[str] = None,
) -> FileScore:
    """Classification (and, with boxes on both sides, localization) errors of a prediction file.

    ``guesses`` ("labels" or "boxes") says how a devkit prediction file is laid out; by default it is
    inferred from the file, and an error asks for it where the file reads both ways (see
    :mod:`metrics.devkit_files`). Labels are read with ImageNet's class table, which ships with the code;
    ``meta``, a user's class table file (meta_clsloc.mat/.tsv or LOC_synset_mapping.txt), is checked
    against it. ``filelist`` names the original images of a subset's lines (``imagenet-tiny subset``).
    """
    max_guesses = checked_max_guesses(max_guesses)  # before reading anything
    check_guess_layout(guesses)
    labels = LabelSpace(checked_ilsvrc_classes(meta))
    image_numbers = read_filelist(filelist) if filelist is not None else None
    truth = read_ground_truth(ground_truth, labels, image_numbers)
    if boxes is not None:
        truth = attach_boxes(truth, read_boxes(boxes, labels, truth.image_numbers), boxes, labels)
    guessed = read_predictions(predictions, labels, truth.image_numbers, guesses=guesses, max_guesses=max_guesses)
    blacklisted = read_blacklist(blacklist, truth.num_images) if blacklist is not None else None

    notes = list(guessed.notes)
    localize = truth.boxes is not None and guessed.boxes is not None
    if truth.boxes is not None and guessed.boxes is None:
        notes.append("the predictions have no boxes: classification error only")
    elif truth.boxes is None and guessed.boxes is not None:
        notes.append("the ground truth has no boxes (give --boxes): classification error only")
    try:
        results = clsloc_errors(
            guessed.labels,
            truth.labels,
            gt_images=truth.images,
            pred_boxes=guessed.boxes if localize else None,
            gt_boxes=truth.boxes if localize else None,
            num_guesses=guessed.num_guesses,
            max_guesses=max_guesses,
            blacklist=blacklisted,
        )
    except ValueError as error:  # the self-contained metric's plain ValueError: the files do not fit together
        raise EvaluationFileError(f"{predictions} against {ground_truth}: {error}") from None
    num_blacklisted = 0 if blacklisted is None else len(blacklisted)
    return FileScore(results, truth.num_images, num_blacklisted, tuple(notes))
