"""ILSVRC's file formats that the builder and the metric both read or write, each in one place.

- validation image ids, ``ILSVRC2012_val_%08d`` for image n (1-based): :func:`validation_image_id`,
  :func:`validation_image_number`;
- Kaggle's ``ImageId,PredictionString`` CSVs, the solution files and submissions alike (UTF-8, a BOM
  allowed, the header in any case, long fields allowed): :func:`is_kaggle_csv`, :func:`kaggle_records`,
  :func:`write_kaggle_csv`, and their strings, ``wnid [xmin ymin xmax ymax]`` repeated;
- the devkit's validation ground truth, one ILSVRC2014_ID per line, line n for image n:
  :func:`read_devkit_ground_truth`;
- box coordinates, inclusive pixel positions of the original image: :func:`parse_box`, :func:`pixel_box`.

The builder and the metric report problems with exceptions of their own, so readers take the type to
raise (``error``); each message names the file and line. Text is decoded one line at a time, so that a
byte that is not UTF-8 is reported with its line.
"""

from __future__ import annotations

import csv
import math
import os
import re
from typing import BinaryIO, Callable, Iterable, Iterator, Optional, Sequence

WNID_PATTERN = re.compile(r"n[0-9]{8}")  # ASCII digits only: \d would take any Unicode digit
Box = tuple[float, float, float, float]  # (xmin, ymin, xmax, ymax)
Guess = tuple[str, Optional[list[str]]]  # a WNID and its box's four coordinates as written, or None

VALIDATION_ID_PATTERN = re.compile(r"ILSVRC2012_val_([0-9]{8})")
KAGGLE_HEADER = ("ImageId", "PredictionString")
# csv refuses fields over 128 KiB by default, less than one image's 1000 boxed guesses may take. Far
# above any real field, this still stops a runaway (an unclosed quote makes the rest of the file one field).
KAGGLE_FIELD_LIMIT = 64 * 1024 * 1024
BOX_FORMAT = "'wnid xmin ymin xmax ymax'"
# A coordinate as the files write it: ASCII decimal (float() would also take '1_0' and non-ASCII digits).
# nan and inf are read, to be refused as not finite.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)", re.I)


# ----------------------------------------------------------------------------- validation image ids


def validation_image_id(number: int) -> str:
    """``ILSVRC2012_val_%08d``: the name of validation image ``number`` (1-based, as the devkit counts)."""
    return f"ILSVRC2012_val_{number:08d}"


def validation_image_number(name: str, where: str = "", error: type[ValueError] = ValueError) -> int:
    """The 1-based validation image number in an ImageId such as ``ILSVRC2012_val_00000001``."""
    match = VALIDATION_ID_PATTERN.fullmatch(name)
    if match is None or int(match[1]) == 0:
        raise error(
            f"{where or 'image id'}: {excerpt(name)!r} is not a validation ImageId like ILSVRC2012_val_00000001"
        )
    return int(match[1])


# ----------------------------------------------------------------------------- Kaggle CSVs


def is_kaggle_csv(path: str | os.PathLike) -> bool:
    """Whether a file is a Kaggle CSV: its first field is ``ImageId``, in any case, after a BOM if any.

    The readers check the rest of the header, so that a near miss is an error about the header, not a
    devkit file that fails on line 1.
    """
    with open(path, "rb") as f:
        first = f.readline(256).decode("utf-8", "replace").removeprefix("\ufeff")
    return first.split(",")[0].strip().lower() == KAGGLE_HEADER[0].lower()


def kaggle_records(
    stream: BinaryIO,
    path: str,
    error: type[ValueError],
    *,
    boxes_required: bool,
    keep: Optional[Callable[[str], bool]] = None,
) -> Iterator[tuple[int, str, list[Guess]]]:
    """``(line number, ImageId, guesses)`` of each row of a Kaggle CSV whose ImageId ``keep`` accepts.

    A row at a time, so that a caller keeps only what it needs of a long file. ``boxes_required``: every
    WNID must have its box (a solution file); else a WNID may stand alone (a classification guess).
    An ImageId that appears twice is an error.
    """
    first_line: dict[str, int] = {}
    for line, image_id, text in _kaggle_rows(stream, path, error):
        image_id = image_id.strip()
        if keep is not None and not keep(image_id):
            continue
        where = f"{path}, line {line}"
        if image_id in first_line:
            raise error(f"{where}: {image_id} repeats line {first_line[image_id]}")
        first_line[image_id] = line
        yield line, image_id, split_prediction_string(text, where, error, boxes_required=boxes_required)


