"""``imagenet-tiny evaluate`` and ``imagenet-tiny subset`` as a user runs them, and the README section's commands."""

from __future__ import annotations

import csv
import doctest
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cli
from builder.classes import read_meta_clsloc
from builder.synthetic import write_meta_clsloc_mat
from metrics.devkit_files import devkit_prediction_line, write_lines
from tests import REPO_ROOT
from tests.readme import readme_section

README_SECTION = readme_section("Evaluation")
FISH = ("n01440764", "n01443537")  # tench, goldfish
SMALL_WNIDS = ("n02119789", "n02100735", "n02110185", "n02096294")  # the classes of ILSVRC2014_IDs 1..4


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- small files, by hand


@pytest.fixture
def small(tmp_path) -> Path:
    """Four images of IDs 1..4 (ImageNet's class table ships with the code) with XML boxes, and
    predictions with known errors."""
    write(tmp_path / "gt.txt", "1\n2\n3\n4\n")
    (tmp_path / "val").mkdir()
    for number, wnid in enumerate(SMALL_WNIDS, 1):
        write(
            tmp_path / "val" / f"ILSVRC2012_val_{number:08d}.xml",
            f"<annotation><object><name>{wnid}</name><bndbox><xmin>0</xmin><ymin>0</ymin>"
            "<xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>",
        )
    # Image 1: right first, located. Image 2: right second, box elsewhere. Image 3: right third, located
    # (blacklisted). Image 4: never right.
    write(tmp_path / "pred.txt", "1 0 0 9 9\n4 0 0 9 9 2 50 50 59 59\n1 0 0 9 9 2 0 0 9 9 3 1 1 9 9\n1 0 0 9 9\n")
    write(tmp_path / "blacklist.txt", "3\n")
    return tmp_path


def evaluate_small(small: Path) -> list[str]:
    """``evaluate`` on the small devkit files, with boxes and blacklist."""
    return [
        "evaluate", "--predictions", str(small / "pred.txt"), "--ground-truth", str(small / "gt.txt"),
        "--boxes", str(small / "val"), "--blacklist", str(small / "blacklist.txt"),
    ]


def test_table_by_hand(small, run_cli):
    code, out, err = run_cli(*evaluate_small(small), "--max-guesses", "3")
    # The layout is inferred, and the note says from what: line 1 has a 0, which no ILSVRC2014_ID is.
    assert code == 0 and err.startswith(
        f"note: {small / 'pred.txt'}: read as 'label xmin ymin xmax ymax' guesses "
        "(not as labels alone: line 1: '0' is not a known class"
    )
    # cls: k=1 3/4 missed, k=2 2/4, k=3 1/4. clsloc over 3 images (3 blacklisted): only image 1 located.
    assert out.splitlines() == [
        "CLASSIFICATION WITH LOCALIZATION TASK",
        f"pred_file: {small / 'pred.txt'}",
        f"ground_truth_file: {small / 'gt.txt'}",
        f"blacklist_file: {small / 'blacklist.txt'}",
        "eval_clsloc :: blacklisted 1 images",
        "# guesses vs clsloc error vs cls-only error",
        "    1.0000    0.6667    0.7500",
        "    2.0000    0.6667    0.5000",
        "    3.0000    0.6667    0.2500",
    ]


def test_table_without_blacklist(small, run_cli):
    code, out, _ = run_cli(
        "evaluate", "--predictions", str(small / "pred.txt"), "--ground-truth", str(small / "gt.txt"),
        "--boxes", str(small / "val"), "--max-guesses", "3",
    )  # fmt: skip
    assert code == 0
    # Image 3, no longer blacklisted, is located from its third guess on.
    assert out.splitlines()[3:] == [
        "blacklist_file: (none)",
        "eval_clsloc :: no blacklist",
        "# guesses vs clsloc error vs cls-only error",
        "    1.0000    0.7500    0.7500",
        "    2.0000    0.7500    0.5000",
        "    3.0000    0.5000    0.2500",
    ]


def test_labels_only_predictions_against_boxes(small, run_cli):
    write(small / "labels.txt", "1\n4 2\n1 2 3\n1\n")
    code, out, err = run_cli(
        "evaluate", "--predictions", str(small / "labels.txt"), "--ground-truth", str(small / "gt.txt"),
        "--boxes", str(small / "val"), "--guesses", "labels",
    )  # fmt: skip
    assert code == 0
    assert err == "note: the predictions have no boxes: classification error only\n"
    assert out.splitlines()[-6] == "# guesses vs cls error"


