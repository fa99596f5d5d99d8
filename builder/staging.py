"""A build from a Hub layout, in two passes: it needs the disk of a few shards, and resumes where it stopped.

1. Staging (:func:`stage`): each shard the build reads (``HubSource.plan``) is fetched (a snapshot's file
   as it is; a repository's downloaded into ``<staging>/downloads``, at most ``workers + 1`` shards on disk
   at a time, the next one downloading while the others are made tiny), its chosen images made tiny by
   ``num_proc`` worker processes, and the result written as the shard's *part*: its tiny PNGs with their
   ids, labels and sizes, in runs sorted by image id. A part is renamed into place once complete, its
   record (``.json``) written last, and only then the download deleted: a shard with a record is
   finished, and a build run again after an interruption skips it without downloading it again.
2. Writing (:func:`merged_images`): datasets writes each split from its parts' runs merged in image-id
   order, the order in which the Kaggle and devkit layouts list their images, so that the same images
   give the same rows whatever the source.

Parts are private to one build (the folder is keyed by the build's config id, which holds the source's
fingerprint) and read only here; the builder removes the folder once the build is written.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import heapq
import io
import json
import logging
import os
import pickle
import queue
import threading
from typing import Iterator, NamedTuple, Optional, Sequence

from builder import report
from builder.sources.hub import HubSource, ShardStore, byte_size
from builder.sources.hub_layouts import HubShard
from builder.sources.shard_readers import ShardImage, Wanted, shard_images
from builder.png import encode_png
from builder.transform import DECODE_ERRORS, tiny_image

logger = logging.getLogger(__name__)

RUN_LENGTH = 8192  # images sorted and written together by a worker; the merge holds one image of each run
DOWNLOADS = "downloads"


@dataclasses.dataclass(frozen=True)
class TinyJob:
    """How images are made tiny: the config's size, colour, fit and filter (what a worker needs of it)."""

    size: tuple[int, int]
    color: str
    fit_mode: str
    resample: str


class StagedImage(NamedTuple):
    """One tiny image of a part: its ILSVRC id, label (position in the sorted WNIDs; -1 for test), PNG,
    the source image's size, and where the source image was."""

    image_id: str
    label: int
    png: bytes
    original_size: tuple[int, int]
    where: str


@dataclasses.dataclass(frozen=True)
class StagedPart:
    """A finished shard: its part file's runs ``(offset, count)``, and the images it could not read."""

    split: str
    shard: str
    path: str
    runs: tuple[tuple[int, int], ...]
    images: int
    skipped: tuple[report.SkippedImage, ...]


def stage(
    source: HubSource,
    plan: dict[str, list[HubShard]],
    wnids: Sequence[str],
    job: TinyJob,
    folder: str,
    num_proc: Optional[int] = None,
) -> dict[str, list[StagedPart]]:
    """Stage the shards of ``plan`` (split -> shards), keeping the images of the classes ``wnids``, into
    ``folder``; returns every split's parts, those finished by an earlier, interrupted run included."""
    os.makedirs(folder, exist_ok=True)
    parts, todo = _finished_parts(folder, plan)
    wanted = {split: source.wanted(split, wnids) for split in plan}
    workers = max(1, num_proc or 1)
    with (
        _pool(workers) as pool,  # first: its processes fork before the progress bar's and the fetcher's threads start
        _Progress(source.store.location, todo, sum(map(len, parts.values()))) as progress,
        _Fetcher(source.store, todo, os.path.join(folder, DOWNLOADS), slots=workers + 1) as fetcher,
    ):
        def finish(shard: HubShard, part: StagedPart, local: str) -> None:
            fetcher.done(local)  # the download is deleted only once its part is complete
            parts[part.split].append(part)
            progress.shard_done(shard, part)

        def wait_for_one(running: dict[concurrent.futures.Future, tuple[HubShard, str]]) -> None:
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                shard, local = running.pop(future)
                finish(shard, future.result(), local)

        running: dict[concurrent.futures.Future, tuple[HubShard, str]] = {}
        for shard, local in fetcher:
            task = _Task(shard, local, source.store.where(shard.path), wanted[shard.split], job, _part_path(folder, shard))
            if pool is None:
                finish(shard, _stage_shard(task), local)
                continue
            running[pool.submit(_stage_shard, task)] = (shard, local)
            while len(running) >= workers:
                wait_for_one(running)
        while running:
            wait_for_one(running)
    return parts


