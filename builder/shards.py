"""A build split across machines (SLURM array tasks, say): each shard builds a contiguous share of the images.

Shard ``i`` of ``n`` takes images ``[total * i // n, total * (i + 1) // n)`` of all the config's splits in
order (train, validation, test): shards are balanced by file count and, concatenated in order, give the
single-machine build row for row. Under the output folder ``DIR`` (hidden, so that ``DIR`` itself stays
the Hub-layout folder that :func:`assemble` writes)::

    DIR/.shards/CONFIG/shard-00002-of-00008/build/   one shard's build (a datasets cache)
    DIR/.shards/CONFIG/shard-00002-of-00008/COMPLETE its completion marker: what the shard holds (JSON)

A shard with its marker is finished and is not built again while the download is as it was (the marker
keeps its fingerprint, ``builder.cache``); a shard folder without one was interrupted and is built afresh.
Shards built from another state of the download than is there now are not assembled.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Optional, Sequence, TypeVar

SHARDS_DIR = ".shards"
MARKER = "COMPLETE"
Item = TypeVar("Item")


class ShardError(ValueError):
    """Shards that are missing, or that were built for another config, source or shard count."""


@dataclasses.dataclass(frozen=True)
class ShardPlan:
    """Which shard of how many, of which config, from which download, written where."""

    config: str
    data_dir: str
    output: str
    num_shards: int

    def __post_init__(self) -> None:
        if self.num_shards < 1:
            raise ShardError(f"the number of shards must be at least 1, got {self.num_shards}")

    @property
    def root(self) -> Path:
        """Where this config's shards (and the SLURM scripts and logs) live."""
        return Path(self.output) / SHARDS_DIR / self.config

    def folder(self, index: int) -> Path:
        self.check_index(index)
        return self.root / f"shard-{index:05d}-of-{self.num_shards:05d}"

    def check_index(self, index: int) -> None:
        if not 0 <= index < self.num_shards:
            raise ShardError(f"shard index {index} is not in 0..{self.num_shards - 1} (--num-shards {self.num_shards})")

    def marker(self, index: int) -> Optional[dict]:
        """The completion marker of shard ``index`` (None when it is not finished)."""
        path = self.folder(index) / MARKER
        if not path.is_file():
            return None
        marker = json.loads(path.read_text())
        expected = {"config": self.config, "data_dir": self.data_dir, "num_shards": self.num_shards, "shard_index": index}
        found = {key: marker.get(key) for key in expected}
        if found != expected:
            raise ShardError(f"{path} was written for {found}, not {expected}: use another --output, or remove {self.root}")
        return marker

    def incomplete(self, indices: Optional[Sequence[int]] = None) -> list[int]:
        """The shards (of ``indices``, default all) that have no completion marker."""
        return [i for i in (range(self.num_shards) if indices is None else indices) if self.marker(i) is None]


def share(images: dict[str, Sequence[Item]], index: int, count: int) -> dict[str, list[Item]]:
    """Shard ``index`` of ``count``'s contiguous part of ``images`` (split -> items), splits in their order."""
    total = sum(len(items) for items in images.values())
    start, stop = total * index // count, total * (index + 1) // count
    part, offset = {}, 0
    for split, items in images.items():
        part[split] = list(items[max(0, start - offset) : max(0, stop - offset)])
        offset += len(items)
    return part


def build_shard(plan: ShardPlan, index: int, *, num_proc: Optional[int] = None, strict: bool = False) -> dict:
    """Build shard ``index`` unless it is finished already; returns its completion marker.

    ``"reused": True`` in the result says that nothing was built. A strict run fails on a finished shard
    that skipped images, as on any build.
    """
    from builder import report
    from imagenet_tiny import CorruptImageError, prepare_variant

    marker = plan.marker(index)
    if marker is not None:
        if marker.get("source") == _download_state(plan):
            failure = report.strict_failure(str((plan.folder(index) / marker["skipped_report"]).parent)) if strict else None
            if failure:
                raise CorruptImageError(failure)
            return {**marker, "reused": True}
        print(f"The download at {plan.data_dir} changed since shard {index} of {plan.num_shards} was built: building it anew")
    folder = plan.folder(index)
    if folder.exists():  # interrupted earlier: its partial build may be inconsistent
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    builder = prepare_variant(
        plan.config, plan.data_dir, cache_dir=str(folder / "build"), num_proc=num_proc, strict=strict,
        shard=(index, plan.num_shards),
    )
    built = builder.as_dataset()
    marker = {
        "config": plan.config,
        "data_dir": plan.data_dir,
        "num_shards": plan.num_shards,
        "shard_index": index,
        "source": builder.origin.fingerprint,
        "examples": {split: len(dataset) for split, dataset in built.items()},
        # Relative, so that the output folder may move (between the cluster's and a login node's mount).
        "files": {
            split: [os.path.relpath(f["filename"], folder) for f in dataset.cache_files] for split, dataset in built.items()
        },
        "skipped_report": os.path.relpath(os.path.join(builder.cache_dir, "skipped_images.csv"), folder),
    }
    temporary = folder / f"{MARKER}.tmp"
    temporary.write_text(json.dumps(marker, indent=1))
    temporary.rename(folder / MARKER)  # the marker appears whole, and last
    return {**marker, "reused": False}


