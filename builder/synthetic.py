"""A small synthetic ImageNet in the Kaggle layout: procedurally drawn objects with known boxes.

For the demo and for trying ImageNet-tiny without ImageNet: five classes under the WNIDs of the
Matlab version's five-class selection, each a shape of its own colour drawn at a random place and
size on a textured background, in images of varied size and aspect ratio, saved as JPEG. Its
``LOC_synset_mapping.txt`` is ImageNet's, as in a real (partial) download.
"""

from __future__ import annotations

import csv
import os
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from builder.classes import SEED_FIVE_CLASSES, ilsvrc_classes, write_synset_mapping
from builder.ilsvrc_files import validation_image_id

# (shape, RGB colour) per class, in sorted WNID order; the colours differ in luma too (36 to 222), so
# that the gray variants keep a cue a simple baseline can learn.
SHAPES = {
    "n01622779": ("disc", (200, 30, 30)),
    "n01773157": ("square", (90, 240, 90)),
    "n01944390": ("triangle", (20, 30, 110)),
    "n02676566": ("cross", (250, 235, 80)),
    "n03452741": ("ring", (150, 60, 200)),
}
assert sorted(SHAPES) == sorted(SEED_FIVE_CLASSES)

SPLIT_FOLDERS = {"train": "train", "validation": "val", "test": "test"}


def write_synthetic_source(
    root: str | os.PathLike, per_class: Sequence[int] = (40, 10, 10), seed: int = 0
) -> dict[str, int]:
    """Write the source under ``root``: ``per_class`` images per class for train, validation and test.

    Returns the number of images written per split. Deterministic for a given ``seed``.
    """
    root = os.fspath(root)
    rng = np.random.default_rng(seed)
    images_dir = os.path.join(root, "ILSVRC", "Data", "CLS-LOC")
    os.makedirs(root, exist_ok=True)
    write_synset_mapping(os.path.join(root, "LOC_synset_mapping.txt"), ilsvrc_classes())
    solutions = {"train": [], "validation": []}
    counts = {}
    test_number = 0
    for split, count in zip(SPLIT_FOLDERS, per_class):
        counts[split] = 0
        for wnid in sorted(SHAPES):
            for i in range(count):
                image, box = draw_example(wnid, rng)
                if split == "train":
                    image_id = f"{wnid}_{i + 1}"
                    folder = os.path.join(images_dir, "train", wnid)
                elif split == "validation":
                    image_id = validation_image_id(counts[split] + 1)
                    folder = os.path.join(images_dir, "val")
                else:
                    test_number += 1
                    image_id = f"ILSVRC2012_test_{test_number:08d}"
                    folder = os.path.join(images_dir, "test")
                os.makedirs(folder, exist_ok=True)
                image.save(os.path.join(folder, image_id + ".JPEG"), format="JPEG", quality=90)
                if split in solutions:
                    solutions[split].append((image_id, f"{wnid} {' '.join(map(str, box))}"))
                counts[split] += 1
    for split, rows in solutions.items():
        with open(os.path.join(root, f"LOC_{'val' if split == 'validation' else split}_solution.csv"), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["ImageId", "PredictionString"])
            writer.writerows(rows)
    return counts


def draw_example(wnid: str, rng: np.random.Generator) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """One image of class ``wnid`` and the inclusive pixel box of its object."""
    shape, colour = SHAPES[wnid]
    width, height = int(rng.integers(80, 200)), int(rng.integers(80, 200))
    background = np.full(3, rng.integers(110, 147))  # neutral gray: the object carries the colour
    noise = rng.normal(0, 18, size=(height, width, 1))
    pixels = np.clip(background + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    size = int(rng.integers(min(width, height) // 3, min(width, height) * 4 // 5))
    x0, y0 = int(rng.integers(0, width - size)), int(rng.integers(0, height - size))
    x1, y1 = x0 + size - 1, y0 + size - 1
    tint = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in colour)
    draw = ImageDraw.Draw(image)
    if shape == "disc":
        draw.ellipse((x0, y0, x1, y1), fill=tint)
    elif shape == "square":
        draw.rectangle((x0, y0, x1, y1), fill=tint)
    elif shape == "triangle":
        draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) // 2, y0)], fill=tint)
    elif shape == "cross":
        third = size // 3
        draw.rectangle((x0 + third, y0, x1 - third, y1), fill=tint)
        draw.rectangle((x0, y0 + third, x1, y1 - third), fill=tint)
    else:  # ring
        draw.ellipse((x0, y0, x1, y1), outline=tint, width=max(2, size // 6))
    return image, (x0, y0, x1, y1)

