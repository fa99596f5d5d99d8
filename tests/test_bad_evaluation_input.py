"""The metric and the evaluation files under bad input: each a clear error that says what and where, never a guess.

The files are the real ILSVRC ground truth, class table and Kaggle solution (``../shared/ilsvrc``), cut to a
few images and then damaged the way users' files are: a labels-only file that also reads as boxes, a
Latin-1 byte, a BOM, a line of a million guesses, a coordinate of 1e400.
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import evaluate
import numpy as np
import pytest

from builder import ilsvrc_files
from builder.classes import read_class_table
from builder.sources import SourceLayoutError, open_source
from builder.sources.annotations import AnnotationError, read_solution_csv, read_voc_xml
from builder.synthetic import zip_download
from metrics.devkit_files import (
    EvaluationFileError,
    LabelSpace,
    is_kaggle_csv,
    read_blacklist,
    read_boxes,
    read_filelist,
    read_ground_truth,
    read_predictions,
)
from metrics.imagenet_clsloc.imagenet_clsloc import clsloc_errors, pad_guesses
from metrics.predictions import prediction_rows
from metrics.scoring import score_files
from tests.fixtures.sources import make_kaggle_source

METRIC_DIR = Path(__file__).resolve().parent.parent / "metrics" / "imagenet_clsloc"
GROUND_TRUTH = "ILSVRC2014_clsloc_validation_ground_truth.txt"
# The first five validation images: their ILSVRC2014_IDs and WNIDs (ground truth and LOC_val_solution.csv).
FIRST_IDS = ["490", "361", "171", "822", "297"]
FIRST_WNIDS = ["n01751748", "n09193705", "n02105855", "n04263257", "n03125729"]
BOX = [0, 0, 9, 9]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def first_five(ilsvrc_dir, tmp_path) -> Path:
    """The real ground truth of validation images 1..5 as a subset: ``gt.txt`` and ``filelist.txt``."""
    ids = (ilsvrc_dir / GROUND_TRUTH).read_text().split()[:5]
    assert ids == FIRST_IDS
    write(tmp_path / "gt.txt", "".join(f"{i}\n" for i in ids))
    write(tmp_path / "filelist.txt", "".join(f"{n}\n" for n in range(1, 6)))
    return tmp_path


@pytest.fixture
def labels(ilsvrc_dir) -> LabelSpace:
    return LabelSpace(read_class_table(ilsvrc_dir / "meta_clsloc.tsv"))


def score_first_five(folder: Path, ilsvrc_dir: Path, predictions: str, with_boxes: bool = True, **kwargs):
    return score_files(
        folder / predictions,
        folder / "gt.txt",
        boxes=ilsvrc_dir / "LOC_val_solution.csv" if with_boxes else None,
        meta=ilsvrc_dir / "meta_clsloc.tsv",
        filelist=folder / "filelist.txt",
        **kwargs,
    )


def assert_scoring_fails(folder: Path, ilsvrc_dir: Path, lines: list[str], message: str) -> None:
    """``lines`` as the prediction file ``pred.txt`` of the first five images: scoring it fails with ``message``."""
    write(folder / "pred.txt", "".join(f"{line}\n" for line in lines))
    with pytest.raises(EvaluationFileError, match=message):
        score_first_five(folder, ilsvrc_dir, "pred.txt")


def evaluate_first_five(folder: Path, ilsvrc_dir: Path, predictions: str, *extra: str) -> list[str]:
    return [
        "evaluate", "--predictions", str(folder / predictions), "--ground-truth", str(folder / "gt.txt"),
        "--boxes", str(ilsvrc_dir / "LOC_val_solution.csv"), "--meta", str(ilsvrc_dir / "meta_clsloc.tsv"),
        "--filelist", str(folder / "filelist.txt"), *extra,
    ]  # fmt: skip


def solution_rows(ilsvrc_dir: Path) -> tuple[list[str], int]:
    """The real LOC_val_solution.csv's header and rows of images 1..5, in its order; and the 0-based line of image 3."""
    lines = (ilsvrc_dir / "LOC_val_solution.csv").read_text().splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.split(",")[0][-8:] in {f"{n:08d}" for n in range(1, 6)}]
    (third,) = [i for i, line in enumerate(kept) if line.startswith("ILSVRC2012_val_00000003,")]
    assert kept[third] == "ILSVRC2012_val_00000003,n02105855 38 19 385 373 "
    return kept, third


