# Copyright 2026 The ImageNet-tiny authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""ILSVRC classification-with-localization error, exactly as the ILSVRC2014 devkit's eval_clsloc.m scores it.

Self-contained so that ``evaluate.load("metrics/imagenet_clsloc")`` works from the path alone: only the
standard library, numpy, datasets and evaluate are imported, one import per line (evaluate 0.4 parses
imports line by line). :func:`clsloc_errors` is the whole computation, vectorised over images; the
metric class only converts its two input forms to arrays. Every check of what a caller passes is in the
"input checks" section at the end: :func:`check_inputs` for the list forms, the array checks for
:func:`clsloc_errors`.
"""

import typing

import datasets
import evaluate
import numpy as np

_CITATION = """\
@article{ILSVRC15,
  author    = {Olga Russakovsky and Jia Deng and Hao Su and Jonathan Krause and Sanjeev Satheesh and Sean Ma
               and Zhiheng Huang and Andrej Karpathy and Aditya Khosla and Michael Bernstein
               and Alexander C. Berg and Li Fei-Fei},
  title     = {{ImageNet Large Scale Visual Recognition Challenge}},
  journal   = {International Journal of Computer Vision (IJCV)},
  year      = {2015},
  volume    = {115},
  number    = {3},
  pages     = {211--252},
  doi       = {10.1007/s11263-015-0816-y}
}
"""

_DESCRIPTION = """\
The ILSVRC classification-with-localization (CLS-LOC) error, computed exactly as the challenge's devkit
(eval_clsloc.m) does. Each image gets up to k ranked guesses; for k = 1 .. max_guesses:

- classification error: for each image and each of its ground-truth labels, 1 if the label is not among
  the first k guessed labels; averaged over the image's labels, then over all images;
- localization error: for each image and ground-truth label, 0 only if one of the first k guesses has
  that label and a box whose intersection over union with some ground-truth box of that label is at
  least 0.5; averaged the same way, except that blacklisted images count 0 and are left out of the
  denominator.