def shard_splits(plan: ShardPlan):
    """Every split of the finished shards, concatenated in shard order: ``{split: datasets.Dataset}``.

    Raises :class:`ShardError` naming the shards that are not finished.
    """
    import datasets

    missing = plan.incomplete()
    if missing:
        raise ShardError(
            f"{len(missing)} of {plan.num_shards} shards of {plan.config} in {plan.root} are not finished: "
            f"{_ranges(missing)}. Build them (imagenet-tiny slurm ... --only-shards {_ranges(missing, ',')}) and assemble again."
        )
    state = _download_state(plan)
    stale = [i for i in range(plan.num_shards) if plan.marker(i).get("source") != state]
    if stale:
        raise ShardError(
            f"the download at {plan.data_dir} changed since {len(stale)} of {plan.num_shards} shards of {plan.config} "
            f"were built: {_ranges(stale)}. Build them again (imagenet-tiny slurm ... --only-shards "
            f"{_ranges(stale, ',')}) and assemble again."
        )
    parts: dict[str, list] = {}
    for index in range(plan.num_shards):
        marker = plan.marker(index)
        for split, files in marker["files"].items():
            parts.setdefault(split, []).extend(datasets.Dataset.from_file(str(plan.folder(index) / f)) for f in files)
    return {split: datasets.concatenate_datasets(pieces) for split, pieces in parts.items()}


def merge_skipped(plan: ShardPlan) -> list:
    """The images the finished shards skipped, in shard order, also written to ``plan.root/skipped_images.csv``."""
    from builder import report

    skipped = []
    for index in range(plan.num_shards):
        marker = plan.marker(index)
        if marker is not None:
            skipped.extend(report.read_report(str((plan.folder(index) / marker["skipped_report"]).parent)))
    report.write_report(str(plan.root), skipped)
    return skipped


def assemble(plan: ShardPlan, *, force: bool = False) -> list[str]:
    """Write the finished shards into ``plan.output`` as ``imagenet-tiny export`` lays out a folder.

    The config's Parquet shards, its preview picture and the regenerated card, so that
    ``datasets.load_dataset(output, config)`` loads it. Returns the paths written, relative to the output.
    As export, it replaces only what an export wrote (a card, preview or config folder of someone else's is
    a :class:`~publish.folder.OverwriteError`), unless ``force``.
    """
    from imagenet_tiny import ImageNetTiny
    from publish.export import check_export, write_card, write_config, write_preview
    from publish.preview import draw_preview

    check_export(plan.output, [plan.config], force=force)  # before reading the shards
    splits = shard_splits(plan)
    written = write_config(splits, plan.config, plan.output, force=force)
    # Not built: only its source and classes, for the preview's originals (and a cache folder of its own,
    # so that nothing is written outside the output folder).
    builder = ImageNetTiny(config_name=plan.config, data_dir=plan.data_dir, cache_dir=str(plan.root / "cache"))
    split = "validation" if "validation" in splits else "train"
    picture = draw_preview(splits[split], builder.source, builder.classes, title=plan.config, split=split)
    written.append(write_preview(picture, plan.config, plan.output, force=force))
    write_card(plan.output, force=force)
    return written


def _download_state(plan: ShardPlan) -> str:
    """The fingerprint of what the config reads of the download now (``builder.cache``); builds nothing."""
    from imagenet_tiny import ImageNetTiny

    return ImageNetTiny(config_name=plan.config, data_dir=plan.data_dir, cache_dir=str(plan.root / "cache")).origin.fingerprint


def _ranges(indices: Sequence[int], separator: str = ", ") -> str:
    return separator.join(map(str, indices))


def canonical(config: str) -> str:
    """The config's canonical name (``-crop`` left out), which names its folders."""
    from builder.config import ImageNetTinyConfig

    return ImageNetTinyConfig.from_name(config).name


__all__ = ["MARKER", "SHARDS_DIR", "ShardError", "ShardPlan", "assemble", "build_shard", "canonical", "merge_skipped", "share", "shard_splits"]
