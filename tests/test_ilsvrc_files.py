"""ILSVRC's files have one reader each, which the builder and the metric share: the same file reads the
same way in both, and a damaged one fails the same way, at the same line."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.ilsvrc_files import validation_image_id, validation_image_number
from builder.sources import SourceLayoutError, open_source
from builder.sources.annotations import AnnotationError, read_solution_csv
from metrics.devkit_files import EvaluationFileError, LabelSpace, read_ground_truth
from tests.fixtures.sources import make_devkit_source

GROUND_TRUTH = "ILSVRC2014_clsloc_validation_ground_truth.txt"
WNIDS = ["n01751748", "n09193705"]  # the classes of validation images 1 and 2


def test_validation_image_ids():
    assert validation_image_id(1) == "ILSVRC2012_val_00000001"
    assert validation_image_number(validation_image_id(50_000)) == 50_000
    with pytest.raises(ValueError, match=r"x: 'ILSVRC2012_val_1' is not a validation ImageId"):
        validation_image_number("ILSVRC2012_val_1", "x")


def first_rows(ilsvrc_dir: Path) -> list[str]:
    """The real LOC_val_solution.csv's header and its rows of validation images 1..5, in its order."""
    lines = (ilsvrc_dir / "LOC_val_solution.csv").read_text().splitlines()
    return [lines[0]] + [line for line in lines[1:] if int(line.split(",")[0][-8:]) <= 5]


def read_by_both(path: Path, message: str) -> None:
    """The builder's and the metric's readers of a Kaggle solution both fail on ``path`` with ``message``."""
    with pytest.raises(AnnotationError, match=message):
        read_solution_csv(str(path))
    with pytest.raises(EvaluationFileError, match=message):
        read_ground_truth(path, LabelSpace())


def test_a_repeated_solution_row_is_one_error(ilsvrc_dir, tmp_path):
    rows = first_rows(ilsvrc_dir)
    first = rows[1].split(",")[0]
    path = tmp_path / "LOC_val_solution.csv"
    path.write_text("\n".join([*rows, rows[1]]) + "\n")
    read_by_both(path, rf"LOC_val_solution.csv, line {len(rows) + 1}: {first} repeats line 2")


def test_a_box_with_too_many_numbers_is_one_error(ilsvrc_dir, tmp_path):
    """Nine numbers after a WNID: the builder once read every fifth token as a WNID, and said '5' was one."""
    rows = first_rows(ilsvrc_dir)
    image_id, text = rows[2].split(",")
    rows[2] = f"{image_id},{text.split()[0]} 1 2 3 4 5 6 7 8 9"
    path = tmp_path / "LOC_val_solution.csv"
    path.write_text("\n".join(rows) + "\n")
    read_by_both(path, r"LOC_val_solution.csv, line 3: expected 'wnid xmin ymin xmax ymax' repeated, got '.* 1 2 3 4 5 6 7 8 9'")


@pytest.fixture
def devkit(tmp_path, sample_dir, ilsvrc_dir) -> Path:
    made = make_devkit_source(tmp_path / "devkit", sample_dir, ilsvrc_dir, WNIDS, val_per_class=1)
    return made.root


def damage_ground_truth(devkit: Path, line: int, content: bytes) -> Path:
    path = devkit / "ILSVRC2014_devkit" / "data" / GROUND_TRUTH
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = content
    path.write_bytes(b"\n".join(lines))
    return path


@pytest.mark.parametrize(
    ("line", "content", "builder_message", "metric_message"),
    [
        (2, b"361 171", "line 2: expected one ILSVRC2014_ID, got '361 171'", None),
        (3, b"", "line 3: expected one ILSVRC2014_ID, got ''", None),
        # A Latin-1 byte: the builder once failed with the codec's message, which names no file.
        (4, b"8\xe922", r"line 4: byte 2 \(0xe9\) is not UTF-8 text", None),
        # A leading zero: the builder once read it as 490, where the metric refuses it.
        (1, b"0490", r"line 1: expected an ILSVRC2014_ID \(1..1000\), got '0490'", "line 1: '0490' is not a known class"),
    ],
)
def test_a_damaged_devkit_ground_truth_fails_in_both_at_its_line(devkit, line, content, builder_message, metric_message):
    path = damage_ground_truth(devkit, line, content)
    with pytest.raises(SourceLayoutError, match=rf"{GROUND_TRUTH}, {builder_message}"):
        open_source(devkit).images("validation", WNIDS)
    with pytest.raises(EvaluationFileError, match=rf"{GROUND_TRUTH}, {metric_message or builder_message}"):
        read_ground_truth(path, LabelSpace())