# ----------------------------------------------------------------------------- the devkit layout is never guessed


def test_labels_only_file_that_also_reads_as_boxes_is_not_guessed(first_five, ilsvrc_dir, run_cli):
    """Five IDs a line, the right one last: as boxes each line is one guess '1' with box (2, 3, 4, id)."""
    assert_scoring_fails(
        first_five,
        ilsvrc_dir,
        [f"1 2 3 4 {i}" for i in FIRST_IDS],
        r"pred.txt: every line reads both as labels alone and as 'label xmin ymin xmax ymax' guesses, "
        r"which score differently: say which with --guesses labels or --guesses boxes",
    )
    score = score_first_five(first_five, ilsvrc_dir, "pred.txt", guesses="labels")
    assert score.results["top5_error"] == 0.0 and score.results["top1_error"] == 1.0
    assert score.notes == ("the predictions have no boxes: classification error only",)

    code, out, err = run_cli(*evaluate_first_five(first_five, ilsvrc_dir, "pred.txt"))
    assert code == 2 and out == "" and "--guesses labels or --guesses boxes" in err
    code, out, _ = run_cli(*evaluate_first_five(first_five, ilsvrc_dir, "pred.txt", "--guesses", "labels", "--json"))
    assert code == 0 and '"top5_error": 0.0' in out


@pytest.mark.parametrize(
    ("lines", "with_boxes", "layout", "why"),
    [
        # One number a line cannot be 'label xmin ymin xmax ymax': labels, whatever the ground truth has.
        ([f"{i}" for i in FIRST_IDS], True, "labels alone", r"line 1: 1 numbers, not a whole number of guesses"),
        # 0 is no ILSVRC2014_ID: boxes, even against a ground truth without boxes.
        ([f"{i} 0 0 99 99" for i in FIRST_IDS], False, "'label xmin ymin xmax ymax' guesses", r"line 1: '0' is not a known class"),
        ([f"{i} 1.5 2 99 99" for i in FIRST_IDS], True, "'label xmin ymin xmax ymax' guesses", r"line 1: '1.5' is not a known class"),
    ],
)
def test_the_layout_is_inferred_only_from_certain_evidence_and_said(first_five, ilsvrc_dir, lines, with_boxes, layout, why):
    write(first_five / "pred.txt", "\n".join(lines) + "\n")
    score = score_first_five(first_five, ilsvrc_dir, "pred.txt", with_boxes=with_boxes)
    assert score.results["top1_error"] == 0.0
    (note, *_) = score.notes
    assert re.fullmatch(rf".*pred.txt: read as {re.escape(layout)} \(not as .*: {why}.*\)", note), note


def test_a_file_that_reads_neither_way_gives_both_reasons(first_five, ilsvrc_dir):
    assert_scoring_fails(
        first_five,
        ilsvrc_dir,
        [f"{i} 0 0 99" for i in FIRST_IDS],
        r"pred.txt reads neither as 'label xmin ymin xmax ymax' guesses \(line 1: 4 numbers, .*\) "
        r"nor as labels alone \(line 1: '0' is not a known class",
    )


# ----------------------------------------------------------------------------- labels are whole numbers


@pytest.fixture
def clsloc() -> evaluate.EvaluationModule:
    return evaluate.load(str(METRIC_DIR), keep_in_memory=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(predictions=[[1.9]], references=[1]), r"predictions\[0\]\[0\] = 1.9: a label is an integer"),
        (dict(predictions=[[490], [361]], references=[490, 361.5]), r"references\[1\] = 361.5: a label is an integer"),
        (
            dict(predictions=[[{"label": 1.9, "bbox": BOX}]], references=[[{"label": 1, "bbox": BOX}]]),
            r"predictions\[0\]\[0\] = \{'label': 1.9, .*: a label is an integer \(a float only when it is a whole",
        ),
        (dict(predictions=[[float("nan")]], references=[1]), r"predictions\[0\]\[0\] = nan: a label is an integer"),
    ],
)
def test_the_metric_refuses_labels_that_are_not_whole_numbers(clsloc, kwargs, message):
    with pytest.raises(ValueError, match=message):
        clsloc.compute(**kwargs)


