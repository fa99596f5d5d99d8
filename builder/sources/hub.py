"""ImageNet from the Hugging Face Hub: a local snapshot of a repository, or the repository itself, streamed.

``data_dir`` may be
- a snapshot folder of ``ILSVRC/imagenet-1k`` or ``timm/imagenet-1k-wds`` (``hf download ... --local-dir``,
  or the cache's ``snapshots/<commit>``): its files are read in place (:class:`SnapshotStore`);
- ``hf://datasets/OWNER/NAME`` (``@REVISION`` or ``revision=`` for another branch, tag or commit): the
  repository, listed through ``huggingface_hub`` at one commit, its shards downloaded into a scratch
  folder when the build needs them and deleted after use (:class:`RepoStore`; ``builder.staging`` keeps
  a few on disk at a time). The token comes from where ``huggingface_hub`` looks (``HF_TOKEN``,
  ``hf auth login``) or ``token=``.

Which shards a build reads (:meth:`HubSource.plan`): a class subset of the Parquet layout reads only the
shards that hold a chosen label (the footer's label statistics rule out row groups; the label column of
the others says; remotely both are read with a few range requests, not the images); the other layouts
mix the classes in every shard, so a subset reads them all, and says so, with their size, before it starts. The layouts: :mod:`builder.sources.hub_layouts`.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import logging
import os
import re
import tempfile
from typing import Iterator, Optional, Sequence

import pyarrow.parquet as pq

from builder.classes import ilsvrc_classes
from builder.errors import ImageNetTinyError, InputError
from builder.sources.archives import file_state
from builder.sources.base import SourceLayoutError
from builder.sources.hub_layouts import PARQUET, TAR_GZ, HubLayout, HubShard, find_layout, read_classes_py
from builder.sources.shard_readers import parquet_errors

logger = logging.getLogger(__name__)

HUB_PREFIX = "hf://"
_REPO_URL = re.compile(r"hf://datasets/(?P<repo_id>[\w.-]+/[\w.-]+)(?:@(?P<revision>[^/]+))?/?")
PART_BLOCK = 1 << 16  # bytes a remote read of a Parquet footer or label column asks for at a time


class HubAccessError(ImageNetTinyError, PermissionError):
    """A repository that this token may not read: gated, private, missing, or an unknown revision."""


class ShardDownloadError(ImageNetTinyError, OSError):
    """A shard that could not be downloaded; the message says that running again resumes."""


def is_hub_url(data_dir: object) -> bool:
    return isinstance(data_dir, str) and data_dir.startswith(HUB_PREFIX)


def byte_size(count: int) -> str:
    """``count`` bytes for people: 1.2 GB, 340.5 MB, 12.0 kB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


class ShardStore(abc.ABC):
    """Where a Hub layout's files are. ``location`` names it in messages; ``streamed`` stores download."""

    location: str
    streamed: bool = False

    @abc.abstractmethod
    def files(self) -> dict[str, int]:
        """Every file, relative path -> size in bytes."""

    @abc.abstractmethod
    def read_text(self, path: str) -> str:
        """A small text file (``classes.py``)."""

    @abc.abstractmethod
    def fetch(self, path: str, scratch: str) -> str:
        """A local file with the content of ``path`` (downloaded into ``scratch`` where it must be)."""

    def release(self, local: str) -> None:
        """Done with what :meth:`fetch` gave: a download is deleted."""

    @abc.abstractmethod
    def parquet_file(self, path: str) -> contextlib.AbstractContextManager[pq.ParquetFile]:
        """A Parquet file opened for reading parts of it: its footer, some columns of some row groups."""

    @abc.abstractmethod
    def where(self, path: str) -> str:
        """How messages name ``path``."""

    @abc.abstractmethod
    def identity(self, paths: Sequence[str]) -> list[str]:
        """What a build of ``paths`` depends on, for its fingerprint; cheap."""


class SnapshotStore(ShardStore):
    """A snapshot folder, read in place (symbolic links into the cache's blobs are followed)."""

    def __init__(self, root: str) -> None:
        self.location = root

    def files(self) -> dict[str, int]:
        """The files at the top and in its (not hidden) folders: where the layouts keep their shards."""
        found = {}
        with os.scandir(self.location) as top:
            for entry in top:
                if entry.name.startswith("."):
                    continue  # .cache (hf download's bookkeeping), .git
                if entry.is_dir():
                    with os.scandir(entry.path) as inner:
                        found.update(self._sizes(inner, f"{entry.name}/"))
                else:
                    found.update(self._sizes([entry], ""))
        return found

    @staticmethod
    def _sizes(entries, prefix: str) -> dict[str, int]:
        sizes = {}
        for entry in entries:
            with contextlib.suppress(OSError):  # a dangling link: as if absent, so the layout names it missing
                if entry.is_file():
                    sizes[prefix + entry.name] = entry.stat().st_size
        return sizes

    def read_text(self, path: str) -> str:
        with open(self._real(path), encoding="utf-8") as f:
            return f.read()

    def fetch(self, path: str, scratch: str) -> str:
        return self._real(path)

    @contextlib.contextmanager
    def parquet_file(self, path: str) -> Iterator[pq.ParquetFile]:
        with pq.ParquetFile(self._real(path)) as parquet:
            yield parquet

    def where(self, path: str) -> str:
        return self._real(path)

    def identity(self, paths: Sequence[str]) -> list[str]:
        # Relative, so that the snapshot reached through a symbolic link is the same snapshot.
        return [f"{path} {size} {mtime}" for path, (_, size, mtime) in ((p, file_state(self._real(p))) for p in paths)]

    def _real(self, path: str) -> str:
        return os.path.join(self.location, *path.split("/"))


