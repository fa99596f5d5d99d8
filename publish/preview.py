"""Preview pictures: source images beside their tiny versions, one per class for a handful of classes.

What the Matlab version's ``plot_ImageNet_tiny_examples`` showed on screen, as a PNG for the dataset card
(and for a future ``imagenet-tiny preview CONFIG --to FILE.png``)::

    from publish.preview import builder_preview
    builder_preview(builder).save("16x16-sRGB-5.png")

Each pair is the original (fitted into a square cell) and the tiny image enlarged by a whole factor with
nearest-neighbour sampling, so that its pixels stay visible. Pillow only, with its built-in bitmap font, so
the same data give the same PNG bytes on any machine (a republished preview is then unchanged).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import datasets
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from builder.classes import ClassTable
from builder.errors import ImageNetTinyError
from builder.sources import Source

CELL = 128  # side of the square cell each image is shown in
MARGIN = 10
GAP = 12  # between pairs
INNER_GAP = 4  # between an original and its tiny version
CAPTION = 14  # one line of the bitmap font under each pair
HEADER = 22
COLUMNS = 3  # pairs per row
DEFAULT_MAX_CLASSES = 6
BACKGROUND = (255, 255, 255)
CELL_BACKGROUND = (232, 232, 232)
TEXT = (30, 30, 30)


class PreviewError(ImageNetTinyError, ValueError):
    """A dataset or source that cannot give a preview (no labelled split, an image missing from the source)."""


@dataclasses.dataclass(frozen=True)
class PreviewPair:
    original: Image.Image
    tiny: Image.Image
    caption: str


def preview_size(num_pairs: int) -> tuple[int, int]:
    """The picture's size in pixels for ``num_pairs`` pairs."""
    columns = min(num_pairs, COLUMNS)
    rows = -(-num_pairs // COLUMNS)
    pair_width, pair_height = 2 * CELL + INNER_GAP, CELL + CAPTION
    width = 2 * MARGIN + columns * pair_width + (columns - 1) * GAP
    height = 2 * MARGIN + HEADER + rows * pair_height + (rows - 1) * GAP
    return width, height


def draw_pairs(pairs: Sequence[PreviewPair], title: str) -> Image.Image:
    """Lay out ``pairs`` in a grid under ``title``."""
    if not pairs:
        raise PreviewError(f"nothing to preview for {title}")
    font = ImageFont.load_default_imagefont()
    canvas = Image.new("RGB", preview_size(len(pairs)), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((MARGIN, MARGIN), f"{title}: original | tiny", fill=TEXT, font=font)
    for i, pair in enumerate(pairs):
        row, column = divmod(i, COLUMNS)
        x = MARGIN + column * (2 * CELL + INNER_GAP + GAP)
        y = MARGIN + HEADER + row * (CELL + CAPTION + GAP)
        canvas.paste(_fit_original(pair.original), (x, y))
        canvas.paste(_enlarge_tiny(pair.tiny), (x + CELL + INNER_GAP, y))
        draw.text((x, y + CELL + 2), _clip_text(draw, pair.caption, font, 2 * CELL + INNER_GAP), fill=TEXT, font=font)
    return canvas


def draw_preview(
    dataset: datasets.Dataset,
    source: Source,
    classes: ClassTable,
    *,
    title: str,
    split: str,
    max_classes: int = DEFAULT_MAX_CLASSES,
    wnids: Sequence[str] | None = None,
) -> Image.Image:
    """Preview of one labelled split: the first image of each of up to ``max_classes`` classes spread over
    ``classes``, or of the classes ``wnids``.

    ``dataset`` is the split as built (or loaded from an export); ``source`` is the download it was built
    from, which still holds the originals.
    """
    labels = np.asarray(dataset.data.column("label").to_numpy())
    chosen = [classes.index(w) for w in wnids] if wnids else _spread(len(classes), max_classes)
    first_rows = {}
    for label in chosen:
        rows = np.flatnonzero(labels == label)
        if len(rows):
            first_rows[label] = int(rows[0])
    if not first_rows:
        raise PreviewError(f"{title}: the {split} split has no labelled image to preview")
    wnids = [classes.wnids[label] for label in first_rows]
    originals = {image.image_id: image for image in source.images(split, wnids)}
    pairs = []
    for label, row in first_rows.items():
        example = dataset[row]
        image = originals.get(example["image_id"])
        if image is None:
            raise PreviewError(
                f"{title}: image {example['image_id']} of the {split} split is not in the source {source.data_dir}"
            )
        with Image.open(image.file()) as original:
            original = original.convert("RGB")
        wnid = classes.wnids[label]
        pairs.append(PreviewPair(original, example["image"], f"{wnid} {classes.words_of(wnid)}"))
    return draw_pairs(pairs, title)


def builder_preview(builder, max_classes: int = DEFAULT_MAX_CLASSES, wnids: Sequence[str] | None = None) -> Image.Image:
    """Preview of a finished :class:`imagenet_tiny.ImageNetTiny` build, from its validation split (else train)."""
    splits = builder.info.splits
    split = next((s for s in ("validation", "train") if s in splits and splits[s].num_examples), None)
    if split is None:
        raise PreviewError(f"{builder.config.name}: no labelled split with images to preview")
    return draw_preview(
        builder.as_dataset(split=split),
        builder.source,
        builder.classes,
        title=builder.config.name,
        split=split,
        max_classes=max_classes,
        wnids=wnids,
    )


def _spread(count: int, wanted: int) -> list[int]:
    """``wanted`` indices evenly spread over ``range(count)`` (all of them when there are fewer)."""
    if count <= wanted:
        return list(range(count))
    return sorted({i * count // wanted for i in range(wanted)})


def _fit_original(image: Image.Image) -> Image.Image:
    cell = Image.new("RGB", (CELL, CELL), CELL_BACKGROUND)
    shown = image.copy()
    shown.thumbnail((CELL, CELL), Image.Resampling.LANCZOS)
    cell.paste(shown, ((CELL - shown.width) // 2, (CELL - shown.height) // 2))
    return cell


def _enlarge_tiny(image: Image.Image) -> Image.Image:
    cell = Image.new("RGB", (CELL, CELL), CELL_BACKGROUND)
    shown = image.convert("RGB")
    factor = min(CELL // shown.width, CELL // shown.height)
    if factor >= 1:
        shown = shown.resize((shown.width * factor, shown.height * factor), Image.Resampling.NEAREST)
    else:  # a tiny image larger than the cell (configs go up to 1024 pixels)
        shown.thumbnail((CELL, CELL), Image.Resampling.LANCZOS)
    cell.paste(shown, ((CELL - shown.width) // 2, (CELL - shown.height) // 2))
    return cell


def _clip_text(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: int) -> str:
    # The bitmap font covers Latin-1 only.
    text = text.encode("latin-1", "replace").decode("latin-1")
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."