def test_labels_only_table_and_json(small, run_cli):
    write(small / "labels.txt", "1\n4 2\n1 2 3\n1\n")
    code, out, _ = run_cli(
        "evaluate", "--predictions", str(small / "labels.txt"), "--ground-truth", str(small / "gt.txt"), "--max-guesses", "2"
    )
    assert code == 0
    assert out.splitlines()[0] == "CLASSIFICATION TASK"
    assert out.splitlines()[-3:] == ["# guesses vs cls error", "    1.0000    0.7500", "    2.0000    0.5000"]
    code, out, _ = run_cli("evaluate", "--predictions", str(small / "labels.txt"), "--ground-truth", str(small / "gt.txt"), "--json")
    assert json.loads(out) == {"cls_error": [0.75, 0.5, 0.25, 0.25, 0.25], "top1_error": 0.75, "top5_error": 0.25}


def test_boxed_predictions_without_ground_truth_boxes_score_classification(small, run_cli):
    code, out, err = run_cli(
        "evaluate", "--predictions", str(small / "pred.txt"), "--ground-truth", str(small / "gt.txt"),
        "--guesses", "boxes", "--max-guesses", "3",
    )  # fmt: skip
    assert code == 0
    assert err == "note: the ground truth has no boxes (give --boxes): classification error only\n"
    assert out.splitlines()[-1] == "    3.0000    0.2500"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: write(d / "pred.txt", "1 0 0 9 9\n"), r"pred.txt: 1 lines, but there are 4 images to evaluate"),
        (lambda d: write(d / "pred.txt", "1 0 0 9 9\n2 0 0 9\n3 0 0 9 9\n4 0 0 9 9\n"), r"pred.txt reads neither .*line 2: 4 numbers"),
        (
            lambda d: write(d / "pred.txt", "1 0 0 9 9\n1001 0 0 9 9\n3 0 0 9 9\n4 0 0 9 9\n"),
            r"pred.txt reads neither .*line 2: '1001' is not a known class",
        ),
        (
            lambda d: write(d / "pred.txt", "1 0 0 9 9\n2 0 0 9 9\n3 9 0 0 9\n4 0 0 9 9\n"),
            r"pred.txt reads neither .*line 3, guess 1: box '9 0 0 9' has xmax < xmin",
        ),
        (
            lambda d: write(d / "pred.txt", "1 0 0 9 9\n2 0 0 9 9\n3 0 0 NaN 9\n4 0 0 9 9\n"),
            r"line 3, guess 1: box '0 0 NaN 9' must be four finite numbers",
        ),
        (lambda d: write(d / "blacklist.txt", "5\n"), r"blacklist.txt, line 1: image number 5 is out of range 1..4"),
        (lambda d: (d / "val" / "ILSVRC2012_val_00000004.xml").unlink(), r"no annotation ILSVRC2012_val_00000004.xml"),
        (lambda d: (d / "gt.txt").unlink(), r"No such file or directory: .*gt.txt"),
    ],
)
def test_bad_input_exits_2_with_the_reason(small, change, message, run_cli):
    change(small)
    code, out, err = run_cli(*evaluate_small(small))
    assert code == 2 and out == ""
    assert re.search(r"^imagenet-tiny evaluate: error: .*" + message, err), err


def test_max_guesses_must_be_positive(small, capsys):
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--predictions", "p", "--ground-truth", "g", "--max-guesses", "0"])
    assert "--max-guesses: 0 must be at least 1" in capsys.readouterr().err


def subset_small(small: Path, *choice: str) -> list[str]:
    """``subset`` of the small devkit files: the classes and name ``choice`` says, written to ``small/out``."""
    return [
        "subset", *choice, "--ground-truth", str(small / "gt.txt"),
        "--blacklist", str(small / "blacklist.txt"), "--output-dir", str(small / "out"),
    ]


