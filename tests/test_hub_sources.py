"""Building from the Hub's copies of ImageNet held locally (snapshots of the repositories).

Every layout gives the rows of the Kaggle build of the same images (image bytes, label, words, image_id,
boxes attached by ``boxes=``, sizes), in the same order; the test split comes with full configs, without
labels; a class subset of the Parquet layout reads only the shards that hold its classes; an unreadable
image is reported, and fails a strict build. The layouts are made by :mod:`hub_sources` from the real sample.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from builder.classes import ilsvrc_classes, select_classes
from builder.sources import open_source
from tests.hub_sources import make_parquet_snapshot, make_tar_gz_snapshot, make_wds_snapshot
from imagenet_tiny import CorruptImageError, prepare_variant
from tests.fixtures.sources import make_devkit_source, make_kaggle_source

CONFIG = "8x8-sRGB-10"
WNIDS = ilsvrc_classes().wnids
TEN = select_classes(WNIDS, 10)
# Classes no 10-class build reads: right after the first of the ten and at the end of the sorted WNIDs,
# so that in class order some shards hold none of the ten.
OTHERS = [w for w in WNIDS[1:7] + WNIDS[-6:] if w not in TEN]
PARQUET_SHARDS = {"train": 11, "validation": 3, "test": 1}


@pytest.fixture(scope="module")
def made(tmp_path_factory, sample_dir, ilsvrc_dir):
    root = tmp_path_factory.mktemp("kaggle")
    return make_kaggle_source(root, sample_dir, ilsvrc_dir, sorted(TEN + OTHERS), test_wnids=TEN[:3])


@pytest.fixture(scope="module")
def boxes(made) -> list[str]:
    return [str(made.root / "LOC_train_solution.csv"), str(made.root / "LOC_val_solution.csv")]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("builds"))


@pytest.fixture(scope="module")
def kaggle_build(made, cache_dir) -> datasets.DatasetDict:
    return prepare_variant(CONFIG, str(made.root), cache_dir=cache_dir).as_dataset()


@pytest.fixture(scope="module")
def snapshots(made, ilsvrc_dir, tmp_path_factory) -> dict[str, Path]:
    roots = {name: tmp_path_factory.mktemp(name.replace(".", "-")) for name in ("parquet", "tar.gz", "webdataset")}
    make_parquet_snapshot(roots["parquet"], made, ilsvrc_dir, PARQUET_SHARDS)
    make_tar_gz_snapshot(roots["tar.gz"], made, ilsvrc_dir)
    make_wds_snapshot(roots["webdataset"], made, ilsvrc_dir, {"train": 4, "validation": 2})
    return roots


def assert_same_rows(built: datasets.DatasetDict, expected: datasets.DatasetDict) -> None:
    assert sorted(built) == sorted(expected)
    for split in expected:
        assert built[split].features == expected[split].features
        assert built[split].features["label"].names == expected[split].features["label"].names
        assert built[split].data.table.equals(expected[split].data.table, check_metadata=False), split


@pytest.mark.parametrize("layout", ["parquet", "tar.gz", "webdataset"])
def test_a_snapshot_builds_the_rows_of_the_kaggle_build(layout, snapshots, made, boxes, kaggle_build, tmp_path):
    built = prepare_variant(CONFIG, str(snapshots[layout]), cache_dir=str(tmp_path), boxes=boxes).as_dataset()
    assert_same_rows(built, kaggle_build)
    # Independently of the Kaggle build: the ten classes' images, each with its class, in image-id order.
    for split in ("train", "validation"):
        expected = sorted((m.image_id, m.wnid) for m in made.split(split) if m.wnid in TEN)
        names = built[split].features["label"].names
        assert [(r["image_id"], names[r["label"]]) for r in built[split].select_columns(["image_id", "label"])] == expected
    assert sum(len(r) for r in built["train"]["bboxes"]) == sum(len(m.boxes) for m in made.train if m.wnid in TEN) > 0


def test_boxes_from_the_devkit_xml_folders_are_those_of_the_kaggle_csvs(snapshots, sample_dir, ilsvrc_dir, kaggle_build, tmp_path):
    # The devkit source of the same classes holds the same images and boxes, as XML files.
    devkit = make_devkit_source(tmp_path / "devkit", sample_dir, ilsvrc_dir, sorted(TEN + OTHERS), test_wnids=TEN[:3])
    folders = [str(devkit.root / "ILSVRC2012_bbox_train_v2"), str(devkit.root / "ILSVRC2012_bbox_val_v3" / "val")]
    built = prepare_variant(CONFIG, str(snapshots["parquet"]), cache_dir=str(tmp_path / "cache"), boxes=folders).as_dataset()
    assert_same_rows(built, kaggle_build)


def test_without_boxes_the_rows_are_the_same_but_boxless(snapshots, kaggle_build, tmp_path):
    built = prepare_variant(CONFIG, str(snapshots["webdataset"]), cache_dir=str(tmp_path)).as_dataset()
    for split in kaggle_build:
        assert built[split].remove_columns(["bboxes"]).data.table.equals(
            kaggle_build[split].remove_columns(["bboxes"]).data.table, check_metadata=False
        )
        assert all(b == [] for b in built[split]["bboxes"])


def test_full_configs_have_the_test_split_without_labels(snapshots, made, tmp_path):
    parquet = prepare_variant("8x8-gray-full", str(snapshots["parquet"]), cache_dir=str(tmp_path)).as_dataset()
    archives = prepare_variant("8x8-gray-full", str(snapshots["tar.gz"]), cache_dir=str(tmp_path)).as_dataset()
    assert sorted(parquet) == ["test", "train", "validation"]
    assert_same_rows(archives, parquet)
    test = parquet["test"]
    assert test["image_id"] == sorted(m.image_id for m in made.test) and set(test["label"]) == {-1}
    assert len(parquet["train"]) == len(made.train) and len(parquet["train"].features["label"].names) == 1000


def test_a_class_subset_reads_only_the_parquet_shards_that_hold_its_classes(snapshots, caplog):
    source = open_source(str(snapshots["parquet"]))
    wanted = {WNIDS.index(w) for w in TEN}
    train = source.layout.split_shards("train")
    holding = [s.path for s in train if wanted & set(pq.read_table(snapshots["parquet"] / s.path, columns=["label"])["label"].to_pylist())]
    assert 0 < len(holding) < len(train)  # the fixture has shards of other classes only
    with caplog.at_level(logging.INFO, logger="builder.sources.hub"):
        assert [s.path for s in source.plan("train", TEN)] == holding
    assert f"a 10-class build reads {len(holding)} of the {len(train)} train shards" in caplog.text
    assert [s.path for s in source.plan("train", WNIDS)] == [s.path for s in train]  # all classes: every shard


def test_a_mixed_layout_says_that_a_class_subset_reads_every_shard(snapshots, caplog):
    for layout, why in (("webdataset", "its shards are shuffled"), ("tar.gz", "gzip archives are read from the start to the end")):
        source = open_source(str(snapshots[layout]))
        with caplog.at_level(logging.WARNING, logger="builder.sources.hub"):
            assert source.plan("train", TEN) == source.layout.split_shards("train")
        assert f"a 10-class build reads every one of the {len(source.layout.split_shards('train'))} train shards" in caplog.text
        assert why in caplog.text


def test_an_unreadable_image_is_reported_and_fails_a_strict_build(snapshots, made, ilsvrc_dir, tmp_path):
    root = tmp_path / "snapshot"
    shutil.copytree(snapshots["parquet"], root)
    # The first training image of the ten, its bytes replaced by a cut JPEG (its first 300 bytes).
    shard = root / "data" / "train-00000-of-00011.parquet"
    table = pq.read_table(shard)
    images = table.column("image").to_pylist()
    victim = next(i for i, row in enumerate(images) if row["path"].startswith(TEN[0]))
    images[victim]["bytes"] = images[victim]["bytes"][:300]
    broken = datasets.Dataset.from_dict({"image": images, "label": table.column("label").to_pylist()},
                                        features=datasets.Features.from_arrow_schema(table.schema))
    buffer = io.BytesIO()
    broken.to_parquet(buffer, batch_size=4)
    shard.write_bytes(buffer.getvalue())
    name = images[victim]["path"]

    builder = prepare_variant(CONFIG, str(root), cache_dir=str(tmp_path / "cache"))
    with open(Path(builder.cache_dir) / "skipped_images.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["split"], row["image_id"], row["path"]) == ("train", name.rsplit("_", 1)[0], f"{shard}:{name}")
    assert row["image_id"] not in builder.as_dataset()["train"]["image_id"]
    with pytest.raises(CorruptImageError, match=f"cannot read {shard}:{name}"):
        prepare_variant(CONFIG, str(root), cache_dir=str(tmp_path / "strict"), strict=True)
