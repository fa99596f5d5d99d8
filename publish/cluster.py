"""A variant built across machines: shards of a build, SLURM array jobs that build them, and their assembly.

Shard ``i`` of ``n`` takes images ``[total * i // n, total * (i + 1) // n)`` of all the config's splits in
order (train, validation, test; ``builder.examples.share``): shards are balanced by file count and,
concatenated in order, give the single-machine build row for row. Under the output folder ``DIR`` (hidden,
so that ``DIR`` itself stays the Hub-layout folder that :func:`assemble` writes)::

    DIR/.shards/CONFIG/shard-00002-of-00008/build/   one shard's build (a datasets cache)
    DIR/.shards/CONFIG/shard-00002-of-00008/COMPLETE its completion marker: what the shard holds (JSON)
    DIR/.shards/CONFIG/jobs/, logs/                  the SLURM job scripts and their logs
    DIR/.shards/CONFIG1+CONFIG2/jobs/, logs/         ... of a job that builds several configs together

A shard with its marker is finished and is not built again while the download is as it was (the marker
keeps its fingerprint, ``builder.cache``); a shard folder without one was interrupted and is built afresh.
Shards built from another state of the download than is there now are not assembled.

Several configs share the work (:class:`ShardGroup`): shard ``i`` of each is built in one pass over the
download (:func:`build_shards`, ``imagenet_tiny.prepare_builders``), each image read and decoded once.

On SLURM (:func:`job_scripts`, :func:`submit`): an ``sbatch --array`` job whose task ``i`` runs
``imagenet-tiny generate CONFIG... --data-dir SRC --output DIR --num-shards N --shard-index i``, and a
finalize job that depends on it (``afterok``) and runs ``imagenet-tiny slurm ... --finalize``
(:func:`finalize`), so that ``datasets.load_dataset(DIR, CONFIG)`` loads each config. This module sits above
the builder and the export: it runs both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

import datasets

from builder import report
from builder.config import ImageNetTinyConfig
from builder.errors import ImageNetTinyError
from imagenet_tiny import CorruptImageError, ImageNetTiny, prepare_builders
from publish.export import check_export, write_card, write_config, write_preview
from publish.preview import draw_preview

logger = logging.getLogger(__name__)

SHARDS_DIR = ".shards"
MARKER = "COMPLETE"


class ShardError(ImageNetTinyError, ValueError):
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


@dataclasses.dataclass(frozen=True)
class ShardGroup:
    """The configs that one array job builds together: its task ``i`` builds shard ``i`` of each, in one pass."""

    configs: tuple[str, ...]
    data_dir: str
    output: str
    num_shards: int

    def __post_init__(self) -> None:
        if not self.configs or len(set(self.configs)) != len(self.configs):
            raise ShardError(f"a job builds one or more different configs, not {list(self.configs)}")

    @property
    def plans(self) -> tuple[ShardPlan, ...]:
        return tuple(ShardPlan(config, self.data_dir, self.output, self.num_shards) for config in self.configs)

    @property
    def name(self) -> str:
        """The configs, as messages and job names give them."""
        return ", ".join(self.configs)

    @property
    def root(self) -> Path:
        """Where the job's scripts and logs live: the config's folder, or one named for the configs."""
        if len(self.configs) == 1:
            return self.plans[0].root
        joined = "+".join(self.configs)
        if len(joined) > 100:  # a folder name has at most 255 bytes
            digest = hashlib.sha1(joined.encode()).hexdigest()[:10]
            joined = f"{self.configs[0]}+{len(self.configs) - 1}-more-{digest}"
        return Path(self.output) / SHARDS_DIR / joined

    def check_index(self, index: int) -> None:
        self.plans[0].check_index(index)

    def incomplete(self, indices: Optional[Sequence[int]] = None) -> list[int]:
        """The shards (of ``indices``, default all) that some config has not finished."""
        unfinished = {i for plan in self.plans for i in plan.incomplete(indices)}
        return sorted(unfinished)


def build_shards(group: ShardGroup, index: int, *, num_proc: Optional[int] = None, strict: bool = False) -> dict[str, dict]:
    """Build shard ``index`` of each config of ``group`` that has not finished it, in one pass over the
    download; returns each config's completion marker, ``"reused": True`` where nothing was built.

    A strict run fails on a finished shard that skipped images, as on any build.
    """
    group.check_index(index)
    markers, pending = {}, []
    for plan in group.plans:
        marker = _finished(plan, index, strict)
        if marker is not None:
            markers[plan.config] = {**marker, "reused": True}
            continue
        folder = plan.folder(index)
        if folder.exists():  # interrupted earlier: its partial build may be inconsistent
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        pending.append(plan)
    builders = [
        ImageNetTiny(config_name=plan.config, data_dir=plan.data_dir, cache_dir=str(plan.folder(index) / "build"),
                     strict=strict, shard=(index, plan.num_shards))
        for plan in pending
    ]
    prepare_builders(builders, num_proc=num_proc)
    for plan, builder in zip(pending, builders):
        markers[plan.config] = {**_write_marker(plan, index, builder), "reused": False}
    return {config: markers[config] for config in group.configs}


def build_shard(plan: ShardPlan, index: int, *, num_proc: Optional[int] = None, strict: bool = False) -> dict:
    """Build shard ``index`` of one config unless it is finished already; returns its completion marker."""
    group = ShardGroup((plan.config,), plan.data_dir, plan.output, plan.num_shards)
    return build_shards(group, index, num_proc=num_proc, strict=strict)[plan.config]


def _finished(plan: ShardPlan, index: int, strict: bool) -> Optional[dict]:
    """The marker of shard ``index`` where it is finished from the download as it is now, else None."""
    marker = plan.marker(index)
    if marker is None:
        return None
    if marker.get("source") != _download_state(plan):
        logger.warning("The download at %s changed since shard %d of %d was built: building it anew", plan.data_dir, index, plan.num_shards)
        return None
    failure = report.strict_failure(str((plan.folder(index) / marker["skipped_report"]).parent)) if strict else None
    if failure:
        raise CorruptImageError(failure)
    return marker


def _write_marker(plan: ShardPlan, index: int, builder: ImageNetTiny) -> dict:
    """Write the completion marker of a built shard, last; returns it."""
    folder = plan.folder(index)
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
    return marker


def shard_splits(plan: ShardPlan) -> dict[str, datasets.Dataset]:
    """Every split of the finished shards, concatenated in shard order: ``{split: datasets.Dataset}``.

    Raises :class:`ShardError` naming the shards that are not finished.
    """
    _check_finished(plan)
    parts: dict[str, list] = {}
    for index in range(plan.num_shards):
        marker = plan.marker(index)
        for split, files in marker["files"].items():
            parts.setdefault(split, []).extend(datasets.Dataset.from_file(str(plan.folder(index) / f)) for f in files)
    return {split: datasets.concatenate_datasets(pieces) for split, pieces in parts.items()}


def _check_finished(plan: ShardPlan) -> None:
    """Raise :class:`ShardError` naming the shards that are not finished, or were built from another state of the download."""
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


def merge_skipped(plan: ShardPlan) -> list:
    """The images the finished shards skipped, in shard order, also written to ``plan.root/skipped_images.csv``."""
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
    return ImageNetTiny(config_name=plan.config, data_dir=plan.data_dir, cache_dir=str(plan.root / "cache")).origin.fingerprint


def _ranges(indices: Sequence[int], separator: str = ", ") -> str:
    return separator.join(map(str, indices))


def canonical(config: str) -> str:
    """The config's canonical name (``-crop`` left out), which names its folders."""
    return ImageNetTinyConfig.from_name(config).name


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
    """What each array task asks of SLURM (``sbatch`` options; None: the cluster's default)."""

    partition: Optional[str] = None
    time: Optional[str] = None
    cpus_per_task: int = 1
    mem: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Submission:
    """What :func:`submit` submitted: the array job (None when every shard was finished) and the finalize job."""

    indices: tuple[int, ...]
    array_job: Optional[str]
    finalize_job: str


