"""The metric's input forms: top-1 labels, ranked lists, numpy arrays, dicts of arrays and lists of dicts.

Every form, through ``compute``, ``add_batch`` and ``add`` alike, must give exactly what ``clsloc_errors``
gives on the same arrays. The data are the benchmark's ImageNet-like validation images (several boxes per
image, a blacklist).
"""

from __future__ import annotations

import sys

import bench_metric
import evaluate
import numpy as np
import pytest

import imagenet_tiny
from metrics.imagenet_clsloc.imagenet_clsloc import BOX_RECORD, clsloc_errors, ranked_guesses, records

BOX = [0, 0, 9, 9]


@pytest.fixture
def clsloc() -> evaluate.EvaluationModule:
    return evaluate.load(imagenet_tiny.METRIC_PATH, keep_in_memory=True)


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return bench_metric.make_data(300, seed=5)


def added(metric: evaluate.EvaluationModule, batches, **kwargs) -> dict:
    for predictions, references in batches:
        metric.add_batch(predictions=predictions, references=references)
    return metric.compute(**kwargs)


# ----------------------------------------------------------------------------- top-1 labels


def test_top1_labels_as_argmax_and_evaluators_give_them(clsloc):
    """One label per image: top-1 error, and the same error for every k (there is one guess)."""
    result = {"cls_error": [0.5] * 5, "top1_error": 0.5, "top5_error": 0.5}
    assert clsloc.compute(predictions=[7, 2], references=[7, 1]) == result
    logits = np.array([[0.1, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9], [0.0, 0.1, 0.8, 0.0, 0.0, 0.0, 0.0, 0.0]])
    assert clsloc.compute(predictions=np.argmax(logits, axis=1), references=np.array([7, 1])) == result
    assert clsloc.compute(predictions=[np.int64(7), np.int32(2)], references=[7.0, 1]) == result
    assert clsloc_errors([[7], [2]], [7, 1]) == result


def test_evaluate_combine_passes_the_inputs_through(clsloc):
    combined = evaluate.combine([clsloc])
    assert combined.compute(predictions=[7, 2], references=[7, 1], max_guesses=1)["top1_error"] == 0.5
    combined.add_batch(predictions=[7], references=[7])
    combined.add(prediction=2, reference=1)  # handed on as add(predictions=2, references=1)
    assert combined.compute(max_guesses=1)["top1_error"] == 0.5
    with pytest.raises(ValueError, match=r"unknown inputs \['label'\]: add takes prediction and reference"):
        clsloc.add(prediction=2, label=1)


# ----------------------------------------------------------------------------- every form, one result


def test_every_form_with_boxes_scores_like_clsloc_errors(clsloc, data):
    truth = bench_metric.array_errors(data)
    assert 0 < truth["clsloc_error"][-1] < truth["clsloc_error"][0] < 1  # the data exercise both outcomes
    blacklist = data["blacklist"]
    (whole,) = bench_metric.array_batches(data, with_boxes=True, size=len(data["labels"]))
    assert clsloc.compute(predictions=whole[0], references=whole[1], blacklist=blacklist) == truth
    pred_dicts, gt_dicts = bench_metric.dict_lists(data)
    assert clsloc.compute(predictions=pred_dicts, references=gt_dicts, blacklist=blacklist) == truth

    batches = bench_metric.array_batches(data, with_boxes=True, size=64)
    assert added(clsloc, batches, blacklist=blacklist) == truth
    # Batches in both localization forms, one after the other.
    mixed = [
        (pred_dicts[start : start + 64], gt_dicts[start : start + 64]) if number % 2 else batch
        for number, (start, batch) in enumerate(zip(range(0, 300, 64), batches))
    ]
    assert added(clsloc, mixed, blacklist=blacklist) == truth


def test_every_form_of_labels_scores_like_clsloc_errors(clsloc, data):
    truth = bench_metric.array_errors(data, with_boxes=False)
    pred, gt = data["pred_labels"], data["labels"]
    forms = [
        (pred, gt),
        (pred.tolist(), gt.tolist()),
        (list(pred), list(gt)),  # rows as arrays, labels as numpy integers
        ({"label": pred}, {"label": gt}),
        ({"label": pred}, {"label": gt, "image": np.arange(len(gt))}),
    ]
    for predictions, references in forms:
        assert clsloc.compute(predictions=predictions, references=references) == truth
    assert added(clsloc, bench_metric.array_batches(data, with_boxes=False, size=64)) == truth
    for guesses, label in zip(pred.tolist(), gt.tolist()):
        clsloc.add(prediction=guesses, reference=label)
    assert clsloc.compute() == truth


