"""The ILSVRC evaluation files: devkit text files, Kaggle CSVs and devkit XML boxes, read and written.

Devkit (ILSVRC2014 devkit, ``data/`` and ``evaluation/``):
- predictions: one line per validation image, in order; each guess ``label xmin ymin xmax ymax``
  (eval_clsloc.m) or the labels alone (eval_cls.m); labels are ILSVRC2014_IDs (1..1000);
- ground truth: one ILSVRC2014_ID per line, line n for image n;
- blacklist: 1-based image numbers, one per line;
- boxes: ``ILSVRC2012_bbox_val_v3/val/ILSVRC2012_val_%08d.xml``, PASCAL VOC style, classes as WNIDs.
Kaggle: ``ImageId,PredictionString`` CSVs whose strings are ``wnid xmin ymin xmax ymax`` repeated (both
submissions and ``LOC_val_solution.csv``), or WNIDs alone for a classification submission.

Box coordinates are inclusive integer pixel positions of the original image, as ImageNet annotates them.
The formats that the builder reads too (Kaggle CSVs, the devkit ground truth, validation image ids,
boxes) have their one reader in :mod:`builder.ilsvrc_files`; this module turns what they read into the
metric's labels and arrays. Every reader reports the file and line of the first problem; nothing is
skipped silently. Files are UTF-8 (a BOM is allowed); a Kaggle header may be in any case. Guesses past
``max_guesses`` are checked but not kept, so that memory stays (images x max_guesses) whatever the
length of a line.

A devkit prediction file's layout, labels alone or ``label xmin ymin xmax ymax`` per guess, is given by
``guesses`` or inferred: the file is read both ways, and the one reading that succeeds is used (with a
note saying why the other failed). Labels alone fails on a token that is not a class ID (a coordinate
0, 1001 or 12.5, say); boxes fails on a line whose count of numbers is not a multiple of 5, a label
position that is not a class ID or a box that is not one (xmax < xmin). When both readings succeed the
file is ambiguous: an error asks for ``guesses``. When neither does, the error gives both reasons.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Iterable, Optional, Sequence

import numpy as np

from builder.classes import WNID_PATTERN, ClassTable, ilsvrc_classes
from builder.errors import ImageNetTinyError, InputError, MissingFileError
from builder.ilsvrc_files import (
    Box,
    excerpt,
    format_box,
    is_kaggle_csv,
    kaggle_records,
    parse_box,
    read_devkit_ground_truth,
    utf8_lines,
    validation_image_id,
    validation_image_number,
)
from builder.sources.annotations import read_voc_xml
from metrics.imagenet_clsloc.imagenet_clsloc import DEFAULT_MAX_GUESSES, check_max_guesses, pad_guesses

WHOLE_NUMBER_PATTERN = re.compile(r"[0-9]+")  # ASCII: str.isdigit() also takes '²' and other scripts' digits
MAX_IMAGE_NUMBER = 99_999_999  # ImageIds have 8 digits
GUESS_LAYOUTS = {"labels": "labels alone", "boxes": "'label xmin ymin xmax ymax' guesses"}


class EvaluationFileError(ImageNetTinyError, ValueError):
    """A prediction, ground-truth, box, blacklist or file-list file that cannot be used; says where."""


def checked_max_guesses(max_guesses: object) -> int:
    """The metric's own check of ``max_guesses``, its ValueError an :class:`InputError` (the metric module is
    self-contained, as ``evaluate`` loads it alone, so it raises plain ValueErrors)."""
    try:
        return check_max_guesses(max_guesses)
    except ValueError as error:
        raise InputError(str(error)) from None


class LabelSpace:
    """Turns the labels in files, ILSVRC2014_IDs or WNIDs, into the integers the metric compares.

    The integers are class indices of a class table (sorted WNID order), so IDs and WNIDs mix freely;
    by default the table is ImageNet's, which ships with the code. A table without ILSVRC2014_IDs
    (a ``LOC_synset_mapping.txt`` read as it is) reads WNIDs only.
    """

    def __init__(self, table: Optional[ClassTable] = None) -> None:
        self.table = ilsvrc_classes() if table is None else table
        self._by_wnid = {wnid: i for i, wnid in enumerate(self.table.wnids)}

    def of_id(self, token: str, where: str) -> int:
        """The label of an ILSVRC2014_ID as written in a devkit file."""
        label = self.table.position_of_written_id(token)
        if label is not None:
            return label
        if self.table.ilsvrc2014_ids is None:
            raise EvaluationFileError(
                f"{where}: devkit labels are ILSVRC2014_IDs, which {self.table.source} does not give; "
                "pass the devkit's meta_clsloc.mat (or meta_clsloc.tsv) as the class table"
            )
        known = f"1..{len(self.table)}" if self.table is ilsvrc_classes() else "the class table's ILSVRC2014_IDs"
        raise EvaluationFileError(
            f"{where}: {excerpt(token)!r} is not a known class: labels must be ILSVRC2014_IDs in {known}"
        )

    def name(self, label: int) -> str:
        """How Kaggle files write ``label``: its WNID."""
        return self.table.wnids[label]

    def of_wnid(self, token: str, where: str) -> int:
        """The label of a WNID as written in a Kaggle file or an XML annotation."""
        label = self._by_wnid.get(token)
        if label is None:
            raise EvaluationFileError(f"{where}: {excerpt(token)!r} is not a class of {self.table.source}")
        return label


@dataclasses.dataclass(frozen=True)
class GroundTruth:
    """The objects of N images; ``boxes`` is None for labels only (one object per image)."""

    image_numbers: np.ndarray  # (N,) 1-based validation image numbers, in evaluation order
    labels: np.ndarray  # (O,) label of each object
    images: np.ndarray  # (O,) 0-based position in image_numbers of each object's image
    boxes: Optional[np.ndarray] = None  # (O, 4) inclusive pixel boxes

    @property
    def num_images(self) -> int:
        return len(self.image_numbers)


@dataclasses.dataclass(frozen=True)
class Predictions:
    """Ranked guesses of N images, padded to K <= max_guesses columns; ``boxes`` is None for labels only."""

    labels: np.ndarray  # (N, K)
    num_guesses: np.ndarray  # (N,)
    boxes: Optional[np.ndarray] = None  # (N, K, 4)
    notes: tuple[str, ...] = ()  # what a reader of the results should know, e.g. how the layout was inferred


# ----------------------------------------------------------------------------------------------- readers


def read_ground_truth(
    path: str | os.PathLike, labels: LabelSpace, image_numbers: Optional[Sequence[int]] = None
) -> GroundTruth:
    """A devkit ground-truth file (labels only) or a Kaggle ``LOC_val_solution.csv`` (with boxes).

    ``image_numbers`` (a file list, e.g. from ``imagenet-tiny subset``) names the images the lines of a
    devkit file stand for; by default line n is image n. A Kaggle file is put in image-number order,
    or in the order of ``image_numbers`` when given.
    """
    if is_kaggle_csv(path):
        return _objects_to_ground_truth(_read_kaggle_rows(path, labels, image_numbers, boxes=True, every_row=False))
    with open(path, "rb") as f:
        written_ids = read_devkit_ground_truth(f, str(path), EvaluationFileError)
    numbers = _image_numbers_for(written_ids, path, image_numbers, "ground-truth")
    truth = np.array([labels.of_id(token, f"{path}, line {n}") for n, token in enumerate(written_ids, 1)], dtype=np.int64)
    return GroundTruth(numbers, truth, np.arange(len(written_ids)))


def read_boxes(path: str | os.PathLike, labels: LabelSpace, image_numbers: Sequence[int]) -> GroundTruth:
    """Ground-truth boxes of the given images from a folder of devkit XML files or a Kaggle CSV."""
    if os.path.isdir(path):
        return _objects_to_ground_truth(_read_xml_objects(path, labels, image_numbers))
    if not os.path.isfile(path):
        raise MissingFileError(f"{path}: no such file or folder of boxes")
    if not is_kaggle_csv(path):
        raise EvaluationFileError(
            f"{path}: boxes come from a folder of devkit XML files (ILSVRC2012_bbox_val_v3/val) "
            "or a Kaggle LOC_val_solution.csv starting with 'ImageId,PredictionString'"
        )
    return _objects_to_ground_truth(_read_kaggle_rows(path, labels, image_numbers, boxes=True, every_row=False))


def attach_boxes(
    truth: GroundTruth, boxes: GroundTruth, boxes_path: str | os.PathLike, labels: LabelSpace
) -> GroundTruth:
    """The ground truth's labels with the boxes read for the same images; their classes must agree."""
    if not np.array_equal(truth.image_numbers, boxes.image_numbers):
        raise EvaluationFileError(f"{boxes_path}: the boxes are not for the ground truth's images, in its order")
    for position, (want, got) in enumerate(zip(_label_sets(truth), _label_sets(boxes))):
        if want != got:
            raise EvaluationFileError(
                f"{boxes_path}: image {validation_image_id(int(truth.image_numbers[position]))} has boxes of "
                f"{', '.join(labels.name(i) for i in sorted(got))} but the ground truth says "
                f"{', '.join(labels.name(i) for i in sorted(want))}"
            )
    return boxes


