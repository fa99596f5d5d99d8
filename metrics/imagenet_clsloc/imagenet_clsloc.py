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

Load it with ``evaluate.load(imagenet_tiny.METRIC_PATH)`` from any directory, or by this folder's path.
The script is self-contained, as evaluate copies it alone into its cache: only the standard library,
numpy, datasets and evaluate are imported, one import per line (evaluate 0.4 parses imports line by
line). :func:`clsloc_errors` is the whole computation, vectorised over images. The metric class turns
each input form into records at C speed ("input checks" at the end: :func:`read_inputs` for the metric's
forms, the array checks for :func:`clsloc_errors`) and stores them in evaluate as bytes ("stored batches").
"""

import itertools
import operator
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
    predictions: the guesses of each image, best first, in any of these forms:
        - one label (`int`) per image, as `argmax` and `evaluate.evaluator` give them: top-1 guesses;
        - per image, the list of its ranked labels (images may have fewer than `max_guesses`);
        - a numpy array of labels, `(N,)` (top-1) or `(N, K)` (K ranked guesses per image);
        - with localization, per image the list of its guesses `{"label": int, "bbox": [xmin, ymin, xmax, ymax]}`,
          or one dict of arrays `{"label": (N, K), "bbox": (N, K, 4)}` (`(N,)` and `(N, 4)` for one guess).
    references: the ground truth, in any of these forms:
        - one label (`int`) per image, as a list or an `(N,)` array: classification only;
        - per image, the list of its objects `{"label": int, "bbox": [xmin, ymin, xmax, ymax]}`;
        - one dict of arrays `{"label": (O,), "bbox": (O, 4), "image": (O,)}` of all O objects, where "image"
          is the 0-based position of the object's image among the predictions (default: object i is in
          image i); without "bbox" for classification only.
        The references set the form: with boxes (localization) every guess needs a box too. An image's
        ground-truth labels are the distinct labels of its objects. A label given as a float must be a
        whole number (2.0 counts as 2; 1.9 is an error, never truncated). Arrays are the fastest forms.
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

    Top-1 labels, one per image (e.g. `logits.argmax(axis=1)`): image 0 is right, image 1 is not.

    >>> import evaluate
    >>> import imagenet_tiny
    >>> clsloc = evaluate.load(imagenet_tiny.METRIC_PATH)
    >>> print(clsloc.compute(predictions=[7, 2], references=[7, 1], max_guesses=1))
    {'cls_error': [0.5], 'top1_error': 0.5}

    Ranked guesses: image 0's label 7 is the second guess, image 1's label 1 is not guessed. Lists and
    numpy arrays (e.g. `np.argsort(-logits, axis=1)[:, :5]`) give the same.

    >>> import numpy as np
    >>> print(clsloc.compute(predictions=[[3, 7], [2, 5]], references=[7, 1], max_guesses=2))
    {'cls_error': [1.0, 0.5], 'top1_error': 1.0}
    >>> print(clsloc.compute(predictions=np.array([[3, 7], [2, 5]]), references=np.array([7, 1]), max_guesses=2))
    {'cls_error': [1.0, 0.5], 'top1_error': 1.0}

    With localization: the first guess has the right label but a box that misses; the second guess's box
    covers the second ground-truth box (intersection over union 0.8 in the devkit convention).

    >>> results = clsloc.compute(
    ...     predictions=[[{"label": 4, "bbox": [0, 0, 9, 9]}, {"label": 4, "bbox": [20, 20, 39, 39]}]],
    ...     references=[[{"label": 4, "bbox": [50, 50, 59, 59]}, {"label": 4, "bbox": [20, 20, 35, 39]}]],
    ...     max_guesses=2,
    ... )
    >>> print(results)
    {'cls_error': [0.0, 0.0], 'clsloc_error': [1.0, 0.0], 'top1_error': 0.0, 'top1_clsloc_error': 1.0}

    The same as dicts of arrays: the guesses (N, K) and (N, K, 4), every ground-truth object with the
    position of its image.

    >>> results = clsloc.compute(
    ...     predictions={"label": np.array([[4, 4]]), "bbox": np.array([[[0, 0, 9, 9], [20, 20, 39, 39]]])},
    ...     references={
    ...         "label": np.array([4, 4]),
    ...         "bbox": np.array([[50, 50, 59, 59], [20, 20, 35, 39]]),
    ...         "image": np.array([0, 0]),
    ...     },
    ...     max_guesses=2,
    ... )
    >>> print(results)
    {'cls_error': [0.0, 0.0], 'clsloc_error': [1.0, 0.0], 'top1_error': 0.0, 'top1_clsloc_error': 1.0}

    The blacklist leaves image 1 out of the localization error only:

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
    flat_labels = _integer_array(labels, "labels", ndim=1)
    flat_boxes = None if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if (counts == width).all():  # as many guesses for every image: no padding
        shape = (counts.size, width)
        return flat_labels.reshape(shape), None if boxes is None else flat_boxes.reshape(shape + (4,)), counts
    valid = np.arange(width) < counts[:, None]
    padded_labels = np.zeros(valid.shape, dtype=np.int64)
    padded_labels[valid] = flat_labels
    padded_boxes = None
    if boxes is not None:
        padded_boxes = np.zeros(valid.shape + (4,), dtype=np.float64)
        padded_boxes[valid] = flat_boxes
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
    check_every_image_labelled(labels_per_image)

    # (objects, guesses): the guess names the object's label. Rows of one slot are identical.
    named = valid[obj_images] & (pred_labels[obj_images] == obj_labels[:, None])
    first_named = _first_true(named[slot_starts], never)
    results = {"cls_error": _mean_error(first_named, slot_images, labels_per_image, max_guesses, None)}

    if with_boxes:
        pred_boxes = pred_boxes[:, :width]
        _check_boxes(pred_boxes[valid], lambda i: "pred_boxes" + "".join(f"[{j}]" for j in np.argwhere(valid)[i]))
        _check_boxes(gt_boxes, lambda i: f"gt_boxes[{i}]")
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


def check_every_image_labelled(labels_per_image: np.ndarray) -> None:
    """A ValueError naming the first image without a ground-truth label (a count of 0), if any."""
    missing = np.flatnonzero(labels_per_image == 0)
    if missing.size:
        raise ValueError(
            f"{missing.size} image(s) have no ground-truth label, e.g. image {missing[0]}: every image needs one"
        )


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


# ----------------------------------------------------------------------------------------------- stored batches
# Whatever form a batch comes in, it is kept as two record arrays: one record per guess, image after
# image and best first, and one per ground-truth object; "image" is the image's position in its batch.

LABEL_RECORD = np.dtype([("image", "<i8"), ("label", "<i8")])
BOX_RECORD = np.dtype([("image", "<i8"), ("label", "<i8"), ("bbox", "<f8", (4,))])
# A stored side of a batch is 8 bytes naming its record type, then the records (8 keep them aligned).
RECORD_TAGS = {b"labels\0\0": LABEL_RECORD, b"boxes\0\0\0": BOX_RECORD}
HELD_RECORDS = 2**20  # guesses held before they go to evaluate: at most 48 MiB of records with boxes


class Batch(typing.NamedTuple):
    """Checked inputs: their form ("labels" or "boxes"), the records of their guesses and objects, their images."""

    form: str
    guesses: np.ndarray
    objects: np.ndarray
    images: int


def records(images: np.ndarray, labels: np.ndarray, boxes: typing.Optional[np.ndarray] = None) -> np.ndarray:
    """Records of guesses or objects: :data:`LABEL_RECORD` without boxes, :data:`BOX_RECORD` with them."""
    result = np.empty(labels.size, dtype=LABEL_RECORD if boxes is None else BOX_RECORD)
    result["image"] = images
    result["label"] = labels
    if boxes is not None:
        result["bbox"] = boxes
    return result


def record_bytes(array: np.ndarray) -> bytes:
    """Records as stored: their tag (:data:`RECORD_TAGS`), then their bytes."""
    (tag,) = [tag for tag, dtype in RECORD_TAGS.items() if dtype == array.dtype]
    return tag + array.tobytes()


def record_array(blob: bytes) -> np.ndarray:
    """The records of :func:`record_bytes` (read-only: a view of ``blob``)."""
    return np.frombuffer(blob, dtype=RECORD_TAGS[blob[:8]], offset=8)


def join_batches(batches: typing.Sequence[Batch]) -> Batch:
    """Batches as one, their images numbered one batch after another."""
    if len(batches) == 1:
        return batches[0]
    forms = {batch.form for batch in batches}
    if len(forms) > 1:  # only from processes given different forms: one process refuses a mix when added
        named = " and ".join(INPUT_FORMS[form] for form in sorted(forms))
        raise ValueError(f"the batches are in {named} forms: give every batch in one form")
    counts = np.array([batch.images for batch in batches])
    offsets = np.cumsum(counts) - counts
    guesses = np.concatenate([batch.guesses for batch in batches])
    objects = np.concatenate([batch.objects for batch in batches])
    guesses["image"] += np.repeat(offsets, [batch.guesses.size for batch in batches])
    objects["image"] += np.repeat(offsets, [batch.objects.size for batch in batches])
    return Batch(batches[0].form, guesses, objects, int(counts.sum()))


def read_batches(predictions: typing.Sequence[bytes], references: typing.Sequence[bytes]) -> Batch:
    """The rows evaluate stored (from :func:`record_bytes`), as one batch."""
    batches = []
    for guess_bytes, object_bytes in zip(predictions, references):
        guesses, objects = record_array(guess_bytes), record_array(object_bytes)
        # Every image has a ground-truth object (read_inputs checks it): the highest position counts them.
        form = "boxes" if objects.dtype == BOX_RECORD else "labels"
        batches.append(Batch(form, guesses, objects, int(objects["image"].max()) + 1))
    return join_batches(batches)


def ranked_guesses(
    guesses: np.ndarray, num_images: int, max_guesses: int
) -> typing.Tuple[np.ndarray, typing.Optional[np.ndarray], np.ndarray]:
    """Guess records (image after image) as :func:`pad_guesses`'s arrays, cut to ``max_guesses`` per image.

    The cut comes first, so that one image with a million guesses does not make the arrays a million wide.
    """
    counts = np.bincount(guesses["image"], minlength=num_images)
    if counts.max(initial=0) > max_guesses:
        rank = np.arange(guesses.size) - np.repeat(np.cumsum(counts) - counts, counts)
        guesses = guesses[rank < max_guesses]
        counts = np.minimum(counts, max_guesses)
    boxes = guesses["bbox"] if guesses.dtype == BOX_RECORD else None
    return pad_guesses(counts, guesses["label"], boxes)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ImagenetClsloc(evaluate.Metric):
    """ILSVRC classification-with-localization error (the devkit's eval_clsloc.m)."""

    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: typing.List[Batch] = []  # checked batches not yet handed to evaluate
        self._form: typing.Optional[str] = None  # the form of the batches held or stored since the last compute

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            # A stored row holds the bytes of many images' guess and object records (see "stored batches"):
            # evaluate encodes its rows one by one in Python, about 2 us each, 20 times clsloc_errors itself
            # when a row is an image.
            features=datasets.Features(
                {"predictions": datasets.Value("large_binary"), "references": datasets.Value("large_binary")}
            ),
            reference_urls=[
                "https://image-net.org/challenges/LSVRC/2014/",
                "https://doi.org/10.1007/s11263-015-0816-y",
            ],
        )

    # Inputs are checked before anything is kept: a bad batch keeps nothing, and the errors name the image
    # and guess or object. Checked batches are held here and handed to evaluate as one row, at compute or
    # once they hold HELD_RECORDS guesses: evaluate's cost per row (about 0.4 ms) would otherwise exceed
    # the whole computation for a few hundred batches.

    def compute(self, *, predictions: typing.Any = None, references: typing.Any = None, **kwargs: typing.Any):
        """The errors of ``predictions`` (with those added before) against ``references``; checked first."""
        check_keywords(**{k: v for k, v in kwargs.items() if k in ("max_guesses", "box_convention")})
        if predictions is not None or references is not None:
            self.add_batch(predictions=predictions, references=references)
        if not self._held and self.selected_feature_format is None:
            raise ValueError("there is nothing to score: give predictions and references, or add batches first")
        self._hand_over()
        return super().compute(**kwargs)

    def add_batch(self, *, predictions: typing.Any = None, references: typing.Any = None) -> None:
        """Add the guesses and ground truth of a batch of images, in any of the input forms, once checked."""
        self._hold(read_inputs(predictions, references))

    def add(self, *, prediction: typing.Any = None, reference: typing.Any = None, **inputs: typing.Any) -> None:
        """Add the guesses and ground truth of one image, once checked.

        ``predictions=`` and ``references=`` name them too: evaluate.combine passes them so.
        """
        if not set(inputs) <= {"predictions", "references"}:
            raise ValueError(f"unknown inputs {sorted(inputs)}: add takes prediction and reference")
        prediction, reference = inputs.get("predictions", prediction), inputs.get("references", reference)
        self._hold(read_inputs(*batch_of_one(prediction, reference), one_image=True))

    def _hold(self, batch: Batch) -> None:
        if self.selected_feature_format is None and not self._held:  # nothing kept: a new computation
            self._form = None
        if self._form not in (None, batch.form):
            raise ValueError(
                f"these inputs are in {INPUT_FORMS[batch.form]} form but those added before were in "
                f"{INPUT_FORMS[self._form]} form: give every batch in one form"
            )
        self._form = batch.form
        self._held.append(batch)
        if sum(held.guesses.size for held in self._held) >= HELD_RECORDS:
            self._hand_over()

    def _hand_over(self) -> None:
        """Store the held batches in evaluate, as one row."""
        if self._held:
            batch = join_batches(self._held)
            super().add_batch(predictions=[record_bytes(batch.guesses)], references=[record_bytes(batch.objects)])
            self._held = []

    def _compute(
        self,
        predictions: typing.List[bytes],
        references: typing.List[bytes],
        max_guesses: int = DEFAULT_MAX_GUESSES,
        blacklist: typing.Optional[typing.Sequence[int]] = None,
        box_convention: str = "devkit",
    ) -> typing.Dict[str, typing.Any]:
        batch = read_batches(predictions, references)
        labels, boxes, counts = ranked_guesses(batch.guesses, batch.images, check_max_guesses(max_guesses))
        return clsloc_errors(
            labels,
            batch.objects["label"],
            pred_boxes=boxes,
            gt_boxes=None if boxes is None else batch.objects["bbox"],
            gt_images=batch.objects["image"],
            num_guesses=counts,
            max_guesses=max_guesses,
            blacklist=blacklist,
            box_convention=box_convention,
        )


