"""One pass over a download for several variants: each source image is read and decoded once for all of them.

A variant's images are a subsequence, in the same order, of the images of the union of the variants'
classes (the listings sort by class then image id, or by image id), and class subsets' images are among
``full``'s. :func:`run_pass` walks that union once, in chunks that ``num_proc`` workers share out. For each
image it works out which variants take it (its split, its class, and, with ``shard=(i, n)``, whether it is
in the variant's own shard ``i`` of its own images, as the variant's sharded build takes them), makes all
their examples from one decode (:func:`builder.examples.tiny_examples`), and appends each to that
variant's staging file ``FOLDER/SPLIT-CHUNK.arrow`` (Arrow, the variant's features), its report rows to
the variant's report parts beside them (:mod:`builder.report`). Read in order (:func:`staged_files`,
:func:`staged_examples`), a variant's staging files hold exactly the rows of its own build, in the same
order; ``imagenet_tiny`` builds each variant with ``datasets`` from them, so that each stays a build of its
own (features, cache folder, records, reports).

The staging is as large as the variants' datasets; it lives in a folder of its own (:func:`staging`)
beside the builds, removed when the builds end, or by the next pass where a killed one left it.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import glob
import logging
import multiprocessing
import os
import shutil
import socket
import tempfile
from typing import Any, Iterator, Mapping, Optional, Sequence

import datasets
import pyarrow as pa
from datasets.utils import tqdm as hf_tqdm

from builder import report, workers
from builder.errors import InputError
from builder.classes import ClassTable
from builder.config import ImageNetTinyConfig
from builder.examples import Shard, examples_or_skip, shard_images, share_bounds, tiny_examples
from builder.sources import HubSource, SourceImage, no_data_dir
from builder.sources.base import SplitImages

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".imagenet-tiny-pass-"
# Rows a staging file buffers before writing them: each worker holds one such batch per variant.
STAGING_BATCH_ROWS = 100
# Chunks of about this many images (at most 256 a split, at least 4 per process): each chunk costs a
# staging file per variant, which the variant's build then reads as one of its shards.
CHUNK_IMAGES = 1000
MAX_CHUNKS = 256


@dataclasses.dataclass(frozen=True)
class Target:
    """One variant of a pass: its config and classes, its splits, its features, and its staging folder."""

    config: ImageNetTinyConfig
    classes: ClassTable
    splits: tuple[str, ...]
    features: datasets.Features
    folder: str

    def takes(self, split: str, wnid: Optional[str]) -> bool:
        """Whether an image of ``split`` and class ``wnid`` (None: unlabelled, the test split) is of this variant."""
        return split in self.splits and (wnid is None or wnid in self.classes)


@dataclasses.dataclass(frozen=True)
class _Job:
    """A chunk of one split's images, with where each target stands at its start."""

    chunk: Shard
    before: tuple[int, ...]  # per target: how many of its images in this split come before the chunk
    ranges: tuple[tuple[int, int], ...]  # per target: which of its images in this split it takes, [start, stop)


def run_pass(
    images: Mapping[str, Sequence[SourceImage]],
    targets: Sequence[Target],
    *,
    shard: Optional[tuple[int, int]] = None,
    num_proc: Optional[int] = None,
    strict: bool = False,
) -> None:
    """Write every target's examples of ``images`` (split -> the union's images, in order) into its folder.

    ``strict``: an unreadable image raises :class:`~builder.report.CorruptImageError` (else each target
    that takes it reports it as skipped, as its own build would).
    """
    jobs = list(_jobs(images, targets, shard, num_proc or 1))
    for target in targets:
        os.makedirs(target.folder, exist_ok=True)
    names = ", ".join(target.config.name for target in targets)
    logger.info("One pass over %d source images for %d configs: %s", sum(len(j.chunk.images) for j in jobs), len(targets), names)
    processes = min(num_proc or 1, len(jobs))
    bar = hf_tqdm(total=sum(len(job.chunk.images) for job in jobs), unit=" images", desc=f"One pass for {len(targets)} configs")
    with bar:
        if processes <= 1:
            for job in jobs:
                bar.update(_run_job(targets, strict, job))
            return
        # Each worker is given the targets once (their class tables are large), then chunk after chunk.
        with workers.exit_with_parent(), multiprocessing.Pool(processes, _set_worker_targets, (targets, strict)) as pool:
            for done in pool.imap_unordered(_run_worker_job, jobs):
                bar.update(done)