def read_predictions(
    path: str | os.PathLike,
    labels: LabelSpace,
    image_numbers: Sequence[int],
    *,
    guesses: Optional[str] = None,
    max_guesses: int = DEFAULT_MAX_GUESSES,
) -> Predictions:
    """A devkit or Kaggle prediction file for the given images (in their order).

    ``guesses`` ("labels" or "boxes") is the layout of a devkit file; None infers it, and fails where
    the file reads both ways (see the module's docstring). Kaggle guesses are told apart by their WNIDs:
    a file has boxes for every guess or for none. Only the first ``max_guesses`` guesses of each image
    are kept; the others are checked and read past.
    """
    max_guesses = checked_max_guesses(max_guesses)
    check_guess_layout(guesses)
    notes: tuple[str, ...] = ()
    if is_kaggle_csv(path):
        _, rows = _read_kaggle_rows(path, labels, image_numbers, boxes=None, every_row=True, max_guesses=max_guesses)
    else:
        rows, notes = _read_devkit_predictions(path, labels, image_numbers, guesses, max_guesses)
    flat = [guess for row in rows for guess in row]
    boxes = [box for _, box in flat]
    has_boxes = bool(flat) and boxes[0] is not None
    padded_labels, padded_boxes, counts = pad_guesses(
        [len(row) for row in rows], [label for label, _ in flat], boxes if has_boxes else None
    )
    return Predictions(padded_labels, counts, padded_boxes, notes)