def test_subset_command(small, monkeypatch, run_cli):
    code, out, err = run_cli(*subset_small(small, "--classes", f"{SMALL_WNIDS[1]},{SMALL_WNIDS[3]}", "--name", "even"))
    assert code == 0, err
    assert out.splitlines()[0] == "2 classes, 2 validation images"
    assert (small / "out" / "ILSVRC2014_clsloc_validation_ground_truth-even.txt").read_text() == "2\n4\n"
    assert (small / "out" / "ILSVRC2014_filelist-even.txt").read_text() == "2\n4\n"
    assert (small / "out" / "ILSVRC2014_clsloc_validation_blacklist-even.txt").read_text() == ""
    write(small / "classes.txt", f"{SMALL_WNIDS[2]}\n")
    code, out, _ = run_cli(*subset_small(small, "--classes-file", str(small / "classes.txt"), "--name", "three"))
    assert code == 0
    assert (small / "out" / "ILSVRC2014_clsloc_validation_blacklist-three.txt").read_text() == "1\n"
    # The devkit layout's defaults, relative to the current folder, name the missing file.
    monkeypatch.chdir(small)
    code, _, err = run_cli("subset", "--classes", SMALL_WNIDS[2], "--name", "x")
    assert code == 2 and "data/ILSVRC2014_clsloc_validation_ground_truth.txt" in err
    code, _, err = run_cli("subset", "--classes", " , ", "--name", "x")
    assert code == 2 and "--classes is empty" in err


# ----------------------------------------------------------------------------- the real validation ground truth


def random_classifier(path: Path, seed: int = 0) -> None:
    """Five distinct uniformly random classes per image, as ILSVRC2014_IDs."""
    rng = np.random.default_rng(seed)
    permutation = rng.permutation(1000) + 1
    start = rng.integers(0, 1000, 50_000)
    np.savetxt(path, permutation[(start[:, None] + np.arange(0, 1000, 200)) % 1000], fmt="%d")


def noisy_predictions(ilsvrc_dir: Path, path: Path, seed: int = 0) -> None:
    """Devkit predictions with boxes: the right class at a random rank (or not at all), its box jittered."""
    truth = np.loadtxt(ilsvrc_dir / "ILSVRC2014_clsloc_validation_ground_truth.txt", dtype=int)
    boxes = {}
    with open(ilsvrc_dir / "LOC_val_solution.csv", newline="") as f:
        for row in csv.DictReader(f):
            boxes[int(row["ImageId"][-8:])] = np.array(row["PredictionString"].split()[1:5], dtype=float)
    rng = np.random.default_rng(seed)
    lines = []
    for number, label in enumerate(truth, 1):
        ids = rng.integers(1, 1001, 5)
        rank = rng.choice(6, p=[0.5, 0.15, 0.1, 0.05, 0.05, 0.15])
        if rank < 5:
            ids[rank] = label
        box = boxes[number]
        size = np.tile(box[2:] - box[:2] + 1, 2)
        guess_boxes = np.round(box + rng.uniform(-0.25, 0.25, (5, 4)) * size)
        guess_boxes[:, 2:] = np.maximum(guess_boxes[:, 2:], guess_boxes[:, :2])
        lines.append(devkit_prediction_line(ids, guess_boxes))
    write_lines(path, lines)


def test_perfect_predictions_score_zero(ilsvrc_dir, run_cli):
    ground_truth = str(ilsvrc_dir / "ILSVRC2014_clsloc_validation_ground_truth.txt")
    code, out, _ = run_cli("evaluate", "--predictions", ground_truth, "--ground-truth", ground_truth)
    assert code == 0
    assert out.splitlines()[-6:] == ["# guesses vs cls error"] + [f"{k:10.4f}    0.0000" for k in range(1, 6)]


@pytest.mark.full_scale
def test_kaggle_solution_against_the_devkit_ground_truth(ilsvrc_dir, tmp_path, run_cli):
    """The Kaggle CSV (WNIDs, shuffled rows) and the devkit file (IDs, in order) agree image by image,
    with the shipped class table, or with the user's devkit or Kaggle table checked against it."""
    write_meta_clsloc_mat(read_meta_clsloc(ilsvrc_dir / "meta_clsloc.tsv"), tmp_path / "meta_clsloc.mat")
    for meta in ([], ["--meta", str(tmp_path / "meta_clsloc.mat")], ["--meta", str(ilsvrc_dir / "LOC_synset_mapping.txt")]):
        code, out, err = run_cli(
            "evaluate", "--predictions", str(ilsvrc_dir / "LOC_val_solution.csv"),
            "--ground-truth", str(ilsvrc_dir / "ILSVRC2014_clsloc_validation_ground_truth.txt"),
            "--boxes", str(ilsvrc_dir / "LOC_val_solution.csv"), *meta, "--json",
        )  # fmt: skip
        assert code == 0, err
        results = json.loads(out)
        assert results["cls_error"] == [0.0] * 5 and results["clsloc_error"] == [0.0] * 5


