"""The images of one shard file of a Hub layout (:mod:`builder.sources.hub_layouts`), read in place.

- Parquet: the ``label`` column first, then the ``image`` column of only the row groups that hold a
  wanted class;
- WebDataset tar: the headers, then each sample's ``.cls``, then the image of only the wanted samples;
- ``.tar.gz``: streamed through once (gzip cannot be read in part), the wanted images kept.

Nothing is extracted to disk. Each image comes with its label as a position in ImageNet's 1000 WNIDs in
sorted order (-1 in the test split) and where it is, for messages (``SHARD:MEMBER``, ``SHARD, row N``).
A file that cannot be read as an image is yielded with ``data=None`` and why (the build reports it);
a shard whose names or labels contradict the layout is an error that names the shard and the image.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tarfile
import zlib
from typing import BinaryIO, Callable, Iterator, Optional

import pyarrow.parquet as pq

from builder.classes import ilsvrc_classes
from builder.errors import ImageNetTinyError
from builder.sources.archives import MAX_MEMBER_BYTES, ArchiveError, is_image_name
from builder.sources.base import SourceLayoutError
from builder.sources.hub_layouts import PARQUET, TAR_GZ, WDS, split_file_name

UNLABELLED = -1
WDS_IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")  # the first present is the sample's image, as timm reads it


@dataclasses.dataclass(frozen=True)
class ShardImage:
    """One image of a shard: its ILSVRC ``image_id``, ``label`` (-1: test), where it is, and its bytes
    (None when they cannot be read: ``problem`` says why)."""

    image_id: str
    label: int
    where: str
    data: Optional[bytes]
    problem: str = ""


Wanted = Optional[frozenset[int]]  # the labels to read; None: every image


def shard_images(kind: str, path: str, where: str, split: str, wanted: Wanted) -> Iterator[ShardImage]:
    """The images of the shard file ``path`` (``where`` names it in messages) whose labels are ``wanted``."""
    readers: dict[str, Callable[..., Iterator[ShardImage]]] = {
        PARQUET: _parquet_images, TAR_GZ: _tar_gz_images, WDS: _wds_images,
    }
    return readers[kind](path, where, split, wanted)


def _label_of(wnid: str, where: str) -> int:
    table = ilsvrc_classes()
    if wnid not in table:
        raise SourceLayoutError(f"{where}: {wnid} is not one of ImageNet's 1000 classes")
    return table.index(wnid)


def _checked_label(label: object, where: str) -> int:
    if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < len(ilsvrc_classes()):
        raise SourceLayoutError(f"{where}: label {label!r} is not a class index 0..{len(ilsvrc_classes()) - 1}")
    return label


# --------------------------------------------------------------------------------------------- Parquet


def _parquet_images(path: str, where: str, split: str, wanted: Wanted) -> Iterator[ShardImage]:
    with parquet_errors(where):
        parquet = pq.ParquetFile(path)
        missing = {"image", "label"} - set(parquet.schema_arrow.names)
        if missing:
            raise SourceLayoutError(f"{where}: no {', '.join(sorted(missing))} column (it has {parquet.schema_arrow.names})")
        labels = parquet.read(columns=["label"]).column("label").to_pylist()
        start = 0
        for group in range(parquet.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            group_labels = labels[start : start + rows]
            if split == "test" or wanted is None or not wanted.isdisjoint(group_labels):
                images = parquet.read_row_group(group, columns=["image"]).column("image").combine_chunks()
                yield from _parquet_rows(images, group_labels, start, where, split, wanted)
            start += rows


@contextlib.contextmanager
def parquet_errors(where: str) -> Iterator[None]:
    """pyarrow's errors reading the Parquet file ``where`` as an :class:`ArchiveError` that names it."""
    try:
        yield
    except SourceLayoutError:
        raise
    except (OSError, ValueError) as error:  # pyarrow's: ArrowIOError is an OSError, ArrowInvalid a ValueError
        if isinstance(error, ImageNetTinyError):
            raise
        raise ArchiveError(f"{where}: not a readable Parquet file ({error}); is the download complete?") from None