def _jobs(
    images: Mapping[str, Sequence[SourceImage]], targets: Sequence[Target], shard: Optional[tuple[int, int]], processes: int
) -> Iterator[_Job]:
    """The chunks of each split in which some target takes an image, with where each target stands."""
    counts = {split: collections.Counter(image.wnid for image in split_images) for split, split_images in images.items()}
    ranges = []
    for target in targets:
        lengths = {split: _taken(target, split, counter) for split, counter in counts.items() if split in target.splits}
        bounds = share_bounds(lengths, *shard) if shard else {split: (0, length) for split, length in lengths.items()}
        ranges.append(bounds)
    for split, split_images in images.items():
        before = [0] * len(targets)
        split_ranges = tuple(bounds.get(split, (0, 0)) for bounds in ranges)
        chunks = min(MAX_CHUNKS, max(4 * processes, -(-len(split_images) // CHUNK_IMAGES)))
        for chunk in shard_images(split, split_images, chunks):
            counter = collections.Counter(image.wnid for image in chunk.images)
            inside = [_taken(target, split, counter) for target in targets]
            if any(n and start < stop and b < stop and b + n > start for n, b, (start, stop) in zip(inside, before, split_ranges)):
                yield _Job(chunk, tuple(before), split_ranges)
            before = [b + n for b, n in zip(before, inside)]


def _taken(target: Target, split: str, counter: Mapping[Optional[str], int]) -> int:
    return sum(n for wnid, n in counter.items() if target.takes(split, wnid))


_worker_targets: Sequence[Target] = ()
_worker_strict = False


def _set_worker_targets(targets: Sequence[Target], strict: bool) -> None:
    global _worker_targets, _worker_strict
    _worker_targets, _worker_strict = targets, strict


def _run_worker_job(job: _Job) -> int:
    return _run_job(_worker_targets, _worker_strict, job)


def _run_job(targets: Sequence[Target], strict: bool, job: _Job) -> int:
    """Decode the chunk's images that some target takes, once each; write each target's examples and report
    rows. Returns how many images of the chunk it went through."""
    split, index = job.chunk.split, job.chunk.index
    position = list(job.before)
    writers: dict[int, _StagingWriter] = {}
    rows: dict[int, list[report.Row]] = collections.defaultdict(list)
    try:
        for image in job.chunk.images:
            wanted = []
            for t, target in enumerate(targets):
                if target.takes(split, image.wnid):
                    start, stop = job.ranges[t]
                    if start <= position[t] < stop:
                        wanted.append(t)
                    position[t] += 1
            if not wanted:
                continue
            variants = [(targets[t].config, targets[t].classes) for t in wanted]
            examples, image_rows = examples_or_skip(image, split, lambda one: tiny_examples(one, variants), strict)
            for i, t in enumerate(wanted):
                rows[t] += image_rows
                if examples is not None:
                    if t not in writers:
                        writers[t] = _StagingWriter(targets[t], os.path.join(targets[t].folder, f"{split}-{index:05d}.arrow"))
                    writers[t].write(examples[i])
        for writer in writers.values():
            writer.flush()
    finally:
        for writer in writers.values():
            writer.close()
    for t, target_rows in rows.items():
        report.write_part(targets[t].folder, split, index, target_rows)
    return len(job.chunk.images)


class _StagingWriter:
    """A staging file: an Arrow stream of a target's examples, in batches of ``STAGING_BATCH_ROWS``.

    pyarrow's own writer, of the features' Arrow schema: the examples are plain Python values already, and
    the build encodes them as it encodes any (datasets' ``ArrowWriter`` also serialises the features into
    each file, which with 1000 class names cost more than the examples of a small chunk).
    """

    def __init__(self, target: Target, path: str) -> None:
        self.schema = target.features.arrow_schema
        self.writer = pa.ipc.new_stream(path, self.schema)
        self.rows: list[dict[str, Any]] = []

    def write(self, example: dict[str, Any]) -> None:
        self.rows.append(example)
        if len(self.rows) >= STAGING_BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_batch(pa.RecordBatch.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self.writer.close()


def staged_files(folder: str, split: str) -> list[str]:
    """A target's staging files of ``split``, in order."""
    return sorted(glob.glob(os.path.join(glob.escape(folder), f"{glob.escape(split)}-*.arrow")))


def staged_examples(path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The examples of a staging file, keyed by image id as a build yields them."""
    with pa.memory_map(path) as source:
        for batch in pa.ipc.open_stream(source):
            for row in batch.to_pylist():
                yield row["image_id"], row


@contextlib.contextmanager
def staging(parent: str) -> Iterator[str]:
    """A new folder in ``parent`` for one pass's staging, removed at the end; first removes the staging
    folders in ``parent`` of passes on this machine whose process is gone (killed: nothing removed them)."""
    os.makedirs(parent, exist_ok=True)
    host = f"{STAGING_PREFIX}{socket.gethostname()}-"
    for name in os.listdir(parent):
        pid = name[len(host) :].split("-")[0] if name.startswith(host) else ""
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"{host}{os.getpid()}-", dir=parent)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


# --- the builds of a pass (ImageNetTiny builders; imagenet_tiny.prepare_variants makes them) ------------


def unlisted_images(images: dict[str, SplitImages], strict: bool = False) -> dict[str, list[report.SkippedImage]]:
    """Per split, the files that the listing could not take as images; ``strict``: raise on the first."""
    unlisted = {
        split: [report.SkippedImage(split, f.image_id, f.path, f.reason) for f in found.skipped]
        for split, found in images.items()
    }
    every = [row for rows in unlisted.values() for row in rows]
    if every and strict:
        more = f" (and {len(every) - 1} more file(s) named as images)" if len(every) > 1 else ""
        raise report.CorruptImageError(f"cannot read {every[0].path}: {every[0].reason}{more}")
    return unlisted


def prepare_builders(builders: Sequence[Any], *, num_proc: int | None = None, staging_dir: str | None = None) -> None:
    """Build every builder whose build is not finished, in one pass over their download when there are several.

    The builders must share the download, ``strict`` and ``shard`` (each may have its own cache folder).
    A Hub source's configs are built one after the other, each streaming the shards it needs.
    The pass stages every variant's examples in a folder of ``staging_dir`` (default: the first pending
    builder's cache folder), as large as their datasets, and removes it when the builds are done.
    """
    if any(builder.source is None for builder in builders):
        raise no_data_dir()
    pending = list({builder._output_dir: builder for builder in builders if not builder.is_built()}.values())
    if any(isinstance(builder.source, HubSource) for builder in pending):
        pending = []  # a Hub source is read shard by shard, each config on its own (builder.staging)
    if len(pending) > 1:
        origins = {(builder.origin.path, builder.strict, builder.shard) for builder in pending}
        if len(origins) > 1:
            raise InputError(f"one pass builds variants of one download, strict or not, one shard: got {sorted(origins)}")
        with staging(staging_dir or pending[0]._cache_dir_root) as folder:
            _stage(pending, folder, num_proc)
            for builder in pending:
                _prepare(builder, num_proc)
    for builder in builders:  # the others: built alone, or reused (and checked, when strict)
        if len(pending) < 2 or builder not in pending:
            _prepare(builder, num_proc)


def _stage(builders: Sequence[Any], folder: str, num_proc: int | None) -> None:
    """The one pass: every builder's examples, staged in a folder of ``folder`` each."""
    first = builders[0]
    wnids = sorted(set().union(*(builder.classes.wnids for builder in builders)))
    splits = [split for split in first.source.splits if any(split in builder.splits for builder in builders)]
    images = {split: first.source.images(split, wnids) for split in splits}
    unlisted_images(images, first.strict)  # a strict pass fails here, before any decoding, as each build would
    targets = [
        Target(builder.config, builder.classes, builder.splits, builder.info.features, os.path.join(folder, str(i)))
        for i, builder in enumerate(builders)
    ]
    run_pass(images, targets, shard=first.shard, num_proc=num_proc, strict=first.strict)
    for builder, target in zip(builders, targets):
        builder.staged = target.folder


def _prepare(builder: Any, num_proc: int | None) -> None:
    """``download_and_prepare``, its failure raised as its cause; a staged builder's staging removed after."""
    try:
        builder.download_and_prepare(num_proc=num_proc)
    except datasets.exceptions.DatasetGenerationError as error:
        raise (error.__cause__ or error) from error
    finally:
        if builder.staged:
            shutil.rmtree(builder.staged, ignore_errors=True)
            builder.staged = None