def parse_indices(text: str, count: int) -> list[int]:
    """``'2,5,7-9'`` -> ``[2, 5, 7, 8, 9]``, each checked to be a shard of ``count``."""
    indices: set[int] = set()
    try:
        for part in text.split(","):
            first, _, last = part.strip().partition("-")
            indices.update(range(int(first), int(last or first) + 1))
    except ValueError:
        raise ShardError(f"--only-shards {text!r}: expected indices and ranges such as 2,5,7-9") from None
    outside = sorted(i for i in indices if not 0 <= i < count)
    if outside:
        raise ShardError(f"--only-shards {text!r}: {outside} not in 0..{count - 1} (--num-shards {count})")
    return sorted(indices)


def array_spec(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``'0-2,5'``: sbatch --array's syntax."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def executable() -> str:
    """The ``imagenet-tiny`` that runs now, so that the jobs run the same installation."""
    beside = os.path.join(os.path.dirname(sys.executable), "imagenet-tiny")
    found = beside if os.access(beside, os.X_OK) else shutil.which("imagenet-tiny")
    if not found:
        raise ShardError("cannot find the imagenet-tiny command to put in the job scripts: install the package (pip install -e .)")
    return os.path.abspath(found)


def job_scripts(group: ShardGroup, options: SlurmOptions, indices: Sequence[int]) -> dict[str, str]:
    """The array job (when ``indices``) and the finalize job, as sbatch scripts."""
    q = shlex.quote
    common = [
        f"--{name}={value}" for name, value in (("partition", options.partition), ("time", options.time), ("mem", options.mem)) if value
    ]
    configs = " ".join(map(q, group.configs))
    data = f"--data-dir {q(group.data_dir)} --output {q(group.output)} --num-shards {group.num_shards}"
    logs = group.root / "logs"
    job_name = f"imagenet-tiny-{group.root.name}"
    each = "shard i of each config, in one pass" if len(group.configs) > 1 else "shard i"
    scripts = {}
    if indices:
        scripts["shards.sbatch"] = _script(
            [f"--job-name={job_name}", f"--array={array_spec(indices)}",
             f"--cpus-per-task={options.cpus_per_task}", f"--output={logs}/shard-%a.log", *common],
            f"Task i builds {each} (a finished shard is left as it is).",
            f'{q(executable())} generate {configs} {data} --shard-index "$SLURM_ARRAY_TASK_ID" '
            f'--num-proc "${{SLURM_CPUS_PER_TASK:-1}}"',
        )
    scripts["finalize.sbatch"] = _script(
        [f"--job-name={job_name}-finalize", "--cpus-per-task=1", f"--output={logs}/finalize.log", *common],
        f"Assembles {group.output} from the finished shards, as imagenet-tiny export lays it out.",
        f"{q(executable())} slurm {configs} {data} --finalize",
    )
    return scripts


def _script(options: list[str], comment: str, command: str) -> str:
    lines = ["#!/bin/bash", *(f"#SBATCH {option}" for option in options), f"# {comment}", "set -euo pipefail", f"exec {command}"]
    return "\n".join(lines) + "\n"


def sbatch_commands(group: ShardGroup, indices: Sequence[int], array_job: Optional[str]) -> list[list[str]]:
    jobs = group.root / "jobs"
    commands = []
    if indices:
        commands.append(["sbatch", "--parsable", str(jobs / "shards.sbatch")])
    dependency = [f"--dependency=afterok:{array_job}"] if indices else []
    commands.append(["sbatch", "--parsable", *dependency, str(jobs / "finalize.sbatch")])
    return commands


def submit(group: ShardGroup, scripts: dict[str, str], indices: Sequence[int]) -> Submission:
    """Write the job scripts under ``group.root/jobs`` and submit them: the array job of ``indices``, then the finalize job."""
    if shutil.which("sbatch") is None:
        raise ShardError("sbatch is not on PATH: run this where SLURM is installed (a login node), or use --dry-run")
    jobs = group.root / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    (group.root / "logs").mkdir(exist_ok=True)
    for name, text in scripts.items():
        (jobs / name).write_text(text)
    array_job = _sbatch(sbatch_commands(group, indices, None)[0]) if indices else None
    finalize_job = _sbatch(sbatch_commands(group, indices, array_job)[-1])
    return Submission(tuple(indices), array_job, finalize_job)


def status_command(group: ShardGroup, extra: str = "--status") -> str:
    """The command line that runs ``imagenet-tiny slurm`` on ``group`` again, with ``extra``."""
    return (
        f"imagenet-tiny slurm {' '.join(group.configs)} --data-dir {shlex.quote(group.data_dir)} "
        f"--output {shlex.quote(group.output)} --num-shards {group.num_shards} {extra}"
    )


def _sbatch(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ShardError(f"{' '.join(command)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip().split(";")[0]  # --parsable: "jobid" or "jobid;cluster"


def status(group: ShardGroup) -> str:
    """Finished shards, and the unfinished ones by index with the last line of their log."""
    unfinished = group.incomplete()
    lines = [f"{group.name} in {group.output}: {group.num_shards - len(unfinished)} of {group.num_shards} shards finished"]
    for index in unfinished:
        log = group.root / "logs" / f"shard-{index}.log"
        last = _last_line(log) if log.is_file() else "no log: not started"
        lines.append(f"  shard {index} not finished: {last}")
    if unfinished:
        lines.append(f"Resubmit them: {status_command(group, '--only-shards ' + array_spec(unfinished))}")
    for config in group.configs:
        assembled = os.path.join(group.output, config)
        what = f"assembled: {assembled}" if os.path.isdir(assembled) else "not assembled yet"
        lines.append(f"{config}: {what}" if len(group.configs) > 1 else what)
    return "\n".join(lines)


def _last_line(path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return f"{path}: {lines[-1]}" if lines else f"{path} is empty (still running?)"


def finalize(group: ShardGroup, *, force: bool = False) -> tuple[list[str], list[report.SkippedImage]]:
    """Assemble ``group.output`` from the finished shards of each config; returns the files written and the
    images the shards skipped. Every config's shards are checked before any is assembled."""
    for plan in group.plans:
        check_export(plan.output, [plan.config], force=force)
        _check_finished(plan)
    written, skipped = [], []
    for plan in group.plans:
        written += assemble(plan, force=force)
        skipped += merge_skipped(plan)
    return written, skipped
