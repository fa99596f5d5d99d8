"""``imagenet-tiny demo``: the whole workflow on a synthetic source, no ImageNet needed.

Draw a source in the Kaggle layout, build and export two variants, load them back with
``load_dataset``, train a numpy baseline, score it with the clsloc metric through ``evaluate.load``
(at original resolution, as the challenge scored) next to random guessing, and show where it all went.
"""

from __future__ import annotations

import argparse
import os

DEMO_CONFIGS = ("16x16-sRGB-5", "16x16-gray-5-pad")
GUESSES = 5


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="the whole workflow on a synthetic ImageNet-like source (no download needed)",
        description=__doc__.split("\n\n")[1],
    )
    demo.add_argument("--output", default="demo-output", help="folder for the source, the builds and the export")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    import datasets

    from builder.synthetic import write_synthetic_source
    from cli.build import describe_build
    from imagenet_tiny import prepare_variant
    from publish.export import export_builder, write_card

    output = os.path.abspath(args.output)
    source_dir, cache_dir, export_dir = (os.path.join(output, name) for name in ("source", "cache", "imagenet-tiny"))

    print(f"1. Drawing a synthetic ImageNet-like source (Kaggle layout, objects with known boxes) in {source_dir}")
    counts = write_synthetic_source(source_dir)
    print("   " + ", ".join(f"{split}: {n} images" for split, n in counts.items()))

    print(f"2. Building {' and '.join(DEMO_CONFIGS)}, and exporting them as a Hub dataset folder")
    builders = {}
    for config in DEMO_CONFIGS:
        builders[config] = prepare_variant(config, source_dir, cache_dir=cache_dir)
        print(describe_build(builders[config]))
        export_builder(builders[config], export_dir)
    write_card(export_dir)
    print(f"   exported to {export_dir}")

    for config, builder in builders.items():
        print(f"3. Loading {config} back: load_dataset({export_dir!r}, {config!r})")
        loaded = datasets.load_dataset(export_dir, config, cache_dir=os.path.join(cache_dir, "loaded"))
        print("   " + ", ".join(f"{split}: {len(ds)} rows" for split, ds in loaded.items()))
        print(f"4. Training a nearest-class-mean classifier with a ridge box regressor on {config} train")
        print(f"5. Scoring it on validation with evaluate.load('metrics/imagenet_clsloc'), at original resolution")
        model, chance = score_baseline(loaded, builder, config)
        print_scores(model, chance)

    print("6. Previews (originals beside their tiny versions):")
    for config in DEMO_CONFIGS:
        print(f"   {os.path.join(export_dir, 'previews', config + '.png')}")
    print(
        f"\nEverything is in {output}: source/ (the synthetic download), cache/ (the builds), imagenet-tiny/ "
        f"(the export with its dataset card README.md).\n"
        "Next, on real data (the Kaggle download or the devkit-era folders):\n"
        "  imagenet-tiny generate 32x32-sRGB-full --data-dir /data/imagenet --num-proc 8\n"
        "  imagenet-tiny export 32x32-sRGB-full --data-dir /data/imagenet --to ./imagenet-tiny-export\n"
        "  imagenet-tiny evaluate --predictions predictions.csv --ground-truth LOC_val_solution.csv "
        "--meta LOC_synset_mapping.txt"
    )
    return 0


def score_baseline(loaded, builder, config: str) -> tuple[dict, dict]:
    """The metric's results for the baseline and for random guessing, against the source's original boxes."""
    import evaluate
    import numpy as np

    from builder.arrays import images_array
    from metrics.baseline import NearestClassMean, random_guesses
    from metrics.imagenet_clsloc import imagenet_clsloc
    from metrics.predictions import metric_inputs, prediction_rows

    train, validation = loaded["train"], loaded["validation"]
    labels = np.asarray(train["label"])
    model = NearestClassMean().fit(images_array(train), labels, train["bboxes"])
    images = images_array(validation)
    names = validation.features["label"].names
    sources = builder.source.images("validation", names)
    metric = evaluate.load(os.path.dirname(imagenet_clsloc.__file__))
    results = []
    for guessed, boxes in (
        model.predict(images, k=GUESSES),
        random_guesses(len(validation), len(names), (images.shape[2], images.shape[1]), k=GUESSES),
    ):
        rows = prediction_rows(validation, guessed, boxes, config_name=config)
        predictions, references = metric_inputs(rows, sources, names)
        results.append(metric.compute(predictions=predictions, references=references, max_guesses=GUESSES))
    return results[0], results[1]


def print_scores(model: dict, chance: dict) -> None:
    print("   # guesses vs clsloc error vs cls-only error   (random guessing: clsloc, cls-only)")
    for k in range(len(model["cls_error"])):
        print(
            f"   {k + 1:9d}{model['clsloc_error'][k]:10.4f}{model['cls_error'][k]:10.4f}"
            f"   ({chance['clsloc_error'][k]:.4f}, {chance['cls_error'][k]:.4f})"
        )
