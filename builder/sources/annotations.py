"""ImageNet's box annotations: Kaggle's ``LOC_*_solution.csv`` and the devkit era's PASCAL-VOC XML files.

Both give boxes as inclusive 0-based pixel indices of the original image. Every ILSVRC
classification image shows one class, so an image's boxes all carry its label. The metric reads the
same files (:mod:`metrics.devkit_files`): the formats themselves are in :mod:`builder.ilsvrc_files`.
"""

from __future__ import annotations

import dataclasses
import os
import xml.etree.ElementTree as ElementTree
from typing import BinaryIO, Callable, Collection, Optional, Sequence

from builder.errors import InputError, MissingFileError
from builder.ilsvrc_files import WNID_PATTERN, Guess, excerpt, kaggle_records, pixel_box
from builder.sources.archives import FileState, file_state
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


@dataclasses.dataclass(frozen=True)
class ImageBoxes:
    """An image's boxes from a box file given by the user: of class ``wnid``, read from ``source``."""

    wnid: str
    boxes: tuple[SourceBox, ...]
    source: str


def read_box_files(paths: Sequence[str | os.PathLike], wnids: Collection[str]) -> dict[str, ImageBoxes]:
    """Boxes by image id, for a source that has none (the Hub's copies), from Kaggle's
    ``LOC_train_solution.csv`` / ``LOC_val_solution.csv`` and the devkit's XML folders (``*.xml``, or
    per-class folders of them, as ``ILSVRC2012_bbox_train_v2``). Boxes of classes other than ``wnids``
    are not kept; an image with boxes in two of the files is an error."""
    chosen = frozenset(wnids)
    found: dict[str, ImageBoxes] = {}
    for path in map(os.fspath, paths):
        for image_id, (wnid, boxes), source in _box_file(path, chosen):
            if wnid not in chosen:
                continue
            if image_id in found:
                raise AnnotationError(f"{image_id} has boxes in both {found[image_id].source} and {source}: give one of them")
            found[image_id] = ImageBoxes(wnid, boxes, source)
    return found


def _box_file(path: str, chosen: frozenset[str]):
    """``(image id, annotation, file)`` of one box file or folder."""
    if os.path.isdir(path):
        for folder, subfolders, names in os.walk(path):
            # Per-class folders of other classes are not read (the training boxes are 544,546 files).
            subfolders[:] = sorted(s for s in subfolders if not WNID_PATTERN.fullmatch(s) or s in chosen)
            for name in sorted(names):
                if name.endswith(".xml"):
                    file = os.path.join(folder, name)
                    yield name.removesuffix(".xml"), read_voc_xml(file), file
        return
    if not os.path.exists(path):
        raise MissingFileError(f"box file {path} does not exist")
    if not path.lower().endswith(".csv"):
        raise InputError(f"box file {path}: expected Kaggle's LOC_*_solution.csv or a folder of the devkit's XML files")
    for image_id, annotation in read_solution_csv(path, keep=lambda image_id: _may_be_of(image_id, chosen)).items():
        yield image_id, annotation, path


def _may_be_of(image_id: str, chosen: frozenset[str]) -> bool:
    """Whether the image may be of a chosen class: a training image's id begins with its WNID."""
    head, underscore, _ = image_id.partition("_")
    return not (underscore and WNID_PATTERN.fullmatch(head)) or head in chosen


def box_files_state(paths: Sequence[str | os.PathLike]) -> list[FileState]:
    """What the boxes read from ``paths`` depend on (each file, each XML file of a folder); nothing is read."""
    states = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            for folder, subfolders, names in os.walk(path):
                subfolders.sort()
                states += [file_state(os.path.join(folder, name)) for name in sorted(names) if name.endswith(".xml")]
        else:
            states.append(file_state(path))
    return states