def _finished_parts(folder: str, plan: dict[str, list[HubShard]]) -> tuple[dict[str, list[StagedPart]], list[HubShard]]:
    """The parts that an earlier run finished, by split, and the shards still to stage."""
    parts: dict[str, list[StagedPart]] = {split: [] for split in plan}
    todo = []
    for split, shards in plan.items():
        for shard in shards:
            finished = _finished(folder, shard)
            if finished is None:
                todo.append(shard)
            else:
                parts[split].append(finished)
    if len(todo) < sum(map(len, plan.values())):
        logger.info("Resuming: %d shard(s) were built by an earlier run and are not read again", sum(map(len, parts.values())))
    return parts, todo


def merged_images(parts: Sequence[StagedPart], duplicates: list[report.SkippedImage]) -> Iterator[StagedImage]:
    """The images of ``parts`` in image-id order; a second image of the same id is left out and reported
    in ``duplicates``."""
    runs = [_read_run(part.path, offset, count) for part in parts for offset, count in part.runs]
    previous: Optional[StagedImage] = None
    for image in heapq.merge(*runs, key=lambda staged: staged.image_id):
        if previous is not None and image.image_id == previous.image_id:
            reason = f"another image has the same id: {previous.where}"
            duplicates.append(report.SkippedImage(parts[0].split, image.image_id, image.where, reason))
            continue
        previous = image
        yield image


# ------------------------------------------------------------------------------------------ a shard's part


@dataclasses.dataclass(frozen=True)
class _Task:
    shard: HubShard
    local: str
    where: str
    wanted: Wanted
    job: TinyJob
    part: str


def _part_path(folder: str, shard: HubShard) -> str:
    return os.path.join(folder, f"{shard.split}--{shard.path.replace('/', '--')}")


def _stage_shard(task: _Task) -> StagedPart:
    """Make the shard's chosen images tiny and write its part (in a worker process, or in this one)."""
    skipped, runs, pending = [], [], []
    incomplete = task.part + ".part.incomplete"
    with open(incomplete, "wb") as out:
        for image in shard_images(task.shard.kind, task.local, task.where, task.shard.split, task.wanted):
            staged = _tiny(image, task.job)
            if isinstance(staged, str):
                skipped.append(report.SkippedImage(task.shard.split, image.image_id, image.where, staged))
                continue
            pending.append(staged)
            if len(pending) >= RUN_LENGTH:
                runs.append(_write_run(out, pending))
                pending = []
        if pending:
            runs.append(_write_run(out, pending))
    part = StagedPart(task.shard.split, task.shard.path, task.part + ".part", tuple(runs), sum(n for _, n in runs), tuple(skipped))
    os.replace(incomplete, part.path)
    _write_record(task.part + ".json", part)  # last: a part without its record is unfinished
    return part


def _tiny(image: ShardImage, job: TinyJob) -> StagedImage | str:
    """The staged tiny image, or why the source image cannot be read."""
    if image.data is None:
        return image.problem
    try:
        tiny = tiny_image(io.BytesIO(image.data), job.size, job.color, job.fit_mode, job.resample)
    except DECODE_ERRORS as error:
        return report.describe(error)
    return StagedImage(image.image_id, image.label, encode_png(tiny.image), tiny.original_size, image.where)


def _write_run(out, images: list[StagedImage]) -> tuple[int, int]:
    images.sort(key=lambda staged: staged.image_id)
    offset = out.tell()
    for image in images:
        pickle.dump(tuple(image), out, protocol=pickle.HIGHEST_PROTOCOL)
    return offset, len(images)


def _read_run(path: str, offset: int, count: int) -> Iterator[StagedImage]:
    with open(path, "rb") as f:
        f.seek(offset)
        for _ in range(count):
            yield StagedImage(*pickle.load(f))