Boxes are [xmin, ymin, xmax, ymax]. In the "devkit" convention (the default) they are inclusive integer
pixel positions, as in ImageNet's annotations, and widths count one more pixel (xmax - xmin + 1); in the
"continuous" convention they are plain coordinates of pixel edges, as in ImageNet-tiny's tiny-image boxes.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list`): the ranked guesses of each image, best first; images may have fewer
        guesses than `max_guesses`. Either class labels (`int`), for classification only, or dicts
        `{"label": int, "bbox": [xmin, ymin, xmax, ymax]}`, for classification with localization.
    references (`list`): per image, the ground-truth label (`int`) for classification only, or the list of
        every ground-truth object of the image, `{"label": int, "bbox": [xmin, ymin, xmax, ymax]}`, with
        localization. An image's ground-truth labels are the distinct labels of its objects.
        A label given as a float must be a whole number (2.0 counts as 2; 1.9 is an error, never truncated).
    max_guesses (`int`): number of guesses scored, 5 by default and at most 1000 (the number of ILSVRC
        classes); guesses past it are ignored, as the devkit does.
    blacklist (`list` of `int`): 0-based positions of images left out of the localization error (the
        devkit's blacklist file lists the same images 1-based). Default: none.
    box_convention (`str`): "devkit" (default: inclusive integer pixels, +1 widths) or "continuous"
        (plain float boxes, for boxes in tiny-image coordinates).

Returns:
    cls_error (`list` of `float`): entry k-1 is the classification error with k guesses.
    clsloc_error (`list` of `float`): entry k-1 is the localization error with k guesses (only with boxes).
    top1_error, top5_error (`float`): `cls_error[0]` and `cls_error[4]` (top-5 only when max_guesses >= 5).
    top1_clsloc_error, top5_clsloc_error (`float`): the same for `clsloc_error` (only with boxes).
    All errors lie between 0.0 (perfect) and 1.0; lower is better.

Examples:

    Classification only: image 0's label 7 is the second guess, image 1's label 1 is not guessed.

    >>> import evaluate
    >>> clsloc = evaluate.load("metrics/imagenet_clsloc")
    >>> results = clsloc.compute(predictions=[[3, 7], [2, 5]], references=[7, 1], max_guesses=2)
    >>> print(results)
    {'cls_error': [1.0, 0.5], 'top1_error': 1.0}

    With localization: the first guess has the right label but a box that misses; the second guess's box
    covers the second ground-truth box (intersection over union 0.8 in the devkit convention).

    >>> clsloc = evaluate.load("metrics/imagenet_clsloc")
    >>> results = clsloc.compute(
    ...     predictions=[[{"label": 4, "bbox": [0, 0, 9, 9]}, {"label": 4, "bbox": [20, 20, 39, 39]}]],
    ...     references=[[{"label": 4, "bbox": [50, 50, 59, 59]}, {"label": 4, "bbox": [20, 20, 35, 39]}]],
    ...     max_guesses=2,
    ... )
    >>> print(results)
    {'cls_error': [0.0, 0.0], 'clsloc_error': [1.0, 0.0], 'top1_error': 0.0, 'top1_clsloc_error': 1.0}

    The blacklist leaves image 1 out of the localization error only:

    >>> clsloc = evaluate.load("metrics/imagenet_clsloc")
    >>> box = [0, 0, 9, 9]
    >>> results = clsloc.compute(
    ...     predictions=[[{"label": 1, "bbox": box}], [{"label": 5, "bbox": box}]],
    ...     references=[[{"label": 1, "bbox": box}], [{"label": 2, "bbox": box}]],
    ...     blacklist=[1],
    ... )
    >>> print(results["cls_error"][0], results["clsloc_error"][0])
    0.5 0.0
"""

BOX_CONVENTIONS = ("devkit", "continuous")
IOU_THRESHOLD = 0.5  # eval_clsloc.m: a guess fails when its overlap is < 0.50
DEFAULT_MAX_GUESSES = 5  # the devkit scores 5 guesses
# The arrays are (images x max_guesses): a cap keeps a typo (10**9) an error, not an allocation. More
# guesses than there are ILSVRC classes cannot be needed.
MAX_GUESSES_LIMIT = 1000


def pad_guesses(
    num_guesses: typing.Sequence[int],
    labels: typing.Sequence[int],
    boxes: typing.Optional[typing.Sequence[typing.Sequence[float]]] = None,
) -> typing.Tuple[np.ndarray, typing.Optional[np.ndarray], np.ndarray]:
    """Ragged guesses, flattened image after image, as the padded arrays :func:`clsloc_errors` takes.

    Returns ``(labels (N, K), boxes (N, K, 4) or None, num_guesses (N,))`` with K the most guesses of
    any image; the padding is never read, as ``num_guesses`` says where each row ends.
    """
    counts = np.asarray(num_guesses, dtype=np.int64).reshape(-1)
    width = int(counts.max(initial=0))
    valid = np.arange(width) < counts[:, None]
    padded_labels = np.zeros(valid.shape, dtype=np.int64)
    padded_labels[valid] = _integer_array(labels, "labels", ndim=1)
    padded_boxes = None
    if boxes is not None:
        padded_boxes = np.zeros(valid.shape + (4,), dtype=np.float64)
        padded_boxes[valid] = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return padded_labels, padded_boxes, counts


def box_overlaps(boxes: np.ndarray, gt_boxes: np.ndarray, box_convention: str = "devkit") -> np.ndarray:
    """Intersection over union of ``boxes[..., 4]`` with ``gt_boxes[..., 4]`` (broadcast), -1 where disjoint.

    The devkit's compute_overlap.m: with inclusive pixels, widths are ``xmax - xmin + 1``; the boxes
    overlap only when the intersection's width and height are both > 0.
    """
    _check_convention(box_convention)
    extra = 1.0 if box_convention == "devkit" else 0.0
    inter_w = np.minimum(boxes[..., 2], gt_boxes[..., 2]) - np.maximum(boxes[..., 0], gt_boxes[..., 0]) + extra
    inter_h = np.minimum(boxes[..., 3], gt_boxes[..., 3]) - np.maximum(boxes[..., 1], gt_boxes[..., 1]) + extra
    intersection = inter_w * inter_h
    # Same operation order as compute_overlap.m, so that ties at exactly 0.5 fall the same way.
    union = (
        (boxes[..., 2] - boxes[..., 0] + extra) * (boxes[..., 3] - boxes[..., 1] + extra)
        + (gt_boxes[..., 2] - gt_boxes[..., 0] + extra) * (gt_boxes[..., 3] - gt_boxes[..., 1] + extra)
        - intersection
    )
    overlapping = (inter_w > 0) & (inter_h > 0)
    return np.divide(intersection, union, out=np.full(intersection.shape, -1.0), where=overlapping)


def invalid_boxes(boxes: np.ndarray) -> np.ndarray:
    """Which rows of (M, 4) ``boxes`` are not boxes: a NaN or infinite coordinate, xmax < xmin or ymax < ymin."""
    return ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])


def clsloc_errors(
    pred_labels: typing.Any,
    gt_labels: typing.Any,
    *,
    pred_boxes: typing.Any = None,
    gt_boxes: typing.Any = None,
    gt_images: typing.Any = None,
    num_guesses: typing.Any = None,
    max_guesses: int = DEFAULT_MAX_GUESSES,
    blacklist: typing.Any = None,
    box_convention: str = "devkit",
) -> typing.Dict[str, typing.Any]:
    """The devkit's classification and localization errors for k = 1 .. ``max_guesses`` guesses.

    Args:
        pred_labels: (N, K) ranked guessed labels of N images, best first.
        gt_labels: (O,) label of each ground-truth object.
        pred_boxes: (N, K, 4) box of each guess; with ``gt_boxes``, the localization error is computed.
        gt_boxes: (O, 4) box of each ground-truth object.
        gt_images: (O,) 0-based image of each object; default: object i belongs to image i (O == N).
        num_guesses: (N,) how many guesses of each row are real (the rest is padding); default: all K.
        max_guesses: guesses past this many are ignored; 1 .. MAX_GUESSES_LIMIT.
        blacklist: 0-based images left out of the localization error.
        box_convention: "devkit" (inclusive pixels, +1 widths) or "continuous".

    Returns:
        ``cls_error`` (and ``clsloc_error`` with boxes): lists whose entry k-1 is the error with k
        guesses, and ``top1_error``, ``top5_error``, ``top1_clsloc_error``, ``top5_clsloc_error``.
    """
    max_guesses = check_max_guesses(max_guesses)
    _check_convention(box_convention)
    pred_labels = _integer_array(pred_labels, "pred_labels", ndim=2)
    num_images = pred_labels.shape[0]
    if num_images == 0:
        raise ValueError("there are no images to score: predictions are empty")
    gt_labels = _integer_array(gt_labels, "gt_labels", ndim=1)
    gt_images = np.arange(num_images) if gt_images is None else _integer_array(gt_images, "gt_images", ndim=1)
    if gt_images.shape != gt_labels.shape:
        raise ValueError(f"gt_images has {gt_images.size} entries but gt_labels has {gt_labels.size}")
    if gt_images.size and (gt_images.min() < 0 or gt_images.max() >= num_images):
        raise ValueError(
            f"gt_images must be image positions in 0..{num_images - 1} (there are {num_images} predictions)"
        )
    if num_guesses is None:
        num_guesses = np.full(num_images, pred_labels.shape[1])
    num_guesses = _integer_array(num_guesses, "num_guesses", ndim=1)
    if num_guesses.shape != (num_images,) or num_guesses.min() < 0 or num_guesses.max() > pred_labels.shape[1]:
        raise ValueError(f"num_guesses must give 0..{pred_labels.shape[1]} guesses for each of the {num_images} images")
    with_boxes = pred_boxes is not None or gt_boxes is not None
    if with_boxes and (pred_boxes is None or gt_boxes is None):
        raise ValueError("localization needs boxes on both sides: give both pred_boxes and gt_boxes, or neither")
    if with_boxes:
        pred_boxes = _box_array(pred_boxes, "pred_boxes", pred_labels.shape + (4,))
        gt_boxes = _box_array(gt_boxes, "gt_boxes", (gt_labels.size, 4))
    blacklisted = _blacklist_mask(blacklist, num_images)

    # Guesses past max_guesses are ignored; padding after each image's last guess never matches.
    width = min(pred_labels.shape[1], max_guesses)
    pred_labels = pred_labels[:, :width]
    valid = np.arange(width) < np.minimum(num_guesses, width)[:, None]
    never = max_guesses  # "found at guess index never": an error for every k

    # One slot per distinct (image, label): an image's ground-truth labels are its objects' labels.
    order = _image_label_order(gt_images, gt_labels)
    obj_images, obj_labels = gt_images[order], gt_labels[order]
    new_slot = np.ones(order.size, dtype=bool)
    new_slot[1:] = (obj_images[1:] != obj_images[:-1]) | (obj_labels[1:] != obj_labels[:-1])
    slot_starts = np.flatnonzero(new_slot)
    slot_images = obj_images[slot_starts]
    labels_per_image = np.bincount(slot_images, minlength=num_images)
    if (labels_per_image == 0).any():
        missing = np.flatnonzero(labels_per_image == 0)
        raise ValueError(
            f"{missing.size} image(s) have no ground-truth label, e.g. image {missing[0]}: every image needs one"
        )

    # (objects, guesses): the guess names the object's label. Rows of one slot are identical.
    named = valid[obj_images] & (pred_labels[obj_images] == obj_labels[:, None])
    first_named = _first_true(named[slot_starts], never)
    results = {"cls_error": _mean_error(first_named, slot_images, labels_per_image, max_guesses, None)}

    if with_boxes:
        pred_boxes = pred_boxes[:, :width]
        _check_boxes(pred_boxes[valid], "pred_boxes", np.argwhere(valid))
        _check_boxes(gt_boxes, "gt_boxes", np.arange(gt_boxes.shape[0])[:, None])
        # Overlaps matter only where the label is right: about one pair per object, not one per guess.
        objects, guesses = np.nonzero(named)
        overlaps = box_overlaps(pred_boxes[obj_images[objects], guesses], gt_boxes[order[objects]], box_convention)
        hit = overlaps >= IOU_THRESHOLD
        located = np.zeros_like(named)
        located[objects[hit], guesses[hit]] = True
        # A label is located as soon as any of its boxes is.
        first_located = np.minimum.reduceat(_first_true(located, never), slot_starts)
        results["clsloc_error"] = _mean_error(first_located, slot_images, labels_per_image, max_guesses, blacklisted)

    results["top1_error"] = results["cls_error"][0]
    if max_guesses >= 5:
        results["top5_error"] = results["cls_error"][4]
    if with_boxes:
        results["top1_clsloc_error"] = results["clsloc_error"][0]
        if max_guesses >= 5:
            results["top5_clsloc_error"] = results["clsloc_error"][4]
    return results


def _image_label_order(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Order of the objects by image, then label; skips the sort when they already are (the usual case)."""
    if images.size < 2:
        return np.arange(images.size)
    step_image, step_label = np.diff(images), np.diff(labels)
    if ((step_image > 0) | ((step_image == 0) & (step_label >= 0))).all():
        return np.arange(images.size)
    return np.lexsort((labels, images))


def _first_true(matrix: np.ndarray, never: int) -> np.ndarray:
    """Index of the first True in each row, ``never`` where the row has none."""
    if matrix.shape[1] == 0:
        return np.full(matrix.shape[0], never)
    return np.where(matrix.any(axis=1), matrix.argmax(axis=1), never)


def _mean_error(
    first_hit: np.ndarray,
    slot_images: np.ndarray,
    labels_per_image: np.ndarray,
    max_guesses: int,
    blacklisted: typing.Optional[np.ndarray],
) -> typing.List[float]:
    """Errors for k = 1..max_guesses: per image, the share of its labels missed; then the mean over images."""
    missed = first_hit[:, None] >= np.arange(1, max_guesses + 1)  # (slots, k): label missed with k guesses
    image_starts = np.flatnonzero(np.r_[True, slot_images[1:] != slot_images[:-1]])
    per_image = np.add.reduceat(missed.astype(np.float64), image_starts, axis=0) / labels_per_image[:, None]
    count = labels_per_image.size
    if blacklisted is not None:
        # Blacklisted images count 0 and leave the denominator (eval_clsloc.m: N - blacklist_size).
        per_image[blacklisted] = 0.0
        count -= int(blacklisted.sum())
        if count == 0:
            raise ValueError("every image is blacklisted: there is nothing to score for localization")
    return [float(error) for error in per_image.sum(axis=0) / count]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ImagenetClsloc(evaluate.Metric):
    """ILSVRC classification-with-localization error (the devkit's eval_clsloc.m)."""

    def _info(self) -> evaluate.MetricInfo:
        guess = {"label": datasets.Value("int64"), "bbox": datasets.List(datasets.Value("float64"), length=4)}
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            # evaluate tries these in order on the first example; the classification form comes first
            # because a dict fed to an integer raises the TypeError evaluate expects.
            features=[
                datasets.Features(
                    {"predictions": datasets.List(datasets.Value("int64")), "references": datasets.Value("int64")}
                ),
                datasets.Features({"predictions": datasets.List(guess), "references": datasets.List(guess)}),
            ],
            reference_urls=[
                "https://image-net.org/challenges/LSVRC/2014/",
                "https://doi.org/10.1007/s11263-015-0816-y",
            ],
        )

    # The inputs are checked before evaluate stores them: its own errors name no image, its int64
    # encoding truncates a label of 1.9 to 1, and a compute that fails halfway leaves its state behind.

    def compute(self, *, predictions: typing.Any = None, references: typing.Any = None, **kwargs: typing.Any):
        """The errors of ``predictions`` (with those added before) against ``references``; checked first."""
        check_keywords(**{k: v for k, v in kwargs.items() if k in ("max_guesses", "box_convention")})
        return super().compute(predictions=predictions, references=references, **kwargs)

    def add_batch(self, *, predictions: typing.Any = None, references: typing.Any = None, **kwargs: typing.Any):
        """Add the guesses and ground truth of a batch of images, once checked."""
        self._check_same_form(check_inputs(predictions, references))
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction: typing.Any = None, reference: typing.Any = None, **kwargs: typing.Any):
        """Add the guesses and ground truth of one image, once checked."""
        self._check_same_form(check_inputs([prediction], [reference], one_image=True))
        super().add(prediction=prediction, reference=reference, **kwargs)

    def _check_same_form(self, form: str) -> None:
        """Inputs added earlier chose evaluate's input form; these must have the same."""
        chosen = self.selected_feature_format
        if chosen is not None:
            earlier = "labels" if isinstance(chosen["references"], datasets.Value) else "boxes"
            if form != earlier:
                raise ValueError(
                    f"these inputs are in {INPUT_FORMS[form]} form but those added before were in "
                    f"{INPUT_FORMS[earlier]} form: give every batch in one form"
                )

    def _compute(
        self,
        predictions: typing.List[list],
        references: typing.List[typing.Any],
        max_guesses: int = DEFAULT_MAX_GUESSES,
        blacklist: typing.Optional[typing.Sequence[int]] = None,
        box_convention: str = "devkit",
    ) -> typing.Dict[str, typing.Any]:
        # check_inputs has checked every image (add_batch). Guesses past max_guesses are ignored: drop
        # them before building arrays.
        max_guesses = check_max_guesses(max_guesses)
        guesses = [image[:max_guesses] for image in predictions]
        counts = [len(image) for image in guesses]
        flat = [guess for image in guesses for guess in image]
        if not isinstance(references[0], list):
            labels, _, counts = pad_guesses(counts, flat)
            return clsloc_errors(labels, references, num_guesses=counts, max_guesses=max_guesses, blacklist=blacklist)
        objects = [obj for image in references for obj in image]
        labels, boxes, counts = pad_guesses(
            counts, [guess["label"] for guess in flat], [guess["bbox"] for guess in flat]
        )
        return clsloc_errors(
            labels,
            [obj["label"] for obj in objects],
            pred_boxes=boxes,
            gt_boxes=[obj["bbox"] for obj in objects],
            gt_images=np.repeat(np.arange(len(references)), [len(image) for image in references]),
            num_guesses=counts,
            max_guesses=max_guesses,
            blacklist=blacklist,
            box_convention=box_convention,
        )


