"""``imagenet-tiny export`` and ``imagenet-tiny publish``: pre-made variants as a Hub dataset repository."""

from __future__ import annotations

import argparse

MAX_SHARD_HELP = "largest Parquet shard, e.g. 500MB (default) or 100MB"
MIN_SHARDS_HELP = (
    "write a split of N*1000 rows or more as at least N Parquet files, so that N streaming DataLoader workers "
    "each read their own (default: 8; smaller splits get one file per 1000 rows)"
)


def register(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="write built variants into a folder laid out as a Hub dataset repository",
        description="Build each config (reusing a finished build) and write DIR/CONFIG/SPLIT-*.parquet, "
        "previews/CONFIG.png and the dataset card README.md. Configs already in DIR stay; "
        "`datasets.load_dataset(DIR, CONFIG)` loads any of them, `datasets.load_dataset(DIR)` the default config. Only what an earlier export wrote is replaced: "
        "a README.md, preview or config-named folder of yours is an error (before any build) unless --force.",
    )
    _add_build_arguments(export)
    export.add_argument("--to", required=True, metavar="DIR", help="the folder to write (created if missing)")
    export.add_argument("--repo-id", default=None, help="the Hub repo the card's loading snippet names (optional)")
    export.add_argument("--force", action="store_true",
                        help="replace DIR/README.md, previews and config folders even if export did not write them")
    export.set_defaults(run=run_export)

    publish = commands.add_parser(
        "publish",
        help="publish variants to a Hub dataset repository",
        description="Build, export and upload configs to a Hub dataset repo (created if missing), the dataset card "
        "last. Needs a write token: HF_TOKEN or `hf auth login`. Unchanged configs make no commit. The card carries "
        "ImageNet's terms as the Hub's access form; --gated turns the gate on.",
    )
    publish.add_argument("--repo-id", required=True, metavar="NS/NAME", help="the dataset repo, e.g. your-user/imagenet-tiny")
    _add_build_arguments(publish)
    publish.add_argument("--private", action="store_true", help="create the repo private (if it does not exist yet)")
    publish.add_argument("--revision", default=None, metavar="BRANCH", help="the branch to publish to (default: main; created if missing)")
    publish.add_argument("--gated", choices=("auto", "manual"), default=None,
                         help="gate the repo: downloads need ImageNet's terms accepted on the Hub, requests approved "
                         "at once (auto) or by you (manual); default: leave the repo's gating as it is")
    publish.add_argument("--dry-run", action="store_true", help="say what would be uploaded, deleted and gated; change nothing")
    publish.add_argument("--work-dir", default=None, help="where to stage the export, in a temporary folder removed after (default: TMPDIR)")
    publish.set_defaults(run=run_publish)


def _add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="config names, e.g. 16x16-sRGB-10 32x32-gray-full")
    parser.add_argument("--data-dir", required=True, help="your ImageNet download (Kaggle or devkit layout)")
    parser.add_argument("--num-proc", type=int, default=None, help="worker processes for building (default: 1)")
    parser.add_argument("--cache-dir", default=None, help="where datasets keeps built variants (default: HF_DATASETS_CACHE)")
    parser.add_argument("--max-shard-size", default=None, help=MAX_SHARD_HELP)
    parser.add_argument("--min-shards", type=int, default=None, metavar="N", help=MIN_SHARDS_HELP)
    parser.add_argument("--default-config", default=None, metavar="CONFIG",
                        help="the config that load_dataset and timm load without a config name (default: the card's "
                        "current default, else the first CONFIG)")


def run_export(args: argparse.Namespace) -> int:
    from publish.card import folder_default_config
    from publish.export import export
    from publish.hub import check_repo_id

    if args.repo_id:
        check_repo_id(args.repo_id)
    written = export(args.configs, args.data_dir, args.to, repo_id=args.repo_id, force=args.force, **_export_options(args))
    for config, paths in written.items():
        print(f"Exported {config}: {len(paths) - 1} Parquet shard(s) and a preview")
    print(f"Card: {args.to}/README.md. Load with datasets.load_dataset({args.to!r}) (the default config, "
          f"{folder_default_config(args.to)}) or datasets.load_dataset({args.to!r}, {args.configs[0]!r})")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from publish.hub import publish

    publish(
        args.repo_id, args.configs, args.data_dir, private=args.private, revision=args.revision, dry_run=args.dry_run,
        gated=args.gated, work_dir=args.work_dir, log=print, **_export_options(args),
    )
    return 0


def _export_options(args: argparse.Namespace) -> dict:
    """The build and layout options that export and publish share, defaults filled in."""
    from publish.export import DEFAULT_MAX_SHARD_SIZE, DEFAULT_MIN_SHARDS

    return {
        "cache_dir": args.cache_dir,
        "num_proc": args.num_proc,
        "max_shard_size": args.max_shard_size or DEFAULT_MAX_SHARD_SIZE,
        "min_shards": DEFAULT_MIN_SHARDS if args.min_shards is None else args.min_shards,
        "default_config": args.default_config,
    }
