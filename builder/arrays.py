"""A split's images as one ``uint8`` array ``(N, H, W, C)``, decoded once and then memory-mapped; a variant's
splits and class table as the arrays ``to-numpy`` writes (:func:`variant_arrays`).

:func:`load_arrays` is what a training loop calls: ``(images, labels)`` of a split of an exported folder,
a Hub repository or a built variant. The first call decodes the split into ``.npy`` files in a cache
folder beside the ``datasets`` cache (``imagenet_tiny_arrays/``), keyed by what the data are, so that a
changed dataset is never served stale; later calls memory-map those files and cost next to nothing.

Decoding (:func:`images_array`) is one copy per column chunk for the PNGs ImageNet-tiny writes
(:mod:`builder.png`: the same byte layout for every image of a config); PNGs written otherwise (other
tools, earlier versions) are decoded one by one by Pillow, in ``num_proc`` processes.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import mmap
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

import datasets
import numpy as np
import pyarrow as pa
from PIL import Image

from builder.errors import ImageNetTinyError, MissingFileError
from builder.png import decode_png_column

logger = logging.getLogger(__name__)

ARRAYS_DIR = "imagenet_tiny_arrays"
_FORMAT = "1"  # part of every cache key: bump it when what the cached files hold changes
_CHUNK_ROWS = 65_536  # rows read from Arrow at a time (Arrow's own chunks may be larger)


class ImageArrayError(ImageNetTinyError, ValueError):
    """Images that cannot go into one array (sizes or modes that differ, an unreadable image)."""


def load_arrays(
    dataset: Union[str, os.PathLike, datasets.Dataset],
    config: Optional[str] = None,
    split: str = "train",
    *,
    revision: Optional[str] = None,
    cache_dir: Optional[str] = None,
    num_proc: Optional[int] = None,
    token: Union[str, bool, None] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of one split: ``uint8 (N, H, W, C)`` (C = 1 for gray, 3 for sRGB) and ``int64 (N,)``.

    ``dataset`` is an exported folder or a Hub repo id (with ``config`` and ``split``, and optionally
    ``revision``), or a split already loaded (``builder.as_dataset()["train"]``, ``load_dataset(...)[...]``).
    The first call decodes the images (``num_proc`` processes where they must be decoded one by one) and
    keeps them in ``cache_dir/imagenet_tiny_arrays`` (default: the ``datasets`` cache; for a loaded split,
    beside its Arrow files); later calls memory-map the kept arrays (read-only). The key is the data's
    identity: the Parquet files' names, sizes and modification times, the Hub commit, or the split's
    fingerprint and Arrow files; a cached copy of other data is replaced, never served.
    """
    if isinstance(dataset, datasets.Dataset):
        return _cached(*_split_identity(dataset, cache_dir), lambda: dataset, num_proc)
    if isinstance(dataset, datasets.DatasetDict):
        raise TypeError("load_arrays takes one split: pass dataset[split], e.g. ds['train']")
    if config is None:
        raise TypeError(f"load_arrays({str(dataset)!r}, ...) needs the config name, e.g. '32x32-sRGB-10'")
    root = Path(cache_dir or datasets.config.HF_DATASETS_CACHE) / ARRAYS_DIR
    path = os.fspath(dataset)
    if os.path.isdir(path):
        identity, key = _folder_identity(path, config, split)
    else:
        revision = _hub_commit(path, revision, token)
        identity, key = f"{path}:{config}:{split}", f"{path}@{revision}"

    def load() -> datasets.Dataset:
        return datasets.load_dataset(path, config, split=split, revision=revision, cache_dir=cache_dir, token=token)

    return _cached(root, identity, key, load, num_proc)