def test_whole_number_floats_count_as_their_integer(clsloc, ilsvrc_dir):
    truth = [int(i) for i in (ilsvrc_dir / GROUND_TRUTH).read_text().split()[:50]]
    guesses = [[label % 1000 + 1, label] for label in truth]
    as_ints = clsloc.compute(predictions=guesses, references=truth, max_guesses=2)
    as_floats = clsloc.compute(
        predictions=[[float(g) for g in row] for row in guesses], references=[float(t) for t in truth], max_guesses=2
    )
    assert as_floats == as_ints == {"cls_error": [1.0, 0.0], "top1_error": 1.0}
    assert clsloc_errors(np.array(guesses, dtype=float), np.array(truth, dtype=float), max_guesses=2) == as_ints


def test_the_array_helpers_refuse_fractions_instead_of_truncating(tiny_dataset):
    with pytest.raises(ValueError, match=r"pred_labels\[0\]\[1\] = 1.9 is not an integer in the int64 range"):
        clsloc_errors([[3, 1.9]], [1])
    with pytest.raises(ValueError, match=r"labels\[1\] = 1.9 is not an integer"):
        pad_guesses([1, 1], [2, 1.9])
    dataset = tiny_dataset(["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002"], [(500, 375), (500, 333)])
    with pytest.raises(ValueError, match=r"labels\[1\]\[0\] = 1.9 is not a class index of the dataset"):
        prediction_rows(dataset, [[0, 2], [1.9]])


def test_file_labels_are_written_ids(first_five, labels):
    for token in ("1.9", "490.0", "4.9e2", "٤٩٠"):
        write(first_five / "pred.txt", "\n".join([token, *FIRST_IDS[1:]]) + "\n")
        with pytest.raises(EvaluationFileError, match=rf"pred.txt, line 1: '{token}' is not a known class"):
            read_predictions(first_five / "pred.txt", labels, [1, 2, 3, 4, 5], guesses="labels")


# ----------------------------------------------------------------------------- memory: (images x max_guesses)


def test_a_long_devkit_line_is_read_past_max_guesses(first_five, labels):
    """300,000 guesses on line 2 (1.2 MB); the arrays keep 5 of them."""
    write(first_five / "labels.txt", "\n".join([FIRST_IDS[0], " ".join(FIRST_IDS[1:2] + ["1"] * 300_000), *FIRST_IDS[2:]]))
    read = read_predictions(first_five / "labels.txt", labels, [1, 2, 3, 4, 5], guesses="labels", max_guesses=5)
    assert read.labels.shape == (5, 5) and read.num_guesses.tolist() == [1, 5, 1, 1, 1]
    assert read.labels[1, 0] == labels.of_id(FIRST_IDS[1], "")
    boxed = [f"{i} 0 0 9 9" for i in FIRST_IDS]
    boxed[3] = " ".join([boxed[3]] + ["7 1 1 5 5"] * 100_000)
    write(first_five / "boxes.txt", "\n".join(boxed))
    read = read_predictions(first_five / "boxes.txt", labels, [1, 2, 3, 4, 5], max_guesses=3)
    assert read.labels.shape == (5, 3) and read.boxes.shape == (5, 3, 4)
    assert read.num_guesses.tolist() == [1, 1, 1, 3, 1] and read.boxes[3, 2].tolist() == [1, 1, 5, 5]


def test_guesses_past_max_guesses_are_still_checked(first_five, labels):
    write(first_five / "pred.txt", "\n".join([" ".join(FIRST_IDS + ["1"] * 100 + ["1001"]), *FIRST_IDS[1:]]))
    with pytest.raises(EvaluationFileError, match=r"pred.txt, line 1: '1001' is not a known class"):
        read_predictions(first_five / "pred.txt", labels, [1, 2, 3, 4, 5], guesses="labels")


