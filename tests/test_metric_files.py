"""The evaluation files: devkit and Kaggle readers and writers, the subset tool, prediction files from a dataset."""

from __future__ import annotations

import csv
from pathlib import Path

import datasets
import numpy as np
import pytest

from builder.classes import SEED_FIVE_CLASSES, ClassTableError, read_class_table, read_meta_clsloc
from builder.geometry import fit_geometry, tiny_boxes
from builder.synthetic import write_meta_clsloc_mat
from metrics.devkit_files import (
    EvaluationFileError,
    LabelSpace,
    attach_boxes,
    read_blacklist,
    read_boxes,
    read_class_list,
    read_filelist,
    read_ground_truth,
    read_predictions,
)
from metrics.predictions import prediction_rows, write_devkit_predictions, write_kaggle_predictions
from metrics.scoring import score_files
from metrics.subset import make_tiny_eval_clsloc, renumber_blacklist, subset_positions

# Three classes; ILSVRC2014_IDs are not in WNID order, as in the real devkit table.
TINY_META = "ILSVRC2014_ID\tWNID\twords\n1\tn02119789\tkit fox\n2\tn01440764\ttench\n3\tn01443537\tgoldfish\n"
KIT_FOX, TENCH, GOLDFISH = 2, 0, 1  # class indices (sorted WNIDs) of IDs 1, 2, 3


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def meta(tmp_path) -> Path:
    return write(tmp_path / "meta_clsloc.tsv", TINY_META)


@pytest.fixture
def labels(meta) -> LabelSpace:
    return LabelSpace(read_class_table(meta))


def voc(path: Path, objects: list[tuple[str, tuple[int, int, int, int]]]) -> None:
    body = "".join(
        f"<object><name>{wnid}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for wnid, (x0, y0, x1, y1) in objects
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<annotation><size><width>500</width><height>375</height></size>{body}</annotation>")


# ----------------------------------------------------------------------------- labels


def test_label_space_without_a_table_reads_ids_and_wnids_with_imagenets():
    space = LabelSpace()
    assert space.of_id("1", "here") == space.of_wnid("n02119789", "here")  # ID 1 is the kit fox
    assert space.of_id("449", "here") == space.of_wnid("n01440764", "here") == 0  # the tench, first in WNID order
    for token in ("0", "1001", "n01440764", "-3", "01"):
        with pytest.raises(
            EvaluationFileError,
            match=rf"here: '{token}' is not a known class: labels must be ILSVRC2014_IDs in 1..1000",
        ):
            space.of_id(token, "here")
    with pytest.raises(EvaluationFileError, match="here: 'n09999999' is not a class of the 1000 ILSVRC classes"):
        space.of_wnid("n09999999", "here")


def test_label_space_with_a_devkit_table_maps_ids_and_wnids_to_class_indices(labels):
    assert [labels.of_id(i, "x") for i in ("1", "2", "3")] == [KIT_FOX, TENCH, GOLDFISH]
    assert labels.of_wnid("n02119789", "x") == KIT_FOX
    with pytest.raises(
        EvaluationFileError, match=r"x: '4' is not a known class: labels must be ILSVRC2014_IDs in the class table's"
    ):
        labels.of_id("4", "x")
    with pytest.raises(EvaluationFileError, match=r"x: 'n09999999' is not a class of .*meta_clsloc.tsv"):
        labels.of_wnid("n09999999", "x")


def test_label_space_with_a_kaggle_table_cannot_read_ids(tmp_path):
    table = read_class_table(write(tmp_path / "LOC_synset_mapping.txt", "n01440764 tench\nn02119789 kit fox\n"))
    space = LabelSpace(table)
    assert space.of_wnid("n02119789", "x") == 1
    with pytest.raises(
        EvaluationFileError,
        match="x: devkit labels are ILSVRC2014_IDs, which .* does not give; pass the devkit's meta_clsloc.mat",
    ):
        space.of_id("1", "x")


def test_meta_clsloc_mat_reads_like_its_text_form(ilsvrc_dir, tmp_path):
    write_meta_clsloc_mat(read_meta_clsloc(ilsvrc_dir / "meta_clsloc.tsv"), tmp_path / "meta_clsloc.mat")
    from_mat = LabelSpace(read_class_table(tmp_path / "meta_clsloc.mat"))
    from_tsv = LabelSpace(read_class_table(ilsvrc_dir / "meta_clsloc.tsv"))
    ids = [str(i) for i in range(1, 1001)]
    assert [from_mat.of_id(i, "") for i in ids] == [from_tsv.of_id(i, "") for i in ids]
    assert from_mat.of_id("1", "") == from_mat.of_wnid("n02119789", "")  # ID 1 is the kit fox


# ----------------------------------------------------------------------------- devkit files


def test_devkit_ground_truth(tmp_path, labels):
    truth = read_ground_truth(write(tmp_path / "gt.txt", "3\n1\n2\n"), labels)
    assert truth.labels.tolist() == [GOLDFISH, KIT_FOX, TENCH]
    assert truth.image_numbers.tolist() == [1, 2, 3] and truth.images.tolist() == [0, 1, 2] and truth.boxes is None
    subset = read_ground_truth(tmp_path / "gt.txt", labels, image_numbers=[4, 9, 17])
    assert subset.image_numbers.tolist() == [4, 9, 17]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3\n1 2\n", r"gt.txt, line 2: expected one ILSVRC2014_ID, got '1 2'"),
        ("3\n\n2\n", r"gt.txt, line 2: expected one ILSVRC2014_ID, got ''"),
        ("3\n1\nfox\n", r"gt.txt, line 3: 'fox' is not a known class"),
        ("7\n", r"gt.txt, line 1: '7' is not a known class"),
    ],
)
def test_devkit_ground_truth_errors(tmp_path, labels, text, message):
    with pytest.raises(EvaluationFileError, match=message):
        read_ground_truth(write(tmp_path / "gt.txt", text), labels)