def _parquet_rows(images, labels: list, start: int, where: str, split: str, wanted: Wanted) -> Iterator[ShardImage]:
    datas, names = images.field("bytes").to_pylist(), images.field("path").to_pylist()
    for offset, (data, name, label) in enumerate(zip(datas, names, labels)):
        row = f"{where}, row {start + offset}"
        if name is None:
            raise SourceLayoutError(f"{row}: the image has no path, so no ILSVRC image id")
        image_id, wnid = split_file_name(name, split, row)
        if split == "test":
            label = UNLABELLED
        else:
            label = _checked_label(label, row)
            if ilsvrc_classes().wnids[label] != wnid:
                raise SourceLayoutError(f"{row}: label {label} is {ilsvrc_classes().wnids[label]}, but the file {name} is of {wnid}")
            if wanted is not None and label not in wanted:
                continue
        yield ShardImage(image_id, label, f"{where}:{name}", data, "" if data is not None else "the row holds no image bytes")


# --------------------------------------------------------------------------------------------- .tar.gz


def _tar_gz_images(path: str, where: str, split: str, wanted: Wanted) -> Iterator[ShardImage]:
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for info in tar:
                if not is_image_name(info.name):
                    continue
                member = f"{where}:{info.name}"
                image_id, wnid = split_file_name(info.name, split, member)
                label = UNLABELLED if wnid is None else _label_of(wnid, member)
                if wanted is not None and label != UNLABELLED and label not in wanted:
                    continue
                yield _tar_member(tar, info, image_id, label, member)
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise ArchiveError(f"{where}: not a readable .tar.gz archive ({type(error).__name__}: {error}); is the download complete?") from None


def _tar_member(tar: tarfile.TarFile, info: tarfile.TarInfo, image_id: str, label: int, member: str) -> ShardImage:
    if not info.isfile():
        return ShardImage(image_id, label, member, None, "a tar member that is not a regular file")
    if info.size > MAX_MEMBER_BYTES:
        return ShardImage(image_id, label, member, None, f"holds {info.size} bytes, beyond the limit of {MAX_MEMBER_BYTES} for one image")
    with tar.extractfile(info) as f:
        return ShardImage(image_id, label, member, f.read())


# --------------------------------------------------------------------------------------------- WebDataset


def _wds_images(path: str, where: str, split: str, wanted: Wanted) -> Iterator[ShardImage]:
    try:
        with open(path, "rb") as f, tarfile.open(fileobj=f, mode="r:") as tar:
            for key, members in _wds_samples(tar).items():
                sample = f"{where}:{key}"
                image_id = key.rpartition("/")[2]
                label = _wds_label(tar, members, sample)
                if split == "train" and not image_id.startswith(ilsvrc_classes().wnids[label] + "_"):
                    raise SourceLayoutError(
                        f"{sample}.cls says class {label} ({ilsvrc_classes().wnids[label]}), but the training image is "
                        f"{image_id}: are the labels in sorted WNID order?"
                    )
                if wanted is not None and label not in wanted:
                    continue
                extension = next((e for e in WDS_IMAGE_EXTENSIONS if e in members), None)
                if extension is None:
                    yield ShardImage(image_id, label, sample, None, f"the sample has no image ({', '.join(WDS_IMAGE_EXTENSIONS)})")
                    continue
                yield _tar_member(tar, members[extension], image_id, label, f"{sample}.{extension}")
    except (tarfile.TarError, EOFError) as error:
        raise ArchiveError(f"{where}: not a readable tar archive ({type(error).__name__}: {error}); is the download complete?") from None


def _wds_samples(tar: tarfile.TarFile) -> dict[str, dict[str, tarfile.TarInfo]]:
    """Members by sample key (the name up to the first dot of its file name, as WebDataset groups them)."""
    samples: dict[str, dict[str, tarfile.TarInfo]] = {}
    for info in tar:
        folder, _, base = info.name.rpartition("/")
        stem, dot, extension = base.partition(".")
        if dot and not info.isdir():
            samples.setdefault(f"{folder}/{stem}" if folder else stem, {})[extension.lower()] = info
    return samples


def _wds_label(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], sample: str) -> int:
    info = members.get("cls")
    if info is None or not info.isfile():
        raise SourceLayoutError(f"{sample}: the sample has no .cls (its class index)")
    with tar.extractfile(info) as f:
        text = _read_small(f, f"{sample}.cls").strip()
    if not (text.isascii() and text.isdigit()):
        raise SourceLayoutError(f"{sample}.cls: expected a class index, got {text[:20]!r}")
    return _checked_label(int(text), f"{sample}.cls")


def _read_small(f: BinaryIO, where: str) -> str:
    data = f.read(64)
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise SourceLayoutError(f"{where}: not ASCII text") from None