def test_a_kaggle_field_longer_than_csv_allows(ilsvrc_dir, tmp_path, labels):
    """csv refuses fields over 128 KiB by default; a row of 20,000 boxed guesses is 600 KB."""
    rows = [f"ILSVRC2012_val_{n:08d},{w} 1 1 50 50" for n, w in enumerate(FIRST_WNIDS, 1)]
    rows[2] += f" {FIRST_WNIDS[0]} 1 1 50 50" * 20_000
    write(tmp_path / "sub.csv", "ImageId,PredictionString\n" + "\n".join(rows) + "\n")
    limit = csv.field_size_limit()
    read = read_predictions(tmp_path / "sub.csv", labels, [1, 2, 3, 4, 5])
    assert read.labels.shape == (5, 5) and read.boxes.shape == (5, 5, 4)
    assert read.num_guesses.tolist() == [1, 1, 5, 1, 1]
    assert csv.field_size_limit() == limit  # the raised limit does not outlive the reading


def test_a_field_past_the_raised_limit_is_a_located_error(tmp_path, labels, monkeypatch):
    monkeypatch.setattr(ilsvrc_files, "KAGGLE_FIELD_LIMIT", 1000)
    write(tmp_path / "sub.csv", f"ImageId,PredictionString\nILSVRC2012_val_00000001,{'n01751748 ' * 200}\n")
    with pytest.raises(EvaluationFileError, match=r"sub.csv, line 2: not a CSV row \(field larger than field limit"):
        read_predictions(tmp_path / "sub.csv", labels, [1])


def test_a_huge_max_guesses_is_an_error_not_an_allocation(first_five, ilsvrc_dir, clsloc, labels, run_cli):
    write(first_five / "pred.txt", "\n".join(FIRST_IDS) + "\n")
    message = r"max_guesses must be at most 1000, the number of ILSVRC classes, got 1000000000"
    with pytest.raises(ValueError, match=message):
        score_first_five(first_five, ilsvrc_dir, "pred.txt", max_guesses=10**9)
    with pytest.raises(ValueError, match=message):
        read_predictions(first_five / "pred.txt", labels, [1, 2, 3, 4, 5], max_guesses=10**9)
    with pytest.raises(ValueError, match=message):
        clsloc_errors([[1]], [1], max_guesses=10**9)
    with pytest.raises(ValueError, match=message):
        clsloc.compute(predictions=[[1]], references=[1], max_guesses=10**9)
    code, _, err = run_cli(*evaluate_first_five(first_five, ilsvrc_dir, "pred.txt", "--max-guesses", "1000000000"))
    assert code == 2 and "max_guesses must be at most 1000" in err
    assert clsloc_errors([[1]], [1], max_guesses=1000)["cls_error"][-1] == 0.0


# ----------------------------------------------------------------------------- coordinates: inf, 1e400, nan, fractions