def test_devkit_ground_truth_against_a_file_list_of_another_length(tmp_path, labels):
    with pytest.raises(EvaluationFileError, match=r"gt.txt: 2 lines, but there are 3 images to evaluate"):
        read_ground_truth(write(tmp_path / "gt.txt", "1\n2\n"), labels, image_numbers=[1, 2, 3])


def test_devkit_predictions_with_boxes_ragged(tmp_path, labels):
    path = write(tmp_path / "pred.txt", "1 0 0 9 9 3 1.5 2 3.5 4\n\n2 5 5 5 5\n")
    predictions = read_predictions(path, labels, [1, 2, 3], guesses="boxes")
    assert predictions.num_guesses.tolist() == [2, 0, 1]
    assert predictions.labels[0].tolist() == [KIT_FOX, GOLDFISH] and predictions.labels[2, 0] == TENCH
    assert predictions.boxes[0].tolist() == [[0, 0, 9, 9], [1.5, 2, 3.5, 4]]
    assert predictions.boxes[2, 0].tolist() == [5, 5, 5, 5]


def test_devkit_predictions_labels_alone(tmp_path, labels):
    predictions = read_predictions(write(tmp_path / "pred.txt", "1 2 3\n3\n"), labels, [1, 2], guesses="labels")
    assert predictions.labels.tolist() == [[KIT_FOX, TENCH, GOLDFISH], [GOLDFISH, 0, 0]]
    assert predictions.num_guesses.tolist() == [3, 1] and predictions.boxes is None


