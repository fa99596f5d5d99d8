"""The ILSVRC clsloc metric: the evaluate module, its pure function, and the devkit's semantics by hand."""

from __future__ import annotations

import doctest
import importlib.util
import re
import sys
import time
from pathlib import Path

import evaluate
import numpy as np
import pytest
from evaluate.loading import get_imports

from metrics.imagenet_clsloc import imagenet_clsloc
from metrics.imagenet_clsloc.imagenet_clsloc import box_overlaps, clsloc_errors, pad_guesses

REPO_ROOT = Path(__file__).resolve().parent.parent
METRIC_DIR = REPO_ROOT / "metrics" / "imagenet_clsloc"
BENCHMARK = REPO_ROOT / "benchmarks" / "bench_metric.py"


def guess(label: int, box: list[float]) -> dict:
    return {"label": label, "bbox": box}


@pytest.fixture
def clsloc() -> evaluate.EvaluationModule:
    # A fresh one per test: after a failed add_batch, evaluate keeps the half-written batch's state.
    # In memory: a failed compute leaves evaluate's cache-file lock held, and the next load waits on it.
    return evaluate.load(str(METRIC_DIR), keep_in_memory=True)


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_metric", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- loading and documentation


def test_loads_by_relative_and_absolute_path(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    relative = evaluate.load("metrics/imagenet_clsloc")
    absolute = evaluate.load(str(METRIC_DIR.resolve()))
    for metric in (relative, absolute):
        assert isinstance(metric, evaluate.Metric)
        assert metric.name == "imagenet_clsloc"
        assert "Russakovsky" in metric.citation
        assert metric.compute(predictions=[[1, 2]], references=[2], max_guesses=2)["cls_error"] == [1.0, 0.0]


def test_module_is_self_contained():
    """evaluate copies the script alone: only the standard library and these, one import per line, nothing relative."""
    imports = get_imports(str(METRIC_DIR / "imagenet_clsloc.py"))
    assert {kind for kind, _, _, _ in imports} == {"library"}
    assert {name for _, name, _, _ in imports} - set(sys.stdlib_module_names) <= {"datasets", "numpy", "evaluate"}
    source = (METRIC_DIR / "imagenet_clsloc.py").read_text()
    assert not re.search(r"^\s*(from\s+\S+\s+)?import\s+[^#\n]*,", source, re.MULTILINE)


def _run_doctests(text: str, name: str, monkeypatch) -> doctest.TestResults:
    monkeypatch.chdir(REPO_ROOT)  # the examples load the metric by its relative path
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(doctest.DocTestParser().get_doctest(text, {}, name, name, 0))
    return runner.summarize(verbose=False)


def test_docstring_examples_run(monkeypatch):
    results = _run_doctests(imagenet_clsloc._KWARGS_DESCRIPTION, "_KWARGS_DESCRIPTION", monkeypatch)
    assert results.attempted >= 10 and results.failed == 0


def test_metric_card_examples_run(monkeypatch):
    card = (METRIC_DIR / "README.md").read_text()
    assert card.startswith("---\ntitle: ImageNet CLS-LOC\n")
    for section in (
        "## Metric Description",
        "## How to Use",
        "### Inputs",
        "### Output Values",
        "### Examples",
        "## Limitations and Bias",
        "## Citation",
    ):
        assert section in card
    code = "\n".join(block for block in re.findall(r"```python\n(.*?)```", card, re.DOTALL) if ">>>" in block)
    results = _run_doctests(code, "README.md", monkeypatch)
    assert results.attempted >= 20 and results.failed == 0


# ----------------------------------------------------------------------------- hand-computed semantics


def test_classification_by_hand():
    # Image 0: label 7 at guess 2. Image 1: label 1 never. Image 2: label 4 at guess 1, one guess only.
    pred, _, counts = pad_guesses([3, 2, 1], [3, 7, 9, 2, 5, 4])
    result = clsloc_errors(pred, [7, 1, 4], num_guesses=counts, max_guesses=3)
    assert result == {"cls_error": [2 / 3, 1 / 3, 1 / 3], "top1_error": 2 / 3}


def test_fewer_guesses_than_k_and_none_at_all():
    # Image 0 has one (right) guess, image 1 none: k beyond the guesses changes nothing.
    pred, _, counts = pad_guesses([1, 0], [8])
    result = clsloc_errors(pred, [8, 2], num_guesses=counts)
    assert result["cls_error"] == [0.5] * 5
    assert result["top5_error"] == 0.5
    empty, _, counts = pad_guesses([0, 0], [])
    assert clsloc_errors(empty, [1, 2], num_guesses=counts)["cls_error"] == [1.0] * 5


def test_guesses_past_max_guesses_are_ignored():
    pred = [[1, 2, 3, 4, 5, 9]]  # the right label is the 6th guess
    assert clsloc_errors(pred, [9])["cls_error"] == [1.0] * 5
    assert clsloc_errors(pred, [9], max_guesses=6)["cls_error"] == [1.0] * 5 + [0.0]


def test_several_labels_per_image_average_within_the_image():
    # Image 0 has labels 1 and 2 (three objects); guesses 1 then 3: half its labels are missed.
    # Image 1 has label 5, guessed second.
    result = clsloc_errors([[1, 3], [4, 5]], [1, 2, 1, 5], gt_images=[0, 0, 0, 1], max_guesses=2)
    assert result["cls_error"] == [(0.5 + 1) / 2, (0.5 + 0) / 2]


def test_several_boxes_and_several_guesses_of_one_label():
    boxes_gt = [[0, 0, 9, 9], [100, 100, 199, 199]]
    # Guess 1: label 3, misses both boxes; guess 2: label 3, IoU 0.81 with the second box (devkit widths 100 and 90).
    pred_boxes = [[[50, 50, 59, 59], [100, 100, 189, 189], [0, 0, 9, 9]]]
    result = clsloc_errors(
        [[3, 3, 4]], [3, 3], gt_images=[0, 0], pred_boxes=pred_boxes, gt_boxes=boxes_gt, max_guesses=3
    )
    assert result["cls_error"] == [0.0, 0.0, 0.0]
    assert result["clsloc_error"] == [1.0, 0.0, 0.0]
    # The right box under the wrong label does not count (guess 3 has label 4 on box 1).
    result = clsloc_errors(
        [[4, 3]],
        [3, 3],
        gt_images=[0, 0],
        pred_boxes=[[[0, 0, 9, 9], [50, 50, 59, 59]]],
        gt_boxes=boxes_gt,
        max_guesses=2,
    )
    assert result["clsloc_error"] == [1.0, 1.0]


def test_boxes_of_another_ground_truth_label_do_not_locate():
    # Image with labels 1 (box A) and 2 (box B): a guess of 1 on box B locates nothing.
    box_a, box_b = [0, 0, 9, 9], [50, 50, 59, 59]
    result = clsloc_errors(
        [[1, 2]], [1, 2], gt_images=[0, 0], pred_boxes=[[box_b, box_b]], gt_boxes=[box_a, box_b], max_guesses=2
    )
    assert result["cls_error"] == [0.5, 0.0]
    assert result["clsloc_error"] == [1.0, 0.5]


def test_blacklist_counts_zero_and_leaves_the_denominator():
    box = [0, 0, 9, 9]
    far = [50, 50, 59, 59]
    # Image 0 located; image 1 right label, wrong place; image 2 wrong label (blacklisted); image 3 wrong place.
    pred = [[1], [2], [9], [4]]
    pred_boxes = [[box], [far], [box], [far]]
    gt_boxes = [box] * 4
    result = clsloc_errors(pred, [1, 2, 3, 4], pred_boxes=pred_boxes, gt_boxes=gt_boxes, blacklist=[2], max_guesses=1)
    assert result["cls_error"] == [0.25]  # blacklisted images still count for classification
    assert result["clsloc_error"] == [2 / 3]
    unlisted = clsloc_errors(pred, [1, 2, 3, 4], pred_boxes=pred_boxes, gt_boxes=gt_boxes, max_guesses=1)
    assert unlisted["clsloc_error"] == [0.75]


def test_devkit_overlap_formula():
    # Inclusive pixels: [0,0,9,9] is 10x10; with [5,0,14,9] the intersection is 5x10, the union 150.
    assert box_overlaps(np.array([0, 0, 9, 9.0]), np.array([5, 0, 14, 9.0])) == pytest.approx(50 / 150)
    assert box_overlaps(np.array([0, 0, 10, 10.0]), np.array([5, 0, 15, 10.0]), "continuous") == pytest.approx(50 / 150)
    # Touching boxes share one pixel column in the devkit convention, nothing as edges.
    assert box_overlaps(np.array([0, 0, 9, 9.0]), np.array([9, 0, 18, 9.0])) == pytest.approx(10 / 190)
    assert box_overlaps(np.array([0, 0, 9, 9.0]), np.array([9, 0, 18, 9.0]), "continuous") == -1.0
    assert box_overlaps(np.array([0, 0, 9, 9.0]), np.array([20, 20, 29, 29.0])) == -1.0


@pytest.mark.parametrize(
    ("pred_box", "gt_box", "devkit_error", "continuous_error"),
    [
        ([0, 0, 9, 9], [0, 0, 4, 9], 0.0, 1.0),  # exactly 0.5 in the devkit, a hit (>= 0.5); 36/81 as edges
        ([0, 0, 10, 10], [0, 0, 5, 10], 0.0, 0.0),  # IoU exactly 0.5 as edges
        ([0, 0, 9, 9], [0, 0, 3, 9], 1.0, 1.0),  # 0.4 in the devkit, 0.333 as edges
        ([0, 0, 2, 2], [1, 0, 3, 2], 0.0, 1.0),  # 6/12 as pixels, 2/6 as edges
        ([0, 0, 2, 0], [1, 0, 3, 0], 0.0, 1.0),  # one-pixel-high boxes: no area as edges
    ],
)
def test_box_conventions(pred_box, gt_box, devkit_error, continuous_error):
    for convention, expected in (("devkit", devkit_error), ("continuous", continuous_error)):
        result = clsloc_errors(
            [[1]], [1], pred_boxes=[[pred_box]], gt_boxes=[gt_box], max_guesses=1, box_convention=convention
        )
        assert result["clsloc_error"] == [expected], convention


def test_output_keys():
    box = [[[0, 0, 1, 1]]]
    assert list(clsloc_errors([[1]], [1])) == ["cls_error", "top1_error", "top5_error"]
    assert list(clsloc_errors([[1]], [1], max_guesses=3)) == ["cls_error", "top1_error"]
    assert list(clsloc_errors([[1]], [1], pred_boxes=box, gt_boxes=[[0, 0, 1, 1]])) == [
        "cls_error",
        "clsloc_error",
        "top1_error",
        "top5_error",
        "top1_clsloc_error",
        "top5_clsloc_error",
    ]
    result = clsloc_errors([[1]], [1], pred_boxes=box, gt_boxes=[[0, 0, 1, 1]], max_guesses=2)
    assert list(result) == ["cls_error", "clsloc_error", "top1_error", "top1_clsloc_error"]
    assert len(result["cls_error"]) == len(result["clsloc_error"]) == 2


def test_object_order_does_not_matter():
    # Objects listed out of image order, labels unsorted: same as sorted.
    pred, boxes = [[1, 2], [3, 1]], [[[0, 0, 9, 9], [0, 0, 9, 9]], [[20, 20, 29, 29], [0, 0, 9, 9]]]
    gt = dict(pred_boxes=boxes, max_guesses=2)
    ordered = clsloc_errors(
        pred, [1, 2, 3], gt_images=[0, 0, 1], gt_boxes=[[0, 0, 9, 9], [50, 50, 59, 59], [20, 20, 29, 29]], **gt
    )
    shuffled = clsloc_errors(
        pred, [3, 2, 1], gt_images=[1, 0, 0], gt_boxes=[[20, 20, 29, 29], [50, 50, 59, 59], [0, 0, 9, 9]], **gt
    )
    assert ordered == shuffled
    assert ordered["clsloc_error"] == [0.25, 0.25]


def test_matches_the_per_image_loop_on_random_data(bench):
    """Ragged guesses, several labels and boxes per image, a blacklist, both conventions."""
    rng = np.random.default_rng(7)
    num_images = 400
    counts = rng.integers(0, 8, num_images)
    labels = rng.integers(0, 6, counts.sum())
    corners = rng.integers(0, 30, (counts.sum(), 2))
    boxes = np.concatenate([corners, corners + rng.integers(0, 25, (counts.sum(), 2))], axis=1).astype(float)
    objects = rng.integers(1, 5, num_images)
    gt_images = np.repeat(np.arange(num_images), objects)
    gt_labels = rng.integers(0, 6, objects.sum())
    gt_corners = rng.integers(0, 30, (objects.sum(), 2))
    gt_boxes = np.concatenate([gt_corners, gt_corners + rng.integers(0, 25, (objects.sum(), 2))], axis=1).astype(float)
    blacklist = rng.choice(num_images, 37, replace=False)

    pred, pred_boxes, counts = pad_guesses(counts, labels, boxes)
    predictions = [
        list(zip(labels_i[:n].tolist(), boxes_i[:n].tolist())) for labels_i, boxes_i, n in zip(pred, pred_boxes, counts)
    ]
    references = [[] for _ in range(num_images)]
    for image, label, box in zip(gt_images, gt_labels.tolist(), gt_boxes.tolist()):
        references[image].append((label, box))
    for convention in ("devkit", "continuous"):
        for max_guesses in (1, 5, 9):
            vector = clsloc_errors(
                pred,
                gt_labels,
                gt_images=gt_images,
                pred_boxes=pred_boxes,
                gt_boxes=gt_boxes,
                num_guesses=counts,
                max_guesses=max_guesses,
                blacklist=blacklist,
                box_convention=convention,
            )
            loop = bench.loop_errors(predictions, references, max_guesses, blacklist.tolist(), convention)
            assert vector["cls_error"] == pytest.approx(loop["cls_error"], abs=1e-12)
            assert vector["clsloc_error"] == pytest.approx(loop["clsloc_error"], abs=1e-12)
            assert 0 < vector["clsloc_error"][-1] < 1  # the data exercise both outcomes


def test_vectorised_is_fast(bench):
    data = bench.make_data(50_000)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        bench.array_errors(data)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.5, f"50,000 images x 5 guesses took {min(timings):.3f} s"


def test_benchmark_script_runs(bench, capsys):
    assert bench.main(["--images", "300", "--repeat", "1"]) == 0
    output = capsys.readouterr().out
    assert re.search(r"vectorised clsloc_errors: \d+\.\d+ s", output)
    assert re.search(r"per-image Python loop: +\d+\.\d+ s", output)
    assert "results identical" in output
    for form in ("with boxes", "labels only"):  # no figure asserted: 300 images time evaluate's fixed cost
        assert re.search(rf"{form} +compute, dict of arrays|{form} +compute, arrays", output)
        assert re.search(rf"{form} +add_batch x1000, .*arrays +\d+\.\d+ s +\d+\.\dx +\(bound \d+x: ", output)
    assert "every form gives clsloc_errors' results exactly" in output


# ----------------------------------------------------------------------------- the evaluate module's inputs


def test_compute_both_forms(clsloc):
    assert clsloc.compute(predictions=[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]], references=[2, 9]) == {
        "cls_error": [1.0, 1.0, 0.5, 0.5, 0.0],
        "top1_error": 1.0,
        "top5_error": 0.0,
    }
    box, far = [10, 10, 49, 49], [200, 200, 249, 249]
    result = clsloc.compute(
        predictions=[[guess(1, far), guess(1, box)], [guess(4, box)], []],
        references=[[guess(1, box), guess(1, far)], [guess(3, box)], [guess(2, box)]],
        blacklist=[2],
    )
    assert result["cls_error"] == [2 / 3] * 5
    assert result["clsloc_error"] == [0.5] * 5


