"""``imagenet-tiny classes`` and ``imagenet-tiny to-numpy``."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import scipy.io
from PIL import Image

from builder.classes import SEED_FIVE_CLASSES
from imagenet_tiny import prepare_variant
from tests.fixtures.sources import make_devkit_source


@pytest.fixture(scope="module")
def synthetic(synthetic_sources):
    return synthetic_sources(per_class=(3, 2, 1))


def test_classes_text_and_csv(synthetic, run_cli):
    """ImageNet's 1000 classes with their IDs, of a Kaggle download too, and its training images of each."""
    text = run_cli("classes", "--data-dir", str(synthetic))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["index", "wnid", "ILSVRC2014_ID", "train_images", "words"]
    assert lines[1].split() == ["0", "n01440764", "449", "0", "tench,", "Tinca", "tinca"]
    table = list(csv.DictReader(io.StringIO(run_cli("classes", "--data-dir", str(synthetic), "--csv").stdout)))
    assert len(table) == 1000
    assert [r["wnid"] for r in table if r["train_images"] != "0"] == sorted(SEED_FIVE_CLASSES)
    assert {r["train_images"] for r in table if r["wnid"] in SEED_FIVE_CLASSES} == {"3"}
    owl = next(r for r in table if r["wnid"] == "n01622779")
    assert (owl["ILSVRC2014_ID"], owl["words"]) == ("400", "great grey owl, great gray owl, Strix nebulosa")


@pytest.mark.full_scale
def test_classes_of_a_devkit_download_have_ilsvrc2014_ids(sample_dir, ilsvrc_dir, tmp_path, run_cli):
    from builder.classes import read_synset_mapping

    all_wnids = read_synset_mapping(ilsvrc_dir / "LOC_synset_mapping.txt").wnids
    make_devkit_source(tmp_path, sample_dir, ilsvrc_dir, all_wnids, train_per_class=1, val_per_class=0)
    result = run_cli("classes", "--data-dir", str(tmp_path), "--csv")
    assert result.returncode == 0, result.stderr
    rows = {r["wnid"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert len(rows) == 1000
    assert rows["n02119789"]["ILSVRC2014_ID"] == "1" and rows["n02119789"]["words"] == "kit fox, Vulpes macrotis"
    assert rows["n01440764"]["index"] == "0" and rows["n01440764"]["train_images"] == "1"


@pytest.mark.parametrize("suffix", ["npz", "mat"])
def test_to_numpy_matches_the_dataset(synthetic, tmp_path, suffix, run_cli):
    out = tmp_path / f"tiny.{suffix}"
    result = run_cli("to-numpy", "8x8-gray-5", "--data-dir", str(synthetic), "--cache-dir", str(tmp_path / "c"), "--to", str(out), "--kaggle")
    assert result.returncode == 0, result.stderr
    if suffix == "npz":
        arrays = dict(np.load(out))
    else:  # MATLAB keeps 2-D at least: labels come back as 1 x N, strings as cells
        arrays = {k: v for k, v in scipy.io.loadmat(out).items() if not k.startswith("__")}
        arrays.update({k: arrays[k].ravel() for k in ("y_train", "y_val")})
        arrays.update({k: [str(c[0]) for c in arrays[k].ravel()] for k in ("wnids", "words")})
    ds = prepare_variant("8x8-gray-5", str(synthetic), cache_dir=str(tmp_path / "c")).as_dataset()
    assert arrays["x_train"].shape == (15, 8, 8, 1) and arrays["x_train"].dtype == np.uint8
    np.testing.assert_array_equal(arrays["x_train"][..., 0], np.stack([np.asarray(i) for i in ds["train"]["image"]]))
    np.testing.assert_array_equal(arrays["y_val"], ds["validation"]["label"])
    assert list(arrays["wnids"]) == ds["train"].features["label"].names
    assert arrays["words"][2] == "snail"  # n01944390, the synthetic source's triangles
    with open(tmp_path / "test.csv") as f:
        solution = list(csv.DictReader(f))
    assert [int(r["Category"]) for r in solution] == ds["validation"]["label"]
    with open(tmp_path / "sample_submission.csv") as f:
        submission = list(csv.DictReader(f))
    assert [r["Id"] for r in submission] == [r["Id"] for r in solution]
    assert {int(r["Category"]) for r in submission} <= set(range(5))


def test_to_numpy_needs_a_known_suffix(synthetic, tmp_path, run_cli):
    result = run_cli("to-numpy", "8x8-gray-5", "--data-dir", str(synthetic), "--to", str(tmp_path / "x.h5"))
    assert result.returncode == 2 and "must end in .npz (numpy) or .mat (MATLAB)" in result.stderr


def test_preview_of_chosen_classes(synthetic, tmp_path, run_cli):
    from publish.preview import preview_size

    out = tmp_path / "preview.png"
    result = run_cli("preview", "16x16-sRGB-5", "--data-dir", str(synthetic), "--cache-dir", str(tmp_path / "c"),
                 "--to", str(out), "--classes", "n01622779,n03452741")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as picture:
        assert picture.format == "PNG" and picture.size == preview_size(2)
        # The first pair's tiny half shows the red disc class: red dominates it.
        pixels = np.asarray(picture.convert("RGB"), dtype=float)
    assert pixels[..., 0].mean() > pixels[..., 2].mean()
    unknown = run_cli("preview", "16x16-sRGB-5", "--data-dir", str(synthetic), "--cache-dir", str(tmp_path / "c"),
                  "--to", str(out), "--classes", "n01440764")
    assert unknown.returncode == 2 and "'n01440764' is not a class of" in unknown.stderr


def test_classes_of_a_partial_download_count_zero_for_missing_classes(sample_dir, ilsvrc_dir, tmp_path, run_cli):
    make_devkit_source(tmp_path, sample_dir, ilsvrc_dir, ["n02119789", "n01440764"], val_per_class=0)
    result = run_cli("classes", "--data-dir", str(tmp_path), "--csv")
    assert result.returncode == 0, result.stderr
    rows = {r["wnid"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert len(rows) == 1000
    assert rows["n02119789"]["train_images"] == "2" and rows["n01440764"]["train_images"] == "2"
    assert rows["n01443537"]["train_images"] == "0"