@pytest.mark.parametrize(
    ("text", "boxes", "message"),
    [
        (
            "1\n2\n",
            False,
            r"pred.txt: 2 lines, but there are 3 images to evaluate: a devkit prediction file needs one line per image",
        ),
        ("1\n2\n3\n1\n", False, r"pred.txt: 4 lines, but there are 3 images"),
        (
            "1 0 0 9 9\n2 0 0 9\n3 0 0 1 1\n",
            True,
            r"pred.txt, line 2: 4 numbers, not a whole number of guesses 'label xmin ymin xmax ymax'",
        ),
        (
            "1 0 0 9 9\n2 0 0 nan 9\n3 0 0 1 1\n",
            True,
            r"pred.txt, line 2, guess 1: box '0 0 nan 9' must be four finite numbers",
        ),
        (
            "1 0 0 9 9\n2 0 0 9 9 3 8 0 7 9\n3 0 0 1 1\n",
            True,
            r"pred.txt, line 2, guess 2: box '8 0 7 9' has xmax < xmin",
        ),
        (
            "1 0 0 9 9\n2 0 0 9 9\n3 0 5 1 4\n",
            True,
            r"pred.txt, line 3, guess 1: box '0 5 1 4' has xmax < xmin or ymax < ymin",
        ),
        ("1 0 0 9 9\n2 0 0 9 x\n3 0 0 1 1\n", True, r"pred.txt, line 2, guess 1: box '0 0 9 x' must be four numbers"),
        ("1\n2 4\n3\n", False, r"pred.txt, line 2: '4' is not a known class"),
        ("1\n2\n0\n", False, r"pred.txt, line 3: '0' is not a known class"),
        ("1\n2\n2.0\n", False, r"pred.txt, line 3: '2.0' is not a known class"),
    ],
)
def test_devkit_prediction_errors(tmp_path, labels, text, boxes, message):
    with pytest.raises(EvaluationFileError, match=message):
        read_predictions(write(tmp_path / "pred.txt", text), labels, [1, 2, 3], guesses="boxes" if boxes else "labels")


def test_blacklist_and_file_list(tmp_path):
    assert read_blacklist(write(tmp_path / "bl.txt", "7\n2\n"), 7).tolist() == [1, 6]
    assert read_filelist(write(tmp_path / "fl.txt", "40\n3\n")).tolist() == [40, 3]
    assert read_blacklist(write(tmp_path / "empty.txt", ""), 3).tolist() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8\n", r"bl.txt, line 1: image number 8 is out of range 1..7"),
        ("1\n0\n", r"bl.txt, line 2: image number 0 is out of range 1..7"),
        ("2\n5\n2\n", r"bl.txt, line 3: image number 2 repeats line 1"),
        ("2\nthree\n", r"bl.txt, line 2: expected one image number per line, got 'three'"),
        ("2\n-1\n", r"bl.txt, line 2: expected one image number per line, got '-1'"),
    ],
)
def test_blacklist_errors(tmp_path, text, message):
    with pytest.raises(EvaluationFileError, match=message):
        read_blacklist(write(tmp_path / "bl.txt", text), 7)


def test_class_list(tmp_path):
    assert read_class_list(write(tmp_path / "c.txt", "n01440764\n\nn02119789 kit fox\n")) == ["n01440764", "n02119789"]
    with pytest.raises(EvaluationFileError, match=r"c.txt, line 2: expected a WNID like n01440764, got 'tench'"):
        read_class_list(write(tmp_path / "c.txt", "n01440764\ntench\n"))


# ----------------------------------------------------------------------------- Kaggle files and XML boxes

SOLUTION = (
    "ImageId,PredictionString\n"
    "ILSVRC2012_val_00000002,n01440764 10 20 30 40 n01440764 0 0 5 5 \n"
    "ILSVRC2012_val_00000001,n02119789 1 2 3 4 \n"
)


def test_kaggle_ground_truth_in_image_order(tmp_path, labels):
    truth = read_ground_truth(write(tmp_path / "LOC_val_solution.csv", SOLUTION), labels)
    assert truth.image_numbers.tolist() == [1, 2]
    assert truth.labels.tolist() == [KIT_FOX, TENCH, TENCH]
    assert truth.images.tolist() == [0, 1, 1]
    assert truth.boxes.tolist() == [[1, 2, 3, 4], [10, 20, 30, 40], [0, 0, 5, 5]]
    only_second = read_ground_truth(tmp_path / "LOC_val_solution.csv", labels, image_numbers=[2, 1])
    assert only_second.labels.tolist() == [TENCH, TENCH, KIT_FOX]