def test_add_batch_equals_compute(clsloc):
    rng = np.random.default_rng(3)
    predictions = [rng.integers(0, 10, rng.integers(0, 7)).tolist() for _ in range(50)]
    references = rng.integers(0, 10, 50).tolist()
    whole = clsloc.compute(predictions=predictions, references=references)
    for start in range(0, 50, 16):
        clsloc.add_batch(predictions=predictions[start : start + 16], references=references[start : start + 16])
    assert clsloc.compute() == whole

    def image(n: int) -> list[dict]:
        corners = rng.integers(0, 10, (n, 2))
        return [
            guess(int(label), [int(x), int(y), int(x) + 20, int(y) + 20])
            for label, (x, y) in zip(rng.integers(0, 3, n), corners)
        ]

    loc_predictions = [image(n) for n in rng.integers(0, 6, 40)]
    loc_references = [image(n) for n in rng.integers(1, 4, 40)]
    whole = clsloc.compute(predictions=loc_predictions, references=loc_references, blacklist=[0, 5])
    for start in range(0, 40, 7):
        clsloc.add_batch(predictions=loc_predictions[start : start + 7], references=loc_references[start : start + 7])
    assert clsloc.compute(blacklist=[0, 5]) == whole
    assert 0 < whole["clsloc_error"][-1] < 1


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(predictions=[[1], [2]], references=[1]),
            r"2 predictions but 1 references: give one of each per image",
        ),
        (
            dict(predictions=[[guess(1, [0, 0, float("nan"), 5])]], references=[[guess(1, [0, 0, 5, 5])]]),
            r"predictions\[0\]\[0\] = .*nan.*: a \"bbox\" has finite coordinates with xmin <= xmax",
        ),
        (
            dict(predictions=[[guess(1, [0, 0, 5, 5])]], references=[[guess(1, [0, 0, 5, 5]), guess(1, [6, 0, 5, 5])]]),
            r"references\[0\]\[1\] = .*\[6, 0, 5, 5\].*: a \"bbox\" has finite coordinates with xmin <= xmax",
        ),
        (dict(predictions=[[1]], references=[1], blacklist=[1]), r"blacklist entry 1 is outside the images 0..0"),
        (dict(predictions=[[1], [1]], references=[1, 1], blacklist=[-1]), r"blacklist entry -1 is outside"),
        (dict(predictions=[[1], [1]], references=[1, 1], blacklist=[1, 1]), r"blacklist lists image 1 more than once"),
        (
            dict(predictions=[[guess(1, [0, 0, 5, 5])]], references=[[guess(1, [0, 0, 5, 5])]], blacklist=[0]),
            r"every image is blacklisted",
        ),
        (dict(predictions=[[]], references=[[]]), r"1 image\(s\) have no ground-truth label, e.g. image 0"),
        (
            dict(predictions=[[{"label": 1}]], references=[[guess(1, [0, 0, 5, 5])]]),
            r'predictions\[0\]\[0\] = .*: a guess has exactly the keys "label" and "bbox"; this one has \'label\'',
        ),
        (
            dict(predictions=[[guess(1, None)]], references=[[guess(1, [0, 0, 5, 5])]]),
            r'predictions\[0\]\[0\] = .*: a "bbox" is 4 numbers',
        ),
        (
            dict(predictions=[[guess(1, [0, 0, 5])]], references=[[guess(1, [0, 0, 5, 5])]]),
            r'predictions\[0\]\[0\] = .*: a "bbox" is 4 numbers',
        ),
        (  # one label per image is a top-1 guess, but localization needs boxes
            dict(predictions=[1, 2], references=[[guess(1, [0, 0, 5, 5])], [guess(2, [0, 0, 5, 5])]]),
            r"predictions\[0\] = 1: each prediction is the list",
        ),
        (dict(predictions=[[1]], references=[1], max_guesses=0), r"max_guesses must be a positive integer, got 0"),
        (dict(predictions=[[1]], references=[1], max_guesses=True), r"max_guesses must be a positive integer"),
        (
            dict(
                predictions=[[guess(1, [0, 0, 5, 5])]], references=[[guess(1, [0, 0, 5, 5])]], box_convention="pixels"
            ),
            r"box_convention must be one of devkit, continuous, got 'pixels'",
        ),
    ],
)
def test_bad_input_is_a_clear_error(clsloc, kwargs, message):
    with pytest.raises(ValueError, match=message):
        clsloc.compute(**kwargs)