class RepoStore(ShardStore):
    """A dataset repository on the Hub at one commit, its files downloaded when asked for."""

    streamed = True

    def __init__(self, url: str, revision: Optional[str] = None, token: Optional[str] = None) -> None:
        match = _REPO_URL.fullmatch(url)
        if match is None:
            raise InputError(f"{url!r}: expected hf://datasets/OWNER/NAME (optionally @REVISION), e.g. hf://datasets/ILSVRC/imagenet-1k")
        if match["revision"] and revision and match["revision"] != revision:
            raise InputError(f"{url} names revision {match['revision']}, but revision={revision!r} was given too")
        from huggingface_hub import HfApi
        from huggingface_hub.hf_api import RepoFile

        self.repo_id, self.token, self.revision = match["repo_id"], token, match["revision"] or revision
        self.location = f"hf://datasets/{self.repo_id}"
        self.api = HfApi(token=token)
        with self._hub_errors(self.location):
            info = self.api.dataset_info(self.repo_id, revision=self.revision)
            self.commit = info.sha
            tree = self.api.list_repo_tree(self.repo_id, repo_type="dataset", revision=self.commit, recursive=True)
            self._files = {entry.path: entry.size for entry in tree if isinstance(entry, RepoFile)}

    def files(self) -> dict[str, int]:
        return dict(self._files)

    def check_access(self, path: str) -> None:
        """Fail now, before any work, if this token may not download ``path`` (a gated repository's files are
        refused until its terms are accepted, while its listing is open to all)."""
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        with self._hub_errors(self.where(path)):
            get_hf_file_metadata(hf_hub_url(self.repo_id, path, repo_type="dataset", revision=self.commit), token=self.token)

    def read_text(self, path: str) -> str:
        with tempfile.TemporaryDirectory() as scratch:
            with open(self.fetch(path, scratch), encoding="utf-8") as f:
                return f.read()

    def fetch(self, path: str, scratch: str) -> str:
        from huggingface_hub import hf_hub_download

        with self._hub_errors(self.where(path), download=True):
            return hf_hub_download(self.repo_id, path, repo_type="dataset", revision=self.commit, local_dir=scratch, token=self.token)

    def release(self, local: str) -> None:
        os.remove(local)

    @contextlib.contextmanager
    def parquet_file(self, path: str) -> Iterator[pq.ParquetFile]:
        """The remote file, read by range requests of ``PART_BLOCK`` bytes as pyarrow asks for its parts."""
        from huggingface_hub import HfFileSystem

        with self._hub_errors(self.where(path), download=True):
            filesystem = HfFileSystem(token=self.token)
            with filesystem.open(f"datasets/{self.repo_id}@{self.commit}/{path}", "rb", block_size=PART_BLOCK) as f:
                with pq.ParquetFile(f) as parquet:
                    yield parquet

    def where(self, path: str) -> str:
        return f"{self.location}@{self.commit[:12]}/{path}"

    def identity(self, paths: Sequence[str]) -> list[str]:
        return [self.repo_id, self.commit] + [f"{path} {self._files[path]}" for path in paths]

    @contextlib.contextmanager
    def _hub_errors(self, where: str, download: bool = False) -> Iterator[None]:
        """The Hub's errors as messages that say what to do."""
        from huggingface_hub import constants
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

        page = f"{constants.ENDPOINT}/datasets/{self.repo_id}"
        try:
            yield
        except GatedRepoError:
            raise HubAccessError(
                f"{self.location} is gated: accept the terms at {page} with the account of your token "
                "(HF_TOKEN, or `hf auth login`), then run again"
            ) from None
        except RepositoryNotFoundError:
            raise HubAccessError(
                f"{self.location} was not found, or it is private and your token may not read it "
                f"(is {page} right? log in with `hf auth login` or set HF_TOKEN)"
            ) from None
        except RevisionNotFoundError:
            raise HubAccessError(f"{self.location} has no revision {self.revision!r} (a branch, tag or commit of it)") from None
        except (HfHubHTTPError, OSError) as error:
            if not download:
                raise
            raise ShardDownloadError(
                f"{where}: the download failed ({type(error).__name__}: {error}). Run the same command again: it "
                "resumes, and the shards already built are not downloaded again"
            ) from None