def test_kaggle_predictions(tmp_path, labels):
    path = write(
        tmp_path / "sub.csv",
        "ImageId,PredictionString\nILSVRC2012_val_00000002,n01443537 n01440764\nILSVRC2012_val_00000001,\n",
    )
    predictions = read_predictions(path, labels, [1, 2], guesses="boxes")  # guesses only concerns devkit files
    assert predictions.num_guesses.tolist() == [0, 2]
    assert predictions.labels[1].tolist() == [GOLDFISH, TENCH] and predictions.boxes is None
    with_boxes = read_predictions(write(tmp_path / "loc.csv", SOLUTION), labels, [2, 1], guesses="labels")
    assert with_boxes.labels.tolist() == [[TENCH, TENCH], [KIT_FOX, 0]]
    assert with_boxes.boxes[1, 0].tolist() == [1, 2, 3, 4]


HEADER = "ImageId,PredictionString\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEADER + "ILSVRC2012_val_00000001,n01440764\nILSVRC2012_val_00000001,n01440764\n",
            r"sub.csv, line 3: ILSVRC2012_val_00000001 repeats line 2",
        ),
        (
            HEADER + "ILSVRC2012_val_00000001,n01440764\n",
            r"sub.csv: no row for 1 of the 2 images to evaluate, e.g. ILSVRC2012_val_00000002",
        ),
        (
            HEADER
            + "ILSVRC2012_val_00000001,n01440764\nILSVRC2012_val_00000002,n01440764\nILSVRC2012_val_00000005,n01440764\n",
            r"sub.csv: 1 row\(s\) for images that are not evaluated, e.g. ILSVRC2012_val_00000005 \(line 4\)",
        ),
        (
            HEADER + "ILSVRC2012_val_00000001,n01440764 1 1 2 2\nILSVRC2012_val_00000002,n01440764\n",
            r"sub.csv: line 3, guess 1 has no box but line 2, guess 1 has one: give a box for every guess or for none",
        ),
        (
            HEADER + "ILSVRC2012_val_00000001,tench\nILSVRC2012_val_00000002,n01440764\n",
            r"sub.csv, line 2: expected a WNID like n01440764 first, got 'tench'",
        ),
        (
            HEADER + "ILSVRC2012_val_00000001,n01440764 1 2\nILSVRC2012_val_00000002,n01440764\n",
            r"sub.csv, line 2: guess 1 \(n01440764\) has 2 numbers after it",
        ),
        (
            HEADER + "ILSVRC2012_val_00000001,n01440764 1 2 0 4\nILSVRC2012_val_00000002,n01440764 1 1 1 1\n",
            r"sub.csv, line 2, guess 1: box '1 2 0 4' has xmax < xmin",
        ),
        (
            HEADER + "ILSVRC2012_val_00000001,n09999999\nILSVRC2012_val_00000002,n01440764\n",
            r"sub.csv, line 2: 'n09999999' is not a class of",
        ),
        (
            HEADER + "val_1,n01440764\nILSVRC2012_val_00000002,n01440764\n",
            r"sub.csv, line 2: 'val_1' is not a validation ImageId",
        ),
        (
            HEADER + "ILSVRC2012_val_00000001,n01440764,extra\n",
            r"sub.csv, line 2: expected 'ImageId,PredictionString', got 3 fields",
        ),
    ],
)
def test_kaggle_prediction_errors(tmp_path, labels, text, message):
    with pytest.raises(EvaluationFileError, match=message):
        read_predictions(write(tmp_path / "sub.csv", text), labels, [1, 2], guesses="boxes")


def test_kaggle_ground_truth_needs_boxes(tmp_path, labels):
    with pytest.raises(EvaluationFileError, match=r"gt.csv, line 2, object 1: no box"):
        read_ground_truth(write(tmp_path / "gt.csv", HEADER + "ILSVRC2012_val_00000001,n01440764\n"), labels)
    with pytest.raises(
        EvaluationFileError, match=r"gt.csv, line 2: ILSVRC2012_val_00000001 has no ground-truth object"
    ):
        read_ground_truth(write(tmp_path / "gt.csv", HEADER + "ILSVRC2012_val_00000001,\n"), labels)