def check_guess_layout(guesses: Optional[str]) -> None:
    """``guesses``, the layout of a devkit prediction file, is "labels", "boxes" or None (inferred)."""
    if guesses is not None and guesses not in GUESS_LAYOUTS:
        raise InputError(f"guesses must be 'labels' or 'boxes', got {guesses!r} (None infers it from the file)")


def read_blacklist(path: str | os.PathLike, num_images: int) -> np.ndarray:
    """A devkit blacklist (1-based image numbers) as sorted 0-based positions."""
    positions = _read_numbers(path, "image number", 1, num_images)
    return np.sort(positions - 1)


def read_filelist(path: str | os.PathLike) -> np.ndarray:
    """A file list (``imagenet-tiny subset``): the original 1-based image number of each evaluated image."""
    return _read_numbers(path, "validation image number", 1, MAX_IMAGE_NUMBER)


def read_class_list(path: str | os.PathLike) -> list[str]:
    """WNIDs, the first word of each non-empty line (so ``LOC_synset_mapping.txt`` lines work too)."""
    wnids = []
    for n, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        wnid = line.split()[0]
        if not WNID_PATTERN.fullmatch(wnid):
            raise EvaluationFileError(f"{path}, line {n}: expected a WNID like n01440764, got {wnid!r}")
        wnids.append(wnid)
    if not wnids:
        raise EvaluationFileError(f"{path}: no WNIDs")
    return wnids


# ----------------------------------------------------------------------------------------------- writers


