"""ImageNet as the Hugging Face Hub holds it, recognised from the repository's file names.

Three layouts, each checked against public sources (the repositories themselves are gated, so what
they hold was read from the code and documentation of people who use them):

``ILSVRC/imagenet-1k``, Parquet (the repository today):
  ``data/train-NNNNN-of-00294.parquet``, ``data/validation-NNNNN-of-00014.parquet``,
  ``data/test-NNNNN-of-00028.parquet`` and ``classes.py``. Each row has ``image``, a struct of the
  original JPEG ``bytes`` and its file name ``path``, and ``label``, the class's position in
  ``classes.py`` (-1 in the test split). The file name is the one the loading script read from the
  archives below: ``<ILSVRC stem>_<wnid>.JPEG`` for train and validation
  (``n01440764_10026_n01440764.JPEG``), ``<ILSVRC stem>.JPEG`` for test. Sources: public conversion
  scripts that read these shards (a DINOv2 data script: shard counts ``{"train": 294, "validation": 14,
  "test": 28}``, the ``<basename>_<wnid>.JPEG`` paths, the bytes written out as the original JPEGs; a
  download script listing the three prefixes and their sizes, "verified 2026-05-15"), and the
  loading script below, from which the Parquet files were converted.
``ILSVRC/imagenet-1k``, ``.tar.gz`` archives (the loading-script era, up to 2024):
  ``data/train_images_{0..4}.tar.gz``, ``data/val_images.tar.gz``, ``data/test_images.tar.gz``: flat
  ``.JPEG`` files named as above; ``classes.py``. Sources: the loading script ``imagenet-1k.py`` (in the
  ``huggingface/datasets`` repository until datasets moved to the Hub: ``_DATA_URL``, the label from
  the ``_<wnid>`` suffix of the file name, -1 for test), download-and-extract scripts naming the seven
  archives, and a listing of a download of them (October 2024: five train archives of 27 GiB each).
``timm/imagenet-1k-wds``, WebDataset:
  ``imagenet1k-train-{0000..1023}.tar`` (1,281,167 samples) and ``imagenet1k-validation-{00..63}.tar``
  (50,000) at the top of the repository (its README writes ``{0000..0063}``; the download and streaming
  scripts that use it, ``{00..63}``: any zero-padding is accepted), and timm's ``_info.json`` (split names,
  files, shard lengths: not needed here). Each sample is ``<key>.jpg``, ``<key>.cls`` (the class index,
  ASCII, in sorted WNID order: timm's ``ReaderWds`` reads it as the target) and ``<key>.json`` (not read
  here); the key plus ``.JPEG`` is the original file name (``ReaderWds``: ``key_ext = '.JPEG'``), so
  the key is the ILSVRC stem, and a training key's WNID is checked against its ``.cls``. Its README:
  converted from TFDS's ImageNet-1k shards, train and validation only; TFDS's catalog: its 3.0.0
  re-encoded about 12 CMYK JPEGs as RGB and the one PNG as JPEG. The shards are shuffled.

``classes.py`` holds ``IMAGENET2012_CLASSES``, an ``OrderedDict`` of the 1000 WNIDs in sorted order
(the label is the position) to their words. Its words are not Kaggle's in every case (``n03126707`` is
``crane2`` there), so only the WNIDs and their order are checked; the words come from the table that
ships with ImageNet-tiny. The file is read as data (``ast``), never run.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from typing import Mapping, Optional, Sequence

from builder.classes import ilsvrc_classes
from builder.ilsvrc_files import WNID_PATTERN
from builder.sources.base import SPLITS, SourceLayoutError

PARQUET, TAR_GZ, WDS = "parquet", "tar.gz", "webdataset"
CLASSES_FILE = "classes.py"
CLASSES_NAME = "IMAGENET2012_CLASSES"

_PARQUET = re.compile(r"data/(?P<split>train|validation|test)-(?P<index>[0-9]{5})-of-(?P<count>[0-9]{5})\.parquet")
_TAR_GZ = re.compile(r"data/(?:(?P<train>train)_images_(?P<index>[0-9]+)|(?P<other>val|test)_images)\.tar\.gz")
_WDS = re.compile(r"(?:.*/)?imagenet1k-(?P<split>train|validation)-(?P<index>[0-9]+)\.tar")
TAR_GZ_TRAIN_ARCHIVES = 5  # train_images_0 .. train_images_4
_SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
# A train or validation file name of ILSVRC/imagenet-1k: the ILSVRC stem, then the WNID.
_LABELLED_NAME = re.compile(r"(?P<stem>.+)_(?P<wnid>n[0-9]{8})")

LAYOUT_HELP = """\
  the Hub's ILSVRC/imagenet-1k, a local snapshot of the repository or hf://datasets/ILSVRC/imagenet-1k:
    classes.py, data/{train,validation,test}-NNNNN-of-NNNNN.parquet
    (or, as it was until 2024: data/train_images_{0..4}.tar.gz, data/val_images.tar.gz, data/test_images.tar.gz)
  the Hub's timm/imagenet-1k-wds, a local snapshot or hf://datasets/timm/imagenet-1k-wds:
    imagenet1k-train-NNNN.tar, imagenet1k-validation-NN.tar (WebDataset: <key>.jpg, <key>.cls)"""


@dataclasses.dataclass(frozen=True)
class HubShard:
    """One file of images: ``path`` relative to the repository's top, its ``size`` in bytes, its split."""

    path: str
    size: int
    split: str
    kind: str


