"""``imagenet-tiny demo``: the whole workflow on a synthetic source, no ImageNet needed.

Draw a source in the Kaggle layout, build and export two variants, load them back with
``load_dataset``, train a numpy baseline, score it with the clsloc metric through ``evaluate.load``
(at original resolution, as the challenge scored) next to random guessing, and show where it all went.
"""

from __future__ import annotations

import argparse
import os

def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="the whole workflow on a synthetic ImageNet-like source (no download needed)",
        description=__doc__.split("\n\n")[1],
    )
    demo.add_argument("--output", default="demo-output", help="folder for the source, the builds and the export")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from cli.build import describe_build
    from demo import workflow

    folders = workflow.DemoFolders(os.path.abspath(args.output))
    print(f"1. Drawing a synthetic ImageNet-like source (Kaggle layout, objects with known boxes) in {folders.source}")
    counts = workflow.draw_source(folders)
    print("   " + ", ".join(f"{split}: {n} images" for split, n in counts.items()))

    print(f"2. Building {' and '.join(workflow.DEMO_CONFIGS)}, and exporting them as a Hub dataset folder")
    builders = workflow.build_and_export(folders)
    for builder in builders.values():
        print(describe_build(builder))
    print(f"   exported to {folders.export}")

    for config, builder in builders.items():
        print(f"3. Loading {config} back: load_dataset({folders.export!r}, {config!r})")
        loaded = workflow.load_export(folders, config)
        print("   " + ", ".join(f"{split}: {len(ds)} rows" for split, ds in loaded.items()))
        print(f"4. Training a nearest-class-mean classifier with a ridge box regressor on {config} train")
        print("5. Scoring it on validation with evaluate.load(imagenet_tiny.METRIC_PATH), at original resolution")
        print_scores(*workflow.score_baseline(loaded, builder, config))

    print("6. Previews (originals beside their tiny versions):")
    for config in workflow.DEMO_CONFIGS:
        print(f"   {os.path.join(folders.export, 'previews', config + '.png')}")
    print(
        f"\nEverything is in {folders.output}: source/ (the synthetic download), cache/ (the builds), imagenet-tiny/ "
        f"(the export with its dataset card README.md).\n"
        "Next, on real data (the Kaggle download or the devkit-era folders):\n"
        "  imagenet-tiny generate 32x32-sRGB-full --data-dir /data/imagenet --num-proc 8\n"
        "  imagenet-tiny export 32x32-sRGB-full --data-dir /data/imagenet --to ./imagenet-tiny-export\n"
        "  imagenet-tiny evaluate --predictions predictions.csv --ground-truth LOC_val_solution.csv "
        "--meta LOC_synset_mapping.txt"
    )
    return 0


def print_scores(model: dict, chance: dict) -> None:
    print("   # guesses vs clsloc error vs cls-only error   (random guessing: clsloc, cls-only)")
    for k in range(len(model["cls_error"])):
        print(
            f"   {k + 1:9d}{model['clsloc_error'][k]:10.4f}{model['cls_error'][k]:10.4f}"
            f"   ({chance['clsloc_error'][k]:.4f}, {chance['cls_error'][k]:.4f})"
        )