def test_xml_boxes_attach_to_the_devkit_ground_truth(tmp_path, labels):
    folder = tmp_path / "val"
    voc(folder / "ILSVRC2012_val_00000001.xml", [("n02119789", (1, 2, 30, 40)), ("n02119789", (5, 5, 9, 9))])
    voc(folder / "ILSVRC2012_val_00000002.xml", [("n01440764", (0, 0, 99, 99))])
    truth = read_ground_truth(write(tmp_path / "gt.txt", "1\n2\n"), labels)
    boxed = attach_boxes(truth, read_boxes(folder, labels, truth.image_numbers), folder, labels)
    assert boxed.labels.tolist() == [KIT_FOX, KIT_FOX, TENCH]
    assert boxed.images.tolist() == [0, 0, 1]
    assert boxed.boxes.tolist() == [[1, 2, 30, 40], [5, 5, 9, 9], [0, 0, 99, 99]]

    wrong = read_ground_truth(write(tmp_path / "wrong.txt", "1\n3\n"), labels)
    with pytest.raises(
        EvaluationFileError,
        match=r"image ILSVRC2012_val_00000002 has boxes of n01440764 but the ground truth says n01443537",
    ):
        attach_boxes(wrong, read_boxes(folder, labels, wrong.image_numbers), folder, labels)
    with pytest.raises(
        EvaluationFileError, match=r"val: the boxes are not for the ground truth's images, in its order"
    ):
        attach_boxes(truth, read_boxes(folder, labels, [2, 1]), folder, labels)
    with pytest.raises(
        EvaluationFileError, match=r"val: no annotation ILSVRC2012_val_00000003.xml for validation image 3"
    ):
        read_boxes(folder, labels, [1, 2, 3])


def test_xml_errors(tmp_path, labels):
    folder = tmp_path / "val"
    folder.mkdir()
    write(folder / "ILSVRC2012_val_00000001.xml", "<annotation><object><name>n01440764</name></object></annotation>")
    with pytest.raises(
        ValueError,
        match=r"ILSVRC2012_val_00000001.xml, object 1: expected <bndbox> with numeric xmin, ymin, xmax, ymax",
    ):
        read_boxes(folder, labels, [1])
    write(folder / "ILSVRC2012_val_00000001.xml", "<annotation><object>")
    with pytest.raises(ValueError, match=r"ILSVRC2012_val_00000001.xml: not an XML annotation"):
        read_boxes(folder, labels, [1])
    voc(folder / "ILSVRC2012_val_00000001.xml", [("n01440764", (5, 0, 4, 9))])
    with pytest.raises(
        ValueError, match=r"ILSVRC2012_val_00000001.xml, object 1: box '5 0 4 9' has xmax < xmin"
    ):
        read_boxes(folder, labels, [1])
    with pytest.raises(
        EvaluationFileError, match=r"boxes come from a folder of devkit XML files .* or a Kaggle LOC_val_solution.csv"
    ):
        read_boxes(write(tmp_path / "boxes.txt", "1 2 3 4\n"), labels, [1])


# ----------------------------------------------------------------------------- the subset tool


def test_subset_by_hand(tmp_path, meta):
    ground_truth = write(tmp_path / "gt.txt", "1\n2\n3\n1\n2\n3\n3\n1\n2\n2\n")
    blacklist = write(tmp_path / "bl.txt", "2\n4\n7\n10\n")
    written = make_tiny_eval_clsloc(
        ["n02119789", "n01443537"], "two", ground_truth, read_class_table(meta), blacklist, tmp_path / "out"
    )
    assert Path(written.ground_truth).name == "ILSVRC2014_clsloc_validation_ground_truth-two.txt"
    assert Path(written.blacklist).name == "ILSVRC2014_clsloc_validation_blacklist-two.txt"
    assert Path(written.filelist).name == "ILSVRC2014_filelist-two.txt"
    # Images of IDs 1 (kit fox) and 3 (goldfish): lines 1, 3, 4, 6, 7, 8.
    assert Path(written.ground_truth).read_text() == "1\n3\n1\n3\n3\n1\n"
    assert Path(written.filelist).read_text() == "1\n3\n4\n6\n7\n8\n"
    # Blacklisted 4 and 7 are in the subset, at positions 3 and 5; 2 and 10 are not.
    assert Path(written.blacklist).read_text() == "3\n5\n"
    assert (written.num_images, written.num_blacklisted) == (6, 2)
    without = make_tiny_eval_clsloc(
        ["n01440764"], "tench", ground_truth, read_class_table(meta), None, tmp_path / "out"
    )
    assert Path(without.blacklist).read_text() == "" and Path(without.filelist).read_text() == "2\n5\n9\n10\n"