def images_array(
    data: Union[datasets.Dataset, pa.Table],
    column: str = "image",
    mode: Optional[str] = None,
    *,
    num_proc: Optional[int] = None,
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """All images of ``column`` as a ``uint8`` array ``(N, H, W, C)`` (C = 1 for gray, 3 for RGB).

    ``data`` is a split (``datasets.Dataset``, its row selection respected) or an Arrow table whose
    ``column`` holds ``{bytes, path}`` structs as ``datasets.Image`` stores them. Every image must have
    the size of the first; ``mode`` (default: the feature's mode, else the first image's) is what they
    are converted to when they are stored otherwise. ``out``, where given, receives the images (a
    memory-mapped ``.npy``, say) and is returned.
    """
    table = _table(data, [column])
    mode = mode or _feature_mode(data, column)
    if table.num_rows == 0:
        return np.empty((0, 0, 0, 0), np.uint8) if out is None else out
    shape, mode = _shape_and_mode(table, column, mode)
    if out is None:
        out = np.empty(shape, np.uint8)
    elif out.shape != shape or out.dtype != np.uint8:
        raise ImageArrayError(f"out is {out.dtype} {out.shape}, the images need uint8 {shape}")
    slow = []  # (first row, chunk) of PNGs that are not in ImageNet-tiny's layout
    row = 0
    for chunk in table.column(column).chunks:
        for start in range(0, len(chunk), _CHUNK_ROWS):
            part = chunk.slice(start, _CHUNK_ROWS)
            if not _decode_fixed_layout(part, mode, out[row : row + len(part)]):
                slow.append((row, part))
            row += len(part)
    if slow:
        _decode_one_by_one(slow, mode, out, num_proc)
    return out


# --- the cache -------------------------------------------------------------------------------------


def _split_identity(split: datasets.Dataset, cache_dir: Optional[str]) -> tuple[Optional[Path], str, str]:
    """Where a loaded split's arrays are kept, what names the split, and its content key (no cache: in memory)."""
    files = [f["filename"] for f in split.cache_files]
    if not files:
        return None, "", ""
    root = Path(cache_dir) / ARRAYS_DIR if cache_dir else Path(files[0]).parent / ARRAYS_DIR
    stats = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
    return root, f"{files[0]}:{split.split}", f"{split._fingerprint}:{stats}"


def _folder_identity(folder: str, config: str, split: str) -> tuple[str, str]:
    """An exported folder's split: its Parquet files (``CONFIG/SPLIT-*.parquet``, as the card lists them)."""
    folder = os.path.abspath(folder)
    files = sorted(Path(folder, config).glob(f"{split}-*.parquet"))
    if not files:
        configs = sorted(p.parent.name for p in Path(folder).glob("*/*.parquet"))
        raise MissingFileError(
            f"{folder} has no {split} split of {config} ({os.path.join(config, split + '-*.parquet')}); "
            f"it holds: {', '.join(sorted(set(configs))) or 'no config'}"
        )
    stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return f"{folder}:{config}:{split}", str(stats)


def _hub_commit(repo_id: str, revision: Optional[str], token: Union[str, bool, None]) -> str:
    """The commit that ``revision`` (default: main) of a Hub dataset repo is at now."""
    from huggingface_hub import HfApi

    return HfApi(token=token).dataset_info(repo_id, revision=revision).sha


def _cached(root: Optional[Path], identity: str, key: str, load, num_proc: Optional[int]) -> tuple[np.ndarray, np.ndarray]:
    if root is None:  # a split held in memory only: nothing to key a file by
        split = load()
        labels = _labels(split)
        return images_array(split, num_proc=num_proc), labels
    name = hashlib.sha256(identity.encode()).hexdigest()[:16]
    entry = root / f"{name}-{hashlib.sha256(f'{_FORMAT}:{key}'.encode()).hexdigest()[:16]}"
    if not entry.is_dir():
        _write_entry(entry, identity, load(), num_proc)
        for stale in root.glob(f"{name}-*"):  # the same split's arrays of earlier data
            if stale != entry:
                shutil.rmtree(stale, ignore_errors=True)
    return np.load(entry / "images.npy", mmap_mode="r"), np.load(entry / "labels.npy", mmap_mode="r")


def _write_entry(entry: Path, identity: str, split: datasets.Dataset, num_proc: Optional[int]) -> None:
    """Decode ``split`` straight into the ``.npy`` files (no second copy in memory), then publish them at once."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        np.save(staging / "labels.npy", _labels(split))
        images = np.lib.format.open_memmap(staging / "images.npy", "w+", np.uint8, image_shape(split))
        if len(split):
            images_array(split, num_proc=num_proc, out=images)
        images.flush()
        del images
        (staging / "source.json").write_text(json.dumps({"split": identity, "rows": len(split)}) + "\n")
        os.chmod(staging, 0o777 & ~_umask())
        try:
            staging.rename(entry)
        except OSError:
            if not entry.is_dir():  # else another process has just written the same arrays
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("decoded %d images of %s into %s", len(split), identity, entry)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _labels(split: datasets.Dataset) -> np.ndarray:
    if "label" not in split.column_names:
        raise ImageArrayError(f"the split has no 'label' column (it has {', '.join(split.column_names)})")
    return _table(split, ["label"]).column("label").to_numpy().astype(np.int64, copy=False)


# --- decoding --------------------------------------------------------------------------------------


def _table(data: Union[datasets.Dataset, pa.Table], columns: list[str]) -> pa.Table:
    """The columns of ``data`` as an Arrow table, its row selection (select, shuffle) applied."""
    if isinstance(data, pa.Table):
        return data.select(columns)
    missing = [c for c in columns if c not in data.column_names]
    if missing:
        raise ImageArrayError(f"the split has no {missing[0]!r} column (it has {', '.join(data.column_names)})")
    if data._indices is None:
        return data.data.table.select(columns)
    return data.select_columns(columns).with_format("arrow")[:]


def image_shape(data: Union[datasets.Dataset, pa.Table], column: str = "image") -> tuple[int, int, int, int]:
    """``(N, H, W, C)`` of :func:`images_array`'s result, from the first image alone."""
    table = _table(data, [column])
    if table.num_rows == 0:
        return (0, 0, 0, 0)
    return _shape_and_mode(table, column, _feature_mode(data, column))[0]


def _feature_mode(data: Union[datasets.Dataset, pa.Table], column: str) -> Optional[str]:
    return getattr(data.features.get(column), "mode", None) if isinstance(data, datasets.Dataset) else None


def _shape_and_mode(table: pa.Table, column: str, mode: Optional[str]) -> tuple[tuple[int, int, int, int], str]:
    first = _decode_one(_png_bytes(table.slice(0, 1).column(column).combine_chunks())[0], mode, 0)
    channels = 1 if first.ndim == 2 else first.shape[2]
    return (table.num_rows, first.shape[0], first.shape[1], channels), mode or ("L" if channels == 1 else "RGB")


def _png_bytes(images: pa.Array) -> list[Optional[bytes]]:
    return images.field("bytes").to_pylist()


def _decode_fixed_layout(images: pa.StructArray, mode: str, out: np.ndarray) -> bool:
    """One copy of the whole chunk, when every PNG in it has ImageNet-tiny's layout (:mod:`builder.png`)."""
    values = images.field("bytes")
    if images.null_count or values.null_count or out.shape[3] != (1 if mode == "L" else 3):
        return False
    _, offsets, data = values.buffers()
    offsets = np.frombuffer(offsets, np.int32)[values.offset : values.offset + len(values) + 1]
    height, width = out.shape[1:3]
    try:
        return decode_png_column(np.frombuffer(data, np.uint8), offsets, width, height, mode, out)
    except ValueError as error:
        raise ImageArrayError(str(error)) from None


def _decode_one(data: Optional[bytes], mode: Optional[str], row: int) -> np.ndarray:
    if data is None:
        raise ImageArrayError(f"row {row} has no image bytes")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert(mode) if mode and image.mode != mode else image)
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageArrayError(f"row {row}: unreadable image ({type(error).__name__}: {error})") from None