# ----------------------------------------------------------------------------------------------- input checks
# Everything a caller can get wrong is refused here, with a message that says what is wrong and where
# (``predictions[3][1]``, ``references["bbox"][7]``, ``gt_boxes[7]``). The usual, valid input costs one
# pass at C speed per column (a set of types, a numpy conversion); items are walked one by one only to
# find the first bad one.

INPUT_FORMS = {"labels": "classification (labels)", "boxes": "localization (labels with boxes)"}
GUESS_KEYS = ("label", "bbox")
OBJECT_KEYS = ("label", "bbox", "image")  # the array form of references: "image" says whose object it is
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


def batch_of_one(prediction: typing.Any, reference: typing.Any) -> typing.Tuple[typing.Any, typing.Any]:
    """``add``'s one image as a batch: the lists of one entry, or the arrays with one image, of its forms."""
    if not isinstance(prediction, dict):
        prediction = [prediction]
    else:  # each array gains an image axis: "label" (K,) becomes (1, K)
        prediction = {key: np.asarray(value)[None] for key, value in prediction.items()}
    if not isinstance(reference, dict):
        return prediction, [reference]
    objects = {key: np.asarray(value) for key, value in reference.items()}
    if objects.get("label", np.zeros(0)).ndim == 0:  # one object: a label and a box
        objects = {key: value[None] for key, value in objects.items()}
    objects.setdefault("image", np.zeros(objects.get("label", np.zeros(0)).size, dtype=np.int64))
    return prediction, objects