def test_subset_helpers():
    positions = subset_positions(np.array([5, 1, 5, 2, 1]), [1, 2])
    assert positions.tolist() == [1, 3, 4]
    assert renumber_blacklist(np.array([0, 3, 4]), positions).tolist() == [2, 3]


def test_subset_errors(tmp_path, meta):
    table = read_class_table(meta)
    ground_truth = write(tmp_path / "gt.txt", "1\n2\n")
    with pytest.raises(ClassTableError, match="1 requested class\\(es\\) are not in .*: n09999999"):
        make_tiny_eval_clsloc(["n09999999"], "x", ground_truth, table, None, tmp_path)
    with pytest.raises(ValueError, match="subset name 'a/b' must be letters, digits"):
        make_tiny_eval_clsloc(["n02119789"], "a/b", ground_truth, table, None, tmp_path)
    with pytest.raises(ValueError, match="gt.txt: no image is of the 1 requested class"):
        make_tiny_eval_clsloc(["n01443537"], "x", ground_truth, table, None, tmp_path)
    kaggle = read_class_table(write(tmp_path / "LOC_synset_mapping.txt", "n01440764 tench\n"))
    with pytest.raises(ClassTableError, match="has no ILSVRC2014_IDs"):
        make_tiny_eval_clsloc(["n01440764"], "x", ground_truth, kaggle, None, tmp_path)
    with pytest.raises(EvaluationFileError, match=r"bl.txt, line 1: image number 3 is out of range 1..2"):
        make_tiny_eval_clsloc(["n02119789"], "x", ground_truth, table, write(tmp_path / "bl.txt", "3\n"), tmp_path)


def test_subset_of_the_real_ground_truth(ilsvrc_dir, tmp_path):
    table = read_class_table(ilsvrc_dir / "meta_clsloc.tsv")
    written = make_tiny_eval_clsloc(
        SEED_FIVE_CLASSES, "seed5", ilsvrc_dir / "ILSVRC2014_clsloc_validation_ground_truth.txt", table, None, tmp_path
    )
    assert written.num_images == 250  # 50 validation images per class
    numbers = [int(n) for n in Path(written.filelist).read_text().split()]
    assert numbers == sorted(numbers)
    # Cross-check with the Kaggle solution, an independent source of the same labels.
    with open(ilsvrc_dir / "LOC_val_solution.csv", newline="") as f:
        kaggle = {int(row["ImageId"][-8:]): row["PredictionString"].split()[0] for row in csv.DictReader(f)}
    assert {n for n, wnid in kaggle.items() if wnid in SEED_FIVE_CLASSES} == set(numbers)
    id_of = dict(zip(table.wnids, table.ilsvrc2014_ids))
    assert [int(i) for i in Path(written.ground_truth).read_text().split()] == [id_of[kaggle[n]] for n in numbers]


# ----------------------------------------------------------------------------- prediction files from a dataset