# ----------------------------------------------------------------------------------------------- input checks
# Everything a caller can get wrong is refused here, with a message that says what is wrong and where
# (``predictions[3][1]``, ``gt_boxes[7]``). The usual, valid input costs one pass at C speed per column
# (a set of types, a numpy conversion); items are walked one by one only to find the first bad one.

INPUT_FORMS = {"labels": "classification (labels)", "boxes": "localization (labels with boxes)"}
GUESS_KEYS = ("label", "bbox")
_INT64_BOUND = 2.0**63  # labels are stored as int64


def check_max_guesses(max_guesses: typing.Any) -> int:
    """``max_guesses`` as an int: a positive integer, at most :data:`MAX_GUESSES_LIMIT`; else a ValueError."""
    if isinstance(max_guesses, bool) or not isinstance(max_guesses, (int, np.integer)) or max_guesses < 1:
        raise ValueError(f"max_guesses must be a positive integer, got {max_guesses!r}")
    if max_guesses > MAX_GUESSES_LIMIT:
        raise ValueError(
            f"max_guesses must be at most {MAX_GUESSES_LIMIT}, the number of ILSVRC classes, got {max_guesses}"
        )
    return int(max_guesses)


def check_keywords(max_guesses: typing.Any = DEFAULT_MAX_GUESSES, box_convention: typing.Any = "devkit") -> None:
    """The keywords that need no inputs to check, checked before anything is stored."""
    check_max_guesses(max_guesses)
    _check_convention(box_convention)


