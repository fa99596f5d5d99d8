"""Time the vectorised clsloc metric against a per-image Python loop, and the evaluate module against both.

Run: ``.venv/bin/python benchmarks/bench_metric.py [--images 50000] [--guesses 5] [--repeat 3]``.
The data look like ImageNet's validation set: 1000 classes, one class per image with 1 to 6 boxes,
and guesses that name the right class about 3 times in 4, with boxes scattered around the objects.
Everything runs on the same data in the same process; the results must be identical.

The evaluate rows time the metric as users call it, ``evaluate.load(imagenet_tiny.METRIC_PATH)`` with
evaluate's defaults (inputs stored in a cache file), in each input form, with boxes and with labels only,
each against :func:`clsloc_errors` on the same arrays: at most 10x with boxes and 5x with labels only for
the array forms.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Optional, Sequence

import evaluate
import numpy as np

import imagenet_tiny
from metrics.imagenet_clsloc.imagenet_clsloc import clsloc_errors

Guess = tuple[int, Sequence[float]]
BATCH = 1000  # images per add_batch, as an evaluation loop might give them
BOUNDS = {"boxes": 10.0, "labels": 5.0}  # compute / add_batch time over clsloc_errors, for the array forms


def loop_errors(
    predictions: Sequence[Sequence[Guess]],
    references: Sequence[Sequence[Guess]],
    max_guesses: int = 5,
    blacklist: Sequence[int] = (),
    box_convention: str = "devkit",
) -> dict[str, list[float]]:
    """eval_clsloc.m's loops in plain Python: image by image, label by label, guess by guess.

    ``predictions[i]`` are image i's ranked ``(label, box)`` guesses; ``references[i]`` its ``(label, box)``
    objects. The reference the vectorised version is checked against, here and in the tests.
    """
    extra = 1.0 if box_convention == "devkit" else 0.0

    def overlap(box: Sequence[float], truth: Sequence[float]) -> float:
        iw = min(box[2], truth[2]) - max(box[0], truth[0]) + extra
        ih = min(box[3], truth[3]) - max(box[1], truth[1]) + extra
        if iw <= 0 or ih <= 0:
            return -1.0
        union = (
            (box[2] - box[0] + extra) * (box[3] - box[1] + extra)
            + (truth[2] - truth[0] + extra) * (truth[3] - truth[1] + extra)
            - iw * ih
        )
        return iw * ih / union

    skipped = set(blacklist)
    cls_error = [0.0] * max_guesses
    loc_error = [0.0] * max_guesses
    for image, (guesses, objects) in enumerate(zip(predictions, references)):
        labels = sorted({label for label, _ in objects})
        for k in range(1, max_guesses + 1):
            missed = located_missed = 0
            for label in labels:
                named = [box for guessed, box in guesses[:k] if guessed == label]
                missed += not named
                located_missed += not any(
                    overlap(box, truth) >= 0.5
                    for box in named
                    for object_label, truth in objects
                    if object_label == label
                )
            cls_error[k - 1] += missed / len(labels)
            if image not in skipped:
                loc_error[k - 1] += located_missed / len(labels)
    scored = len(predictions) - len(skipped)
    return {
        "cls_error": [e / len(predictions) for e in cls_error],
        "clsloc_error": [e / scored for e in loc_error],
    }


def make_data(num_images: int, num_guesses: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic ImageNet-like validation data as arrays (see the module docstring)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 1001, num_images)
    objects_per_image = np.minimum(rng.geometric(0.6, num_images), 6)
    images = np.repeat(np.arange(num_images), objects_per_image)
    corner = rng.integers(0, 300, (images.size, 2))
    size = rng.integers(20, 200, (images.size, 2))
    gt_boxes = np.concatenate([corner, corner + size], axis=1).astype(np.float64)

    pred_labels = rng.integers(1, 1001, (num_images, num_guesses))
    right = rng.random(num_images) < 0.75
    pred_labels[right, rng.integers(0, num_guesses, num_images)[right]] = labels[right]
    # Boxes around the image's first object, shifted by up to a third of its size: some overlap enough.
    first_object = np.searchsorted(images, np.arange(num_images))
    base = gt_boxes[first_object][:, None, :]
    span = np.concatenate([size[first_object], size[first_object]], axis=1)[:, None, :]
    jitter = np.round(rng.uniform(-1 / 3, 1 / 3, (num_images, num_guesses, 4)) * span)
    pred_boxes = base + jitter
    pred_boxes[..., 2:] = np.maximum(pred_boxes[..., 2:], pred_boxes[..., :2])
    return {
        "pred_labels": pred_labels,
        "pred_boxes": pred_boxes,
        "labels": labels,
        "gt_labels": labels[images],
        "gt_boxes": gt_boxes,
        "gt_images": images,
        "blacklist": rng.choice(num_images, num_images // 50, replace=False),
    }


def as_lists(data: dict[str, np.ndarray]) -> tuple[list[list[Guess]], list[list[Guess]]]:
    """The same data as per-image Python lists, the loop's input."""
    predictions = [
        list(zip(labels, boxes)) for labels, boxes in zip(data["pred_labels"].tolist(), data["pred_boxes"].tolist())
    ]
    references: list[list[Guess]] = [[] for _ in range(len(predictions))]
    for image, label, box in zip(data["gt_images"].tolist(), data["gt_labels"].tolist(), data["gt_boxes"].tolist()):
        references[image].append((label, box))
    return predictions, references


