"""The devkit-era download that the Matlab version used: ILSVRC2012 images and the ILSVRC2014 devkit.

The images may be the extracted folders or the original tar files beside them (``ILSVRC2012_img_train.tar``
with its per-class tars inside, ``ILSVRC2012_img_val.tar``), the devkit its folder or
``ILSVRC2014_devkit.tar.gz``; archives are read in place (:mod:`builder.sources.archives`).
"""

from __future__ import annotations

import os
from typing import Sequence

from builder.classes import ClassTable, ClassTableError, read_meta_clsloc
from builder.ilsvrc_files import excerpt, read_devkit_ground_truth, validation_image_id
from builder.sources.annotations import read_voc_folder
from builder.sources.archives import Files
from builder.sources.base import (
    Source,
    SourceLayoutError,
    SplitImages,
    class_folders_images,
    labelled_folder_images,
    unlabelled_folder_images,
)

TRAIN, VAL, TEST = "ILSVRC2012_img_train", "ILSVRC2012_img_val", "ILSVRC2012_img_test"
DEVKIT = "ILSVRC2014_devkit"
META = f"{DEVKIT}/data/meta_clsloc.mat"
GROUND_TRUTH = f"{DEVKIT}/data/ILSVRC2014_clsloc_validation_ground_truth.txt"
TRAIN_BOXES, VAL_BOXES = "ILSVRC2012_bbox_train_v2", os.path.join("ILSVRC2012_bbox_val_v3", "val")
# The downloads as they come, read in place where the extracted folder is absent.
ARCHIVES = {TRAIN: f"{TRAIN}.tar", VAL: f"{VAL}.tar", TEST: f"{TEST}.tar", DEVKIT: f"{DEVKIT}.tar.gz"}


class DevkitSource(Source):
    TRAIN_FOLDER = TRAIN
    LAYOUT_HELP = f"""\
  devkit layout (ILSVRC2012 images + ILSVRC2014 devkit, as the Matlab version used):
    {TRAIN}/<wnid>/<wnid>_<n>.JPEG     (or {TRAIN}.tar as downloaded: a tar of <wnid>.tar)
    {VAL}/ILSVRC2012_val_<8 digits>.JPEG   (or {VAL}.tar)
    {TEST}/ (optional; or {TEST}.tar)
    {META}
    {GROUND_TRUTH}   (or {DEVKIT}.tar.gz)
    {TRAIN_BOXES}/<wnid>/*.xml, {VAL_BOXES}/*.xml (boxes, extracted; optional)"""
    ARCHIVES = ARCHIVES

    @classmethod
    def looks_like(cls, files: Files) -> bool:
        return any(files.exists(p) for p in (TRAIN, VAL, DEVKIT))

    def _read_classes(self) -> ClassTable:
        self.require(TRAIN, META)
        try:
            with self.files.open(META) as f:
                return read_meta_clsloc(self.path(META), f)
        except ClassTableError as error:
            raise SourceLayoutError(str(error)) from None

    @property
    def splits(self) -> tuple[str, ...]:
        found = ["train"]
        if self.files.is_dir(VAL):
            found.append("validation")
        if self.files.is_dir(TEST):
            found.append("test")
        return tuple(found)

    def images(self, split: str, wnids: Sequence[str]) -> SplitImages:
        if split == "train":
            boxes = {}
            for wnid in wnids:
                boxes.update(self._boxes(os.path.join(TRAIN_BOXES, wnid)))
            return class_folders_images(self.files, self.TRAIN_FOLDER, wnids, boxes)
        if split == "validation":
            self.require(VAL, GROUND_TRUTH)
            labels = self._validation_labels()
            boxes = self._boxes(VAL_BOXES, labels)
            return labelled_folder_images(self.files, VAL, labels, boxes, wnids, GROUND_TRUTH)
        if split == "test":
            return unlabelled_folder_images(self.files, TEST)
        raise ValueError(f"unknown split {split!r}")

    def inputs(self, splits: Sequence[str], wnids: Sequence[str]) -> list[str]:
        read = {
            "train": [rel for w in sorted(wnids) for rel in (f"{TRAIN}/{w}", f"{TRAIN_BOXES}/{w}")],
            "validation": [GROUND_TRUTH, VAL, VAL_BOXES],
            "test": [TEST],
        }
        return [META] + [rel for split in splits for rel in read[split]]

    def _validation_labels(self) -> dict[str, str]:
        """Validation image id -> WNID, from the ground truth's ILSVRC2014_IDs (line n: image n)."""
        where = self.path(GROUND_TRUTH)
        with self.files.open(GROUND_TRUTH) as f:
            written_ids = read_devkit_ground_truth(f, where, SourceLayoutError)
        labels = {}
        for number, token in enumerate(written_ids, 1):
            position = self.classes.position_of_written_id(token)
            if position is None:
                raise SourceLayoutError(f"{where}, line {number}: expected an ILSVRC2014_ID (1..1000), got {excerpt(token)!r}")
            labels[validation_image_id(number)] = self.classes.wnids[position]
        return labels

    def _boxes(self, folder: str, labels: dict[str, str] | None = None) -> dict:
        """Boxes from one extracted annotation folder; with ``labels``, each file's class must agree with the ground truth."""
        folder_path = os.path.join(self.data_dir, folder)
        annotations = read_voc_folder(folder_path) if os.path.isdir(self.data_dir) else {}
        for image_id, (wnid, _) in annotations.items():
            expected = labels.get(image_id) if labels is not None else image_id.partition("_")[0]
            if expected is not None and wnid != expected:
                raise SourceLayoutError(
                    f"{os.path.join(folder_path, image_id + '.xml')}: boxes of class {wnid}, but the image is of class {expected}"
                )
        return {image_id: boxes for image_id, (_, boxes) in annotations.items()}
