"""``imagenet-tiny slurm``: build variants on a SLURM cluster, one array task per shard, then assemble them.

    imagenet-tiny slurm CONFIG [CONFIG ...] --data-dir SRC --output DIR --num-shards N
        [--partition P --time T --cpus-per-task C --mem M] [--only-shards 2,5] [--dry-run | --status | --finalize]

submits an ``sbatch --array`` job whose task ``i`` runs ``imagenet-tiny generate CONFIG... --data-dir SRC
--output DIR --num-shards N --shard-index i`` (shard i of every config, in one pass over the download),
and a finalize job that depends on it (``afterok``) and runs this command with ``--finalize``: DIR becomes
the Hub-layout folder that ``imagenet-tiny export`` writes, so ``datasets.load_dataset(DIR, CONFIG)``
loads each config and ``imagenet-tiny publish`` uploads them. Shards that are finished are not submitted
again; ``--status`` reports the others by index, with the last line of their log, and ``--only-shards``
submits chosen ones. DIR must be on a file system that every node sees.
"""

from __future__ import annotations

import argparse
import os
import shlex


def register(commands: argparse._SubParsersAction) -> None:
    slurm = commands.add_parser(
        "slurm",
        help="build variants on a SLURM cluster: an array job of shards, then a finalize job",
        description=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    slurm.add_argument("configs", nargs="+", metavar="CONFIG", help="config names, e.g. 64x64-sRGB-full 32x32-gray-full")
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

    configs = tuple(dict.fromkeys(cluster.canonical(config) for config in args.configs))
    group = cluster.ShardGroup(configs, os.path.abspath(args.data_dir), os.path.abspath(args.output), args.num_shards)
    if args.status:
        print(cluster.status(group))
        return 0
    if args.finalize:
        written, skipped = cluster.finalize(group)
        print(f"Assembled {group.num_shards} shards of {group.name} into {group.output}: {len(written)} files")
        print(report.summary(skipped, str(group.root)) if skipped else "No image was skipped.")
        return 0
    indices = cluster.parse_indices(args.only_shards, group.num_shards) if args.only_shards else group.incomplete()
    options = cluster.SlurmOptions(args.partition, args.time, args.cpus_per_task, args.mem)
    scripts = cluster.job_scripts(group, options, indices)
    if args.dry_run:
        for name, text in scripts.items():
            print(f"# {group.root / 'jobs' / name}\n{text}")
        print("# submitted with")
        for command in cluster.sbatch_commands(group, indices, "<array job id>"):
            print(" ".join(shlex.quote(part) for part in command))
        return 0
    submitted = cluster.submit(group, scripts, indices)
    if submitted.array_job:
        print(f"Submitted shards {cluster.array_spec(indices)} of {group.num_shards} of {group.name}: array job {submitted.array_job}")
    else:
        print(f"All {group.num_shards} shards of {group.name} are finished")
    after = f" after array job {submitted.array_job} succeeds" if submitted.array_job else ""
    print(f"Submitted the finalize job {submitted.finalize_job}{after}: it assembles {group.output}")
    print(f"Logs in {group.root / 'logs'}; progress: {cluster.status_command(group)}")
    return 0