def array_errors(data: dict[str, np.ndarray], with_boxes: bool = True, max_guesses: int = 5) -> dict:
    """clsloc_errors on the data's arrays: with boxes (several per image) and the blacklist, or labels only."""
    if not with_boxes:
        return clsloc_errors(data["pred_labels"], data["labels"], max_guesses=max_guesses)
    return clsloc_errors(
        data["pred_labels"],
        data["gt_labels"],
        pred_boxes=data["pred_boxes"],
        gt_boxes=data["gt_boxes"],
        gt_images=data["gt_images"],
        max_guesses=max_guesses,
        blacklist=data["blacklist"],
    )


def array_batches(data: dict[str, np.ndarray], with_boxes: bool, size: int) -> list[tuple[object, object]]:
    """The arrays as the metric's dict-of-arrays batches of ``size`` images (labels alone: plain arrays)."""
    batches = []
    for start in range(0, len(data["labels"]), size):
        stop = min(start + size, len(data["labels"]))
        if not with_boxes:
            batches.append((data["pred_labels"][start:stop], data["labels"][start:stop]))
            continue
        first, last = np.searchsorted(data["gt_images"], [start, stop])
        predictions = {"label": data["pred_labels"][start:stop], "bbox": data["pred_boxes"][start:stop]}
        references = {
            "label": data["gt_labels"][first:last],
            "bbox": data["gt_boxes"][first:last],
            "image": data["gt_images"][first:last] - start,
        }
        batches.append((predictions, references))
    return batches


def dict_lists(data: dict[str, np.ndarray]) -> tuple[list[list[dict]], list[list[dict]]]:
    """The data in the metric's list form: per image, the list of its guesses and of its objects as dicts."""
    predictions, references = as_lists(data)
    return (
        [[{"label": label, "bbox": box} for label, box in image] for image in predictions],
        [[{"label": label, "bbox": box} for label, box in image] for image in references],
    )