def _check_convention(box_convention: typing.Any) -> None:
    if box_convention not in BOX_CONVENTIONS:
        raise ValueError(f"box_convention must be one of {', '.join(BOX_CONVENTIONS)}, got {box_convention!r}")


def check_inputs(predictions: typing.Any, references: typing.Any, one_image: bool = False) -> str:
    """Check the metric's list inputs and return their form: "labels" (classification) or "boxes" (localization).

    The form is that of ``references[0]``: a label, or a list of objects. Raises a ValueError naming the
    first bad image, guess or object. ``one_image``: the lists hold the one image ``add`` was given.
    """
    for column, value in (("predictions", predictions), ("references", references)):
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
            raise ValueError(f"{column} must be a list with one entry per image, got {_shown(value)}")
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predictions but {len(references)} references: give one of each per image"
        )
    if len(predictions) == 0:
        raise ValueError("there are no images to score: predictions and references are empty")
    bad = _first_not_list(predictions)
    if bad is not None:
        raise ValueError(
            f"{_image_name('predictions', bad, one_image)} = {_shown(predictions[bad])}: "
            "each prediction is the list of the image's ranked guesses, best first"
        )
    if not _is_list(references[0]):
        form = f"in {INPUT_FORMS['labels']} form (references[0] is a label) every"
        bad = _first_bad_label(references)
        if bad is not None:
            value = references[bad]
            raise ValueError(
                f"{_image_name('references', bad, one_image)} = {_shown(value)}: {_label_problem(value)}; "
                f"{form} reference is one label"
            )
        flat = [guess for guesses in predictions for guess in guesses]
        bad = _first_bad_label(flat)
        if bad is not None:
            raise ValueError(
                f"{_entry_name('predictions', predictions, bad, one_image)} = {_shown(flat[bad])}: "
                f"{_label_problem(flat[bad])}; {form} guess is a label"
            )
        return "labels"
    bad = _first_not_list(references)
    if bad is not None:
        raise ValueError(
            f"{_image_name('references', bad, one_image)} = {_shown(references[bad])}: in {INPUT_FORMS['boxes']} "
            "form (references[0] is a list) every reference is the list of the image's objects"
        )
    for column, rows, what in (("predictions", predictions, "guess"), ("references", references, "object")):
        flat = [entry for row in rows for entry in row]
        bad = _first_bad_entry(flat, what)
        if bad is not None:
            index, problem = bad
            raise ValueError(f"{_entry_name(column, rows, index, one_image)} = {_shown(flat[index])}: {problem}")
    return "boxes"