def split_prediction_string(text: str, where: str, error: type[ValueError], *, boxes_required: bool) -> list[Guess]:
    """A PredictionString, ``wnid [xmin ymin xmax ymax]`` repeated: each WNID with its box's four
    coordinates (None for a WNID alone, which ``boxes_required`` refuses). The coordinates are checked by
    :func:`parse_box`, where the caller says which guess they belong to."""
    tokens = text.split()
    starts = [i for i, token in enumerate(tokens) if WNID_PATTERN.fullmatch(token)] + [len(tokens)]
    if tokens and starts[0] != 0:
        raise error(f"{where}: expected a WNID like n01440764 first, got {excerpt(tokens[0])!r}")
    guesses: list[Guess] = []
    for number, (start, stop) in enumerate(zip(starts, starts[1:]), 1):
        coordinates = tokens[start + 1 : stop]
        if len(coordinates) == 4:
            guesses.append((tokens[start], coordinates))
        elif boxes_required and coordinates:
            raise error(f"{where}: expected {BOX_FORMAT} repeated, got {excerpt(text)!r}")
        elif boxes_required:
            raise error(f"{where}, object {number}: no box; expected {BOX_FORMAT}")
        elif coordinates:
            raise error(
                f"{where}: guess {number} ({tokens[start]}) has {len(coordinates)} numbers after it; "
                f"expected {BOX_FORMAT} or the WNID alone"
            )
        else:
            guesses.append((tokens[start], None))
    return guesses


def prediction_string(wnids: Sequence[str], boxes: Optional[Sequence[Sequence[float]]] = None) -> str:
    """``wnid xmin ymin xmax ymax`` per guess, or the WNIDs alone."""
    if boxes is None:
        return " ".join(wnids)
    return " ".join(f"{w} {format_box(box)}" for w, box in zip(wnids, boxes, strict=True))


def write_kaggle_csv(path: str | os.PathLike, image_ids: Sequence[str], prediction_strings: Sequence[str]) -> None:
    """A Kaggle ``ImageId,PredictionString`` CSV."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(KAGGLE_HEADER)
        writer.writerows(zip(image_ids, prediction_strings, strict=True))


def _kaggle_rows(stream: BinaryIO, path: str, error: type[ValueError]) -> Iterator[tuple[int, str, str]]:
    """``(line number, ImageId, PredictionString)`` of each row of a Kaggle CSV, after its header.

    Problems are raised as ``error`` naming ``path`` and the line: a missing header, a row without
    exactly two fields, text that is not UTF-8, a field over :data:`KAGGLE_FIELD_LIMIT`.
    """
    previous_limit = csv.field_size_limit(KAGGLE_FIELD_LIMIT)
    reader = csv.reader(utf8_lines(stream, path, error))
    try:
        header = next(reader, None)
        if header is None or [f.strip().lower() for f in header] != [h.lower() for h in KAGGLE_HEADER]:
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


# ----------------------------------------------------------------------------- the devkit's ground truth


def read_devkit_ground_truth(stream: BinaryIO, path: str, error: type[ValueError]) -> list[str]:
    """The ILSVRC2014_ID of each validation image as written, line n for image n; the caller maps them
    to classes (a line that is not one ID is an error here)."""
    ids = []
    for number, line in enumerate(utf8_lines(stream, path, error), 1):
        tokens = line.split()
        if len(tokens) != 1:
            raise error(f"{path}, line {number}: expected one ILSVRC2014_ID, got {excerpt(line.strip())!r}")
        ids.append(tokens[0])
    return ids


# ----------------------------------------------------------------------------- text and numbers


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


def pixel_box(tokens: Sequence[str]) -> tuple[int, int, int, int]:
    """:func:`parse_box` for annotations, whose coordinates are whole pixel positions (``10.0`` reads as 10)."""
    box = parse_box(tokens)
    if not all(value.is_integer() for value in box):
        raise ValueError(f"box {excerpt(' '.join(tokens))!r} must be whole pixel positions, as ImageNet's are")
    return tuple(int(value) for value in box)  # type: ignore[return-value]


def format_box(box: Iterable[float]) -> str:
    """A box as the files write it: whole numbers without a decimal point."""
    return " ".join(str(int(v)) if float(v).is_integer() else repr(float(v)) for v in box)


def excerpt(text: str, limit: int = 80) -> str:
    """``text``, cut to ``limit`` characters for a message (a bad line may be megabytes long)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