def time_metric(data: dict[str, np.ndarray], guesses: int, repeat: int) -> list[tuple[str, str, float, dict]]:
    """``(form, how, seconds, results)`` of clsloc_errors and of the evaluate module in each input form."""
    metric = evaluate.load(imagenet_tiny.METRIC_PATH)
    blacklist = data["blacklist"]
    pred_dicts, gt_dicts = dict_lists(data)
    pred_lists, gt_lists = data["pred_labels"].tolist(), data["labels"].tolist()

    def added(batches: list[tuple[object, object]], **kwargs) -> dict:
        for predictions, references in batches:
            metric.add_batch(predictions=predictions, references=references)
        return metric.compute(max_guesses=guesses, **kwargs)

    whole_boxes = array_batches(data, True, len(data["labels"]))[0]
    whole_labels = array_batches(data, False, len(data["labels"]))[0]
    runs: list[tuple[str, str, Callable[[], dict]]] = [
        ("boxes", "clsloc_errors on arrays", lambda: array_errors(data, True, guesses)),
        ("boxes", "compute, dict of arrays", lambda: metric.compute(
            predictions=whole_boxes[0], references=whole_boxes[1], max_guesses=guesses, blacklist=blacklist)),
        ("boxes", f"add_batch x{BATCH}, dict of arrays", lambda: added(
            array_batches(data, True, BATCH), blacklist=blacklist)),
        ("boxes", "compute, lists of dicts", lambda: metric.compute(
            predictions=pred_dicts, references=gt_dicts, max_guesses=guesses, blacklist=blacklist)),
        ("labels", "clsloc_errors on arrays", lambda: array_errors(data, False, guesses)),
        ("labels", "compute, arrays", lambda: metric.compute(
            predictions=whole_labels[0], references=whole_labels[1], max_guesses=guesses)),
        ("labels", f"add_batch x{BATCH}, arrays", lambda: added(array_batches(data, False, BATCH))),
        ("labels", "compute, lists", lambda: metric.compute(
            predictions=pred_lists, references=gt_lists, max_guesses=guesses)),
    ]  # fmt: skip
    return [(form, how, *best_time(run, repeat)) for form, how, run in runs]


def print_metric_times(times: list[tuple[str, str, float, dict]], repeat: int) -> None:
    """The evaluate rows: seconds and the ratio to clsloc_errors; the array forms against their bounds."""
    print(
        f"through evaluate.load(imagenet_tiny.METRIC_PATH), best of {repeat}; "
        "ratio to clsloc_errors on the same arrays:"
    )
    baseline = {form: seconds for form, how, seconds, _ in times if how.startswith("clsloc_errors")}
    for form, how, seconds, _ in times:
        line = f"  {'with boxes' if form == 'boxes' else 'labels only':12s}{how:32s}{seconds:8.4f} s"
        if not how.startswith("clsloc_errors"):
            ratio = seconds / baseline[form]
            line += f"{ratio:8.1f}x"
            if "arrays" in how:
                line += f"  (bound {BOUNDS[form]:.0f}x: {'within' if ratio <= BOUNDS[form] else 'OVER'})"
        print(line)


def best_time(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--guesses", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    args = parser.parse_args(argv)

    data = make_data(args.images, args.guesses)
    predictions, references = as_lists(data)
    blacklist = data["blacklist"].tolist()
    vector_time, vector = best_time(lambda: array_errors(data, True, args.guesses), args.repeat)
    loop_time, loop = best_time(lambda: loop_errors(predictions, references, args.guesses, blacklist), 1)
    for key in ("cls_error", "clsloc_error"):
        assert vector[key] == loop[key], f"{key}: vectorised {vector[key]} != loop {loop[key]}"

    print(
        f"{args.images} images x {args.guesses} guesses, {len(data['gt_labels'])} ground-truth boxes, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"vectorised clsloc_errors: {vector_time:.4f} s (best of {args.repeat})")
    print(f"per-image Python loop:    {loop_time:.4f} s")
    print(f"speed-up: {loop_time / vector_time:.0f}x; results identical")
    print(f"top-5 cls error {vector['cls_error'][-1]:.4f}, top-5 clsloc error {vector['clsloc_error'][-1]:.4f}")

    times = time_metric(data, args.guesses, args.repeat)
    expected = {form: results for form, how, _, results in times if how.startswith("clsloc_errors")}
    for form, how, _, results in times:
        assert results == expected[form], f"{how} ({form}): {results} != clsloc_errors' {expected[form]}"
    print_metric_times(times, args.repeat)
    print("every form gives clsloc_errors' results exactly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
