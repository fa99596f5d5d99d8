"""The skip report: every source image a build left out, and why, kept beside the dataset.

Workers write one part file per shard that skipped something; once all splits are written the parts
are merged into ``skipped_images.csv`` (``split,image_id,path,reason``) in the dataset folder.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import os
from typing import Sequence

REPORT_NAME = "skipped_images.csv"
FIELDS = ("split", "image_id", "path", "reason")


@dataclasses.dataclass(frozen=True)
class SkippedImage:
    split: str
    image_id: str
    path: str
    reason: str


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")


def write_part(output_dir: str, split: str, shard_index: int, skipped: Sequence[SkippedImage]) -> None:
    if not skipped:
        return
    with open(os.path.join(output_dir, f"{REPORT_NAME}.{split}-{shard_index:05d}.part"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerows(dataclasses.astuple(s) for s in skipped)


def merge_parts(output_dir: str) -> list[SkippedImage]:
    """Merge the part files into the report (written only when something was skipped) and remove them."""
    skipped = []
    for part in sorted(glob.glob(os.path.join(glob.escape(output_dir), f"{REPORT_NAME}.*.part"))):
        with open(part, newline="") as f:
            skipped.extend(SkippedImage(*row) for row in csv.reader(f))
        os.remove(part)
    write_report(output_dir, skipped)
    return skipped


def write_report(dataset_dir: str, skipped: Sequence[SkippedImage]) -> None:
    """Write the report into ``dataset_dir`` (only when something was skipped)."""
    if skipped:
        with open(os.path.join(dataset_dir, REPORT_NAME), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(FIELDS)
            writer.writerows(dataclasses.astuple(s) for s in skipped)


def read_report(dataset_dir: str) -> list[SkippedImage]:
    """The images a finished build skipped (empty when it skipped none)."""
    path = os.path.join(dataset_dir, REPORT_NAME)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [SkippedImage(**row) for row in csv.DictReader(f)]


def summary(skipped: Sequence[SkippedImage], dataset_dir: str, shown: int = 20) -> str:
    """A few lines for the end of a build: how many were skipped, the first ``shown`` of them, where the list is."""
    if not skipped:
        return "No image was skipped."
    lines = [f"Skipped {len(skipped)} unreadable image(s); the full list is in {os.path.join(dataset_dir, REPORT_NAME)}:"]
    lines += [f"  {s.split}: {s.path}: {s.reason}" for s in skipped[:shown]]
    if len(skipped) > shown:
        lines.append(f"  ... and {len(skipped) - shown} more")
    return "\n".join(lines)
