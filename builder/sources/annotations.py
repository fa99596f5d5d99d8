"""ImageNet's box annotations: Kaggle's ``LOC_*_solution.csv`` and the devkit era's PASCAL-VOC XML files.

Both give boxes as inclusive 0-based pixel indices of the original image. Every ILSVRC
classification image shows one class, so an image's boxes all carry its label.
"""

from __future__ import annotations

import csv
import os
import xml.etree.ElementTree as ElementTree
from typing import Callable, Optional, TextIO

from builder.classes import WNID_PATTERN
from builder.sources.base import SourceBox, SourceLayoutError

Annotation = tuple[str, tuple[SourceBox, ...]]  # (wnid, boxes)


class AnnotationError(SourceLayoutError):
    """An annotation file that cannot be read: names the file, and the line or object."""


def parse_prediction_string(text: str, where: str) -> Annotation:
    """``wnid xmin ymin xmax ymax`` repeated, all of one class, as in Kaggle's solution files."""
    fields = text.split()
    if not fields or len(fields) % 5:
        raise AnnotationError(f"{where}: expected 'wnid xmin ymin xmax ymax' repeated, got {text!r}")
    wnids = set(fields[0::5])
    if len(wnids) != 1 or not WNID_PATTERN.fullmatch(fields[0]):
        raise AnnotationError(f"{where}: expected boxes of one WNID per image, got {sorted(wnids)}")
    try:
        numbers = [int(float(v)) for i, v in enumerate(fields) if i % 5]
    except ValueError:
        raise AnnotationError(f"{where}: box coordinates must be numbers, got {text!r}") from None
    boxes = tuple(tuple(numbers[i : i + 4]) for i in range(0, len(numbers), 4))
    for box in boxes:
        if box[2] < box[0] or box[3] < box[1]:
            raise AnnotationError(f"{where}: box {box} has xmax < xmin or ymax < ymin")
    return fields[0], boxes  # type: ignore[return-value]


def read_solution_csv(
    path: str, keep: Optional[Callable[[str], bool]] = None, stream: Optional[TextIO] = None
) -> dict[str, Annotation]:
    """Kaggle's ``ImageId,PredictionString`` file: image id -> (wnid, boxes), for the ids ``keep`` accepts.

    ``stream``, where given, is the file's content (a member of an archive) and ``path`` only names it.
    """
    annotations = {}
    with stream if stream is not None else open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["ImageId", "PredictionString"]:
            raise AnnotationError(f"{path}: expected the header 'ImageId,PredictionString', got {header}")
        for line_number, row in enumerate(reader, 2):
            if len(row) != 2:
                raise AnnotationError(f"{path}, line {line_number}: expected 2 fields, got {len(row)}")
            image_id, text = row
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
        try:
            box = tuple(int(float(c)) for c in coordinates)
        except (TypeError, ValueError):
            raise AnnotationError(f"{path}, object {number}: expected <bndbox> with numeric xmin, ymin, xmax, ymax") from None
        if box[2] < box[0] or box[3] < box[1]:
            raise AnnotationError(f"{path}, object {number}: box {box} has xmax < xmin or ymax < ymin")
        boxes.append(box)
    if len(wnids) != 1:
        raise AnnotationError(f"{path}: expected objects of one WNID, got {sorted(wnids) or 'none'}")
    return wnids.pop(), tuple(boxes)  # type: ignore[return-value]


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
