"""The builder end to end, on small Kaggle- and devkit-layout sources made from the real sample and metadata."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

import imagenet_tiny
from builder.classes import SEED_FIVE_CLASSES, read_synset_mapping
from builder.geometry import fit_geometry, original_boxes
from imagenet_tiny import ImageNetTiny
from tests.expected import expected_tiny_box
from tests.fixtures.sources import make_devkit_source

WNIDS = sorted(SEED_FIVE_CLASSES) + ["n01440764", "n01443537"]  # 7 classes; the config '-5' picks the seed's five
TEST_WNIDS = ["n04090263", "n01532829"]  # a grayscale JPEG with a profile, and an Adobe RGB one


@pytest.fixture(scope="module")
def sources(sample_sources):
    return {layout: sample_sources(layout, WNIDS, val_per_class=2, test_wnids=TEST_WNIDS) for layout in ("kaggle", "devkit")}


def build(config_name, source, cache_dir, **kwargs):
    num_proc = kwargs.pop("num_proc", None)
    builder = ImageNetTiny(config_name=config_name, data_dir=str(source.root), cache_dir=str(cache_dir), **kwargs)
    builder.download_and_prepare(num_proc=num_proc)
    return builder, builder.as_dataset()


@pytest.mark.parametrize("layout", ["kaggle", "devkit"])
@pytest.mark.parametrize("config_name", ["16x16-sRGB-5", "8x8-gray-5-pad", "24x16-sRGB-5-squash"])
def test_examples_match_the_source(layout, config_name, sources, ilsvrc_dir, tmp_path):
    source = sources[layout]
    builder, ds = build(config_name, source, tmp_path)
    config = builder.config
    names = ds["train"].features["label"].names
    assert names == sorted(SEED_FIVE_CLASSES)
    table = read_synset_mapping(ilsvrc_dir / "LOC_synset_mapping.txt")
    assert set(ds) == {"train", "validation"}  # no test split in a subset config
    for split in ("train", "validation"):
        made = {m.image_id: m for m in source.split(split) if m.wnid in SEED_FIVE_CLASSES}
        rows = ds[split]
        assert sorted(rows["image_id"]) == sorted(made) and len(rows) == len(made)
        for row in rows:
            original = made[row["image_id"]]
            assert row["image"].size == (config.width, config.height)
            assert row["image"].mode == ("L" if config.color == "gray" else "RGB")
            assert names[row["label"]] == original.wnid
            assert row["words"] == table.words_of(original.wnid)
            size = Image.open(original.path).size
            assert (row["original_width"], row["original_height"]) == size
            expected = [expected_tiny_box(b, size, config.size, config.fit_mode) for b in original.boxes]
            expected = [b for b in expected if b[2] > b[0] and b[3] > b[1]]
            np.testing.assert_allclose(np.array(row["bboxes"]).reshape(-1, 4), np.array(expected).reshape(-1, 4), atol=1e-4)


def test_stored_boxes_map_back_to_the_original(sources, tmp_path):
    builder, ds = build("32x32-sRGB-5-pad", sources["kaggle"], tmp_path)
    made = {m.image_id: m for m in sources["kaggle"].validation}
    for row in ds["validation"]:
        fit = fit_geometry((row["original_width"], row["original_height"]), (32, 32), "pad")
        back = original_boxes(fit, row["bboxes"])
        # pad keeps the whole image, so nothing is clipped: every box comes back within a pixel
        assert np.all(np.abs(np.round(back) - np.array(made[row["image_id"]].boxes)) <= 1)


@pytest.mark.full_scale
def test_full_config_has_the_test_split_and_all_classes(sample_dir, ilsvrc_dir, tmp_path):
    all_wnids = read_synset_mapping(ilsvrc_dir / "LOC_synset_mapping.txt").wnids
    source = make_devkit_source(tmp_path / "src", sample_dir, ilsvrc_dir, all_wnids, train_per_class=1, val_per_class=0, test_wnids=TEST_WNIDS)
    builder, ds = build("8x8-gray-full", source, tmp_path / "cache", num_proc=2)
    assert set(ds) == {"train", "test"}  # no validation image on disk: the ground truth alone makes no split
    labels = ds["train"].features["label"]
    assert labels.names == list(all_wnids) and labels.num_classes == 1000
    assert len(ds["train"]) == 1000
    assert ds["train"]["label"] == list(range(1000))  # one image per class, in class order
    assert ds["test"]["label"] == [-1, -1]
    assert ds["test"]["bboxes"] == [[], []]
    assert ds["test"]["words"] == ["", ""]
    assert ds["test"]["image_id"] == ["ILSVRC2012_test_00000001", "ILSVRC2012_test_00000002"]


def test_layouts_give_the_same_dataset(sources, tmp_path):
    _, kaggle = build("16x16-gray-5", sources["kaggle"], tmp_path / "k")
    _, devkit = build("16x16-gray-5", sources["devkit"], tmp_path / "d")
    for split in ("train", "validation"):
        assert kaggle[split].data.table.equals(devkit[split].data.table)


def test_explicit_classes_and_resample(sources, tmp_path):
    builder, ds = build("16x16-sRGB-2", sources["kaggle"], tmp_path, classes=["n01443537", "n01440764"], resample="lanczos")
    assert ds["train"].features["label"].names == ["n01440764", "n01443537"]
    assert builder.config.resample == "lanczos"
    _, box = build("16x16-sRGB-2", sources["kaggle"], tmp_path, classes=["n01443537", "n01440764"])
    assert ds["train"]["image_id"] == box["train"]["image_id"]
    assert ds["train"][0]["image"].tobytes() != box["train"][0]["image"].tobytes()


def arrow_rows(ds):
    return {split: ds[split].data.table for split in ds}


def test_deterministic_and_independent_of_num_proc(sources, tmp_path):
    _, first = build("8x8-sRGB-5", sources["kaggle"], tmp_path / "a")
    _, second = build("8x8-sRGB-5", sources["kaggle"], tmp_path / "b", num_proc=2)
    for split in first:
        assert first[split].data.table.equals(second[split].data.table)
        assert first[split]["image_id"] == sorted(first[split]["image_id"], key=lambda i: (i.split("_")[0], i))


def test_unreadable_images_are_skipped_and_reported(sources, sample_dir, tmp_path):
    source = sources["kaggle"]
    train = source.root / "ILSVRC" / "Data" / "CLS-LOC" / "train"
    truncated = train / "n01440764" / "n01440764_77.JPEG"
    garbage = train / "n01443537" / "n01443537_78.JPEG"
    truncated.write_bytes((train / "n01440764" / "n01440764_1.JPEG").read_bytes()[:2000])
    garbage.write_bytes(b"this is not an image")
    try:
        builder, ds = build("8x8-gray-2", source, tmp_path, classes=["n01440764", "n01443537"])
        assert len(ds["train"]) == 4 and "n01440764_77" not in ds["train"]["image_id"]
        with open(f"{builder.cache_dir}/skipped_images.csv", newline="") as f:
            report = list(csv.DictReader(f))
        assert [(r["split"], r["image_id"]) for r in report] == [("train", "n01440764_77"), ("train", "n01443537_78")]
        assert report[0]["path"] == str(truncated) and "truncated" in report[0]["reason"]
        assert "cannot identify image" in report[1]["reason"]

        with pytest.raises(imagenet_tiny.CorruptImageError, match=f"cannot read {truncated}"):
            imagenet_tiny.prepare_variant(
                "8x8-gray-2", str(source.root), cache_dir=str(tmp_path / "strict"), strict=True,
                classes=["n01440764", "n01443537"],
            )
    finally:
        truncated.unlink()
        garbage.unlink()


def test_interrupted_build_is_not_complete_and_a_rerun_finishes(sources, tmp_path, monkeypatch):
    real = imagenet_tiny.tiny_example
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(imagenet_tiny, "tiny_example", interrupted)
    builder = ImageNetTiny(config_name="8x8-gray-5", data_dir=str(sources["kaggle"].root), cache_dir=str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        builder.download_and_prepare()
    with pytest.raises(FileNotFoundError):
        builder.as_dataset()
    monkeypatch.setattr(imagenet_tiny, "tiny_example", real)
    _, ds = build("8x8-gray-5", sources["kaggle"], tmp_path)
    assert len(ds["train"]) == 10 and len(ds["validation"]) == 10


def test_gray_build_is_luma_of_srgb_build(sources, tmp_path):
    _, gray = build("16x16-gray-5", sources["kaggle"], tmp_path)
    _, rgb = build("16x16-sRGB-5", sources["kaggle"], tmp_path)
    g = np.stack([np.asarray(i, dtype=float) for i in gray["validation"]["image"]])
    c = np.stack([np.asarray(i, dtype=float) for i in rgb["validation"]["image"]])
    assert np.abs(g - c @ [0.299, 0.587, 0.114]).mean() < 1.0


def test_arrow_schema_is_what_the_card_says(sources, tmp_path):
    _, ds = build("8x8-gray-5", sources["kaggle"], tmp_path)
    schema = ds["train"].data.table.schema
    assert schema.field("bboxes").type == pa.list_(pa.list_(pa.float32(), 4))
    assert schema.field("label").type == pa.int64()
