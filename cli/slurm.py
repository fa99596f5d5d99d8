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
    from builder import report
    from publish import cluster

    plan = cluster.ShardPlan(
        cluster.canonical(args.config), os.path.abspath(args.data_dir), os.path.abspath(args.output), args.num_shards
    )
    if args.status:
        print(cluster.status(plan))
        return 0
    if args.finalize:
        written, skipped = cluster.finalize(plan)
        print(f"Assembled {plan.num_shards} shards of {plan.config} into {plan.output}: {len(written)} files")
        print(report.summary(skipped, str(plan.root)) if skipped else "No image was skipped.")
        return 0
    indices = cluster.parse_indices(args.only_shards, plan.num_shards) if args.only_shards else plan.incomplete()
    options = cluster.SlurmOptions(args.partition, args.time, args.cpus_per_task, args.mem)
    scripts = cluster.job_scripts(plan, options, indices)
    if args.dry_run:
        for name, text in scripts.items():
            print(f"# {plan.root / 'jobs' / name}\n{text}")
        print("# submitted with")
        for command in cluster.sbatch_commands(plan, indices, "<array job id>"):
            print(" ".join(shlex.quote(part) for part in command))
        return 0
    submitted = cluster.submit(plan, scripts, indices)
    if submitted.array_job:
        print(f"Submitted shards {cluster.array_spec(indices)} of {plan.num_shards} of {plan.config}: array job {submitted.array_job}")
    else:
        print(f"All {plan.num_shards} shards of {plan.config} are finished")
    after = f" after array job {submitted.array_job} succeeds" if submitted.array_job else ""
    print(f"Submitted the finalize job {submitted.finalize_job}{after}: it assembles {plan.output}")
    print(f"Logs in {plan.root / 'logs'}; progress: {cluster.status_command(plan)}")
    return 0
