"""ImageNet's box annotations: Kaggle's ``LOC_*_solution.csv`` and the devkit era's PASCAL-VOC XML files.

Both give boxes as inclusive 0-based pixel indices of the original image. Every ILSVRC
classification image shows one class, so an image's boxes all carry its label.

The metric's file readers (:mod:`metrics.devkit_files`) read the same formats, and share the pieces
below the readers: UTF-8 lines decoded one at a time (a bad byte is reported with its line), Kaggle's
CSV rows (header recognised with a BOM or in any case, long fields allowed) and strict box coordinates.
"""

from __future__ import annotations

import csv
import math
import os
import re
import xml.etree.ElementTree as ElementTree
from typing import BinaryIO, Callable, Iterator, Optional, Sequence

from builder.classes import WNID_PATTERN
from builder.sources.base import SourceBox, SourceLayoutError

Annotation = tuple[str, tuple[SourceBox, ...]]  # (wnid, boxes)
Box = tuple[float, float, float, float]

KAGGLE_HEADER = ("ImageId", "PredictionString")
# csv refuses fields over 128 KiB by default, less than one image's 1000 boxed guesses may take. Far
# above any real field, this still stops a runaway (an unclosed quote makes the rest of the file one field).
KAGGLE_FIELD_LIMIT = 64 * 1024 * 1024
# A coordinate as the files write it: ASCII decimal (float() would also take '1_0' and non-ASCII digits).
# nan and inf are read, to be refused as not finite.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)", re.I)


class AnnotationError(SourceLayoutError):
    """An annotation file that cannot be read: names the file, and the line or object."""


def parse_prediction_string(text: str, where: str) -> Annotation:
    """``wnid xmin ymin xmax ymax`` repeated, all of one class, as in Kaggle's solution files."""
    fields = text.split()
    if not fields or len(fields) % 5:
        raise AnnotationError(f"{where}: expected 'wnid xmin ymin xmax ymax' repeated, got {excerpt(text)!r}")
    wnids = set(fields[0::5])
    if len(wnids) != 1 or not WNID_PATTERN.fullmatch(fields[0]):
        raise AnnotationError(f"{where}: expected boxes of one WNID per image, got {excerpt(str(sorted(wnids)))}")
    try:
        boxes = tuple(pixel_box(fields[i + 1 : i + 5]) for i in range(0, len(fields), 5))
    except ValueError as error:
        raise AnnotationError(f"{where}: {error}") from None
    return fields[0], boxes


def read_solution_csv(
    path: str, keep: Optional[Callable[[str], bool]] = None, stream: Optional[BinaryIO] = None
) -> dict[str, Annotation]:
    """Kaggle's ``ImageId,PredictionString`` file: image id -> (wnid, boxes), for the ids ``keep`` accepts.

    ``stream``, where given, is the file's content (a member of an archive) and ``path`` only names it.
    """
    annotations = {}
    with stream if stream is not None else open(path, "rb") as f:
        for line_number, image_id, text in kaggle_rows(f, path, AnnotationError):
            if keep is not None and not keep(image_id):
                continue
            if image_id in annotations:
                raise AnnotationError(f"{path}, line {line_number}: image {image_id} appears twice")
            annotations[image_id] = parse_prediction_string(text, f"{path}, line {line_number}")
    return annotations