def test_random_classifier(ilsvrc_dir, tmp_path, run_cli):
    random_classifier(tmp_path / "random.txt")
    code, out, _ = run_cli(
        "evaluate", "--predictions", str(tmp_path / "random.txt"),
        "--ground-truth", str(ilsvrc_dir / "ILSVRC2014_clsloc_validation_ground_truth.txt"), "--json",
    )  # fmt: skip
    results = json.loads(out)
    assert results["top1_error"] == pytest.approx(0.999, abs=0.0006)  # 3 standard deviations
    assert results["top5_error"] == pytest.approx(0.995, abs=0.0011)


# ----------------------------------------------------------------------------- the README section


@pytest.fixture(scope="module")
def readme_workdir(ilsvrc_dir, tmp_path_factory) -> Path:
    """The files the README's commands name, in one folder: real ground truth, made-up predictions. The
    commands run in it one after the other, as the README shows them (the subset's files are evaluated).

    The real blacklist is not in ../shared: a stand-in blacklists every 29th image.
    """
    tmp_path = tmp_path_factory.mktemp("readme-evaluation")
    for name in ("ILSVRC2014_clsloc_validation_ground_truth.txt", "LOC_val_solution.csv", "LOC_synset_mapping.txt"):
        (tmp_path / name).symlink_to(ilsvrc_dir / name)
    write_meta_clsloc_mat(read_meta_clsloc(ilsvrc_dir / "meta_clsloc.tsv"), tmp_path / "meta_clsloc.mat")
    write_lines(tmp_path / "ILSVRC2014_clsloc_validation_blacklist.txt", (str(n) for n in range(29, 50_001, 29)))
    random_classifier(tmp_path / "random.txt")
    noisy_predictions(ilsvrc_dir, tmp_path / "predictions.txt")
    (tmp_path / "submission.csv").symlink_to(ilsvrc_dir / "LOC_val_solution.csv")
    # The fish subset's predictions: its lines of predictions.txt; its boxes as devkit XML files.
    truth = (ilsvrc_dir / "ILSVRC2014_clsloc_validation_ground_truth.txt").read_text().split()
    predictions = (tmp_path / "predictions.txt").read_text().splitlines()
    with open(ilsvrc_dir / "LOC_val_solution.csv", newline="") as f:
        solution = {int(row["ImageId"][-8:]): row["PredictionString"].split() for row in csv.DictReader(f)}
    fish = [n for n in range(1, 50_001) if solution[n][0] in FISH]
    write_lines(tmp_path / "predictions-fish.txt", (predictions[n - 1] for n in fish))
    for n in fish:
        objects = np.array(solution[n], dtype=object).reshape(-1, 5)
        body = "".join(
            f"<object><name>{w}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>"
            for w, a, b, c, d in objects
        )
        path = tmp_path / "ILSVRC2012_bbox_val_v3" / "val" / f"ILSVRC2012_val_{n:08d}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<annotation>{body}</annotation>")
    assert len(fish) == 100 and all(truth[n - 1] for n in fish)
    return tmp_path


def console_blocks(text: str) -> list[tuple[str, list[str]]]:
    """``(command, output lines)`` of each ``$ command`` in the ```console blocks."""
    commands = []
    for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                commands.append((line[2:], []))
            elif commands:
                commands[-1][1].append(line)
    return commands


CONSOLE_COMMANDS = console_blocks(README_SECTION)


def test_the_section_shows_commands_of_both_kinds():
    assert {command.split()[0] for command, _ in CONSOLE_COMMANDS} == {"imagenet-tiny", ".venv/bin/python"}
    assert len(CONSOLE_COMMANDS) >= 6


@pytest.mark.parametrize(
    "command, expected",
    [
        pytest.param(command, expected, id=command, marks=pytest.mark.e2e) for command, expected in CONSOLE_COMMANDS
    ],
)
def test_readme_section_command(command, expected, readme_workdir, run_cli):
    """Each ``$ command`` of the section prints what the README shows under it (where it shows something)."""
    argv = shlex.split(command)
    if argv[0] == ".venv/bin/python":
        result = subprocess.run([sys.executable, *argv[1:]], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        output = result.stdout
    else:
        code, output, err = run_cli(*argv[1:], cwd=readme_workdir)
        assert code == 0, f"{command}: {err}"
    if expected:
        assert output.splitlines() == expected, command


@pytest.mark.e2e
def test_readme_section_python_examples(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    code = "\n".join(re.findall(r"```python\n(.*?)```", README_SECTION, re.DOTALL))
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    runner.run(doctest.DocTestParser().get_doctest(code, {}, "README_SECTION", "README_SECTION.md", 0))
    results = runner.summarize(verbose=False)
    assert results.attempted >= 5 and results.failed == 0
