"""The Hub's layouts recognised from their files, and what is wrong with one said clearly.

``classes.py`` is read as data (never run) and checked against ImageNet's classes; a snapshot missing
files names them; a label that contradicts an image's file name or key names the shard and the image;
``boxes=`` takes only boxes of the image's class, and only for sources that have none.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile

import datasets
import pytest

from builder.classes import ilsvrc_classes
from builder.errors import InputError
from builder.sources import ArchiveError, SourceLayoutError, open_source
from builder.sources.annotations import AnnotationError
from builder.sources.hub_layouts import read_classes_py
from tests.hub_sources import classes_py, make_parquet_snapshot, make_wds_snapshot
from imagenet_tiny import prepare_variant
from tests.fixtures.sources import make_kaggle_source

WNIDS = ilsvrc_classes().wnids
TWO = ["n01440764", "n01443537"]


@pytest.fixture(scope="module")
def made(tmp_path_factory, sample_dir, ilsvrc_dir):
    return make_kaggle_source(tmp_path_factory.mktemp("kaggle"), sample_dir, ilsvrc_dir, TWO)


def test_classes_py_is_read_as_data_and_its_classes_checked(ilsvrc_dir, tmp_path):
    text = classes_py(ilsvrc_dir)
    assert read_classes_py(text, "classes.py") == WNIDS
    # Code in the file is never run: a file that would write something when run is read all the same.
    marker = tmp_path / "ran"
    assert read_classes_py(f"open({str(marker)!r}, 'w').close()\n" + text, "classes.py") == WNIDS
    assert not marker.exists()
    swapped = text.replace('"n01440764"', '"TMP"').replace('"n01443537"', '"n01440764"').replace('"TMP"', '"n01443537"')
    with pytest.raises(SourceLayoutError, match=r"where/classes.py: class 0 is n01443537, but ImageNet's class 0 .* is n01440764"):
        read_classes_py(swapped, "where/classes.py")
    with pytest.raises(SourceLayoutError, match="expected IMAGENET2012_CLASSES = OrderedDict"):
        read_classes_py("CLASSES = {}\n", "classes.py")


def test_a_snapshot_missing_files_names_them(made, ilsvrc_dir, tmp_path):
    make_parquet_snapshot(tmp_path, made, ilsvrc_dir, {"train": 3, "validation": 1})
    (tmp_path / "data" / "train-00001-of-00003.parquet").unlink()
    with pytest.raises(SourceLayoutError, match=r"looks like ILSVRC/imagenet-1k \(Parquet\) but lacks 1 file\(s\): data/train-00001-of-00003.parquet"):
        open_source(tmp_path)
    (tmp_path / "data").rename(tmp_path / "elsewhere")
    with pytest.raises(SourceLayoutError, match="(?s)is not an ImageNet download in a known layout.*the Hub.s ILSVRC/imagenet-1k, a local snapshot"):
        open_source(tmp_path)


def test_a_label_that_contradicts_the_file_name_names_the_shard_and_row(made, ilsvrc_dir, tmp_path):
    make_parquet_snapshot(tmp_path, made, ilsvrc_dir, {"train": 1, "validation": 1})
    shard = tmp_path / "data" / "train-00000-of-00001.parquet"
    rows = datasets.Dataset.from_parquet(str(shard))
    wrong = rows.map(lambda row, i: {"label": 1 if i == 0 else row["label"]}, with_indices=True)
    wrong.to_parquet(str(shard))
    name = rows.cast_column("image", datasets.Image(decode=False))[0]["image"]["path"]
    with pytest.raises(SourceLayoutError, match=f"{shard}, row 0: label 1 is n01443537, but the file {name} is of n01440764"):
        prepare_variant("8x8-gray-2", str(tmp_path), cache_dir=str(tmp_path / "cache"), classes=TWO)


def test_a_webdataset_class_index_that_contradicts_the_training_key_is_an_error(made, ilsvrc_dir, tmp_path):
    make_wds_snapshot(tmp_path, made, ilsvrc_dir, {"train": 1, "validation": 1})
    shard = tmp_path / "imagenet1k-train-0000.tar"
    members = {}
    with tarfile.open(shard) as tar:
        for info in tar:
            members[info.name] = tar.extractfile(info).read()
    key = next(name for name in members if name.startswith("n01440764") and name.endswith(".cls")).removesuffix(".cls")
    members[f"{key}.cls"] = b"1"
    with tarfile.open(shard, "w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    with pytest.raises(SourceLayoutError, match=f"{shard}:{key}.cls says class 1 \\(n01443537\\), but the training image is {key}"):
        prepare_variant("8x8-gray-2", str(tmp_path), cache_dir=str(tmp_path / "cache"), classes=TWO)


def test_boxes_of_another_class_are_an_error_naming_the_file(made, ilsvrc_dir, tmp_path):
    make_wds_snapshot(tmp_path / "wds", made, ilsvrc_dir, {"train": 1, "validation": 1})
    image = next(m for m in made.validation if m.wnid == TWO[0])
    boxes = tmp_path / "LOC_val_solution.csv"
    boxes.write_text(f"ImageId,PredictionString\n{image.image_id},{TWO[1]} 1 2 30 40\n")
    with pytest.raises(AnnotationError, match=f"{boxes}: boxes of class {TWO[1]} for {image.image_id}, which is of class {TWO[0]}"):
        prepare_variant("8x8-gray-2", str(tmp_path / "wds"), cache_dir=str(tmp_path / "cache"), classes=TWO, boxes=[boxes])


def test_boxes_are_for_sources_without_their_own(made, tmp_path):
    with pytest.raises(InputError, match="boxes= is for the Hub's copies, which have none"):
        prepare_variant("8x8-gray-2", str(made.root), cache_dir=str(tmp_path), classes=TWO, boxes=[made.root / "LOC_val_solution.csv"])


def test_a_revision_is_for_a_hub_repository(made, tmp_path):
    with pytest.raises(InputError, match="revision='main' is for a Hub repository"):
        prepare_variant("8x8-gray-2", str(made.root), cache_dir=str(tmp_path), classes=TWO, revision="main")


def test_info_json_is_not_needed(made, ilsvrc_dir, tmp_path):
    """timm's split info is optional: the shards are found by name."""
    make_wds_snapshot(tmp_path, made, ilsvrc_dir, {"train": 2, "validation": 1})
    assert json.loads((tmp_path / "_info.json").read_text())["splits"]["train"]["num_samples"] == len(made.train)
    (tmp_path / "_info.json").unlink()
    assert open_source(tmp_path).splits == ("train", "validation")