def read_inputs(predictions: typing.Any, references: typing.Any, one_image: bool = False) -> Batch:
    """Check the metric's inputs, in any of their forms, and return them as a :class:`Batch` of records.

    The form is "labels" (classification) or "boxes" (localization): that of the references, labels or
    objects with boxes. Raises a ValueError naming the first bad image, guess or object. ``one_image``:
    the inputs hold the one image ``add`` was given.
    """
    predictions, references = _as_array(predictions), _as_array(references)
    for side, value in (("predictions", predictions), ("references", references)):
        if not isinstance(value, dict) and not _is_list(value):
            raise ValueError(
                f"{side} must be a list with one entry per image, got {_shown(value)} "
                "(an array, or a dict of arrays, also does)"
            )
    if isinstance(predictions, dict):
        predictions = _columns(predictions, "predictions", GUESS_KEYS)
    first_axis = predictions["label"] if isinstance(predictions, dict) else predictions
    if getattr(first_axis, "ndim", 1) == 0:
        raise ValueError(
            f'predictions["label"] holds one label or the ranked guesses of each image; got {_shown(first_axis)}'
        )
    num_images = len(first_axis)
    if not isinstance(references, dict) and len(references) != num_images:
        raise ValueError(f"{num_images} predictions but {len(references)} references: give one of each per image")
    if num_images == 0:
        raise ValueError("there are no images to score: predictions and references are empty")
    objects, why = _read_objects(references, num_images, one_image)
    form = "boxes" if objects.dtype == BOX_RECORD else "labels"
    guesses = _read_guesses(predictions, f"in {INPUT_FORMS[form]} form ({why})", form, one_image)
    return Batch(form, guesses, objects, num_images)


