"""What every source layout provides: its class table and, per split, the images with labels and boxes."""

from __future__ import annotations

import abc
import dataclasses
import logging
import os
from typing import Iterable, Optional, Sequence

from builder.classes import ClassTable

logger = logging.getLogger("imagenet_tiny")

SPLITS = ("train", "validation", "test")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")

SourceBox = tuple[int, int, int, int]  # (xmin, ymin, xmax, ymax), inclusive 0-based pixels of the original


class SourceLayoutError(ValueError):
    """A data_dir that is missing, laid out wrongly, or inconsistent with its own metadata."""


@dataclasses.dataclass(frozen=True)
class SourceImage:
    """One image of a source: where it is, its class (None in the test split) and its annotated boxes."""

    image_id: str
    path: str
    wnid: Optional[str]
    source_boxes: tuple[SourceBox, ...] = ()


class Source(abc.ABC):
    """A download in one layout. Subclasses describe their layout in ``LAYOUT_HELP``."""

    LAYOUT_HELP = ""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.classes = self._read_classes()

    @classmethod
    @abc.abstractmethod
    def looks_like(cls, data_dir: str) -> bool:
        """Whether ``data_dir`` is meant to be in this layout (then missing parts are errors, not a mismatch)."""

    @abc.abstractmethod
    def _read_classes(self) -> ClassTable: ...

    @property
    @abc.abstractmethod
    def splits(self) -> tuple[str, ...]:
        """The splits this download has, among ``SPLITS``."""

    @abc.abstractmethod
    def images(self, split: str, wnids: Sequence[str]) -> list[SourceImage]:
        """The split's images of the classes ``wnids`` (all images for ``test``), in a deterministic order."""

    def path(self, *parts: str) -> str:
        return os.path.join(self.data_dir, *parts)

    def require(self, *relative_paths: str) -> None:
        """Fail at once, naming every expected file or folder that is missing."""
        missing = [p for p in relative_paths if not os.path.exists(self.path(p))]
        if missing:
            raise SourceLayoutError(
                f"{self.data_dir} looks like the {type(self).__name__.removesuffix('Source')} layout but lacks: "
                + ", ".join(missing)
                + "\n\n"
                + self.LAYOUT_HELP
            )

    def check_classes(self, wnids: Iterable[str]) -> None:
        """Every requested WNID must be a class of this download."""
        self.classes.subset(wnids)


def list_images(folder: str) -> dict[str, str]:
    """Image files in ``folder`` by image id (file stem), e.g. ``{'n01440764_10026': '/.../n01440764_10026.JPEG'}``."""
    found = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            stem, suffix = os.path.splitext(entry.name)
            if suffix.lower() in IMAGE_SUFFIXES and entry.is_file():
                found[stem] = entry.path
    return found


def class_folders_images(root: str, wnids: Sequence[str], boxes: dict[str, tuple[SourceBox, ...]]) -> list[SourceImage]:
    """Training images laid out as ``root/<wnid>/*.JPEG``, sorted by class then image id."""
    missing = [w for w in wnids if not os.path.isdir(os.path.join(root, w))]
    if missing:
        raise SourceLayoutError(
            f"{root} has no folder for {len(missing)} requested class(es): {', '.join(missing[:10])}"
            + (" ..." if len(missing) > 10 else "")
        )
    images = []
    for wnid in sorted(wnids):
        for image_id, path in sorted(list_images(os.path.join(root, wnid)).items()):
            images.append(SourceImage(image_id, path, wnid, boxes.get(image_id, ())))
    return images


def labelled_folder_images(
    folder: str, labels: dict[str, str], boxes: dict[str, tuple[SourceBox, ...]], wnids: Sequence[str], what: str
) -> list[SourceImage]:
    """Images in one flat folder whose classes come from ground truth ``labels`` (image id -> WNID).

    An image without ground truth is an error; ground truth whose image is absent (a partial download)
    is reported, since those images are then left out.
    """
    on_disk = list_images(folder)
    unlabelled = sorted(set(on_disk) - set(labels))
    if unlabelled:
        raise SourceLayoutError(
            f"{len(unlabelled)} image(s) in {folder} have no ground truth in {what}: {', '.join(unlabelled[:5])}"
        )
    absent = len(set(labels) - set(on_disk))
    if absent:
        logger.warning(
            "%s lists %d image(s) that are not in %s; building from the %d that are",
            what, absent, folder, len(on_disk),
        )
    chosen = set(wnids)
    return [
        SourceImage(image_id, on_disk[image_id], labels[image_id], boxes.get(image_id, ()))
        for image_id in sorted(on_disk)
        if labels[image_id] in chosen
    ]


def unlabelled_folder_images(folder: str) -> list[SourceImage]:
    """The test split: every image in ``folder``, no labels, no boxes."""
    return [SourceImage(image_id, path, None) for image_id, path in sorted(list_images(folder).items())]
