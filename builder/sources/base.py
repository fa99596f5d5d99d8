"""What every source layout provides: its class table and, per split, the images with labels and boxes."""

from __future__ import annotations

import abc
import dataclasses
import io
import logging
from typing import BinaryIO, Optional, Sequence, TextIO, Union

from builder.classes import ClassTable
from builder.sources.archives import IMAGE_SUFFIXES, Files, Member, read_member

logger = logging.getLogger("imagenet_tiny")

SPLITS = ("train", "validation", "test")
__all__ = ["IMAGE_SUFFIXES", "SPLITS", "Source", "SourceImage", "SourceLayoutError"]

SourceBox = tuple[int, int, int, int]  # (xmin, ymin, xmax, ymax), inclusive 0-based pixels of the original


class SourceLayoutError(ValueError):
    """A data_dir that is missing, laid out wrongly, or inconsistent with its own metadata."""


@dataclasses.dataclass(frozen=True, slots=True)
class SourceImage:
    """One image of a source: where it is, its class (None in the test split) and its annotated boxes.

    ``path`` is the image file, or ``ARCHIVE:MEMBER`` for an image read in place from an archive
    (``member`` then says where its bytes are). Open it with :meth:`file`.
    """

    image_id: str
    path: str
    wnid: Optional[str]
    source_boxes: tuple[SourceBox, ...] = ()
    member: Optional[Member] = None

    def file(self) -> Union[str, BinaryIO]:
        """What Pillow opens: the path, or the bytes read from the archive (in whichever process asks)."""
        return self.path if self.member is None else io.BytesIO(read_member(self.member, self.path))


class Source(abc.ABC):
    """A download in one layout. Subclasses describe their layout in ``LAYOUT_HELP``.

    ``files`` is the download wherever it is (a folder, archives: :mod:`builder.sources.archives`); paths
    given to it and to the helpers below are relative to its top, ``/``-separated.
    """

    LAYOUT_HELP = ""
    TRAIN_FOLDER = ""  # where the per-class folders of training images are
    ARCHIVES: dict[str, str] = {}  # top-level folder -> the archive file that may stand in for it
    ZIP_MARKERS: tuple[str, ...] = ()  # names at the top of the layout, to find it inside a zip

    def __init__(self, files: Files) -> None:
        self.files = files
        self.data_dir = files.location
        self.classes = self._read_classes()

    @classmethod
    @abc.abstractmethod
    def looks_like(cls, files: Files) -> bool:
        """Whether ``files`` are meant to be in this layout (then missing parts are errors, not a mismatch)."""

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
        """How messages name a file of the download."""
        return self.files.where("/".join(parts))

    def open_text(self, *parts: str) -> TextIO:
        return io.TextIOWrapper(self.files.open("/".join(parts)), encoding="utf-8", newline="")

    def require(self, *relative_paths: str) -> None:
        """Fail at once, naming every expected file or folder that is missing."""
        missing = [p for p in relative_paths if not self.files.exists(p)]
        if missing:
            raise SourceLayoutError(
                f"{self.data_dir} looks like the {type(self).__name__.removesuffix('Source')} layout but lacks: "
                + ", ".join(missing)
                + "\n\n"
                + self.LAYOUT_HELP
            )

    def train_image_counts(self) -> dict[str, int]:
        """Training images per class of the table; 0 for a class without a folder (a partial download)."""
        root = self.TRAIN_FOLDER
        return {
            wnid: len(self.files.list_images(f"{root}/{wnid}")) if self.files.is_dir(f"{root}/{wnid}") else 0
            for wnid in self.classes.wnids
        }


def class_folders_images(
    files: Files, root: str, wnids: Sequence[str], boxes: dict[str, tuple[SourceBox, ...]]
) -> list[SourceImage]:
    """Training images laid out as ``root/<wnid>/*.JPEG``, sorted by class then image id."""
    missing = [w for w in wnids if not files.is_dir(f"{root}/{w}")]
    if missing:
        raise SourceLayoutError(
            f"{files.where(root)} has no folder for {len(missing)} requested class(es): {', '.join(missing[:10])}"
            + (" ..." if len(missing) > 10 else "")
        )
    images = []
    for wnid in sorted(wnids):
        for image_id, (path, member) in sorted(files.list_images(f"{root}/{wnid}").items()):
            images.append(SourceImage(image_id, path, wnid, boxes.get(image_id, ()), member))
    return images


def labelled_folder_images(
    files: Files,
    folder: str,
    labels: dict[str, str],
    boxes: dict[str, tuple[SourceBox, ...]],
    wnids: Sequence[str],
    what: str,
) -> list[SourceImage]:
    """Images in one flat folder whose classes come from ground truth ``labels`` (image id -> WNID).

    An image without ground truth is an error; ground truth whose image is absent (a partial download)
    is reported, since those images are then left out.
    """
    on_disk = files.list_images(folder)
    unlabelled = sorted(set(on_disk) - set(labels))
    if unlabelled:
        raise SourceLayoutError(
            f"{len(unlabelled)} image(s) in {files.where(folder)} have no ground truth in {what}: "
            f"{', '.join(unlabelled[:5])}"
        )
    absent = len(set(labels) - set(on_disk))
    if absent:
        logger.warning(
            "%s lists %d image(s) that are not in %s; building from the %d that are",
            what, absent, files.where(folder), len(on_disk),
        )
    chosen = set(wnids)
    images = []
    for image_id in sorted(on_disk):
        if labels[image_id] in chosen:
            path, member = on_disk[image_id]
            images.append(SourceImage(image_id, path, labels[image_id], boxes.get(image_id, ()), member))
    return images


def unlabelled_folder_images(files: Files, folder: str) -> list[SourceImage]:
    """The test split: every image in ``folder``, no labels, no boxes."""
    listed = sorted(files.list_images(folder).items())
    return [SourceImage(image_id, path, None, (), member) for image_id, (path, member) in listed]