@pytest.mark.parametrize(
    ("coordinate", "message"),
    [
        ("1e400", r"box '38 19 1e400 373' must be four finite numbers"),
        ("inf", r"box '38 19 inf 373' must be four finite numbers"),
        ("nan", r"box '38 19 nan 373' must be four finite numbers"),
        ("385.5", r"box '38 19 385.5 373' must be whole pixel positions"),
        ("3_85", r"box '38 19 3_85 373' must be four numbers"),
    ],
)
def test_bad_coordinates_in_the_builders_annotations_are_located(ilsvrc_dir, tmp_path, coordinate, message):
    lines, row = solution_rows(ilsvrc_dir)
    lines[row] = lines[row].replace(" 385 ", f" {coordinate} ")
    write(tmp_path / "LOC_val_solution.csv", "\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=rf"LOC_val_solution.csv, line {row + 1}: {message}"):
        read_solution_csv(str(tmp_path / "LOC_val_solution.csv"))
    xml = tmp_path / "ILSVRC2012_val_00000003.xml"
    write(
        xml,
        f"<annotation><object><name>n02105855</name><bndbox><xmin>38</xmin><ymin>19</ymin><xmax>{coordinate}</xmax>"
        "<ymax>373</ymax></bndbox></object></annotation>",
    )
    with pytest.raises(AnnotationError, match=rf"ILSVRC2012_val_00000003.xml, object 1: {message}"):
        read_voc_xml(str(xml))


def test_whole_number_coordinates_written_as_floats_still_read(ilsvrc_dir, tmp_path):
    lines, _ = solution_rows(ilsvrc_dir)
    write(tmp_path / "LOC_val_solution.csv", "\n".join(lines).replace(" 385 ", " 385.0 ") + "\n")
    assert read_solution_csv(str(tmp_path / "LOC_val_solution.csv"))["ILSVRC2012_val_00000003"] == (
        "n02105855",
        ((38, 19, 385, 373),),
    )


def test_an_infinite_box_in_a_zipped_download_is_located(sample_dir, ilsvrc_dir, tmp_path):
    wnids = ["n01440764", "n01443537"]
    made = make_kaggle_source(tmp_path / "kaggle", sample_dir, ilsvrc_dir, wnids, val_per_class=2)
    solution = made.root / "LOC_val_solution.csv"
    lines = solution.read_text().splitlines()
    image_id, text = lines[2].split(",")
    fields = text.split()
    fields[3] = "1e400"
    lines[2] = f"{image_id},{' '.join(fields)}"
    solution.write_text("\n".join(lines) + "\n")
    archive = zip_download(made.root, tmp_path / "imagenet-object-localization-challenge.zip", compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(SourceLayoutError, match=r"LOC_val_solution.csv, line 3: box .*1e400.* must be four finite"):
        open_source(archive).images("validation", wnids)


@pytest.mark.parametrize("coordinate", ["1e400", "-inf", "nan"])
def test_bad_coordinates_in_evaluation_files_are_located(first_five, ilsvrc_dir, labels, coordinate):
    lines, row = solution_rows(ilsvrc_dir)
    lines[row] = lines[row].replace(" 385 ", f" {coordinate} ")
    write(first_five / "solution.csv", "\n".join(lines) + "\n")
    with pytest.raises(EvaluationFileError, match=rf"solution.csv, line {row + 1}, guess 1: box .* must be four finite"):
        read_boxes(first_five / "solution.csv", labels, [3])
    write(first_five / "pred.txt", "".join(f"{i} 0 0 {coordinate} 9\n" for i in FIRST_IDS))
    with pytest.raises(EvaluationFileError, match=rf"pred.txt, line 1, guess 1: box '0 0 {coordinate} 9' must be four finite"):
        read_predictions(first_five / "pred.txt", labels, [1, 2, 3, 4, 5], guesses="boxes")
    (first_five / "val").mkdir()
    write(
        first_five / "val" / "ILSVRC2012_val_00000001.xml",
        f"<annotation><object><name>n01751748</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>{coordinate}</xmax>"
        "<ymax>9</ymax></bndbox></object></annotation>",
    )
    with pytest.raises(AnnotationError, match=r"ILSVRC2012_val_00000001.xml, object 1: box .* must be four finite"):
        read_boxes(first_five / "val", labels, [1])


# ----------------------------------------------------------------------------- the metric's list inputs


def guess(label, box) -> dict:
    return {"label": label, "bbox": box}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(predictions=[], references=[]), r"there are no images to score: predictions and references are empty"),
        (dict(predictions=[[1], [2]], references=[1]), r"2 predictions but 1 references: give one of each per image"),
        (dict(predictions=None, references=[1]), r"predictions must be a list with one entry per image, got None"),
        (dict(predictions=[[1], 2], references=[1, 2]), r"predictions\[1\] = 2: each prediction is the list"),
        (dict(predictions=[[1, None]], references=[1]), r"predictions\[0\]\[1\] = None: a label is an integer, not NoneType"),
        (dict(predictions=[[1], ["cat"]], references=[1, 2]), r"predictions\[1\]\[0\] = 'cat': a label is an integer, not str"),
        (dict(predictions=[[True]], references=[1]), r"predictions\[0\]\[0\] = True: a label is an integer, not a bool"),
        (dict(predictions=[[2**70]], references=[1]), r"predictions\[0\]\[0\] = 1180591620717411303424: a label must fit in 64 bits"),
        (
            dict(predictions=[[1, guess(1, BOX)]], references=[1]),
            r"predictions\[0\]\[1\] = \{'label': 1, .*: a label is an integer, not dict; in classification .* every guess is a label",
        ),
        (
            dict(predictions=[[guess(1, BOX)], [1]], references=[[guess(1, BOX)], [guess(1, BOX)]]),
            r"predictions\[1\]\[0\] = 1: in localization .* every guess is a dict",
        ),
        (
            dict(predictions=[[guess(1, BOX)], [guess(2, BOX)]], references=[[guess(1, BOX)], 2]),
            r"references\[1\] = 2: in localization .* every reference is the list of the image's objects",
        ),
        (
            dict(predictions=[[guess(1, BOX)], [{"label": 2}]], references=[[guess(1, BOX)], [guess(2, BOX)]]),
            r"predictions\[1\]\[0\] = \{'label': 2\}: a guess has exactly the keys \"label\" and \"bbox\"; this one has 'label'",
        ),
        (
            dict(predictions=[[guess(1, BOX)]], references=[[guess(1, BOX), {"label": 1, "box": BOX}]]),
            r"references\[0\]\[1\] = .*: a object has exactly the keys \"label\" and \"bbox\"; this one has 'label', 'box'",
        ),
        (
            dict(predictions=[[guess(1, BOX), guess(2, [0, 0, 5])]], references=[[guess(1, BOX)]]),
            r"predictions\[0\]\[1\] = .*: a \"bbox\" is 4 numbers \[xmin, ymin, xmax, ymax\]",
        ),
        (
            dict(predictions=[[guess(1, ["0", "0", "5", "5"])]], references=[[guess(1, BOX)]]),
            r"predictions\[0\]\[0\] = .*: a \"bbox\" is 4 numbers",
        ),
        (
            dict(predictions=[[guess(1, BOX)]], references=[[guess("1", BOX)]]),
            r"references\[0\]\[0\] = .*: a label is an integer, not str",
        ),
        (
            dict(predictions=[[guess(1, BOX)]], references=[[guess(1, BOX)]], blacklist=3),
            r"blacklist must be a 1-dimensional array, got shape \(\)",
        ),
    ],
)
def test_malformed_inputs_are_value_errors_that_name_the_image(clsloc, kwargs, message):
    with pytest.raises(ValueError, match=message):
        clsloc.compute(**kwargs)