def _read_objects(references: typing.Any, num_images: int, one_image: bool) -> typing.Tuple[np.ndarray, str]:
    """The ground-truth objects' records, and what set their form (for messages)."""
    if isinstance(references, dict):
        return _read_object_arrays(_columns(references, "references", OBJECT_KEYS), num_images, one_image)
    if isinstance(references, np.ndarray) and references.dtype.kind != "O":
        if references.ndim != 1:
            raise ValueError(
                f"references as an array holds one label per image, shape ({num_images},); got shape "
                f'{references.shape} (objects with boxes are a dict of arrays or lists of {{"label", "bbox"}} dicts)'
            )
    first = _named("references", (0,), one_image)
    if not _is_list(references[0]):
        why = f"{first} is a label"
        labels = _label_values(
            references,
            lambda i: _named("references", (i,), one_image),
            f"; in {INPUT_FORMS['labels']} form ({why}) every reference is one label",
        )
        return records(np.arange(num_images), labels), why
    why = f"{first} is a list"
    bad = _first_not_list(references)
    if bad is not None:
        raise ValueError(
            f"{_named('references', (bad,), one_image)} = {_shown(references[bad])}: in {INPUT_FORMS['boxes']} "
            f"form ({why}) every reference is the list of the image's objects"
        )
    counts, flat = _flattened(references)
    labels, boxes = _entry_values(
        flat,
        "object",
        lambda i: _named("references", _ragged_index(counts, i), one_image),
        f"in {INPUT_FORMS['boxes']} form ({why})",
    )
    check_every_image_labelled(counts)
    return records(np.repeat(np.arange(num_images), counts), labels, boxes), why


