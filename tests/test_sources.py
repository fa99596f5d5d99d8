"""A wrong data_dir, missing metadata or classes, and inconsistent ground truth: each a clear error."""

from __future__ import annotations

import shutil

import pytest

from builder.classes import SEED_FIVE_CLASSES, ClassTableError
from builder.sources import SourceLayoutError, open_source
from builder.synthetic import write_synthetic_source
from imagenet_tiny import ImageNetTiny


@pytest.fixture()
def synthetic(tmp_path):
    """A download of this test's own: the tests change it."""
    write_synthetic_source(tmp_path / "src", per_class=(2, 1, 1))
    return tmp_path / "src"


def make(config_name, data_dir, tmp_path, **kwargs):
    return ImageNetTiny(config_name=config_name, data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"), **kwargs)


def test_missing_data_dir(tmp_path):
    with pytest.raises(SourceLayoutError, match="does not exist") as error:
        make("8x8-gray-5", tmp_path / "nowhere", tmp_path)
    assert "Kaggle layout" in str(error.value) and "devkit layout" in str(error.value)


def test_no_data_dir_given(tmp_path):
    """The classes ship with the code: a builder without a download has its features, and asks for the
    download only when it is to build."""
    builder = ImageNetTiny(config_name="8x8-gray-5", cache_dir=str(tmp_path))
    assert builder.info.features["label"].names == sorted(SEED_FIVE_CLASSES)
    assert ImageNetTiny(config_name="8x8-gray-full", cache_dir=str(tmp_path)).info.features["label"].num_classes == 1000
    with pytest.raises(SourceLayoutError, match="no data_dir given"):
        builder.download_and_prepare()


def test_folder_in_no_known_layout_lists_what_it_holds(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"")
    with pytest.raises(SourceLayoutError, match=r"not an ImageNet download in a known layout \(it holds: cat.jpg\)"):
        make("8x8-gray-5", tmp_path / "photos", tmp_path)


def test_kaggle_layout_missing_parts_are_named(synthetic, tmp_path):
    (synthetic / "LOC_synset_mapping.txt").unlink()
    with pytest.raises(SourceLayoutError, match="looks like the Kaggle layout but lacks: LOC_synset_mapping.txt"):
        make("8x8-gray-5", synthetic, tmp_path)


def test_devkit_layout_missing_parts_are_named(tmp_path):
    (tmp_path / "dl" / "ILSVRC2012_img_train").mkdir(parents=True)
    with pytest.raises(SourceLayoutError, match="lacks: ILSVRC2014_devkit/data/meta_clsloc.mat"):
        make("8x8-gray-5", tmp_path / "dl", tmp_path)


def test_class_missing_from_the_table(synthetic, tmp_path):
    with pytest.raises(ClassTableError, match="1 requested class.* not in the 1000 ILSVRC classes: n09999999"):
        make("8x8-gray-1", synthetic, tmp_path, classes=["n09999999"])


def test_class_without_images_fails_before_building(synthetic, tmp_path):
    shutil.rmtree(synthetic / "ILSVRC" / "Data" / "CLS-LOC" / "train" / "n01944390")
    builder = make("8x8-gray-5", synthetic, tmp_path)
    with pytest.raises(SourceLayoutError, match="no folder for 1 requested class.*n01944390"):
        builder.download_and_prepare()


def test_validation_image_without_ground_truth(synthetic, tmp_path):
    val = synthetic / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    shutil.copyfile(val / "ILSVRC2012_val_00000001.JPEG", val / "ILSVRC2012_val_00000999.JPEG")
    with pytest.raises(SourceLayoutError, match="have no ground truth in LOC_val_solution.csv: ILSVRC2012_val_00000999"):
        open_source(synthetic).images("validation", ["n01622779"])


def test_malformed_solution_line_is_located(synthetic):
    path = synthetic / "LOC_val_solution.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].split(",")[0] + ",n01622779 10 20 30"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceLayoutError, match=r"LOC_val_solution.csv, line 4: expected 'wnid xmin ymin xmax ymax'"):
        open_source(synthetic).images("validation", ["n01622779"])


def test_inverted_box_is_an_error(synthetic):
    path = synthetic / "LOC_train_solution.csv"
    lines = path.read_text().splitlines()
    image_id, text = lines[1].split(",")
    wnid, x0, y0, x1, y1 = text.split()
    lines[1] = f"{image_id},{wnid} {x1} {y0} {x0} {y1}"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceLayoutError, match="line 2: box .* has xmax < xmin"):
        open_source(synthetic).images("train", [wnid])


def test_partial_validation_download_is_reported(synthetic, caplog):
    (synthetic / "ILSVRC" / "Data" / "CLS-LOC" / "val" / "ILSVRC2012_val_00000002.JPEG").unlink()
    images = open_source(synthetic).images("validation", sorted(open_source(synthetic).classes.wnids))
    assert len(images) == 4
    assert "lists 1 image(s) that are not in" in caplog.text