def test_pure_function_rejects_inconsistent_arrays():
    with pytest.raises(ValueError, match="give both pred_boxes and gt_boxes"):
        clsloc_errors([[1]], [1], pred_boxes=[[[0, 0, 1, 1]]])
    with pytest.raises(ValueError, match=r"pred_boxes must have shape \(1, 1, 4\), got \(1, 4\)"):
        clsloc_errors([[1]], [1], pred_boxes=[[0, 0, 1, 1]], gt_boxes=[[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="gt_images has 1 entries but gt_labels has 2"):
        clsloc_errors([[1]], [1, 2], gt_images=[0])
    with pytest.raises(ValueError, match=r"gt_images must be image positions in 0..0"):
        clsloc_errors([[1]], [1], gt_images=[3])
    with pytest.raises(ValueError, match=r"pred_labels\[0\]\[0\] = 1.5 is not an integer"):
        clsloc_errors([[1.5]], [1])
    with pytest.raises(ValueError, match="pred_labels must be a 2-dimensional array"):
        clsloc_errors([1, 2], [1, 2])
    with pytest.raises(ValueError, match="num_guesses must give 0..1 guesses"):
        clsloc_errors([[1]], [1], num_guesses=[2])
    with pytest.raises(ValueError, match="no images to score"):
        clsloc_errors(np.zeros((0, 5), dtype=int), [])
