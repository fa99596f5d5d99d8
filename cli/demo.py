"""``imagenet-tiny demo``: the workflow end to end on a synthetic source, no ImageNet needed."""

from __future__ import annotations

import argparse
import os

DEMO_CONFIGS = ("16x16-sRGB-5", "8x8-gray-5-pad")


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="build variants from a synthetic ImageNet-like source (no download needed)",
        description="Create a small synthetic source in the Kaggle layout, build two variants from it and show them.",
    )
    demo.add_argument("--output", default="demo-output", help="folder for the synthetic source and the builds")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from builder.synthetic import write_synthetic_source
    from cli.build import describe_build
    from imagenet_tiny import ImageNetTiny

    source_dir = os.path.join(args.output, "source")
    cache_dir = os.path.join(args.output, "cache")
    print(f"1. Drawing a synthetic ImageNet-like source (Kaggle layout) in {source_dir} ...")
    counts = write_synthetic_source(source_dir)
    print("   " + ", ".join(f"{split}: {n} images" for split, n in counts.items()))
    for step, config in enumerate(DEMO_CONFIGS, 2):
        print(f"{step}. Building {config} ...")
        builder = ImageNetTiny(config_name=config, data_dir=source_dir, cache_dir=cache_dir)
        builder.download_and_prepare()
        print(describe_build(builder))
        example = builder.as_dataset(split="validation")[0]
        print(f"   first validation example: {example['image_id']} label {example['label']} "
              f"({example['words']}), boxes {[[round(c, 1) for c in box] for box in example['bboxes']]}")
    print(f"\nDone. On real data: imagenet-tiny generate 32x32-sRGB-full --data-dir /path/to/imagenet --num-proc 8")
    return 0