def test_prediction_files_by_hand(tmp_path, meta, tiny_dataset):
    dataset = tiny_dataset(
        ["ILSVRC2012_val_00000003", "ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002"],
        [(80, 40), (100, 50), (100, 50)],
    )
    labels = [[2, 0], [1], [0, 1, 2]]
    boxes = [[[1, 1, 3, 2], [0, 0, 8, 8]], [[0, 0, 8, 8]], [[0, 2, 8, 6], [0, 0, 8, 8], [4, 4, 4, 4]]]

    # squash: 80x40 -> 8x8 scales x by 10 and y by 5; edges [10, 5, 30, 10] are inclusive pixels [10, 5, 29, 9].
    rows = prediction_rows(dataset, labels, boxes, "8x8-gray-3-squash")
    assert rows.image_ids == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002", "ILSVRC2012_val_00000003"]
    assert rows.wnids == [["n01443537"], ["n01440764", "n01443537", "n02119789"], ["n02119789", "n01440764"]]
    assert rows.boxes[2].tolist() == [[10, 5, 29, 9], [0, 0, 79, 39]]
    # A zero-size box still names the pixel it starts in.
    assert rows.boxes[1][2].tolist() == [50, 25, 50, 25]

    # crop: 100x50 -> 8x8 keeps x in [25, 75); the whole tiny image is original pixels 25..74 x 0..49.
    assert prediction_rows(dataset, labels, boxes, "8x8-gray-3").boxes[0].tolist() == [[25, 0, 74, 49]]
    # pad: 100x50 -> 8x4 inside rows 2..6; a box over the black bars is clipped to the image.
    padded = prediction_rows(dataset, labels, boxes, "8x8-gray-3-pad")
    assert padded.boxes[1][:2].tolist() == [[0, 0, 99, 49], [0, 0, 99, 49]]

    write_devkit_predictions(tmp_path / "pred.txt", rows, read_class_table(meta))
    assert (
        (tmp_path / "pred.txt").read_text()
        == (
            "3 0 0 99 49\n"
            "2 0 12 99 36 3 0 0 99 49 1 50 25 50 25\n"  # y: 2 and 6 tiny rows are 12.5 and 37.5 (inclusive 36.5), rounded to even
            "1 10 5 29 9 2 0 0 79 39\n"
        )
    )
    write_kaggle_predictions(tmp_path / "sub.csv", rows)
    assert (tmp_path / "sub.csv").read_text().splitlines()[:2] == [
        "ImageId,PredictionString",
        "ILSVRC2012_val_00000001,n01443537 0 0 99 49",
    ]
    write_devkit_predictions(tmp_path / "labels.txt", prediction_rows(dataset, labels), read_class_table(meta))
    assert (tmp_path / "labels.txt").read_text() == "3\n2 3 1\n1 2\n"


def test_prediction_file_errors(tmp_path, meta, tiny_dataset):
    dataset = tiny_dataset(["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002"], [(100, 50), (100, 50)])
    with pytest.raises(ValueError, match="1 predictions for a dataset of 2 examples"):
        prediction_rows(dataset, [[0]])
    with pytest.raises(ValueError, match=r"labels\[1\]\[1\] = 3 is not a class index of the dataset \(0..2\)"):
        prediction_rows(dataset, [[0], [1, 3]])
    with pytest.raises(ValueError, match="boxes need the dataset's config name"):
        prediction_rows(dataset, [[0], [1]], [[[0, 0, 1, 1]], [[0, 0, 1, 1]]])
    with pytest.raises(ValueError, match="example 1 has 1 guessed labels but 2 boxes"):
        prediction_rows(dataset, [[0], [1]], [[[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 1, 1]]], "8x8-gray-3")
    with pytest.raises(ValueError, match=r"boxes\[1\]\[0\] = \[0.0, 0.0, nan, 1.0\] must be finite"):
        prediction_rows(dataset, [[0], [1]], [[[0, 0, 1, 1]], [[0, 0, float("nan"), 1]]], "8x8-gray-3")
    with pytest.raises(ValueError, match="is not an ImageNet-tiny config name"):
        prediction_rows(dataset, [[0], [1]], [[[0, 0, 1, 1]], [[0, 0, 1, 1]]], "8x8")
    with pytest.raises(ValueError, match="lacks column\\(s\\) original_width"):
        prediction_rows(dataset.remove_columns("original_width"), [[0], [1]])
    kaggle_table = read_class_table(write(tmp_path / "LOC_synset_mapping.txt", "n01440764 tench\n"))
    with pytest.raises(ClassTableError, match="has no ILSVRC2014_IDs: devkit files need meta_clsloc.mat"):
        write_devkit_predictions(tmp_path / "p.txt", prediction_rows(dataset, [[0], [1]]), kaggle_table)


