"""The devkit evaluation files restricted to a class subset: what the Matlab ``make_tiny_eval_clsloc`` did.

From the full validation ground truth (one ILSVRC2014_ID per line) and blacklist, three files for the
subset NAME:
- ``ILSVRC2014_clsloc_validation_ground_truth-NAME.txt``: the labels of the images of those classes,
  in validation order (the IDs themselves are unchanged);
- ``ILSVRC2014_clsloc_validation_blacklist-NAME.txt``: the blacklisted ones among them, renumbered to
  1-based positions in the subset;
- ``ILSVRC2014_filelist-NAME.txt``: the original 1-based validation image number of each.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Optional, Sequence

import numpy as np

from builder.classes import ClassTable, ClassTableError, ilsvrc_classes
from builder.ilsvrc_files import is_kaggle_csv
from metrics.devkit_files import EvaluationFileError, LabelSpace, read_blacklist, read_ground_truth, write_lines

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclasses.dataclass(frozen=True)
class SubsetFiles:
    """What :func:`make_tiny_eval_clsloc` wrote."""

    ground_truth: str
    blacklist: str
    filelist: str
    num_images: int
    num_blacklisted: int


def subset_file_names(name: str) -> tuple[str, str, str]:
    """The ground-truth, blacklist and file-list names for subset ``name``."""
    if not NAME_PATTERN.fullmatch(name):
        raise EvaluationFileError(
            f"subset name {name!r} must be letters, digits, '.', '_' or '-' (it becomes part of file names)"
        )
    return (
        f"ILSVRC2014_clsloc_validation_ground_truth-{name}.txt",
        f"ILSVRC2014_clsloc_validation_blacklist-{name}.txt",
        f"ILSVRC2014_filelist-{name}.txt",
    )


def subset_positions(labels: np.ndarray, keep: Sequence[int]) -> np.ndarray:
    """0-based positions of the images whose label is in ``keep``, in validation order."""
    return np.flatnonzero(np.isin(labels, np.asarray(keep)))


def renumber_blacklist(blacklist: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """1-based subset positions of the blacklisted images (0-based, full list) that are in the subset."""
    inside = np.isin(blacklist, positions)
    return np.searchsorted(positions, blacklist[inside]) + 1


def make_tiny_eval_clsloc(
    classes: Sequence[str],
    name: str,
    ground_truth: str | os.PathLike,
    table: Optional[ClassTable] = None,
    blacklist: Optional[str | os.PathLike] = None,
    output_dir: str | os.PathLike = ".",
) -> SubsetFiles:
    """Write the subset's ground truth, blacklist (empty without one) and file list into ``output_dir``.

    ``table`` maps the classes to the ground truth's ILSVRC2014_IDs: ImageNet's by default.
    """
    names = subset_file_names(name)
    table = ilsvrc_classes() if table is None else table
    if table.ilsvrc2014_ids is None:
        raise ClassTableError(
            f"{table.source} has no ILSVRC2014_IDs, which the devkit ground truth uses: pass meta_clsloc.mat (or .tsv)"
        )
    if is_kaggle_csv(ground_truth):
        raise EvaluationFileError(
            f"{ground_truth}: the subset tool reads the devkit ground truth (one ILSVRC2014_ID per line)"
        )
    keep = [table.index(wnid) for wnid in table.subset(classes).wnids]
    truth = read_ground_truth(ground_truth, LabelSpace(table))
    positions = subset_positions(truth.labels, keep)
    if positions.size == 0:
        raise EvaluationFileError(f"{ground_truth}: no image is of the {len(keep)} requested class(es)")
    blacklisted = np.empty(0, dtype=np.int64) if blacklist is None else read_blacklist(blacklist, truth.num_images)
    renumbered = renumber_blacklist(blacklisted, positions)

    os.makedirs(output_dir, exist_ok=True)
    paths = [os.path.join(output_dir, file_name) for file_name in names]
    ids = np.asarray(table.ilsvrc2014_ids)
    write_lines(paths[0], (str(i) for i in ids[truth.labels[positions]]))
    write_lines(paths[1], (str(i) for i in renumbered))
    write_lines(paths[2], (str(i) for i in truth.image_numbers[positions]))
    return SubsetFiles(*paths, num_images=int(positions.size), num_blacklisted=int(renumbered.size))