def read_voc_xml(path: str) -> Annotation:
    """One devkit-era annotation file (``<annotation><object><name>wnid</name><bndbox>...``)."""
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise AnnotationError(f"{path}: not an XML annotation ({error})") from None
    wnids, boxes = set(), []
    for number, obj in enumerate(root.iter("object"), 1):
        wnids.add((obj.findtext("name") or "").strip())
        coordinates = [obj.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
        if None in coordinates:
            raise AnnotationError(f"{path}, object {number}: expected <bndbox> with numeric xmin, ymin, xmax, ymax")
        try:
            boxes.append(pixel_box([c.strip() for c in coordinates]))
        except ValueError as error:
            raise AnnotationError(f"{path}, object {number}: {error}") from None
    if len(wnids) != 1:
        raise AnnotationError(f"{path}: expected objects of one WNID, got {sorted(wnids) or 'none'}")
    return wnids.pop(), tuple(boxes)


def read_voc_folder(folder: str, image_ids: Optional[set[str]] = None) -> dict[str, Annotation]:
    """Every ``*.xml`` in ``folder`` (or those of ``image_ids``): image id -> (wnid, boxes)."""
    if not os.path.isdir(folder):
        return {}
    annotations = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            image_id, suffix = os.path.splitext(entry.name)
            if suffix == ".xml" and (image_ids is None or image_id in image_ids):
                annotations[image_id] = read_voc_xml(entry.path)
    return annotations


# ----------------------------------------------------------------------------- shared with the metric's readers


def parse_box(tokens: Sequence[str]) -> Box:
    """``xmin ymin xmax ymax``: four finite numbers with xmin <= xmax and ymin <= ymax.

    Raises ValueError saying what is wrong with the box; the caller adds where it is.
    """
    text = excerpt(" ".join(tokens))
    if len(tokens) != 4 or not all(_NUMBER.fullmatch(token) for token in tokens):
        raise ValueError(f"box {text!r} must be four numbers")
    box = tuple(float(token) for token in tokens)
    if not all(math.isfinite(value) for value in box):
        raise ValueError(f"box {text!r} must be four finite numbers")
    if box[2] < box[0] or box[3] < box[1]:
        raise ValueError(f"box {text!r} has xmax < xmin or ymax < ymin")
    return box  # type: ignore[return-value]


def pixel_box(tokens: Sequence[str]) -> SourceBox:
    """:func:`parse_box` for annotations, whose coordinates are whole pixel positions (``10.0`` reads as 10)."""
    box = parse_box(tokens)
    if not all(value.is_integer() for value in box):
        raise ValueError(f"box {excerpt(' '.join(tokens))!r} must be whole pixel positions, as ImageNet's are")
    return tuple(int(value) for value in box)  # type: ignore[return-value]


def utf8_lines(stream: BinaryIO, path: str, error: type[ValueError]) -> Iterator[str]:
    """The lines of a binary stream as text, line endings kept; a leading BOM is dropped.

    Each line is decoded alone so that a byte that is not UTF-8 (a Latin-1 file) is reported, as
    ``error``, with its line; decoding the whole file would name only a byte offset.
    """
    for number, raw in enumerate(stream, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as problem:
            raise error(
                f"{path}, line {number}: byte {problem.start + 1} (0x{raw[problem.start]:02x}) is not UTF-8 text; "
                "save the file as UTF-8"
            ) from None
        yield line.removeprefix("\ufeff") if number == 1 else line


def is_kaggle_header(fields: Sequence[str]) -> bool:
    """Whether CSV header fields are Kaggle's ``ImageId,PredictionString``, in any case, spaces around them."""
    return [f.strip().lower() for f in fields] == [h.lower() for h in KAGGLE_HEADER]


def kaggle_rows(stream: BinaryIO, path: str, error: type[ValueError]) -> Iterator[tuple[int, str, str]]:
    """``(line number, ImageId, PredictionString)`` of each row of a Kaggle CSV, after its header.

    Problems are raised as ``error`` naming ``path`` and the line: a missing header, a row without
    exactly two fields, text that is not UTF-8, a field over :data:`KAGGLE_FIELD_LIMIT`.
    """
    previous_limit = csv.field_size_limit(KAGGLE_FIELD_LIMIT)
    reader = csv.reader(utf8_lines(stream, path, error))
    try:
        header = next(reader, None)
        if header is None or not is_kaggle_header(header):
            shown = "nothing" if header is None else excerpt(",".join(header))
            raise error(f"{path}: expected the header 'ImageId,PredictionString', got {shown!r}")
        for row in reader:
            if len(row) != 2:
                raise error(f"{path}, line {reader.line_num}: expected 'ImageId,PredictionString', got {len(row)} fields")
            yield reader.line_num, row[0], row[1]
    except csv.Error as problem:
        raise error(f"{path}, line {reader.line_num}: not a CSV row ({problem})") from None
    finally:
        csv.field_size_limit(previous_limit)


def excerpt(text: str, limit: int = 80) -> str:
    """``text``, cut to ``limit`` characters for a message (a bad line may be megabytes long)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