class HubSource:
    """A download in one of the Hub's layouts, wherever its files are (``store``)."""

    def __init__(self, store: ShardStore, layout: HubLayout) -> None:
        self.store, self.layout = store, layout
        self.data_dir = store.location
        if layout.classes_file:
            read_classes_py(store.read_text(layout.classes_file), store.where(layout.classes_file))
        self.classes = ilsvrc_classes()

    @property
    def splits(self) -> tuple[str, ...]:
        return self.layout.splits

    def resolved_location(self) -> str:
        """What the build cache keys the download by: the real folder, or the repository's URL."""
        return self.data_dir if self.store.streamed else os.path.realpath(self.data_dir)

    def fingerprint(self, splits: Sequence[str], wnids: Sequence[str]) -> str:
        """A digest of the files a build of ``splits`` may read (names, sizes, and modification times or the
        commit); nothing is read. ``wnids`` do not change it: a class subset reads some of the same files."""
        del wnids
        paths = [shard.path for split in splits for shard in self.layout.split_shards(split)]
        paths += [self.layout.classes_file] if self.layout.classes_file else []
        return hashlib.blake2b("\n".join(self.store.identity(paths)).encode(), digest_size=16).hexdigest()

    def wanted(self, split: str, wnids: Sequence[str]) -> Optional[frozenset[int]]:
        """The labels a build of ``wnids`` reads from ``split``; None: all of them."""
        if split == "test" or len(set(wnids)) == len(self.classes):
            return None
        return frozenset(self.classes.index(wnid) for wnid in wnids)

    def plan(self, split: str, wnids: Sequence[str]) -> list[HubShard]:
        """The shards of ``split`` that a build of the classes ``wnids`` reads, saying why when a class
        subset reads them all."""
        shards = self.layout.split_shards(split)
        wanted = self.wanted(split, wnids)
        if wanted is None:
            return shards
        if self.layout.kind == PARQUET:
            chosen = [shard for shard in shards if self._may_hold(shard, wanted)]
            logger.info(
                "%s: a %d-class build reads %d of the %d %s shards (%s of %s); the others hold none of its "
                "classes (their label columns say so)",
                self.layout.name, len(wanted), len(chosen), len(shards), split,
                byte_size(sum(s.size for s in chosen)), byte_size(sum(s.size for s in shards)),
            )
            return chosen
        logger.warning(
            "%s: a %d-class build %s every one of the %d %s shards (%s): %s",
            self.layout.name, len(wanted), "downloads" if self.store.streamed else "reads", len(shards), split,
            byte_size(sum(s.size for s in shards)),
            "gzip archives are read from the start to the end, whatever the classes" if self.layout.kind == TAR_GZ
            else "its shards are shuffled, so any of them may hold the chosen classes"
            + ("" if self.store.streamed else " (only their tar headers and the chosen classes' images are read)"),
        )
        return shards

    def images(self, split: str, wnids: Sequence[str]) -> list:
        """Not available: the Hub's layouts are read shard by shard, never listed image by image."""
        raise SourceLayoutError(self._per_image(f"the {split} images"))

    def train_image_counts(self) -> dict[str, int]:
        """Not available, as :meth:`images`."""
        raise SourceLayoutError(self._per_image("training images per class"))

    def _per_image(self, what: str) -> str:
        return (f"{self.data_dir} is read shard by shard as a build needs it, so {what} cannot be listed from it "
                "(previews and class counts need a Kaggle or devkit download)")

    def _may_hold(self, shard: HubShard, wanted: frozenset[int]) -> bool:
        """Whether the Parquet ``shard`` has a row of a ``wanted`` label: the row groups whose label statistics
        cannot rule it out are asked, by their label column alone."""
        with parquet_errors(self.store.where(shard.path)), self.store.parquet_file(shard.path) as parquet:
            metadata = parquet.metadata
            names = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
            if "label" not in names:
                return True  # the build will say what is wrong with it
            column = names.index("label")
            groups = [group for group in range(metadata.num_row_groups) if _may_meet(metadata.row_group(group).column(column), wanted)]
            return bool(groups) and not wanted.isdisjoint(parquet.read_row_groups(groups, columns=["label"]).column("label").to_pylist())


def _may_meet(chunk: pq.ColumnChunkMetaData, wanted: frozenset[int]) -> bool:
    """Whether a row group's label column may hold a ``wanted`` label, by its statistics (True without them)."""
    statistics = chunk.statistics
    if statistics is None or not statistics.has_min_max:
        return True
    return any(statistics.min <= label <= statistics.max for label in wanted)


def open_hub_repo(url: str, revision: Optional[str] = None, token: Optional[str] = None) -> HubSource:
    """The repository at ``url`` (``hf://datasets/OWNER/NAME``) as a source."""
    store = RepoStore(url, revision, token)
    layout = find_layout(store.files(), store.location)
    if layout is None:
        shown = ", ".join(sorted(store.files())[:12]) or "nothing"
        raise SourceLayoutError(f"{store.location} is not ImageNet in a layout of the Hub (it holds: {shown})")
    store.check_access(layout.shards[0].path)
    return HubSource(store, layout)


def open_hub_snapshot(folder: str) -> Optional[HubSource]:
    """The snapshot in ``folder`` as a source, or None when the folder is in no Hub layout."""
    store = SnapshotStore(folder)
    layout = find_layout(store.files(), folder)
    return None if layout is None else HubSource(store, layout)