def _read_object_arrays(
    columns: typing.Dict[str, np.ndarray], num_images: int, one_image: bool
) -> typing.Tuple[np.ndarray, str]:
    """The records of references given as a dict of arrays, "label" (O,), "bbox" (O, 4), "image" (O,)."""
    labels = columns["label"]
    if labels.ndim != 1:
        raise ValueError(f'references["label"] holds one label per ground-truth object, shape (O,); got {labels.shape}')
    where = _array_position("references", labels.shape, one_image, key="label", image_axis=False)
    values = _label_values(labels, where, "")
    if "image" in columns:
        images = _integer_array(columns["image"], 'references["image"]', ndim=1)
        if images.shape != labels.shape:
            raise ValueError(f'references["image"] has {images.size} entries but references["label"] has {labels.size}')
        outside = np.flatnonzero((images < 0) | (images >= num_images))
        if outside.size:
            raise ValueError(
                f'references["image"][{outside[0]}] = {images[outside[0]]} is not one of the images '
                f"0..{num_images - 1} (the 0-based positions of the {num_images} predictions)"
            )
    elif labels.size != num_images:
        raise ValueError(
            f'{num_images} predictions but {labels.size} references: give one of each per image, or "image", '
            "the 0-based image of each ground-truth object"
        )
    else:
        images = np.arange(num_images)
    boxes = None
    if "bbox" in columns:
        boxes = _box_values(columns["bbox"], "references", labels.shape, one_image, image_axis=False)
    check_every_image_labelled(np.bincount(images, minlength=num_images))
    return records(images, values, boxes), 'references has "bbox"' if boxes is not None else 'references has no "bbox"'


