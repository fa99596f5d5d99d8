"""Splits as arrays: the tiny PNG layout, the one-copy decoder, and ``load_arrays`` with its cache."""

from __future__ import annotations

import io
import os
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from builder.arrays import ImageArrayError, images_array, load_arrays
from builder.png import decode_png_column, encode_png
from imagenet_tiny import prepare_variant
from publish.export import export

CONFIG = "16x16-sRGB-5"


def pillow_pixels(split: datasets.Dataset) -> np.ndarray:
    """Every image of a split decoded by Pillow alone, one by one: the reference."""
    column = split.data.table.column("image").to_pylist()
    return np.stack([np.asarray(Image.open(io.BytesIO(cell["bytes"]))) for cell in column]).reshape(
        len(column), *np.asarray(Image.open(io.BytesIO(column[0]["bytes"]))).shape[:2], -1
    )


def binary_buffers(pngs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    array = pa.array(pngs, pa.binary())
    _, offsets, data = array.buffers()
    return np.frombuffer(data, np.uint8), np.frombuffer(offsets, np.int32)[: len(pngs) + 1]


@pytest.mark.parametrize("size, mode", [((8, 8), "L"), ((32, 32), "RGB"), ((64, 48), "RGB"), ((200, 150), "RGB"), ((7, 3), "L")])
def test_tiny_pngs_decode_with_pillow_and_as_one_column(sample_dir, size, mode):
    originals = sorted(sample_dir.glob("*.JPEG"))[:40]
    images = [Image.open(path).convert(mode).resize(size) for path in originals]
    pngs = [encode_png(image) for image in images]
    expected = np.stack([np.asarray(image).reshape(size[1], size[0], -1) for image in images])
    # Ordinary PNGs: Pillow reads each back exactly (200x150 RGB spans two stored deflate blocks).
    assert all(np.array_equal(np.asarray(Image.open(io.BytesIO(png))), np.asarray(image)) for png, image in zip(pngs, images))
    out = np.empty_like(expected)
    assert decode_png_column(*binary_buffers(pngs), size[0], size[1], mode, out)
    assert np.array_equal(out, expected)


def test_a_column_in_another_layout_is_left_to_pillow_and_a_corrupt_one_is_an_error(sample_dir):
    images = [Image.open(path).convert("RGB").resize((16, 16)) for path in sorted(sample_dir.glob("*.JPEG"))[:5]]
    out = np.zeros((5, 16, 16, 3), np.uint8)
    deflated = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        deflated.append(buffer.getvalue())
    assert not decode_png_column(*binary_buffers(deflated), 16, 16, "RGB", out)
    assert not out.any()  # nothing written
    pngs = [encode_png(image) for image in images]
    corrupt = bytearray(pngs[3])
    corrupt[100] ^= 0xFF  # a pixel byte: the layout holds, the IDAT checksum does not
    with pytest.raises(ValueError, match="image 3 .*CRC"):
        decode_png_column(*binary_buffers(pngs[:3] + [bytes(corrupt)] + pngs[4:]), 16, 16, "RGB", out)


@pytest.fixture(scope="module")
def source(synthetic_sources) -> Path:
    return synthetic_sources(per_class=(6, 3, 2))


@pytest.fixture(scope="module")
def built(source, tmp_path_factory) -> datasets.DatasetDict:
    return prepare_variant(CONFIG, str(source), cache_dir=str(tmp_path_factory.mktemp("builds"))).as_dataset()


def test_images_array_equals_pillow_for_every_row_and_selection(built):
    train = built["train"]
    assert np.array_equal(images_array(train), pillow_pixels(train))
    chosen = train.shuffle(seed=1).select(range(7))
    assert np.array_equal(images_array(chosen), pillow_pixels(chosen.flatten_indices()))


def test_pngs_of_other_encoders_are_decoded_one_by_one_in_processes(built, tmp_path):
    train = built["train"]

    def recompress(batch):  # as another tool (or an earlier ImageNet-tiny) would store them
        out = []
        for cell in batch["image"]:
            buffer = io.BytesIO()
            Image.open(io.BytesIO(cell["bytes"])).save(buffer, format="PNG", optimize=True)
            out.append({"bytes": buffer.getvalue(), "path": None})
        return {"image": out}

    foreign = train.cast_column("image", datasets.Image(decode=False)).map(recompress, batched=True)
    foreign = foreign.cast_column("image", datasets.Image(mode="RGB"))
    assert foreign.data.table.column("image")[0]["bytes"].as_py() != train.data.table.column("image")[0]["bytes"].as_py()
    expected = pillow_pixels(train)
    assert np.array_equal(images_array(foreign), expected)
    assert np.array_equal(images_array(foreign, num_proc=2), expected)


def test_load_arrays_of_an_export_decodes_once_then_maps_the_cache(source, built, tmp_path):
    out = tmp_path / "export"
    export([CONFIG], source, out, cache_dir=str(tmp_path / "builds"))
    cache = str(tmp_path / "cache")
    images, labels = load_arrays(out, CONFIG, "validation", cache_dir=cache)
    assert images.dtype == np.uint8 and images.shape == (15, 16, 16, 3)
    assert labels.dtype == np.int64 and labels.tolist() == built["validation"]["label"]
    assert np.array_equal(images, pillow_pixels(built["validation"]))
    (entry,) = (Path(cache) / "imagenet_tiny_arrays").iterdir()
    assert sorted(p.name for p in entry.iterdir()) == ["images.npy", "labels.npy", "source.json"]

    # Later calls map the kept files: loading the data again would fail here, as the loader is gone.
    again, _ = load_arrays(out, CONFIG, "validation", cache_dir=cache)
    assert isinstance(again, np.memmap) and np.array_equal(again, images)
    assert Path(again.filename) == entry / "images.npy"


def test_a_changed_export_is_decoded_again_never_served_stale(tmp_path, synthetic_sources):
    source, out, cache = synthetic_sources(per_class=(2, 2, 0), seed=1), tmp_path / "export", str(tmp_path / "cache")
    export([CONFIG], source, out, cache_dir=str(tmp_path / "builds-1"))
    first, _ = load_arrays(out, CONFIG, "train", cache_dir=cache)
    first = np.array(first)

    other = synthetic_sources(per_class=(3, 2, 0), seed=2)
    export([CONFIG], other, out, cache_dir=str(tmp_path / "builds-2"))
    second, labels = load_arrays(out, CONFIG, "train", cache_dir=cache)
    reference = datasets.load_dataset(str(out), CONFIG, split="train", cache_dir=str(tmp_path / "loaded"))
    assert second.shape[0] == 15 != first.shape[0]
    assert np.array_equal(second, pillow_pixels(reference)) and labels.tolist() == reference["label"]
    assert len(list((Path(cache) / "imagenet_tiny_arrays").iterdir())) == 1  # the stale arrays are gone


def test_load_arrays_of_a_built_split_is_kept_beside_its_arrow_files(built):
    train = built["train"]
    images, labels = load_arrays(train)
    assert np.array_equal(images, pillow_pixels(train)) and labels.tolist() == train["label"]
    assert Path(images.filename).parent.parent == Path(train.cache_files[0]["filename"]).parent / "imagenet_tiny_arrays"
    assert oct(os.stat(Path(images.filename).parent).st_mode & 0o777) == oct(0o777 & ~_umask())


def test_load_arrays_says_what_is_missing(source, tmp_path):
    out = tmp_path / "export"
    export([CONFIG], source, out, cache_dir=str(tmp_path / "builds"))
    with pytest.raises(FileNotFoundError, match=rf"no test split of {CONFIG}.*it holds: {CONFIG}"):
        load_arrays(out, CONFIG, "test", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(TypeError, match="needs the config name"):
        load_arrays(out)
    with pytest.raises(ImageArrayError, match="no 'label' column"):
        load_arrays(datasets.Dataset.from_dict({"image": [None]}))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