@dataclasses.dataclass(frozen=True)
class HubLayout:
    """A repository's images in one layout (``kind``): its shards in split order, and its class table file."""

    name: str
    kind: str
    shards: tuple[HubShard, ...]
    classes_file: Optional[str]

    @property
    def splits(self) -> tuple[str, ...]:
        present = {shard.split for shard in self.shards}
        return tuple(split for split in SPLITS if split in present)

    def split_shards(self, split: str) -> list[HubShard]:
        return [shard for shard in self.shards if shard.split == split]


def find_layout(files: Mapping[str, int], where: str) -> Optional[HubLayout]:
    """The Hub layout that ``files`` (relative path -> size) are in, or None when they are in none.

    A layout whose files are incomplete (a shard missing from a numbered series, no ``classes.py``, no
    training images) is an error that names what is missing: ``where`` says whose files they are.
    """
    for find in (_parquet_layout, _tar_gz_layout, _wds_layout):
        layout = find(files, where)
        if layout is not None:
            if "train" not in layout.splits:
                raise SourceLayoutError(f"{where} is in the {layout.name} layout but has no training images\n\n{LAYOUT_HELP}")
            return layout
    return None


def _parquet_layout(files: Mapping[str, int], where: str) -> Optional[HubLayout]:
    found = _matching(files, _PARQUET)
    if not found:
        return None
    expected = {f"data/{m['split']}-{i:05d}-of-{m['count']}.parquet" for m in found.values() for i in range(int(m["count"]))}
    _require(where, "ILSVRC/imagenet-1k (Parquet)", sorted(expected - set(found)) + _classes_missing(files))
    return HubLayout("ILSVRC/imagenet-1k (Parquet)", PARQUET, _shards(files, {p: m["split"] for p, m in found.items()}, PARQUET), CLASSES_FILE)


def _tar_gz_layout(files: Mapping[str, int], where: str) -> Optional[HubLayout]:
    found = _matching(files, _TAR_GZ)
    if not found:
        return None
    train = [f"data/train_images_{i}.tar.gz" for i in range(TAR_GZ_TRAIN_ARCHIVES)]
    _require(where, "ILSVRC/imagenet-1k (.tar.gz)", [p for p in train if p not in files] + _classes_missing(files))
    splits = {path: _SPLIT_NAMES[match["train"] or match["other"]] for path, match in found.items()}
    return HubLayout("ILSVRC/imagenet-1k (.tar.gz)", TAR_GZ, _shards(files, splits, TAR_GZ), CLASSES_FILE)