def test_an_image_twice_in_the_shards_is_built_once_and_the_second_reported(made, ilsvrc_dir, tmp_path):
    make_wds_snapshot(tmp_path, made, ilsvrc_dir, {"train": 2, "validation": 1})
    first, second = tmp_path / "imagenet1k-train-0000.tar", tmp_path / "imagenet1k-train-0001.tar"
    with tarfile.open(first) as tar:
        key = next(name for name in tar.getnames() if name.endswith(".jpg")).removesuffix(".jpg")
        copied = {f"{key}.{ext}": tar.extractfile(f"{key}.{ext}").read() for ext in ("jpg", "cls", "json")}
    with tarfile.open(second, "a") as tar:
        for name, content in copied.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    builder = prepare_variant("8x8-gray-2", str(tmp_path), cache_dir=str(tmp_path / "cache"), classes=TWO)
    assert builder.as_dataset()["train"]["image_id"].count(key) == 1
    with open(f"{builder.cache_dir}/skipped_images.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["image_id"], row["path"]) == (key, f"{second}:{key}.jpg")
    assert row["reason"] == f"another image has the same id: {first}:{key}.jpg"


def test_a_truncated_parquet_shard_is_named(made, ilsvrc_dir, tmp_path):
    make_parquet_snapshot(tmp_path, made, ilsvrc_dir, {"train": 2, "validation": 1})
    shard = tmp_path / "data" / "train-00001-of-00002.parquet"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with pytest.raises(ArchiveError, match=f"{shard}: not a readable Parquet file .*; is the download complete?"):
        prepare_variant("8x8-gray-2", str(tmp_path), cache_dir=str(tmp_path / "cache"), classes=TWO)
