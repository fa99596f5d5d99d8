"""Small ImageNet downloads, in the Kaggle and devkit layouts, made from the real shared sample and metadata.

The shared sample has one real JPEG per class and no validation images, so a validation image here is
the class's sample image saved under a real validation id of the same class (from the real
``LOC_val_solution.csv``); its boxes are made to fit the image actually used. Every box and label is
recorded in the returned :class:`MadeSource`, so tests can compute expectations independently.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageOps

Box = tuple[int, int, int, int]


@dataclasses.dataclass
class MadeImage:
    image_id: str
    path: Path
    wnid: Optional[str]
    boxes: list[Box]


@dataclasses.dataclass
class MadeSource:
    root: Path
    layout: str
    train: list[MadeImage]
    validation: list[MadeImage]
    test: list[MadeImage]

    def split(self, name: str) -> list[MadeImage]:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]


def sample_path(sample_dir: Path, wnid: str) -> Path:
    (path,) = sample_dir.glob(f"{wnid}_*.JPEG")
    return path


def boxes_for(size: tuple[int, int], seed: int, count: int) -> list[Box]:
    """``count`` deterministic boxes inside an image of ``size``, as inclusive pixel indices; some touch the edges."""
    w, h = size
    rng = np.random.default_rng(seed)
    boxes = []
    for i in range(count):
        if i == 0:  # one box reaching the image's edges, so crops clip it
            boxes.append((0, int(h * 0.1), w - 1, h - 1))
            continue
        x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        boxes.append((x0, y0, int(rng.integers(x0 + 1, w)), int(rng.integers(y0 + 1, h))))
    return boxes


def validation_ids(ilsvrc_dir: Path, wnids: Sequence[str], per_class: int) -> dict[str, list[str]]:
    """Real validation image ids per class, the lowest numbers first."""
    chosen: dict[str, list[str]] = {w: [] for w in wnids}
    with open(ilsvrc_dir / "LOC_val_solution.csv", newline="") as f:
        rows = sorted((row["ImageId"], row["PredictionString"].split()[0]) for row in csv.DictReader(f))
    for image_id, wnid in rows:
        if wnid in chosen and len(chosen[wnid]) < per_class:
            chosen[wnid].append(image_id)
    return chosen


def _train_variants(sample: Path, wnid: str) -> list[tuple[str, Image.Image | None]]:
    """Two training images per class: the real JPEG as it is, and its mirror re-encoded (another size/content)."""
    with Image.open(sample) as image:
        mirrored = ImageOps.mirror(image.convert(image.mode))
        w, h = image.size
    return [(f"{wnid}_1", None), (f"{wnid}_2", mirrored.crop((0, 0, max(1, w * 3 // 4), h)))]


def _place(sample: Path, destination: Path, variant: Image.Image | None) -> tuple[int, int]:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if variant is None:
        shutil.copyfile(sample, destination)
        with Image.open(destination) as image:
            return image.size
    variant.save(destination, format="JPEG", quality=90)
    return variant.size


def make_images(
    root: Path,
    sample_dir: Path,
    ilsvrc_dir: Path,
    wnids: Sequence[str],
    train_dir: str,
    val_dir: str,
    test_dir: Optional[str],
    val_per_class: int = 1,
    test_wnids: Sequence[str] = (),
    train_per_class: int = 2,
) -> tuple[list[MadeImage], list[MadeImage], list[MadeImage]]:
    """Write the images of a source; return what was written, with boxes for every train and val image."""
    train, validation, test = [], [], []
    for n, wnid in enumerate(sorted(wnids)):
        sample = sample_path(sample_dir, wnid)
        for k, (image_id, variant) in enumerate(_train_variants(sample, wnid)[:train_per_class]):
            path = root / train_dir / wnid / f"{image_id}.JPEG"
            size = _place(sample, path, variant)
            # The second training image has no boxes, as most of ImageNet's training images.
            train.append(MadeImage(image_id, path, wnid, boxes_for(size, seed=n * 10 + k, count=2) if k == 0 else []))
    for wnid, image_ids in validation_ids(ilsvrc_dir, wnids, val_per_class).items():
        for image_id in image_ids:
            path = root / val_dir / f"{image_id}.JPEG"
            size = _place(sample_path(sample_dir, wnid), path, None)
            validation.append(MadeImage(image_id, path, wnid, boxes_for(size, seed=int(image_id[-8:]), count=3)))
    for i, wnid in enumerate(test_wnids, 1):
        path = root / test_dir / f"ILSVRC2012_test_{i:08d}.JPEG"
        _place(sample_path(sample_dir, wnid), path, None)
        test.append(MadeImage(path.stem, path, None, []))
    return train, sorted(validation, key=lambda m: m.image_id), test


def _prediction_string(image: MadeImage) -> str:
    return " ".join(f"{image.wnid} {x0} {y0} {x1} {y1}" for x0, y0, x1, y1 in image.boxes)


def _write_solution(path: Path, images: Sequence[MadeImage]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ImageId", "PredictionString"])
        for image in images:
            if image.boxes:
                writer.writerow([image.image_id, _prediction_string(image)])


def make_kaggle_source(root: Path, sample_dir: Path, ilsvrc_dir: Path, wnids: Sequence[str], **counts) -> MadeSource:
    """``counts``: ``val_per_class``, ``test_wnids``, ``train_per_class`` as in :func:`make_images`."""
    images = os.path.join("ILSVRC", "Data", "CLS-LOC")
    train, validation, test = make_images(
        root, sample_dir, ilsvrc_dir, wnids, f"{images}/train", f"{images}/val", f"{images}/test", **counts
    )
    shutil.copyfile(ilsvrc_dir / "LOC_synset_mapping.txt", root / "LOC_synset_mapping.txt")
    _write_solution(root / "LOC_train_solution.csv", train)
    _write_solution(root / "LOC_val_solution.csv", validation)
    return MadeSource(root, "kaggle", train, validation, test)


def write_meta_clsloc_mat(tsv: Path, destination: Path) -> None:
    """The devkit's ``meta_clsloc.mat`` (struct array ``synsets``) from its text form."""
    import scipy.io

    with open(tsv, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    synsets = np.zeros(
        len(rows),
        dtype=[("ILSVRC2014_ID", "O"), ("WNID", "O"), ("words", "O"), ("gloss", "O"), ("num_children", "O"),
               ("children", "O"), ("wordnet_height", "O"), ("num_train_images", "O")],
    )
    for i, row in enumerate(rows):
        synsets[i] = (float(row["ILSVRC2014_ID"]), row["WNID"], row["words"], "", 0.0, np.zeros((1, 0)), 0.0, 1300.0)
    destination.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(destination, {"synsets": synsets})


def _write_voc(path: Path, image: MadeImage, size: tuple[int, int]) -> None:
    objects = "".join(
        f"<object><name>{image.wnid}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for x0, y0, x1, y1 in image.boxes
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<annotation><filename>{image.image_id}</filename><size><width>{size[0]}</width>"
        f"<height>{size[1]}</height><depth>3</depth></size>{objects}</annotation>"
    )


def make_devkit_source(root: Path, sample_dir: Path, ilsvrc_dir: Path, wnids: Sequence[str], **counts) -> MadeSource:
    """``counts``: ``val_per_class``, ``test_wnids``, ``train_per_class`` as in :func:`make_images`."""
    train, validation, test = make_images(
        root, sample_dir, ilsvrc_dir, wnids, "ILSVRC2012_img_train", "ILSVRC2012_img_val", "ILSVRC2012_img_test", **counts
    )
    data = root / "ILSVRC2014_devkit" / "data"
    write_meta_clsloc_mat(ilsvrc_dir / "meta_clsloc.tsv", data / "meta_clsloc.mat")
    # The real ground truth for all 50,000 validation images; only some of them are on disk here.
    shutil.copyfile(ilsvrc_dir / "ILSVRC2014_clsloc_validation_ground_truth.txt", data / "ILSVRC2014_clsloc_validation_ground_truth.txt")
    for image in train:
        if image.boxes:
            with Image.open(image.path) as opened:
                _write_voc(root / "ILSVRC2012_bbox_train_v2" / image.wnid / f"{image.image_id}.xml", image, opened.size)
    for image in validation:
        with Image.open(image.path) as opened:
            _write_voc(root / "ILSVRC2012_bbox_val_v3" / "val" / f"{image.image_id}.xml", image, opened.size)
    return MadeSource(root, "devkit", train, validation, test)