def _read_guesses(predictions: typing.Any, form_phrase: str, form: str, one_image: bool) -> np.ndarray:
    """The guesses' records, in the form of the references (``form``, said by ``form_phrase`` in messages)."""
    if isinstance(predictions, dict):
        return _read_guess_arrays(predictions, form_phrase, form, one_image, keyed=True)
    if isinstance(predictions, np.ndarray) and predictions.dtype.kind != "O":
        return _read_guess_arrays({"label": predictions}, form_phrase, form, one_image, keyed=False)
    if form == "labels" and not _is_list(predictions[0]):
        first = _named("predictions", (0,), one_image)
        labels = _label_values(
            predictions,
            lambda i: _named("predictions", (i,), one_image),
            f"; in top-1 form ({first} is a label) every prediction is one label",
        )
        return records(np.arange(len(predictions)), labels)
    bad = _first_not_list(predictions)
    if bad is not None:
        raise ValueError(
            f"{_named('predictions', (bad,), one_image)} = {_shown(predictions[bad])}: "
            "each prediction is the list of the image's ranked guesses, best first"
        )
    counts, flat = _flattened(predictions)
    images = np.repeat(np.arange(len(predictions)), counts)

    def where(flat_index: int) -> str:
        return _named("predictions", _ragged_index(counts, flat_index), one_image)

    if form == "labels":
        return records(images, _label_values(flat, where, f"; {form_phrase} every guess is a label"))
    return records(images, *_entry_values(flat, "guess", where, form_phrase))


def _read_guess_arrays(
    columns: typing.Dict[str, np.ndarray], form_phrase: str, form: str, one_image: bool, keyed: bool
) -> np.ndarray:
    """The records of guesses given as arrays: "label" (N, K) or (N,), with boxes "bbox" (N, K, 4) or (N, 4).

    ``keyed``: they came as a dict (messages name ``predictions["label"]``), not as one array of labels.
    """
    labels, key = columns["label"], "label" if keyed else None
    name = _named("predictions", (), one_image, key)
    if labels.ndim not in (1, 2):
        raise ValueError(f"{name} holds (N, K) ranked guesses or (N,) one guess per image; got shape {labels.shape}")
    where = _array_position("predictions", labels.shape, one_image, key)
    values = _label_values(labels, where, f"; {form_phrase} every guess is a label")
    images = np.repeat(np.arange(labels.shape[0]), 1 if labels.ndim == 1 else labels.shape[1])
    if form == "labels":
        if "bbox" in columns:
            raise ValueError(
                f"the predictions have boxes but the references have none ({form_phrase}): localization needs "
                "boxes on both sides"
            )
        return records(images, values)
    if "bbox" not in columns:
        raise ValueError(
            f'the predictions have no boxes, but {form_phrase} every guess has one: give {{"label": (N, K), '
            '"bbox": (N, K, 4)}, or per image the list of its {"label", "bbox"} dicts'
        )
    return records(images, values, _box_values(columns["bbox"], "predictions", labels.shape, one_image))


def _as_array(value: typing.Any) -> typing.Any:
    """An array-like that is not a list (a torch tensor, say) as a numpy array; anything else as it is."""
    if hasattr(value, "__array__") and not isinstance(value, (np.ndarray, list, tuple, dict)):
        return np.asarray(value)
    return value


def _columns(value: dict, side: str, keys: typing.Sequence[str]) -> typing.Dict[str, np.ndarray]:
    """The arrays of a dict-of-arrays input, whose keys are among ``keys``, "label" among them."""
    if "label" not in value or not set(value) <= set(keys):
        raise ValueError(
            f"{side} as a dict of arrays has the keys {', '.join(map(repr, keys))} ('label' at least); "
            f"got {', '.join(map(repr, value)) or 'none'}"
        )
    try:
        return {key: np.asarray(array) for key, array in value.items()}
    except ValueError as error:  # lists of several lengths
        raise ValueError(f"{side}: every value is an array, or lists of one length ({error})") from None


