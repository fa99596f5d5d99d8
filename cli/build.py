"""``imagenet-tiny generate`` and ``imagenet-tiny configs``: build variants, and say which exist."""

from __future__ import annotations

import argparse
import os

from builder import report
from builder.errors import InputError


def register(commands: argparse._SubParsersAction) -> None:
    generate = commands.add_parser(
        "generate",
        help="build variants from your ImageNet download",
        description="Build ImageNet-tiny variants (any config names of the grammar; see `imagenet-tiny configs`). "
        "Several configs are built in one pass over the download: each image is read and decoded once for all.",
    )
    generate.add_argument("configs", nargs="+", metavar="CONFIG", help="config names, e.g. 16x16-sRGB-10 32x32-gray-full-pad")
    generate.add_argument(
        "--data-dir", required=True,
        help="your ImageNet download (Kaggle or devkit layout, or a snapshot of the Hub's ILSVRC/imagenet-1k or "
        "timm/imagenet-1k-wds), or hf://datasets/ILSVRC/imagenet-1k to stream it from the Hub",
    )
    generate.add_argument("--num-proc", type=int, default=None, help="worker processes (default: 1)")
    generate.add_argument("--cache-dir", default=None, help="where datasets keeps built variants (default: HF_DATASETS_CACHE)")
    generate.add_argument("--resample", default=None, help="box (default), lanczos, bicubic, bilinear, hamming, nearest")
    generate.add_argument("--classes", default=None, help="explicit WNIDs, comma-separated (N in the name must match)")
    generate.add_argument("--strict", action="store_true", help="fail on an unreadable image instead of skipping it (and on a finished build that skipped one)")
    hub = generate.add_argument_group("sources from the Hugging Face Hub (hf://datasets/... or a snapshot)")
    hub.add_argument("--revision", default=None, help="the repository's branch, tag or commit (default: main)")
    hub.add_argument(
        "--boxes", action="append", default=None, metavar="FILE_OR_FOLDER",
        help="attach boxes by image id from Kaggle's LOC_train_solution.csv / LOC_val_solution.csv or the devkit's "
        "XML folders (these sources have none); repeat for several",
    )
    shards = generate.add_argument_group(
        "one shard of a build split across machines (what each task of `imagenet-tiny slurm` runs)"
    )
    shards.add_argument("--output", default=None, help="the folder that collects the shards (and then the Hub layout)")
    shards.add_argument("--num-shards", type=int, default=None, help="how many shards the images are split into")
    shards.add_argument("--shard-index", type=int, default=None, help="which shard to build, 0 .. N-1")
    generate.set_defaults(run=run_generate)

    configs = commands.add_parser("configs", help="list the predefined configs and explain the name grammar")
    configs.set_defaults(run=run_configs)


def run_generate(args: argparse.Namespace) -> int:
    from imagenet_tiny import prepare_variants

    if (args.output, args.num_shards, args.shard_index) != (None, None, None):
        return run_generate_shard(args)
    options = {}
    if args.resample:
        options["resample"] = args.resample
    if args.classes:
        options["classes"] = [c.strip() for c in args.classes.split(",") if c.strip()]
    builders = prepare_variants(
        args.configs, args.data_dir, cache_dir=args.cache_dir, num_proc=args.num_proc, strict=args.strict,
        boxes=args.boxes, revision=args.revision, **options
    )
    print("\n".join(describe_build(builder) for builder in builders))
    return 0


def run_generate_shard(args: argparse.Namespace) -> int:
    from publish.cluster import ShardGroup, build_shards, canonical

    if None in (args.output, args.num_shards, args.shard_index):
        raise InputError("a shard needs all of --output, --num-shards and --shard-index")
    if args.classes or args.resample or args.cache_dir or args.boxes or args.revision:
        # The assembled folder knows a config by its name alone; the shards live under --output.
        raise InputError("--classes, --resample, --cache-dir, --boxes and --revision do not go with --output (shards of a named config)")
    configs = tuple(dict.fromkeys(canonical(config) for config in args.configs))
    group = ShardGroup(configs, os.path.abspath(args.data_dir), os.path.abspath(args.output), args.num_shards)
    group.check_index(args.shard_index)
    markers = build_shards(group, args.shard_index, num_proc=args.num_proc, strict=args.strict)
    for plan in group.plans:
        marker = markers[plan.config]
        what = f"shard {args.shard_index} of {plan.num_shards} of {plan.config}"
        counts = ", ".join(f"{split}: {n} examples" for split, n in marker["examples"].items()) or "no image"
        if marker["reused"]:
            print(f"{what} was finished already ({counts}): nothing to do")
        else:
            print(f"Built {what} ({counts}) in {plan.folder(args.shard_index)}")
    return 0


def describe_build(builder) -> str:
    """What a finished build holds and where, in a few lines."""
    info = builder.info
    config = builder.config
    lines = [
        f"Built {config.name}: {config.width}x{config.height} {config.color}, {len(builder.classes)} classes, "
        f"fit {config.fit_mode}, resample {config.resample}",
    ]
    for name, split in info.splits.items():
        lines.append(f"  {name}: {split.num_examples} examples, {split.num_bytes / 1e6:.1f} MB")
    lines.append(f"  in {builder.cache_dir}")
    built = report.read_build_report(builder.cache_dir)
    lines.append(
        f"  skipped {len(built.skipped)} unreadable image(s), listed in {os.path.join(builder.cache_dir, report.REPORT_NAME)}"
        if built.skipped
        else "  no image was skipped"
    )
    if built.boxes:
        lines.append("  " + report.boxes_line(built.boxes, builder.cache_dir))
    return "\n".join(lines)


def run_configs(args: argparse.Namespace) -> int:
    del args
    from builder.config import GRAMMAR
    from imagenet_tiny import ImageNetTiny

    names = list(ImageNetTiny.builder_configs)
    print(GRAMMAR)
    print("\nPredefined configs (any other name of the grammar works too):")
    for i in range(0, len(names), 4):
        print("  " + "  ".join(f"{name:<18}" for name in names[i : i + 4]).rstrip())
    return 0
