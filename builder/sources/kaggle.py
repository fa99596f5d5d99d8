"""The Kaggle download (imagenet-object-localization-challenge): extracted, or its zip read in place."""

from __future__ import annotations

import logging
from typing import Sequence

from builder.classes import ClassTable, read_synset_mapping
from builder.sources.annotations import read_solution_csv
from builder.sources.archives import Files
from builder.sources.base import (
    Source,
    SourceLayoutError,
    SplitImages,
    class_folders_images,
    labelled_folder_images,
    unlabelled_folder_images,
)

logger = logging.getLogger(__name__)

IMAGES = "ILSVRC/Data/CLS-LOC"
MARKERS = ("LOC_synset_mapping.txt", "LOC_val_solution.csv", "ILSVRC")


class KaggleSource(Source):
    TRAIN_FOLDER = f"{IMAGES}/train"
    LAYOUT_HELP = """\
  Kaggle layout (imagenet-object-localization-challenge, extracted or as the zip itself):
    LOC_synset_mapping.txt, LOC_val_solution.csv, LOC_train_solution.csv (boxes; optional)
    ILSVRC/Data/CLS-LOC/train/<wnid>/<wnid>_<n>.JPEG
    ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_<8 digits>.JPEG
    ILSVRC/Data/CLS-LOC/test/ILSVRC2012_test_<8 digits>.JPEG (optional)"""
    ZIP_MARKERS = MARKERS

    @classmethod
    def looks_like(cls, files: Files) -> bool:
        return any(files.exists(p) for p in MARKERS)

    def _read_classes(self) -> ClassTable:
        self.require("LOC_synset_mapping.txt", f"{IMAGES}/train")
        with self.files.open("LOC_synset_mapping.txt") as f:
            return read_synset_mapping(self.path("LOC_synset_mapping.txt"), f)

    @property
    def splits(self) -> tuple[str, ...]:
        found = ["train"]
        if self.files.is_dir(f"{IMAGES}/val"):
            found.append("validation")
        if self.files.is_dir(f"{IMAGES}/test"):
            found.append("test")
        return tuple(found)

    def images(self, split: str, wnids: Sequence[str]) -> SplitImages:
        if split == "train":
            return class_folders_images(self.files, self.TRAIN_FOLDER, wnids, self._train_boxes(wnids))
        if split == "validation":
            self.require("LOC_val_solution.csv", f"{IMAGES}/val")
            solution = self._solution("LOC_val_solution.csv")
            self._check_known(solution, "LOC_val_solution.csv")
            labels = {image_id: wnid for image_id, (wnid, _) in solution.items()}
            boxes = {image_id: boxes for image_id, (_, boxes) in solution.items()}
            return labelled_folder_images(self.files, f"{IMAGES}/val", labels, boxes, wnids, "LOC_val_solution.csv")
        if split == "test":
            return unlabelled_folder_images(self.files, f"{IMAGES}/test")
        raise ValueError(f"unknown split {split!r}")

    def inputs(self, splits: Sequence[str], wnids: Sequence[str]) -> list[str]:
        read = {
            "train": ["LOC_train_solution.csv", *(f"{self.TRAIN_FOLDER}/{w}" for w in sorted(wnids))],
            "validation": ["LOC_val_solution.csv", f"{IMAGES}/val"],
            "test": [f"{IMAGES}/test"],
        }
        return ["LOC_synset_mapping.txt"] + [rel for split in splits for rel in read[split]]

    def _solution(self, name: str, keep=None) -> dict:
        with self.files.open(name) as f:
            return read_solution_csv(self.path(name), keep, f)

    def _train_boxes(self, wnids: Sequence[str]) -> dict:
        name = "LOC_train_solution.csv"
        if not self.files.exists(name):
            logger.warning("%s is absent: training images get no boxes", self.path(name))
            return {}
        prefixes = tuple(f"{w}_" for w in wnids)
        solution = self._solution(name, keep=lambda image_id: image_id.startswith(prefixes))
        for image_id, (wnid, _) in solution.items():
            if not image_id.startswith(wnid + "_"):
                raise SourceLayoutError(f"{self.path(name)}: training image {image_id} has boxes of class {wnid}")
        return {image_id: boxes for image_id, (_, boxes) in solution.items()}

    def _check_known(self, solution: dict, what: str) -> None:
        unknown = sorted({wnid for wnid, _ in solution.values() if wnid not in self.classes})
        if unknown:
            raise SourceLayoutError(f"{self.path(what)} names classes missing from LOC_synset_mapping.txt: {unknown[:5]}")