def _is_list(value: typing.Any) -> bool:
    """A list, tuple or array (not 0-d): what holds images, an image's guesses or objects, or a box."""
    return (
        hasattr(value, "__len__")
        and hasattr(value, "__getitem__")
        and not isinstance(value, (str, bytes, dict))
        and getattr(value, "shape", None) != ()
    )


def _first_not_list(rows: typing.Sequence[typing.Any]) -> typing.Optional[int]:
    """Position of the first row that is not a list, or None."""
    if set(map(type, rows)) <= {list, tuple}:
        return None
    return next((i for i, row in enumerate(rows) if not _is_list(row)), None)


def _flattened(rows: typing.Sequence[typing.Sequence[typing.Any]]) -> typing.Tuple[np.ndarray, typing.List[typing.Any]]:
    """``(length of each row, every entry of every row)``."""
    return np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)), list(itertools.chain.from_iterable(rows))


def _named(
    side: str, index: typing.Sequence[int], one_image: bool, key: typing.Optional[str] = None, image_axis: bool = True
) -> str:
    """``predictions[3][1]``, ``references["bbox"][7]``; for ``add``'s one image, ``prediction[1]`` (no image)."""
    name = (side.removesuffix("s") if one_image else side) + ("" if key is None else f'["{key}"]')
    if one_image and image_axis:
        index = index[1:]
    return name + "".join(f"[{int(i)}]" for i in index)


def _array_position(
    side: str, shape: typing.Tuple[int, ...], one_image: bool, key: typing.Optional[str] = None, image_axis: bool = True
) -> typing.Callable[[int], str]:
    """The name of an array input's entries, by flat position."""
    return lambda flat: _named(side, np.unravel_index(flat, shape), one_image, key, image_axis)


def _ragged_index(counts: np.ndarray, flat: int) -> typing.Tuple[int, int]:
    """``(row, position in it)`` of the ``flat``-th entry of rows of ``counts`` entries."""
    ends = np.cumsum(counts)
    row = int(np.searchsorted(ends, flat, side="right"))
    return row, int(flat - (ends[row] - counts[row]))


