"""What one ImageNet-tiny example holds, and how a source image becomes one."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence, TypeVar

import datasets

from builder import report
from builder.classes import ClassTable
from builder.config import ImageNetTinyConfig
from builder.geometry import INSIDE, Fit, fit_geometry, source_box_fates, tiny_boxes
from builder.png import encode_png
from builder.sources import SourceImage
from builder.sources.base import SourceBox
from builder.transform import DECODE_ERRORS, OUTPUT_MODES, TinyRequest, tiny_images

Variant = tuple[ImageNetTinyConfig, ClassTable]  # a config and its classes: what an example is made for

UNLABELLED = -1  # the test split has no labels


def tiny_features(config: ImageNetTinyConfig, classes: ClassTable) -> datasets.Features:
    """Features of a config's examples.

    - ``image``: exactly W x H, mode ``L`` (gray) or ``RGB`` (sRGB), stored as PNG;
    - ``label``: index into the config's WNIDs in sorted order (-1 in the test split);
    - ``words``: the class's human-readable names, so the dataset alone explains its labels;
    - ``image_id``: the source file's stem, e.g. ``n01440764_10026`` or ``ILSVRC2012_val_00000001``;
    - ``bboxes``: ground-truth boxes ``[xmin, ymin, xmax, ymax]`` in tiny-image pixel-edge coordinates
      (0..W, 0..H), mapped through the same crop/pad/squash as the pixels and clipped to the image;
    - ``original_width``, ``original_height``: the source image's size, which with the config's size and
      fit mode maps tiny boxes back to the original (``builder.geometry.original_boxes``).
    """
    return datasets.Features(
        {
            "image": datasets.Image(mode=OUTPUT_MODES[config.color]),
            "label": datasets.ClassLabel(names=list(classes.wnids)),
            "words": datasets.Value("string"),
            "image_id": datasets.Value("string"),
            "bboxes": datasets.List(datasets.List(datasets.Value("float32"), length=4)),
            "original_width": datasets.Value("int32"),
            "original_height": datasets.Value("int32"),
        }
    )


def tiny_example(image: SourceImage, config: ImageNetTinyConfig, classes: ClassTable) -> dict[str, Any]:
    """Decode, fit and encode one source image; raises one of ``transform.DECODE_ERRORS`` if it is unreadable."""
    return tiny_examples(image, [(config, classes)])[0]


def tiny_examples(image: SourceImage, variants: Sequence[Variant]) -> list[dict[str, Any]]:
    """One source image's example for each variant, from one decode (``transform.tiny_images``): each is
    what :func:`tiny_example` makes for that variant alone, byte for byte."""
    requests = [TinyRequest(config.size, config.color, config.fit_mode, config.resample) for config, _ in variants]
    tinies = tiny_images(image.file(), requests)
    return [
        example_row(image, encode_png(tiny.image), tiny.original_size, tiny.fit, classes)
        for (_, classes), tiny in zip(variants, tinies)
    ]


def example_row(image: SourceImage, png: bytes, original_size: tuple[int, int], fit: Fit, classes: ClassTable) -> dict[str, Any]:
    """The example of ``image`` made tiny (``png``, fitted by ``fit`` from ``original_size``): its label,
    words and id, and its boxes mapped as its pixels were. A build from the Hub's shards (``builder.staging``)
    makes the PNG in one pass and the example in another, and gives ``fit`` by :func:`fit_of`."""
    labelled = image.wnid is not None
    return {
        "image": {"bytes": png, "path": None},
        "label": classes.index(image.wnid) if labelled else UNLABELLED,
        "words": classes.words_of(image.wnid) if labelled else "",
        "image_id": image.image_id,
        "bboxes": tiny_boxes(fit, image.source_boxes).tolist() if image.source_boxes else [],
        "original_width": original_size[0],
        "original_height": original_size[1],
    }


def examples_or_skip(
    image: SourceImage, split: str, make: Callable[[SourceImage], list[dict[str, Any]]], strict: bool = False
) -> tuple[Optional[list[dict[str, Any]]], list[report.Row]]:
    """``make(image)`` (its examples) and the report rows of the image: the annotation boxes that reach
    outside it; or, where it cannot be decoded, None and the row that skips it (``strict``: a
    :class:`~builder.report.CorruptImageError` naming the file)."""
    try:
        examples = make(image)
    except DECODE_ERRORS as error:
        if strict:
            raise report.CorruptImageError(f"cannot read {image.path}: {report.describe(error)}") from error
        return None, [report.SkippedImage(split, image.image_id, image.path, report.describe(error))]
    return examples, adjusted_boxes(split, image, (examples[0]["original_width"], examples[0]["original_height"]))


def adjusted_boxes(split: str, image: SourceImage, size: tuple[int, int]) -> list[report.AdjustedBox]:
    """The report rows of the image's annotation boxes that reach outside it (clipped or dropped)."""
    return [
        report.AdjustedBox(split, image.image_id, image.path, " ".join(map(str, box)), fate)
        for box, fate in boxes_outside(image, size)
    ]


def fit_of(original_size: tuple[int, int], config: ImageNetTinyConfig) -> Fit:
    """How a source image of ``original_size`` was fitted into the config's size (as ``tiny_image`` fits it)."""
    return fit_geometry(original_size, config.size, config.fit_mode)


def boxes_outside(image: SourceImage, size: tuple[int, int]) -> list[tuple[SourceBox, str]]:
    """The image's annotation boxes that reach outside it (its ``size`` as decoded), each with what
    :func:`tiny_example` made of it: ``clipped`` to the image, or ``dropped``."""
    if not image.source_boxes:
        return []
    fates = source_box_fates(image.source_boxes, size)
    return [(box, fate) for box, fate in zip(image.source_boxes, fates) if fate != INSIDE]


@dataclasses.dataclass(frozen=True)
class Shard:
    """A contiguous run of one split's images: the unit that ``num_proc`` workers share out."""

    split: str
    index: int
    images: tuple[SourceImage, ...]


def shard_images(split: str, images: Sequence[SourceImage], max_shards: int = 256) -> list[Shard]:
    """Split ``images`` into at most ``max_shards`` runs of near-equal length, in order."""
    count = min(len(images), max_shards)
    bounds = [len(images) * i // count for i in range(count + 1)] if count else [0]
    return [Shard(split, i, tuple(images[bounds[i] : bounds[i + 1]])) for i in range(count)]


Item = TypeVar("Item")


def share(images: dict[str, Sequence[Item]], index: int, count: int) -> dict[str, list[Item]]:
    """Shard ``index`` of ``count``'s contiguous part of ``images`` (split -> items), splits in their order."""
    bounds = share_bounds({split: len(items) for split, items in images.items()}, index, count)
    return {split: list(items[slice(*bounds[split])]) for split, items in images.items()}


def share_bounds(lengths: dict[str, int], index: int, count: int) -> dict[str, tuple[int, int]]:
    """Where :func:`share`'s part lies in splits of ``lengths`` items: per split, ``(start, stop)`` of its items."""
    total = sum(lengths.values())
    start, stop = total * index // count, total * (index + 1) // count
    bounds, offset = {}, 0
    for split, length in lengths.items():
        bounds[split] = (min(length, max(0, start - offset)), min(length, max(0, stop - offset)))
        offset += length
    return bounds
