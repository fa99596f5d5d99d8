"""The one fabricator of downloads (builder/synthetic.py): both layouts and the zip say the same thing to the builder."""

from __future__ import annotations

import zipfile

import pytest

from builder.classes import ilsvrc_classes
from builder.ilsvrc_files import validation_image_id
from builder.sources import open_source
from builder.synthetic import SourceImage, drawn_images, write_devkit_source, write_kaggle_source, zip_download
from imagenet_tiny import prepare_variant


def test_a_drawn_download_gives_the_same_dataset_in_either_layout(tmp_path):
    images = drawn_images(per_class=(2, 2, 1))
    kaggle = write_kaggle_source(tmp_path / "kaggle", **images)
    devkit = write_devkit_source(tmp_path / "devkit", **images)  # its ground truth written from the images
    assert [(i.image_id, i.wnid, i.boxes) for i in kaggle.validation] == [(i.image_id, i.wnid, i.boxes) for i in devkit.validation]
    built = {made.layout: prepare_variant("8x8-gray-5", str(made.root), cache_dir=str(tmp_path / made.layout / "c")).as_dataset()
             for made in (kaggle, devkit)}
    for split in ("train", "validation"):
        assert len(built["kaggle"][split]) == 10
        assert built["kaggle"][split].data.table.equals(built["devkit"][split].data.table), split


def test_the_devkit_ground_truth_is_each_validation_images_ilsvrc2014_id(tmp_path):
    classes = ilsvrc_classes()
    picture = drawn_images(per_class=(0, 1, 0))["validation"][0].content
    wnids = ["n02119789", "n01440764", "n02119789"]  # IDs 1, 449, 1
    images = [SourceImage(validation_image_id(n), wnid, picture, ((0, 0, 9, 9),)) for n, wnid in enumerate(wnids, 1)]
    train = [SourceImage(f"{wnid}_1", wnid, picture) for wnid in sorted(set(wnids))]
    made = write_devkit_source(tmp_path / "devkit", train, images)
    truth = made.root / "ILSVRC2014_devkit" / "data" / "ILSVRC2014_clsloc_validation_ground_truth.txt"
    assert truth.read_text() == "1\n449\n1\n"
    assert classes.wnid_of_ilsvrc2014_id(449) == "n01440764"
    assert [i.wnid for i in open_source(made.root).images("validation", sorted(set(wnids)))] == wnids
    with pytest.raises(ValueError, match="numbered 1..N"):
        write_devkit_source(tmp_path / "gap", train, images[1:])


def test_a_zipped_download_keeps_its_empty_class_folders(tmp_path):
    """The build benchmark's full configs need every class's folder, most of them empty, in its zip too."""
    picture = drawn_images(per_class=(1, 0, 0))["train"][0]
    made = write_kaggle_source(tmp_path / "src", [picture], class_folders=["n01440764", picture.wnid])
    archive = zip_download(made.root, tmp_path / "imagenet-object-localization-challenge.zip")
    with zipfile.ZipFile(archive) as z:
        assert "ILSVRC/Data/CLS-LOC/train/n01440764/" in z.namelist()
    images = open_source(archive).images("train", ["n01440764", picture.wnid])
    assert [i.image_id for i in images] == [picture.image_id]