# The rows to decode one by one, for forked workers (which write into ``out``'s shared pages).
_WORK: Optional[tuple[list, Optional[str], np.ndarray]] = None


def _decode_one_by_one(parts: list[tuple[int, pa.Array]], mode: str, out: np.ndarray, num_proc: Optional[int]) -> None:
    global _WORK
    total = sum(len(part) for _, part in parts)
    workers = min(num_proc or 1, max(1, total // 1000))
    if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
        _decode_rows(parts, mode, out)
        return
    shared = out if isinstance(out, np.memmap) else _shared_like(out)
    ranges = [(total * i // workers, total * (i + 1) // workers) for i in range(workers)]
    _WORK = (parts, mode, shared)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pool.map(_decode_range, ranges)
    finally:
        _WORK = None
    if shared is not out:
        out[:] = shared


def _decode_range(bounds: tuple[int, int]) -> None:
    parts, mode, out = _WORK
    start, stop = bounds
    mine, position = [], 0
    for row, part in parts:  # the parts' rows, numbered 0..total-1, that fall in [start, stop)
        lo, hi = max(start - position, 0), min(stop - position, len(part))
        if lo < hi:
            mine.append((row + lo, part.slice(lo, hi - lo)))
        position += len(part)
    _decode_rows(mine, mode, out)


def _decode_rows(parts: list[tuple[int, pa.Array]], mode: str, out: np.ndarray) -> None:
    for first_row, part in parts:
        for row, data in enumerate(_png_bytes(part), first_row):
            pixels = _decode_one(data, mode, row)
            if pixels.shape[:2] != out.shape[1:3]:
                raise ImageArrayError(
                    f"row {row} is {pixels.shape[1]}x{pixels.shape[0]}, the first image is "
                    f"{out.shape[2]}x{out.shape[1]}: images of different sizes do not fit one array"
                )
            out[row] = pixels.reshape(out.shape[1:])


def _shared_like(array: np.ndarray) -> np.ndarray:
    """A zeroed array of ``array``'s shape in memory that forked processes share."""
    buffer = mmap.mmap(-1, max(array.nbytes, 1))
    return np.frombuffer(buffer, np.uint8, count=array.size).reshape(array.shape)


# --- a whole variant ------------------------------------------------------------------------------


def variant_arrays(dataset: datasets.DatasetDict) -> dict[str, np.ndarray]:
    """``x_train, y_train, x_val, y_val`` (and ``x_test`` when present) plus the class table (``wnids``, ``words``)."""
    arrays: dict[str, np.ndarray] = {}
    for split, suffix in (("train", "train"), ("validation", "val"), ("test", "test")):
        if split in dataset:
            x, y = load_arrays(dataset[split])
            arrays[f"x_{suffix}"] = x
            if split != "test":
                arrays[f"y_{suffix}"] = y
    some_split = next(iter(dataset.values()))
    wnids = some_split.features["label"].names
    arrays["wnids"] = np.array(wnids)
    arrays["words"] = np.array(class_words(dataset, wnids))
    return arrays


def class_words(dataset: datasets.DatasetDict, wnids: list[str]) -> list[str]:
    """Each class's words, read from the examples themselves (the ``words`` column): one row per class."""
    words: dict[int, str] = {}
    for split in dataset.values():
        labels = np.asarray(split.data.table.column("label").to_numpy())
        found, first_rows = np.unique(labels, return_index=True)  # vectorised: no pass over every row in Python
        texts = split.data.table.column("words").take(first_rows).to_pylist()
        for label, text in zip(found.tolist(), texts):
            if label >= 0:
                words.setdefault(label, text)
    return [words.get(i, "") for i in range(len(wnids))]