def test_batches_in_two_forms_and_single_examples(clsloc):
    clsloc.add_batch(predictions=[[1, 2]], references=[2])
    with pytest.raises(ValueError, match=r"these inputs are in localization .* form but those added before were in classification"):
        clsloc.add_batch(predictions=[[guess(1, BOX)]], references=[[guess(1, BOX)]])
    with pytest.raises(ValueError, match=r"prediction\[1\] = 1.5: a label is an integer"):
        clsloc.add(prediction=[1, 1.5], reference=1)
    clsloc.add(prediction=[2], reference=2)
    assert clsloc.compute(max_guesses=2)["cls_error"] == [0.5, 0.0]


def test_the_checks_take_numpy_arrays_where_lists_go(clsloc):
    box = np.array([0.0, 0.0, 9.0, 9.0])
    predictions = [[{"label": np.array(1), "bbox": box}, {"label": np.int32(2), "bbox": box + 1}]]
    references = [[{"label": 2, "bbox": np.array([1, 1, 10, 10])}]]
    assert clsloc.compute(predictions=predictions, references=references, max_guesses=2)["clsloc_error"] == [1.0, 0.0]
    labels = clsloc.compute(predictions=[np.array([3, 1]), np.array([1, 2])], references=np.array([1, 2]), max_guesses=2)
    assert labels["cls_error"] == [1.0, 0.0]


# ----------------------------------------------------------------------------- encodings, BOMs, headers


def test_a_latin1_byte_is_named_with_its_file_and_line(first_five, ilsvrc_dir, labels, run_cli):
    write(first_five / "pred.txt", "\n".join(FIRST_IDS) + "\n")
    (first_five / "bad.txt").write_bytes((first_five / "pred.txt").read_bytes().replace(b"171", b"171 caf\xe9"))
    with pytest.raises(EvaluationFileError, match=r"bad.txt, line 3: byte 8 \(0xe9\) is not UTF-8 text"):
        read_predictions(first_five / "bad.txt", labels, [1, 2, 3, 4, 5])
    code, out, err = run_cli(*evaluate_first_five(first_five, ilsvrc_dir, "bad.txt"))
    assert code == 2 and out == "" and re.search(r"bad.txt, line 3: byte 8 \(0xe9\) is not UTF-8 text", err), err
    (first_five / "blacklist.txt").write_bytes(b"1\n2\xa0\n")
    with pytest.raises(EvaluationFileError, match=r"blacklist.txt, line 2: byte 2 \(0xa0\) is not UTF-8 text"):
        read_blacklist(first_five / "blacklist.txt", 5)