def _shown(value: typing.Any, limit: int = 80) -> str:
    """``repr(value)``, cut for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _item(value: typing.Any) -> typing.Any:
    """A 0-d array or tensor as its Python value; anything else as it is."""
    return value.item() if getattr(value, "shape", None) == () and hasattr(value, "item") else value


def _label_problem(value: typing.Any) -> typing.Optional[str]:
    """Why ``value`` is not a label, or None: labels are integers; a float only when it is a whole number."""
    value = _item(value)
    if isinstance(value, (bool, np.bool_)):
        return "a label is an integer, not a bool"
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():  # also NaN and infinities
        return "a label is an integer (a float only when it is a whole number, such as 2.0)"
    if isinstance(value, (int, np.integer, float, np.floating)):
        return None if -_INT64_BOUND <= value < _INT64_BOUND else "a label must fit in 64 bits"
    return f"a label is an integer, not {type(value).__name__}"


def _plain_integers(values: typing.Sequence[typing.Any]) -> bool:
    """Whether every value is a Python or numpy integer (not a bool): what numpy converts without a walk."""
    kinds = set(map(type, values))
    return all(issubclass(kind, (int, np.integer)) and not issubclass(kind, (bool, np.bool_)) for kind in kinds)


def _label_values(values: typing.Any, where: typing.Callable[[int], str], note: str) -> np.ndarray:
    """``values`` (a list, or an array of any shape) as flat int64 labels; else a ValueError naming the first bad one.

    ``where(i)`` names the i-th value; ``note`` ends the message.
    """
    array = values.reshape(-1) if isinstance(values, np.ndarray) else None
    if array is None and _plain_integers(values):
        array = np.asarray(values)  # Python ints past int64 make an object or uint64 array: checked below
    if array is not None and array.dtype.kind in "iuf":
        bad = invalid_labels(array)
        if not bad.any():
            return array.astype(np.int64, copy=False)
        first = int(np.argmax(bad))
        value = array[first].item()
    else:  # mixed types, bools, 0-d arrays, floats in lists: one by one
        items = list(values if array is None else array)
        first = next((i for i, value in enumerate(items) if _label_problem(value) is not None), None)
        if first is None:
            return np.fromiter((int(_item(value)) for value in items), dtype=np.int64, count=len(items))
        value = _item(items[first])  # a numpy scalar shown as its value
    raise ValueError(f"{where(first)} = {_shown(value)}: {_label_problem(value)}{note}")


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


def _entry_problem(entry: typing.Any, what: str, form_phrase: str) -> typing.Optional[str]:
    """Why ``entry`` is not a guess or object ``{"label": int, "bbox": [xmin, ymin, xmax, ymax]}``, or None."""
    if not isinstance(entry, dict):
        return f'{form_phrase} every {what} is a dict {{"label": int, "bbox": [xmin, ymin, xmax, ymax]}}'
    if set(entry) != set(GUESS_KEYS):
        return f'a {what} has exactly the keys "label" and "bbox"; this one has {", ".join(map(repr, entry)) or "none"}'
    return _label_problem(entry["label"]) or _box_problem(entry["bbox"])


def _entry_values(
    entries: typing.List[typing.Any], what: str, where: typing.Callable[[int], str], form_phrase: str
) -> typing.Tuple[np.ndarray, np.ndarray]:
    """The labels (M,) and boxes (M, 4) of guesses or objects ``{"label": int, "bbox": [xmin, ymin, xmax, ymax]}``.

    A ValueError names the first entry that is not one (``where(i)`` names the i-th).
    """
    if not entries:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    try:
        if set(map(type, entries)) <= {dict} and set(map(len, entries)) == {2}:
            labels = list(map(operator.itemgetter("label"), entries))
            boxes = np.asarray(list(map(operator.itemgetter("bbox"), entries)))
            if _plain_integers(labels) and boxes.shape == (len(entries), 4) and boxes.dtype.kind in "iuf":
                labels, boxes = np.asarray(labels), boxes.astype(np.float64, copy=False)
                if labels.dtype.kind == "i" and not invalid_boxes(boxes).any():
                    return labels.astype(np.int64, copy=False), boxes
    except (KeyError, TypeError, ValueError):
        pass  # the walk below finds the entry
    for index, entry in enumerate(entries):
        problem = _entry_problem(entry, what, form_phrase)
        if problem is not None:
            raise ValueError(f"{where(index)} = {_shown(entry)}: {problem}")
    # All are valid, in forms the conversion above leaves to this one: numpy labels, 2.0, array boxes.
    labels = np.fromiter((int(_item(entry["label"])) for entry in entries), dtype=np.int64, count=len(entries))
    return labels, np.array([np.asarray(entry["bbox"], dtype=np.float64) for entry in entries])


def _box_values(
    values: np.ndarray, side: str, label_shape: typing.Tuple[int, ...], one_image: bool, image_axis: bool = True
) -> np.ndarray:
    """A dict-of-arrays input's "bbox", a box per label, as (M, 4) float64; else a ValueError naming the first bad."""
    name, shape = _named(side, (), one_image, "bbox"), label_shape + (4,)
    if values.shape != shape:
        raise ValueError(
            f"{name} must have shape {shape}, a box [xmin, ymin, xmax, ymax] per label; got {values.shape}"
        )
    if values.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numbers [xmin, ymin, xmax, ymax], not {values.dtype} values")
    boxes = values.astype(np.float64, copy=False).reshape(-1, 4)
    _check_boxes(boxes, _array_position(side, label_shape, one_image, "bbox", image_axis))
    return boxes


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


def _check_boxes(boxes: np.ndarray, where: typing.Callable[[int], str]) -> None:
    """Reject what :func:`invalid_boxes` finds in (M, 4) ``boxes``, naming the first (``where(i)`` names row i)."""
    bad = invalid_boxes(boxes)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where(first)} = {boxes[first].tolist()} is not a box: coordinates must be finite, "
            f"with xmin <= xmax and ymin <= ymax; {int(bad.sum())} such box(es) in all"
        )