def write_lines(path: str | os.PathLike, lines: Iterable[str]) -> None:
    """Write text lines, each ending with a newline."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{line}\n" for line in lines)


def devkit_prediction_line(ids: Sequence[int], boxes: Optional[Sequence[Sequence[float]]] = None) -> str:
    """``id xmin ymin xmax ymax`` per guess, or the IDs alone."""
    if boxes is None:
        return " ".join(str(int(i)) for i in ids)
    return " ".join(f"{int(i)} {format_box(box)}" for i, box in zip(ids, boxes, strict=True))


# ----------------------------------------------------------------------------------------------- helpers


def _read_lines(path: str | os.PathLike) -> list[str]:
    with open(path, "rb") as f:
        return [line.rstrip("\r\n") for line in utf8_lines(f, str(path), EvaluationFileError)]


def _read_numbers(path: str | os.PathLike, what: str, low: int, high: int) -> np.ndarray:
    """One integer per line in ``low..high``, no repeats: blacklists and file lists."""
    numbers: list[int] = []
    first_line: dict[int, int] = {}
    for n, line in enumerate(_read_lines(path), 1):
        token = line.strip()
        if not WHOLE_NUMBER_PATTERN.fullmatch(token):
            raise EvaluationFileError(f"{path}, line {n}: expected one {what} per line, got {excerpt(token)!r}")
        number = int(token)
        if number < low or number > high:
            raise EvaluationFileError(f"{path}, line {n}: {what} {number} is out of range {low}..{high}")
        if number in first_line:
            raise EvaluationFileError(f"{path}, line {n}: {what} {number} repeats line {first_line[number]}")
        first_line[number] = n
        numbers.append(number)
    return np.asarray(numbers, dtype=np.int64)


def _image_numbers_for(
    lines: Sequence[str], path: str | os.PathLike, image_numbers: Optional[Sequence[int]], what: str
) -> np.ndarray:
    """The image each line of a devkit file stands for; the file must have one line per image."""
    if image_numbers is None:
        return np.arange(1, len(lines) + 1)
    if len(lines) != len(image_numbers):
        raise EvaluationFileError(
            f"{path}: {len(lines)} lines, but there are {len(image_numbers)} images to evaluate: "
            f"a devkit {what} file needs one line per image, in order"
        )
    return np.asarray(image_numbers, dtype=np.int64)


def _parse_box(tokens: Sequence[str], where: str) -> Box:
    try:
        return parse_box(tokens)
    except ValueError as error:
        raise EvaluationFileError(f"{where}: {error}") from None


def _read_devkit_predictions(
    path: str | os.PathLike,
    labels: LabelSpace,
    image_numbers: Sequence[int],
    guesses: Optional[str],
    max_guesses: int,
) -> tuple[list[list[tuple[int, Optional[Box]]]], tuple[str, ...]]:
    """The guesses of each line in the layout given, or in the only layout that reads (with a note saying so)."""
    lines = _read_lines(path)
    _image_numbers_for(lines, path, image_numbers, "prediction")
    if guesses is not None:
        return _devkit_guesses(lines, path, labels, guesses, max_guesses), ()
    readings, failures = {}, {}
    for layout in GUESS_LAYOUTS:
        try:
            readings[layout] = _devkit_guesses(lines, path, labels, layout, max_guesses)
        except EvaluationFileError as error:
            failures[layout] = str(error).removeprefix(f"{path}, ")  # "line n: ..."
    if len(readings) == 1:
        ((layout, rows),) = readings.items()
        ((other, why),) = failures.items()
        return rows, (f"{path}: read as {GUESS_LAYOUTS[layout]} (not as {GUESS_LAYOUTS[other]}: {why})",)
    if readings:
        raise EvaluationFileError(
            f"{path}: every line reads both as {GUESS_LAYOUTS['labels']} and as {GUESS_LAYOUTS['boxes']}, "
            "which score differently: say which with --guesses labels or --guesses boxes (guesses= in Python)"
        )
    raise EvaluationFileError(
        f"{path} reads neither as {GUESS_LAYOUTS['boxes']} ({failures['boxes']}) "
        f"nor as {GUESS_LAYOUTS['labels']} ({failures['labels']})"
    )


def _devkit_guesses(
    lines: Sequence[str], path: str | os.PathLike, labels: LabelSpace, layout: str, max_guesses: int
) -> list[list[tuple[int, Optional[Box]]]]:
    """Each line's guesses in ``layout``: the first ``max_guesses`` kept, every one checked."""
    step = 5 if layout == "boxes" else 1
    rows = []
    for n, line in enumerate(lines, 1):
        where = f"{path}, line {n}"
        tokens = line.split()
        if len(tokens) % step:
            raise EvaluationFileError(
                f"{where}: {len(tokens)} numbers, not a whole number of guesses 'label xmin ymin xmax ymax'"
            )
        row = []
        for i in range(0, len(tokens), step):
            label = labels.of_id(tokens[i], where)
            box = _parse_box(tokens[i + 1 : i + 5], f"{where}, guess {i // 5 + 1}") if step == 5 else None
            if len(row) < max_guesses:
                row.append((label, box))
        rows.append(row)
    return rows