def _write_record(path: str, part: StagedPart) -> None:
    record = dataclasses.asdict(part)
    with open(path + ".incomplete", "w", encoding="utf-8") as f:
        json.dump(record, f)
    os.replace(path + ".incomplete", path)


def _finished(folder: str, shard: HubShard) -> Optional[StagedPart]:
    """The part of a shard that an earlier run finished, or None (leftovers of an unfinished one removed)."""
    base = _part_path(folder, shard)
    try:
        with open(base + ".json", encoding="utf-8") as f:
            record = json.load(f)
        part = StagedPart(
            record["split"], record["shard"], record["path"], tuple(tuple(run) for run in record["runs"]),
            record["images"], tuple(report.SkippedImage(**row) for row in record["skipped"]),
        )
        if part.shard == shard.path and os.path.exists(part.path):
            return part
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for leftover in (base + ".part", base + ".part.incomplete", base + ".json"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(leftover)
    return None


# ------------------------------------------------------------------------------------------ the pipeline


@contextlib.contextmanager
def _pool(workers: int) -> Iterator[Optional[concurrent.futures.ProcessPoolExecutor]]:
    """``workers`` processes (none for one: this process works), all started before any thread is."""
    if workers == 1:
        yield None
        return
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        pool.submit(int).result()  # forks every worker now, while this process runs no other thread
        yield pool


class _Fetcher:
    """Fetches ``shards`` in order in a thread, ahead of their use, holding at most ``slots`` of them at
    a time (a slot is freed by :meth:`done`, which releases the file: a download is deleted)."""

    def __init__(self, store: ShardStore, shards: Sequence[HubShard], scratch: str, *, slots: int) -> None:
        self.store, self.shards, self.scratch = store, list(shards), scratch
        self._ready: queue.Queue = queue.Queue()
        self._slots = threading.Semaphore(slots)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shard-fetcher", daemon=True)

    def __enter__(self) -> "_Fetcher":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._slots.release()  # wakes a fetcher waiting for a slot, so that it sees the stop
        if exc[0] is None:
            self._thread.join()

    def _run(self) -> None:
        for shard in self.shards:
            self._slots.acquire()
            if self._stop.is_set():
                return
            try:
                self._ready.put((shard, self.store.fetch(shard.path, self.scratch)))
            except BaseException as error:  # handed to the builder's thread, which raises it
                self._ready.put((shard, error))
                return

    def __iter__(self) -> Iterator[tuple[HubShard, str]]:
        for _ in self.shards:
            shard, local = self._ready.get()
            if isinstance(local, BaseException):
                raise local
            yield shard, local

    def done(self, local: str) -> None:
        self.store.release(local)
        self._slots.release()


class _Progress:
    """Bytes and images so far: a progress bar (huggingface_hub's, which HF_HUB_DISABLE_PROGRESS_BARS
    turns off) and a line per shard in the log."""

    def __init__(self, location: str, todo: Sequence[HubShard], earlier: int) -> None:
        self.location, self.todo, self.earlier = location, todo, earlier
        self.total_bytes, self.total_shards = sum(s.size for s in todo), len(todo)
        self.bytes = self.shards = self.images = 0

    def __enter__(self) -> "_Progress":
        from huggingface_hub.utils import tqdm

        if self.todo:
            logger.info("Building from %s: %d shard(s), %s, %s", self.location, self.total_shards, byte_size(self.total_bytes),
                        f"{self.earlier} more built earlier" if self.earlier else "none built earlier")
        self.bar = tqdm(total=self.total_bytes, unit="B", unit_scale=True, desc="Shards", disable=not self.todo)
        return self

    def shard_done(self, shard: HubShard, part: StagedPart) -> None:
        self.shards += 1
        self.images += part.images
        self.bytes += shard.size
        self.bar.set_postfix(images=self.images, refresh=False)
        self.bar.update(shard.size)
        logger.info(
            "%s: %d image(s)%s; %d of %d shards, %s of %s, %d images so far", shard.path, part.images,
            f", {len(part.skipped)} unreadable" if part.skipped else "", self.shards, self.total_shards,
            byte_size(self.bytes), byte_size(self.total_bytes), self.images,
        )

    def __exit__(self, *exc) -> None:
        self.bar.close()
