"""ImageNet's box annotations: Kaggle's ``LOC_*_solution.csv`` and the devkit era's PASCAL-VOC XML files.

Both give boxes as inclusive 0-based pixel indices of the original image. Every ILSVRC
classification image shows one class, so an image's boxes all carry its label. The metric reads the
same files (:mod:`metrics.devkit_files`): the formats themselves are in :mod:`builder.ilsvrc_files`.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from typing import BinaryIO, Callable, Optional

from builder.ilsvrc_files import Guess, excerpt, kaggle_records, pixel_box
from builder.sources.base import SourceBox, SourceLayoutError

Annotation = tuple[str, tuple[SourceBox, ...]]  # (wnid, boxes)


class AnnotationError(SourceLayoutError):
    """An annotation file that cannot be read: names the file, and the line or object."""


def read_solution_csv(
    path: str, keep: Optional[Callable[[str], bool]] = None, stream: Optional[BinaryIO] = None
) -> dict[str, Annotation]:
    """Kaggle's ``ImageId,PredictionString`` file: image id -> (wnid, boxes), for the ids ``keep`` accepts.

    ``stream``, where given, is the file's content (a member of an archive) and ``path`` only names it.
    """
    with stream if stream is not None else open(path, "rb") as f:
        return {
            image_id: _annotation(objects, f"{path}, line {line}")
            for line, image_id, objects in kaggle_records(f, path, AnnotationError, boxes_required=True, keep=keep)
        }


def _annotation(objects: list[Guess], where: str) -> Annotation:
    """One solution row's objects: boxes of one class, in whole pixels."""
    wnids = sorted({wnid for wnid, _ in objects})
    if len(wnids) != 1:
        raise AnnotationError(f"{where}: expected boxes of one WNID per image, got {excerpt(str(wnids))}")
    try:
        return wnids[0], tuple(pixel_box(coordinates) for _, coordinates in objects)
    except ValueError as error:
        raise AnnotationError(f"{where}: {error}") from None


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
