"""The demo's steps: draw a synthetic Kaggle-layout source, build and export variants, load them back, and
score a numpy baseline with the clsloc metric through ``evaluate.load`` (at original resolution, as the
challenge scored) next to random guessing.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import datasets
import evaluate
import numpy as np

import imagenet_tiny
from builder.arrays import images_array
from builder.synthetic import write_synthetic_source
from demo.baseline import NearestClassMean, random_guesses
from imagenet_tiny import ImageNetTiny, prepare_variant
from metrics.predictions import metric_inputs, prediction_rows
from publish.export import export_builder, write_card

DEMO_CONFIGS = ("16x16-sRGB-5", "16x16-gray-5-pad")
GUESSES = 5


@dataclasses.dataclass(frozen=True)
class DemoFolders:
    """Where the demo writes: the synthetic download, the builds, the exported Hub-layout folder."""

    output: str

    @property
    def source(self) -> str:
        return os.path.join(self.output, "source")

    @property
    def cache(self) -> str:
        return os.path.join(self.output, "cache")

    @property
    def export(self) -> str:
        return os.path.join(self.output, "imagenet-tiny")


def draw_source(folders: DemoFolders) -> dict[str, int]:
    """The synthetic download; returns the images per split."""
    return write_synthetic_source(folders.source)


def build_and_export(folders: DemoFolders, configs: Sequence[str] = DEMO_CONFIGS) -> dict[str, ImageNetTiny]:
    """Build each config and export it (its card written last); returns the builders."""
    builders = {}
    for config in configs:
        builders[config] = prepare_variant(config, folders.source, cache_dir=folders.cache)
        export_builder(builders[config], folders.export)
    write_card(folders.export)
    return builders


def load_export(folders: DemoFolders, config: str) -> datasets.DatasetDict:
    return datasets.load_dataset(folders.export, config, cache_dir=os.path.join(folders.cache, "loaded"))


def score_baseline(loaded: datasets.DatasetDict, builder: ImageNetTiny, config: str) -> tuple[dict, dict]:
    """The metric's results for the baseline and for random guessing, against the source's original boxes."""
    train, validation = loaded["train"], loaded["validation"]
    labels = np.asarray(train["label"])
    model = NearestClassMean().fit(images_array(train), labels, train["bboxes"])
    images = images_array(validation)
    names = validation.features["label"].names
    sources = builder.source.images("validation", names)
    metric = evaluate.load(imagenet_tiny.METRIC_PATH)
    results = []
    for guessed, boxes in (
        model.predict(images, k=GUESSES),
        random_guesses(len(validation), len(names), (images.shape[2], images.shape[1]), k=GUESSES),
    ):
        rows = prediction_rows(validation, guessed, boxes, config_name=config)
        predictions, references = metric_inputs(rows, sources, names)
        results.append(metric.compute(predictions=predictions, references=references, max_guesses=GUESSES))
    return results[0], results[1]