def _wds_layout(files: Mapping[str, int], where: str) -> Optional[HubLayout]:
    found = _matching(files, _WDS)
    if not found:
        return None
    # The names carry no count: a gap in a split's numbers is a missing shard.
    missing = []
    for split in {m["split"] for m in found.values()}:
        numbers = {m["index"]: path for path, m in found.items() if m["split"] == split}
        width = len(next(iter(numbers)))
        folder = next(iter(numbers.values())).rpartition("/")[0]
        missing += [f"{folder + '/' if folder else ''}imagenet1k-{split}-{i:0{width}d}.tar"
                    for i in range(max(map(int, numbers)) + 1) if f"{i:0{width}d}" not in numbers]
    _require(where, "timm/imagenet-1k-wds", sorted(missing))
    return HubLayout("timm/imagenet-1k-wds", WDS, _shards(files, {p: m["split"] for p, m in found.items()}, WDS), None)


def _matching(files: Mapping[str, int], pattern: re.Pattern) -> dict[str, re.Match]:
    return {path: match for path in files if (match := pattern.fullmatch(path))}


def _classes_missing(files: Mapping[str, int]) -> list[str]:
    return [] if CLASSES_FILE in files else [CLASSES_FILE]


def _shards(files: Mapping[str, int], splits: Mapping[str, str], kind: str) -> tuple[HubShard, ...]:
    """The shards, train then validation then test, each split's in name order (zero-padded: number order)."""
    order = sorted(splits, key=lambda path: (SPLITS.index(splits[path]), path))
    return tuple(HubShard(path, files[path], splits[path], kind) for path in order)


def _require(where: str, name: str, missing: Sequence[str]) -> None:
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise SourceLayoutError(f"{where} looks like {name} but lacks {len(missing)} file(s): {shown}\n\n{LAYOUT_HELP}")


def read_classes_py(text: str, where: str) -> tuple[str, ...]:
    """The WNIDs of ``classes.py``'s ``IMAGENET2012_CLASSES``, checked: ImageNet's 1000, in sorted order
    (the order that gives the labels). The file is parsed, not run."""
    try:
        tree = ast.parse(text, where)
    except SyntaxError as error:
        raise SourceLayoutError(f"{where}: not Python ({error.msg}, line {error.lineno})") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == CLASSES_NAME for t in node.targets):
            value = node.value
            if isinstance(value, ast.Call) and value.args:  # OrderedDict({...})
                value = value.args[0]
            try:
                mapping = ast.literal_eval(value)
            except ValueError:
                break
            if isinstance(mapping, dict):
                return _check_wnids(tuple(mapping), where)
    raise SourceLayoutError(f"{where}: expected {CLASSES_NAME} = OrderedDict({{wnid: words, ...}}) as ILSVRC/imagenet-1k has it")


def _check_wnids(wnids: tuple[str, ...], where: str) -> tuple[str, ...]:
    known = ilsvrc_classes().wnids
    if wnids != known:
        position = next((i for i, (a, b) in enumerate(zip(wnids, known)) if a != b), min(len(wnids), len(known)))
        given = wnids[position] if position < len(wnids) else "nothing"
        expected = known[position] if position < len(known) else "nothing"
        raise SourceLayoutError(
            f"{where}: class {position} is {given}, but ImageNet's class {position} (in sorted WNID order) is "
            f"{expected}; it lists {len(wnids)} classes. Labels would mean other classes: is this ILSVRC/imagenet-1k's classes.py?"
        )
    return wnids


def split_file_name(name: str, split: str, where: str) -> tuple[str, Optional[str]]:
    """``(image id, wnid)`` of an ILSVRC/imagenet-1k file name (``n01440764_10026_n01440764.JPEG``: the
    id ``n01440764_10026`` and class ``n01440764``); test images have no WNID in their names."""
    stem = name.rpartition("/")[2].rpartition(".")[0]
    if split == "test":
        return stem, None
    match = _LABELLED_NAME.fullmatch(stem)
    if match is None or not WNID_PATTERN.fullmatch(match["wnid"]):
        raise SourceLayoutError(f"{where}: {name!r} is not named <image id>_<wnid>.JPEG as ILSVRC/imagenet-1k names its {split} images")
    return match["stem"], match["wnid"]
