"""What a build left out or changed, kept beside the dataset, so that nothing is lost without a word.

- ``skipped_images.csv`` (``split,image_id,path,reason``): every source file a build left out, and why:
  images that cannot be decoded, and files named as images that the listing could not take as one (a
  dangling or looping symbolic link, a name that is not UTF-8, a tar link to no regular member, a second
  file with the same image id). ``image_id`` is empty where the file gives none.
- ``adjusted_boxes.csv`` (``split,image_id,path,box,action``): every annotation box that reaches outside
  its source image (``box`` as annotated, inclusive pixels ``xmin ymin xmax ymax``), ``clipped`` to the
  image or ``dropped`` when none of it is inside. Boxes that the crop cuts are not listed: that is the
  crop (``builder.geometry``).

Each file is written only when it has rows. Workers write one part file per shard with rows (listing
skips as one more part per split); once all splits are written the parts are merged into the files. A
build starts by removing parts and reports left in its folder by a build that was killed there, so the
reports describe exactly the build they sit beside.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import os
import shutil
from typing import Sequence, Union

from builder.errors import ImageNetTinyError
from builder.geometry import CLIPPED

REPORT_NAME = "skipped_images.csv"
BOXES_NAME = "adjusted_boxes.csv"
FIELDS = ("split", "image_id", "path", "reason")
LISTING_PART = "listing"  # the part of a split's listing skips, beside the per-shard parts


class CorruptImageError(ImageNetTinyError, ValueError):
    """An unreadable source image in a ``strict`` build, or a build that skipped one returned to a strict run."""


@dataclasses.dataclass(frozen=True)
class SkippedImage:
    split: str
    image_id: str
    path: str
    reason: str


@dataclasses.dataclass(frozen=True)
class AdjustedBox:
    split: str
    image_id: str
    path: str
    box: str
    action: str


Row = Union[SkippedImage, AdjustedBox]
FILE_NAMES = {SkippedImage: REPORT_NAME, AdjustedBox: BOXES_NAME}


@dataclasses.dataclass
class BuildReport:
    """Both reports of one build."""

    skipped: list[SkippedImage]
    boxes: list[AdjustedBox]


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")


def clear(output_dir: str) -> None:
    """Remove the reports and part files that a killed build left in ``output_dir``."""
    for name in FILE_NAMES.values():
        for path in glob.glob(os.path.join(glob.escape(output_dir), f"{name}*")):
            os.remove(path)


def write_part(output_dir: str, split: str, part: Union[int, str], rows: Sequence[Row]) -> None:
    """Write one shard's rows (``part``: its index, or ``LISTING_PART``), a part file per report."""
    label = f"{part:05d}" if isinstance(part, int) else part
    for kind, name in FILE_NAMES.items():
        own = [row for row in rows if isinstance(row, kind)]
        if own:
            with open(os.path.join(output_dir, f"{name}.{split}-{label}.part"), "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(dataclasses.astuple(row) for row in own)


def move_parts(from_dir: str, output_dir: str) -> None:
    """Move the part files written in ``from_dir`` (a one-pass build's staging) into ``output_dir``."""
    for name in FILE_NAMES.values():
        for part in glob.glob(os.path.join(glob.escape(from_dir), f"{name}.*.part")):
            shutil.move(part, os.path.join(output_dir, os.path.basename(part)))


def merge_parts(output_dir: str) -> BuildReport:
    """Merge the part files into the reports (each written only when it has rows) and remove them."""
    merged = {}
    for kind, name in FILE_NAMES.items():
        rows = []
        for part in sorted(glob.glob(os.path.join(glob.escape(output_dir), f"{name}.*.part"))):
            with open(part, newline="", encoding="utf-8") as f:
                rows.extend(kind(*row) for row in csv.reader(f))
            os.remove(part)
        _write(output_dir, kind, rows)
        merged[kind] = rows
    return BuildReport(merged[SkippedImage], merged[AdjustedBox])


def write_report(dataset_dir: str, skipped: Sequence[SkippedImage]) -> None:
    """Write the skip report into ``dataset_dir`` (only when something was skipped)."""
    _write(dataset_dir, SkippedImage, skipped)


def _write(dataset_dir: str, kind: type, rows: Sequence[Row]) -> None:
    if rows:
        with open(os.path.join(dataset_dir, FILE_NAMES[kind]), "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(field.name for field in dataclasses.fields(kind))
            writer.writerows(dataclasses.astuple(row) for row in rows)


def read_report(dataset_dir: str) -> list[SkippedImage]:
    """The images a finished build skipped (empty when it skipped none)."""
    return _read(dataset_dir, SkippedImage)


def read_build_report(dataset_dir: str) -> BuildReport:
    """Both reports of a finished build."""
    return BuildReport(_read(dataset_dir, SkippedImage), _read(dataset_dir, AdjustedBox))


def _read(dataset_dir: str, kind: type) -> list:
    path = os.path.join(dataset_dir, FILE_NAMES[kind])
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [kind(**row) for row in csv.DictReader(f)]


def summary(
    skipped: Sequence[SkippedImage], dataset_dir: str, shown: int = 20, boxes: Sequence[AdjustedBox] = ()
) -> str:
    """A few lines for the end of a build: how many were skipped, the first ``shown`` of them, how many
    annotation boxes were adjusted, and where the lists are."""
    if not skipped:
        lines = ["No image was skipped."]
    else:
        lines = [f"Skipped {len(skipped)} unreadable image(s); the full list is in {os.path.join(dataset_dir, REPORT_NAME)}:"]
        lines += [f"  {s.split}: {s.path}: {s.reason}" for s in skipped[:shown]]
        if len(skipped) > shown:
            lines.append(f"  ... and {len(skipped) - shown} more")
    if boxes:
        lines.append(boxes_line(boxes, dataset_dir))
    return "\n".join(lines)


def boxes_line(boxes: Sequence[AdjustedBox], dataset_dir: str) -> str:
    """One line: how many annotation boxes reached outside their image, and what became of them."""
    clipped = sum(box.action == CLIPPED for box in boxes)
    return (
        f"{len(boxes)} annotation box(es) reached outside their image: {clipped} clipped to it, "
        f"{len(boxes) - clipped} dropped (no part inside); listed in {os.path.join(dataset_dir, BOXES_NAME)}"
    )


def strict_failure(dataset_dir: str, shown: int = 3) -> str | None:
    """Why a strict run must fail with the build in ``dataset_dir``: the files it skipped (None if none)."""
    skipped = read_report(dataset_dir)
    if not skipped:
        return None
    first = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:shown])
    return (
        f"strict: the build in {dataset_dir} skipped {len(skipped)} image(s), listed in "
        f"{os.path.join(dataset_dir, REPORT_NAME)}: {first}{' ...' if len(skipped) > shown else ''}. "
        "Repair or remove them and run again (a changed download is built anew)."
    )