def _read_kaggle_rows(
    path: str | os.PathLike,
    labels: LabelSpace,
    image_numbers: Optional[Sequence[int]],
    boxes: Optional[bool],
    every_row: bool,
    max_guesses: Optional[int] = None,
) -> tuple[np.ndarray, list[list[tuple[int, Optional[Box]]]]]:
    """Rows of a Kaggle CSV by image: ``(image numbers, guesses or objects of each)``.

    ``boxes``: True, every entry needs a box (ground truth); None, all entries or none have one.
    With ``image_numbers`` there must be a row for each of those images, and, with ``every_row``
    (predictions), no other row: a ground truth may cover more images than a subset evaluates.
    Without ``image_numbers``: all rows, by image number. ``max_guesses``: keep only the first so many
    entries of a row (the others are checked all the same).
    """
    by_number: dict[int, tuple[int, list]] = {}
    with_box = without_box = None  # first (line, guess) of each kind, to report a mixed file
    with open(path, "rb") as f:
        for n, name, guesses in kaggle_records(f, str(path), EvaluationFileError, boxes_required=bool(boxes)):
            where = f"{path}, line {n}"
            number = validation_image_number(name, where, EvaluationFileError)
            if boxes and not guesses:
                raise EvaluationFileError(f"{where}: {name} has no ground-truth object")
            entries = []
            for g, (wnid, coordinates) in enumerate(guesses, 1):
                box = None if coordinates is None else _parse_box(coordinates, f"{where}, guess {g}")
                entries.append((labels.of_wnid(wnid, where), box))
                if box is None:
                    without_box = without_box or (n, g)
                else:
                    with_box = with_box or (n, g)
            by_number[number] = (n, entries[:max_guesses])
    if with_box and without_box:
        raise EvaluationFileError(
            f"{path}: line {without_box[0]}, guess {without_box[1]} has no box but line {with_box[0]}, "
            f"guess {with_box[1]} has one: give a box for every guess or for none"
        )
    if image_numbers is None:
        numbers = np.array(sorted(by_number), dtype=np.int64)
    else:
        numbers = np.asarray(image_numbers, dtype=np.int64)
        missing = [int(i) for i in numbers if int(i) not in by_number]
        if missing:
            raise EvaluationFileError(
                f"{path}: no row for {len(missing)} of the {len(numbers)} images to evaluate, "
                f"e.g. {', '.join(validation_image_id(i) for i in missing[:3])}"
            )
        if every_row and len(by_number) != len(numbers):
            extra = sorted(set(by_number) - set(int(i) for i in numbers))
            raise EvaluationFileError(
                f"{path}: {len(extra)} row(s) for images that are not evaluated, e.g. {validation_image_id(extra[0])} "
                f"(line {by_number[extra[0]][0]}); give rows for exactly the evaluated images"
            )
    return numbers, [by_number[int(i)][1] for i in numbers]


def _read_xml_objects(
    folder: str | os.PathLike, labels: LabelSpace, image_numbers: Sequence[int]
) -> tuple[np.ndarray, list[list[tuple[int, Box]]]]:
    """The objects of each image from its devkit annotation ``ILSVRC2012_val_%08d.xml``."""
    rows = []
    for number in image_numbers:
        path = os.path.join(folder, f"{validation_image_id(int(number))}.xml")
        try:
            wnid, boxes = read_voc_xml(path)
        except FileNotFoundError:
            raise EvaluationFileError(
                f"{folder}: no annotation {os.path.basename(path)} for validation image {number}"
            ) from None
        label = labels.of_wnid(wnid, path)
        rows.append([(label, tuple(float(v) for v in box)) for box in boxes])
    return np.asarray(image_numbers, dtype=np.int64), rows


def _objects_to_ground_truth(numbered_rows: tuple[np.ndarray, list[list[tuple[int, Box]]]]) -> GroundTruth:
    numbers, rows = numbered_rows
    counts = [len(row) for row in rows]
    objects = [obj for row in rows for obj in row]
    return GroundTruth(
        image_numbers=numbers,
        labels=np.array([label for label, _ in objects], dtype=np.int64),
        images=np.repeat(np.arange(len(rows)), counts),
        boxes=np.array([box for _, box in objects], dtype=np.float64).reshape(-1, 4),
    )


def _label_sets(truth: GroundTruth) -> list[set[int]]:
    sets: list[set[int]] = [set() for _ in range(truth.num_images)]
    for image, label in zip(truth.images.tolist(), truth.labels.tolist()):
        sets[image].add(label)
    return sets