def _is_list(value: typing.Any) -> bool:
    """A list, tuple or array: what holds an image's guesses or objects, or a box."""
    return hasattr(value, "__len__") and hasattr(value, "__getitem__") and not isinstance(value, (str, bytes, dict))


def _first_not_list(rows: typing.Sequence[typing.Any]) -> typing.Optional[int]:
    """Position of the first row that is not a list, or None."""
    if set(map(type, rows)) <= {list, tuple}:
        return None
    return next((i for i, row in enumerate(rows) if not _is_list(row)), None)


def _image_name(column: str, image: int, one_image: bool) -> str:
    """``predictions[3]``; for ``add``'s single image, ``prediction``."""
    return column.removesuffix("s") if one_image else f"{column}[{image}]"


def _entry_name(column: str, rows: typing.Sequence[typing.Any], flat_index: int, one_image: bool) -> str:
    """``predictions[3][1]``: the name of the ``flat_index``-th entry of the ragged ``rows``."""
    for image, row in enumerate(rows):
        if flat_index < len(row):
            return f"{_image_name(column, image, one_image)}[{flat_index}]"
        flat_index -= len(row)
    raise IndexError(flat_index)


def _shown(value: typing.Any, limit: int = 80) -> str:
    """``repr(value)``, cut for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _label_problem(value: typing.Any) -> typing.Optional[str]:
    """Why ``value`` is not a label, or None: labels are integers; a float only when it is a whole number."""
    if getattr(value, "shape", None) == () and hasattr(value, "item"):  # a 0-d array or tensor
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return "a label is an integer, not a bool"
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():  # also NaN and infinities
        return "a label is an integer (a float only when it is a whole number, such as 2.0)"
    if isinstance(value, (int, np.integer, float, np.floating)):
        return None if -_INT64_BOUND <= value < _INT64_BOUND else "a label must fit in 64 bits"
    return f"a label is an integer, not {type(value).__name__}"


def _first_bad_label(values: typing.Sequence[typing.Any]) -> typing.Optional[int]:
    """Position of the first value that is not a label, or None."""
    kinds = set(map(type, values))
    if all(issubclass(k, (int, np.integer)) and not issubclass(k, (bool, np.bool_)) for k in kinds):
        if np.asarray(values).dtype.kind == "i":  # Python ints past int64 make an object or uint64 array
            return None
    return next((i for i, value in enumerate(values) if _label_problem(value) is not None), None)


def _box_problem(box: typing.Any) -> typing.Optional[str]:
    """Why ``box`` is not a box, or None."""
    box = box.tolist() if hasattr(box, "tolist") else box  # an array or tensor
    if (
        not _is_list(box)
        or len(box) != 4
        or not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in box)
    ):
        return 'a "bbox" is 4 numbers [xmin, ymin, xmax, ymax]'
    try:
        if not invalid_boxes(np.asarray([box], dtype=np.float64))[0]:
            return None
    except OverflowError:
        pass
    return 'a "bbox" has finite coordinates with xmin <= xmax and ymin <= ymax'


def _entry_problem(entry: typing.Any, what: str) -> typing.Optional[str]:
    """Why ``entry`` is not a guess or object ``{"label": int, "bbox": [xmin, ymin, xmax, ymax]}``, or None."""
    if not isinstance(entry, dict):
        return (
            f"in {INPUT_FORMS['boxes']} form (references[0] is a list) every {what} is a dict "
            '{"label": int, "bbox": [xmin, ymin, xmax, ymax]}'
        )
    if set(entry) != set(GUESS_KEYS):
        return f'a {what} has exactly the keys "label" and "bbox"; this one has {", ".join(map(repr, entry)) or "none"}'
    return _label_problem(entry["label"]) or _box_problem(entry["bbox"])


def _first_bad_entry(entries: typing.List[typing.Any], what: str) -> typing.Optional[typing.Tuple[int, str]]:
    """Position of the first entry that is not a guess or object, and why; None when all are."""
    try:
        if set(map(type, entries)) <= {dict} and set(map(len, entries)) <= {2}:
            boxes = np.asarray([entry["bbox"] for entry in entries]).reshape(-1, 4)
            if (
                boxes.shape[0] == len(entries)
                and boxes.dtype.kind in "iuf"
                and _first_bad_label([entry["label"] for entry in entries]) is None
                and not invalid_boxes(boxes.astype(np.float64)).any()
            ):
                return None
    except (KeyError, TypeError, ValueError):
        pass  # the walk below finds the entry
    for index, entry in enumerate(entries):
        problem = _entry_problem(entry, what)
        if problem is not None:
            return index, problem
    return None


def invalid_labels(labels: np.ndarray) -> np.ndarray:
    """Which entries of ``labels`` are not labels: labels are int64 integers, or floats that are whole numbers.

    2.0 reads as 2; 1.9, NaN, a bool or a string is not a label (never truncated to one).
    """
    if labels.dtype.kind == "i":
        return np.zeros(labels.shape, dtype=bool)
    if labels.dtype.kind == "u":
        return labels >= np.uint64(_INT64_BOUND)
    if labels.dtype.kind == "f":
        return ~np.isfinite(labels) | (labels != np.round(labels)) | (labels < -_INT64_BOUND) | (labels >= _INT64_BOUND)
    if labels.dtype.kind == "O":
        return np.array([_label_problem(v) is not None for v in labels.reshape(-1)], dtype=bool).reshape(labels.shape)
    return np.ones(labels.shape, dtype=bool)


def _integer_array(values: typing.Any, name: str, ndim: int) -> np.ndarray:
    """``values`` as int64, or an error naming the first that :func:`invalid_labels` finds."""
    array = np.asarray(values)
    if array.size == 0:
        array = array.astype(np.int64)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-dimensional array, got shape {array.shape}")
    bad = invalid_labels(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}{''.join(f'[{i}]' for i in where)} = {array[where].item()!r} is not an integer in the int64 range "
            f"({int(bad.sum())} such value(s) in all); a float counts only when it is a whole number, such as 2.0"
        )
    return array.astype(np.int64, copy=False)


def _box_array(values: typing.Any, name: str, shape: typing.Tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must hold numbers [xmin, ymin, xmax, ymax]") from None
    if array.size == 0 and 0 in shape:
        array = array.reshape(shape)  # an empty list has shape (0,) whatever it stands for
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    return array


def _blacklist_mask(blacklist: typing.Any, num_images: int) -> np.ndarray:
    mask = np.zeros(num_images, dtype=bool)
    if blacklist is None:
        return mask
    positions = _integer_array(blacklist, "blacklist", ndim=1)
    outside = positions[(positions < 0) | (positions >= num_images)]
    if outside.size:
        raise ValueError(
            f"blacklist entry {outside[0]} is outside the images 0..{num_images - 1} (blacklist positions are 0-based)"
        )
    unique, counts = np.unique(positions, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"blacklist lists image {unique[counts > 1][0]} more than once")
    mask[positions] = True
    return mask


def _check_boxes(boxes: np.ndarray, name: str, where: np.ndarray) -> None:
    """Reject what :func:`invalid_boxes` finds, naming the first."""
    bad = invalid_boxes(boxes)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        index = "".join(f"[{i}]" for i in where[first])
        raise ValueError(
            f"{name}{index} = {boxes[first].tolist()} is not a box: coordinates must be finite, "
            f"with xmin <= xmax and ymin <= ymax; {int(bad.sum())} such box(es) in all"
        )
