"""``imagenet-tiny slurm``: build a variant on a SLURM cluster, one array task per shard, then assemble it.

    imagenet-tiny slurm CONFIG --data-dir SRC --output DIR --num-shards N
        [--partition P --time T --cpus-per-task C --mem M] [--only-shards 2,5] [--dry-run | --status | --finalize]

submits an ``sbatch --array`` job whose task ``i`` runs ``imagenet-tiny generate CONFIG --data-dir SRC
--output DIR --num-shards N --shard-index i``, and a finalize job that depends on it (``afterok``) and runs
this command with ``--finalize``: DIR becomes the Hub-layout folder that ``imagenet-tiny export`` writes,
so ``datasets.load_dataset(DIR, CONFIG)`` loads it and ``imagenet-tiny publish`` uploads it. Shards that
are finished are not submitted again; ``--status`` reports the others by index, with the last line of
their log, and ``--only-shards`` submits chosen ones. DIR must be on a file system that every node sees.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from typing import Optional, Sequence


def register(commands: argparse._SubParsersAction) -> None:
    slurm = commands.add_parser(
        "slurm",
        help="build a variant on a SLURM cluster: an array job of shards, then a finalize job",
        description=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    slurm.add_argument("config", help="config name, e.g. 64x64-sRGB-full")
    slurm.add_argument("--data-dir", required=True, help="your ImageNet download, as every node sees it")
    slurm.add_argument("--output", required=True, help="the folder for the shards and then the Hub layout")
    slurm.add_argument("--num-shards", type=int, required=True, help="array tasks (shards of near-equal file count)")
    slurm.add_argument("--partition", default=None, help="sbatch --partition")
    slurm.add_argument("--time", default=None, help="sbatch --time per task, e.g. 2:00:00")
    slurm.add_argument("--cpus-per-task", type=int, default=1, help="sbatch --cpus-per-task; each task uses them all")
    slurm.add_argument("--mem", default=None, help="sbatch --mem per task, e.g. 4G")
    slurm.add_argument("--only-shards", default=None, help="submit these shards only, e.g. 2,5,7-9")
    action = slurm.add_mutually_exclusive_group()
    action.add_argument("--dry-run", action="store_true", help="print the job scripts and sbatch commands; submit nothing")
    action.add_argument("--status", action="store_true", help="which shards are finished, which are not (and why)")
    action.add_argument("--finalize", action="store_true", help="assemble DIR from the finished shards now")
    slurm.set_defaults(run=run_slurm)


def run_slurm(args: argparse.Namespace) -> int:
    from builder.shards import ShardPlan, canonical

    plan = ShardPlan(canonical(args.config), os.path.abspath(args.data_dir), os.path.abspath(args.output), args.num_shards)
    if args.status:
        print(status(plan))
        return 0
    if args.finalize:
        return finalize(plan)
    indices = parse_indices(args.only_shards, plan.num_shards) if args.only_shards else plan.incomplete()
    scripts = job_scripts(plan, args, indices)
    if args.dry_run:
        for name, text in scripts.items():
            print(f"# {plan.root / 'jobs' / name}\n{text}")
        print("# submitted with")
        for command in sbatch_commands(plan, indices, "<array job id>"):
            print(" ".join(shlex.quote(part) for part in command))
        return 0
    return submit(plan, scripts, indices)


def parse_indices(text: str, count: int) -> list[int]:
    """``'2,5,7-9'`` -> ``[2, 5, 7, 8, 9]``, each checked to be a shard of ``count``."""
    indices: set[int] = set()
    try:
        for part in text.split(","):
            first, _, last = part.strip().partition("-")
            indices.update(range(int(first), int(last or first) + 1))
    except ValueError:
        raise ValueError(f"--only-shards {text!r}: expected indices and ranges such as 2,5,7-9") from None
    outside = sorted(i for i in indices if not 0 <= i < count)
    if outside:
        raise ValueError(f"--only-shards {text!r}: {outside} not in 0..{count - 1} (--num-shards {count})")
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
        raise ValueError("cannot find the imagenet-tiny command to put in the job scripts: install the package (pip install -e .)")
    return os.path.abspath(found)


def job_scripts(plan, args: argparse.Namespace, indices: Sequence[int]) -> dict[str, str]:
    """The array job (when ``indices``) and the finalize job, as sbatch scripts."""
    q = shlex.quote
    common = [f"--{name}={value}" for name, value in (("partition", args.partition), ("time", args.time), ("mem", args.mem)) if value]
    data = f"--data-dir {q(plan.data_dir)} --output {q(plan.output)} --num-shards {plan.num_shards}"
    logs = plan.root / "logs"
    scripts = {}
    if indices:
        scripts["shards.sbatch"] = _script(
            [f"--job-name=imagenet-tiny-{plan.config}", f"--array={array_spec(indices)}",
             f"--cpus-per-task={args.cpus_per_task}", f"--output={logs}/shard-%a.log", *common],
            "Task i builds shard i (a finished shard is left as it is).",
            f'{q(executable())} generate {q(plan.config)} {data} --shard-index "$SLURM_ARRAY_TASK_ID" '
            f'--num-proc "${{SLURM_CPUS_PER_TASK:-1}}"',
        )
    scripts["finalize.sbatch"] = _script(
        [f"--job-name=imagenet-tiny-{plan.config}-finalize", "--cpus-per-task=1", f"--output={logs}/finalize.log", *common],
        f"Assembles {plan.output} from the finished shards, as imagenet-tiny export lays it out.",
        f"{q(executable())} slurm {q(plan.config)} {data} --finalize",
    )
    return scripts


def _script(options: list[str], comment: str, command: str) -> str:
    lines = ["#!/bin/bash", *(f"#SBATCH {option}" for option in options), f"# {comment}", "set -euo pipefail", f"exec {command}"]
    return "\n".join(lines) + "\n"


def sbatch_commands(plan, indices: Sequence[int], array_job: Optional[str]) -> list[list[str]]:
    jobs = plan.root / "jobs"
    commands = []
    if indices:
        commands.append(["sbatch", "--parsable", str(jobs / "shards.sbatch")])
    dependency = [f"--dependency=afterok:{array_job}"] if indices else []
    commands.append(["sbatch", "--parsable", *dependency, str(jobs / "finalize.sbatch")])
    return commands


def submit(plan, scripts: dict[str, str], indices: Sequence[int]) -> int:
    if shutil.which("sbatch") is None:
        raise ValueError("sbatch is not on PATH: run this where SLURM is installed (a login node), or use --dry-run")
    jobs = plan.root / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    (plan.root / "logs").mkdir(exist_ok=True)
    for name, text in scripts.items():
        (jobs / name).write_text(text)
    array_job = None
    commands = sbatch_commands(plan, indices, None)
    if indices:
        array_job = _sbatch(commands[0])
        commands = sbatch_commands(plan, indices, array_job)
        print(f"Submitted shards {array_spec(indices)} of {plan.num_shards} of {plan.config}: array job {array_job}")
    else:
        print(f"All {plan.num_shards} shards of {plan.config} are finished")
    finalize_job = _sbatch(commands[-1])
    after = f" after array job {array_job} succeeds" if array_job else ""
    print(f"Submitted the finalize job {finalize_job}{after}: it assembles {plan.output}")
    print(f"Logs in {plan.root / 'logs'}; progress: imagenet-tiny slurm {plan.config} --data-dir {shlex.quote(plan.data_dir)} "
          f"--output {shlex.quote(plan.output)} --num-shards {plan.num_shards} --status")
    return 0


def _sbatch(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ValueError(f"{' '.join(command)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip().split(";")[0]  # --parsable: "jobid" or "jobid;cluster"


def status(plan) -> str:
    """Finished shards, and the unfinished ones by index with the last line of their log."""
    finished, unfinished = [], []
    for index in range(plan.num_shards):
        (unfinished if plan.marker(index) is None else finished).append(index)
    lines = [f"{plan.config} in {plan.output}: {len(finished)} of {plan.num_shards} shards finished"]
    for index in unfinished:
        log = plan.root / "logs" / f"shard-{index}.log"
        last = _last_line(log) if log.is_file() else "no log: not started"
        lines.append(f"  shard {index} not finished: {last}")
    if unfinished:
        lines.append(
            f"Resubmit them: imagenet-tiny slurm {plan.config} --data-dir {shlex.quote(plan.data_dir)} "
            f"--output {shlex.quote(plan.output)} --num-shards {plan.num_shards} --only-shards {array_spec(unfinished)}"
        )
    assembled = os.path.join(plan.output, plan.config)
    lines.append(f"assembled: {assembled}" if os.path.isdir(assembled) else "not assembled yet")
    return "\n".join(lines)


def _last_line(path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return f"{path}: {lines[-1]}" if lines else f"{path} is empty (still running?)"


def finalize(plan) -> int:
    from builder import report
    from builder.shards import assemble, merge_skipped

    written = assemble(plan)
    print(f"Assembled {plan.num_shards} shards of {plan.config} into {plan.output}: {len(written)} files")
    skipped = merge_skipped(plan)
    print(report.summary(skipped, str(plan.root)) if skipped else "No image was skipped.")
    return 0