def test_prediction_files_round_trip_on_real_boxes(ilsvrc_dir, tmp_path):
    """Real boxes taken to tiny coordinates and back score as perfect, in both formats, on a subset."""
    with open(ilsvrc_dir / "LOC_val_solution.csv", newline="") as f:
        solution = {row["ImageId"]: row["PredictionString"].split() for row in csv.DictReader(f)}
    table = read_class_table(ilsvrc_dir / "meta_clsloc.tsv")
    image_ids = sorted(solution)[:40:2]
    dataset_rows, labels, boxes = [], [], []
    for image_id in reversed(image_ids):  # dataset order need not be validation order
        tokens = solution[image_id]
        objects = np.array(tokens, dtype=object).reshape(-1, 5)
        original = objects[:, 1:].astype(int)
        size = (int(original[:, 2].max()) + 8, int(original[:, 3].max()) + 3)
        dataset_rows.append((image_id, size))
        labels.append([table.index(w) for w in objects[:, 0]])
        boxes.append(tiny_boxes(fit_geometry(size, (64, 48), "squash"), original).tolist())
    dataset = datasets.Dataset.from_dict(
        {
            "image_id": [i for i, _ in dataset_rows],
            "label": [0] * len(dataset_rows),
            "original_width": [s[0] for _, s in dataset_rows],
            "original_height": [s[1] for _, s in dataset_rows],
        },
        features=datasets.Features(
            {
                "image_id": datasets.Value("string"),
                "label": datasets.ClassLabel(names=list(table.wnids)),
                "original_width": datasets.Value("int32"),
                "original_height": datasets.Value("int32"),
            }
        ),
    )
    rows = prediction_rows(dataset, labels, boxes, "64x48-sRGB-full-squash")
    numbers = [int(i[-8:]) for i in image_ids]
    write(tmp_path / "filelist.txt", "".join(f"{n}\n" for n in numbers))
    truth = (ilsvrc_dir / "ILSVRC2014_clsloc_validation_ground_truth.txt").read_text().split()
    write(tmp_path / "gt.txt", "".join(f"{truth[n - 1]}\n" for n in numbers))
    write_devkit_predictions(tmp_path / "pred.txt", rows, table)
    write_kaggle_predictions(tmp_path / "sub.csv", rows)
    for predictions in ("pred.txt", "sub.csv"):
        score = score_files(
            tmp_path / predictions,
            tmp_path / "gt.txt",
            boxes=ilsvrc_dir / "LOC_val_solution.csv",
            meta=ilsvrc_dir / "meta_clsloc.tsv",
            filelist=tmp_path / "filelist.txt",
        )
        assert score.results["cls_error"] == [0.0] * 5 and score.results["clsloc_error"] == [0.0] * 5, predictions
        assert score.num_images == 20
    with pytest.raises(ValueError, match="guesses must be 'labels' or 'boxes', got 'box'"):
        score_files(tmp_path / "pred.txt", tmp_path / "gt.txt", guesses="box")
    # Guesses shifted by half their size no longer locate anything (IoU at most 1/3).
    shifted = [[[x0 + (x1 - x0) / 2, y0, x1 + (x1 - x0) / 2, y1] for x0, y0, x1, y1 in image] for image in boxes]
    write_devkit_predictions(
        tmp_path / "shifted.txt", prediction_rows(dataset, labels, shifted, "64x48-sRGB-full-squash"), table
    )
    # Every number of this file is an ILSVRC2014_ID (no coordinate is 0 or past 1000): it reads as labels
    # alone too, so the layout must be given.
    score = score_files(
        tmp_path / "shifted.txt",
        tmp_path / "gt.txt",
        boxes=ilsvrc_dir / "LOC_val_solution.csv",
        meta=ilsvrc_dir / "meta_clsloc.tsv",
        filelist=tmp_path / "filelist.txt",
        guesses="boxes",
    )
    assert score.results["cls_error"] == [0.0] * 5 and score.results["clsloc_error"] == [1.0] * 5