def test_a_latin1_byte_deep_in_the_kaggle_solution_names_its_line(ilsvrc_dir, tmp_path, labels):
    """Line 30,000 of the real 50,001-line file: decoding by chunks would name a line thousands before it."""
    lines = (ilsvrc_dir / "LOC_val_solution.csv").read_bytes().split(b"\n")
    lines[29_999] = lines[29_999].rstrip() + b" \xe9t\xe9"
    (tmp_path / "LOC_val_solution.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(EvaluationFileError, match=r"LOC_val_solution.csv, line 30000: byte \d+ \(0xe9\) is not UTF-8"):
        read_ground_truth(tmp_path / "LOC_val_solution.csv", labels)
    with pytest.raises(AnnotationError, match=r"LOC_val_solution.csv, line 30000: byte \d+ \(0xe9\) is not UTF-8"):
        read_solution_csv(str(tmp_path / "LOC_val_solution.csv"))


@pytest.mark.full_scale
def test_a_kaggle_csv_with_a_bom_and_a_lower_case_header_is_recognised(ilsvrc_dir, tmp_path, labels, run_cli):
    original = (ilsvrc_dir / "LOC_val_solution.csv").read_text()
    changed = tmp_path / "LOC_val_solution.csv"
    changed.write_text(original.replace("ImageId,PredictionString", "imageid, predictionstring", 1), encoding="utf-8-sig")
    assert changed.read_bytes().startswith(b"\xef\xbb\xbfimageid,")
    assert is_kaggle_csv(changed)
    theirs, ours = read_ground_truth(ilsvrc_dir / "LOC_val_solution.csv", labels), read_ground_truth(changed, labels)
    assert np.array_equal(ours.labels, theirs.labels) and np.array_equal(ours.boxes, theirs.boxes)
    assert read_solution_csv(str(changed)) == read_solution_csv(str(ilsvrc_dir / "LOC_val_solution.csv"))
    code, out, _ = run_cli(
        "evaluate", "--predictions", str(changed), "--ground-truth", str(changed),
        "--meta", str(ilsvrc_dir / "LOC_synset_mapping.txt"), "--json",
    )  # fmt: skip
    assert code == 0 and '"top5_clsloc_error": 0.0' in out


def test_a_near_miss_kaggle_header_is_an_error_about_the_header(tmp_path, labels):
    write(tmp_path / "sub.csv", "ImageId,Prediction\nILSVRC2012_val_00000001,n01751748\n")
    with pytest.raises(EvaluationFileError, match=r"sub.csv: expected the header 'ImageId,PredictionString', got 'ImageId,Prediction'"):
        read_predictions(tmp_path / "sub.csv", labels, [1])


# ----------------------------------------------------------------------------- ASCII numbers, bounded messages


def test_numbers_in_other_scripts_are_not_image_numbers(first_five, labels):
    write(first_five / "blacklist.txt", "1\n٣\n")  # Arabic-Indic 3: str.isdigit() says yes
    with pytest.raises(EvaluationFileError, match=r"blacklist.txt, line 2: expected one image number per line, got '٣'"):
        read_blacklist(first_five / "blacklist.txt", 5)
    write(first_five / "sub.csv", "ImageId,PredictionString\nILSVRC2012_val_0000000١,n01751748\n")
    with pytest.raises(EvaluationFileError, match=r"sub.csv, line 2: 'ILSVRC2012_val_0000000١' is not a validation ImageId"):
        read_predictions(first_five / "sub.csv", labels, [1])


def test_a_file_list_number_past_eight_digits_is_a_located_error(tmp_path):
    write(tmp_path / "filelist.txt", "1\n" + "9" * 30 + "\n")
    with pytest.raises(EvaluationFileError, match=r"filelist.txt, line 2: validation image number 9+ is out of range 1..99999999"):
        read_filelist(tmp_path / "filelist.txt")


def test_a_megabyte_token_is_cut_in_the_message(first_five, labels):
    write(first_five / "pred.txt", "\n".join(["7" * 1_000_000, *FIRST_IDS[1:]]) + "\n")
    with pytest.raises(EvaluationFileError) as error:
        read_predictions(first_five / "pred.txt", labels, [1, 2, 3, 4, 5], guesses="labels")
    assert "pred.txt, line 1: '7777" in str(error.value) and "(1000000 characters)" in str(error.value)
    assert len(str(error.value)) < 500