def test_add_takes_each_form_for_one_image(clsloc):
    far = [50, 50, 59, 59]
    # Image 0: a dict of arrays; image 1: a list of dicts, two objects; image 2: one object as arrays.
    clsloc.add(prediction={"label": [3, 1], "bbox": [far, BOX]}, reference={"label": 1, "bbox": BOX})
    clsloc.add(prediction=[{"label": 2, "bbox": far}], reference=[{"label": 2, "bbox": BOX}, {"label": 2, "bbox": far}])
    clsloc.add(prediction={"label": 5, "bbox": BOX}, reference={"label": [4, 5], "bbox": [BOX, far]})
    result = clsloc.compute(max_guesses=2)
    # Image 2 misses label 4, and names label 5 first but on the wrong box.
    assert result["cls_error"] == [(1 + 0 + 0.5) / 3, (0 + 0 + 0.5) / 3]
    assert result["clsloc_error"] == [(1 + 0 + 1) / 3, (0 + 0 + 1) / 3]


def test_several_labels_per_image_without_boxes(clsloc):
    # Image 0 has labels 1 and 2, guessed 1 then 3; image 1 has label 5, guessed second.
    result = clsloc.compute(
        predictions=np.array([[1, 3], [4, 5]]), references={"label": [2, 1, 5], "image": [0, 0, 1]}, max_guesses=2
    )
    assert result["cls_error"] == [(0.5 + 1) / 2, (0.5 + 0) / 2]


def test_batches_stored_in_several_rows_number_their_images_across_rows(clsloc, data, monkeypatch):
    """Held batches go to evaluate every HELD_RECORDS guesses; the rows read back as one set of images."""
    module = sys.modules[type(clsloc).__module__]  # evaluate's copy of the script
    monkeypatch.setattr(module, "HELD_RECORDS", 100)
    rows = []
    read_batches = module.read_batches
    monkeypatch.setattr(module, "read_batches", lambda p, r: rows.append(len(p)) or read_batches(p, r))
    batches = bench_metric.array_batches(data, with_boxes=True, size=7)
    assert added(clsloc, batches, blacklist=data["blacklist"]) == bench_metric.array_errors(data)
    assert rows == [15]  # 43 batches of 35 guesses (the last of 30) go to evaluate 3 at a time, the last at compute


def test_guesses_past_max_guesses_are_cut_before_the_arrays_are_padded(clsloc):
    # Image 0 guesses 10**6 times, the right label last: the arrays stay (images x max_guesses).
    counts = np.array([10**6, 1, 1])
    guesses = records(np.repeat(np.arange(3), counts), np.r_[np.zeros(10**6 - 1, dtype=int), 7, 2, 3])
    labels, boxes, kept = ranked_guesses(guesses, 3, max_guesses=5)
    assert labels.shape == (3, 5) and boxes is None and kept.tolist() == [5, 1, 1]
    long_row = [0] * (10**6 - 1) + [7]
    assert clsloc.compute(predictions=[long_row, [2]], references=[7, 2])["cls_error"] == [0.5] * 5
    boxed = records(np.zeros(9, dtype=int), np.arange(9), np.tile(BOX, (9, 1)))
    assert boxed.dtype == BOX_RECORD and ranked_guesses(boxed, 1, max_guesses=4)[1].shape == (1, 4, 4)


# ----------------------------------------------------------------------------- bad input in the array forms


