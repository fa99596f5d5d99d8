"""What every source layout provides: its class table and, per split, the images with labels and boxes."""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import io
import logging
import os
from typing import BinaryIO, Iterable, Optional, Sequence, Union

from builder.classes import ClassTable, check_ilsvrc_table
from builder.errors import ImageNetTinyError
from builder.sources.archives import IMAGE_SUFFIXES, Files, Member, SkippedFile, read_member

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
__all__ = ["IMAGE_SUFFIXES", "SPLITS", "SkippedFile", "Source", "SourceImage", "SourceLayoutError", "SplitImages"]

SourceBox = tuple[int, int, int, int]  # (xmin, ymin, xmax, ymax), inclusive 0-based pixels of the original


class SourceLayoutError(ImageNetTinyError, ValueError):
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


class SplitImages(list):
    """A split's images (:class:`SourceImage`, in order); ``skipped`` holds the files named as images that
    the listing could not take as one (:class:`SkippedFile`), which the build reports."""

    def __init__(self, images: Iterable[SourceImage] = (), skipped: Iterable[SkippedFile] = ()) -> None:
        super().__init__(images)
        self.skipped = list(skipped)


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
        # The download's own class table must be ImageNet's; the shipped one (with IDs) serves from here on.
        self.classes = check_ilsvrc_table(self._read_classes())

    @classmethod
    @abc.abstractmethod
    def looks_like(cls, files: Files) -> bool:
        """Whether ``files`` are meant to be in this layout (then missing parts are errors, not a mismatch)."""

    @abc.abstractmethod
    def _read_classes(self) -> ClassTable:
        """The class table file of the download (``LOC_synset_mapping.txt``, ``meta_clsloc.mat``), as read."""

    @property
    @abc.abstractmethod
    def splits(self) -> tuple[str, ...]:
        """The splits this download has, among ``SPLITS``."""

    @abc.abstractmethod
    def images(self, split: str, wnids: Sequence[str]) -> SplitImages:
        """The split's images of the classes ``wnids`` (all images for ``test``), in a deterministic order."""

    @abc.abstractmethod
    def inputs(self, splits: Sequence[str], wnids: Sequence[str]) -> list[str]:
        """The files and folders that a build of ``splits`` and the classes ``wnids`` reads (relative paths,
        absent ones too)."""

    def resolved_location(self) -> str:
        """What the build cache keys the download by: its real folder (or archive)."""
        return os.path.realpath(self.data_dir)

    def fingerprint(self, splits: Sequence[str], wnids: Sequence[str]) -> str:
        """A digest of what a build of ``splits`` and the classes ``wnids`` reads: the names, sizes and
        modification times of its files (or of the archives that hold them). Nothing is read, only listed."""
        digest = hashlib.blake2b(digest_size=16)
        for rel in self.inputs(splits, wnids):
            for path, size, mtime in self.files.state(rel):
                # Relative, so that the download reached through a symbolic link is the same download.
                digest.update(os.fsencode(path.removeprefix(self.data_dir)) + b"\0" + f"{size} {mtime}\n".encode())
        return digest.hexdigest()

    def path(self, *parts: str) -> str:
        """How messages name a file of the download."""
        return self.files.where("/".join(parts))

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
) -> SplitImages:
    """Training images laid out as ``root/<wnid>/*.JPEG``, sorted by class then image id."""
    missing = [w for w in wnids if not files.is_dir(f"{root}/{w}")]
    if missing:
        raise SourceLayoutError(
            f"{files.where(root)} has no folder for {len(missing)} requested class(es): {', '.join(missing[:10])}"
            + (" ..." if len(missing) > 10 else "")
        )
    images = SplitImages()
    for wnid in sorted(wnids):
        listing = files.list_images(f"{root}/{wnid}")
        for image_id, (path, member) in sorted(listing.items()):
            images.append(SourceImage(image_id, path, wnid, boxes.get(image_id, ()), member))
        images.skipped += listing.skipped
    return images


def labelled_folder_images(
    files: Files,
    folder: str,
    labels: dict[str, str],
    boxes: dict[str, tuple[SourceBox, ...]],
    wnids: Sequence[str],
    what: str,
) -> SplitImages:
    """Images in one flat folder whose classes come from ground truth ``labels`` (image id -> WNID).

    An image without ground truth is an error; ground truth whose image is absent (a partial download)
    is reported, since those images are then left out. Files the listing skipped are kept for the
    report where they may be of the chosen classes.
    """
    on_disk = files.list_images(folder)
    unlabelled = sorted(set(on_disk) - set(labels))
    if unlabelled:
        raise SourceLayoutError(
            f"{len(unlabelled)} image(s) in {files.where(folder)} have no ground truth in {what}: "
            f"{', '.join(unlabelled[:5])}"
        )
    chosen = set(wnids)
    # A skipped file matters where its ground truth is of a chosen class, or where it has none to tell.
    skipped = [f for f in on_disk.skipped if f.image_id not in labels or labels[f.image_id] in chosen]
    absent = len(set(labels) - set(on_disk) - {f.image_id for f in on_disk.skipped})
    if absent:
        logger.warning(
            "%s lists %d image(s) that are not in %s; building from the %d that are",
            what, absent, files.where(folder), len(on_disk),
        )
    images = SplitImages(skipped=skipped)
    for image_id in sorted(on_disk):
        if labels[image_id] in chosen:
            path, member = on_disk[image_id]
            images.append(SourceImage(image_id, path, labels[image_id], boxes.get(image_id, ()), member))
    return images


def unlabelled_folder_images(files: Files, folder: str) -> SplitImages:
    """The test split: every image in ``folder``, no labels, no boxes."""
    listing = files.list_images(folder)
    return SplitImages(
        (SourceImage(image_id, path, None, (), member) for image_id, (path, member) in sorted(listing.items())),
        listing.skipped,
    )