BOXED = {"label": [1], "bbox": [BOX]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(predictions={"label": [[1, 2]], "bbox": [[BOX, [5, 5, 1, 1]]]}, references=BOXED),
            r'predictions\["bbox"\]\[0\]\[1\] = \[5.0, 5.0, 1.0, 1.0\] is not a box: coordinates must be finite',
        ),
        (
            dict(predictions={"label": [[1, 2]], "bbox": [[BOX]]}, references=BOXED),
            r'predictions\["bbox"\] must have shape \(1, 2, 4\), a box \[xmin, ymin, xmax, ymax\] per label; '
            r"got \(1, 1, 4\)",
        ),
        (
            dict(predictions={"label": [1]}, references={"label": [1], "bbox": [["0", "0", "9", "9"]]}),
            r'references\["bbox"\] must hold numbers \[xmin, ymin, xmax, ymax\], not <U1 values',
        ),
        (
            dict(predictions=np.array([[1, 2.5]]), references=np.array([1])),
            r"predictions\[0\]\[1\] = 2.5: a label is an integer \(a float only when it is a whole number",
        ),
        (
            dict(predictions={"label": np.array([[True], [False]])}, references=[1, 2]),
            r'predictions\["label"\]\[0\]\[0\] = True: a label is an integer, not a bool',
        ),
        (
            dict(predictions=[[1], [2]], references={"label": [1, 2], "image": [0, 2]}),
            r'references\["image"\]\[1\] = 2 is not one of the images 0..1 '
            r"\(the 0-based positions of the 2 predictions\)",
        ),
        (
            dict(predictions=[[1], [2]], references={"label": [1, 1], "image": [0, 0]}),
            r"1 image\(s\) have no ground-truth label, e.g. image 1: every image needs one",
        ),
        (
            dict(predictions=[[1], [2]], references={"label": [1, 2, 3]}),
            r'2 predictions but 3 references: give one of each per image, or "image", the 0-based image',
        ),
        (
            dict(predictions={"label": [[1]], "bbox": [[BOX]]}, references=[1]),
            r"the predictions have boxes but the references have none \(in classification \(labels\) form",
        ),
        (
            dict(predictions=np.array([[1]]), references=BOXED),
            r'the predictions have no boxes, but in localization \(labels with boxes\) form \(references has "bbox"\)',
        ),
        (
            dict(predictions={"label": [[1]], "box": [[BOX]]}, references=BOXED),
            r"predictions as a dict of arrays has the keys 'label', 'bbox' \('label' at least\); got 'label', 'box'",
        ),
        (
            dict(predictions={"label": [[1], [2, 3]]}, references=[1, 2]),
            r"predictions: every value is an array, or lists of one length",
        ),
        (
            dict(predictions={"label": 3}, references=[3]),
            r'predictions\["label"\] holds one label or the ranked guesses',
        ),
        (
            dict(predictions=[[1]], references=np.array([[1, 2]])),
            r"references as an array holds one label per image, shape \(1,\); got shape \(1, 2\)",
        ),
        (
            dict(predictions=np.zeros((2, 2, 2), dtype=int), references=[1, 2]),
            r"predictions holds \(N, K\) ranked guesses or \(N,\) one guess per image; got shape \(2, 2, 2\)",
        ),
        (
            dict(predictions=[7, [2]], references=[7, 1]),
            r"predictions\[1\] = \[2\]: a label is an integer, not list; in top-1 form \(predictions\[0\] is a label\)",
        ),
        (
            dict(predictions="7 2", references=[7, 1]),
            r"predictions must be a list with one entry per image, got '7 2' \(an array, or a dict of arrays, also",
        ),
    ],
)
def test_bad_array_inputs_are_errors_that_name_the_entry(clsloc, kwargs, message):
    with pytest.raises(ValueError, match=message):
        clsloc.compute(**kwargs)


def test_a_bad_batch_keeps_nothing_and_forms_do_not_mix(clsloc):
    with pytest.raises(ValueError, match=r"predictions\[0\] = None: a label is an integer"):
        clsloc.add_batch(predictions=[None], references=[1])
    with pytest.raises(ValueError, match=r"there is nothing to score: give predictions and references, or add"):
        clsloc.compute()
    clsloc.add_batch(predictions=np.array([[1, 2]]), references=np.array([2]))
    with pytest.raises(ValueError, match=r"predictions\[1\]\[0\] = 'x'"):
        clsloc.add_batch(predictions=[[3], ["x"]], references=[3, 4])
    with pytest.raises(ValueError, match=r"these inputs are in localization .* form but those added before"):
        clsloc.add_batch(predictions={"label": [1], "bbox": [BOX]}, references=BOXED)
    with pytest.raises(ValueError, match=r'prediction\["label"\]\[1\] = 2.5: a label is an integer'):
        clsloc.add(prediction={"label": [1, 2.5]}, reference=1)
    clsloc.add_batch(predictions=[5], references=[6])  # top-1 labels: the same (classification) form
    assert clsloc.compute(max_guesses=2)["cls_error"] == [1.0, 0.5]
    # The computation is over: a new one may take the other form.
    assert clsloc.compute(predictions={"label": [1], "bbox": [BOX]}, references=BOXED)["top1_clsloc_error"] == 0.0
