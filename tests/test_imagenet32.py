"""``to-numpy --format imagenet32``: Downsampled-ImageNet files, read back as their authors' training code reads them."""

from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest

import cli
from builder.classes import read_meta_clsloc, read_synset_mapping, select_classes
from imagenet_tiny import prepare_variant
from publish.imagenet32 import write_imagenet32

CONFIG = "32x32-sRGB-12-squash"  # 12 classes x 2 images: batches of 2, the tenth holding the other 6
SIZE = 32


def unpickle(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def load_as_chrabaszcz(folder, name, img_size, mean_image=None):
    """A batch as WRNs_imagenet.py's load_databatch / load_validation_data make it: float32 N x 3 x size x size,
    the mean image (/255) subtracted, 0-based labels. ``mean_image`` is taken from the file where it has one."""
    d = unpickle(os.path.join(folder, name))
    x = d["data"] / np.float32(255)
    if mean_image is None:
        mean_image = d["mean"] / np.float32(255)
    y = np.array([label - 1 for label in d["labels"]])  # labels are 1-based
    x -= mean_image
    area = img_size * img_size
    x = np.dstack((x[:, :area], x[:, area : 2 * area], x[:, 2 * area :]))  # planar R, G, B -> interleaved
    x = x.reshape((x.shape[0], img_size, img_size, 3)).transpose(0, 3, 1, 2)
    return x, y, mean_image


@pytest.fixture(scope="module")
def variant(sample_sources, ilsvrc_dir, tmp_path_factory):
    """A Kaggle download (no devkit table) of 12 real classes, 2 train and 2 validation images each, and its variant."""
    all_wnids = read_synset_mapping(ilsvrc_dir / "LOC_synset_mapping.txt").wnids
    root = sample_sources("kaggle", select_classes(all_wnids, 12), val_per_class=2).root
    cache = tmp_path_factory.mktemp("cache")
    dataset = prepare_variant(CONFIG, str(root), cache_dir=str(cache)).as_dataset()
    return root, cache, dataset


def images_by_pixels(split):
    """Each image's CHW bytes -> its WNID (the sample images all differ)."""
    names = split.features["label"].names
    return {np.asarray(row["image"]).transpose(2, 0, 1).tobytes(): names[row["label"]] for row in split}


def test_files_read_back_as_the_authors_training_code_reads_them(variant, ilsvrc_dir, tmp_path):
    _, _, dataset = variant
    devkit = read_meta_clsloc(ilsvrc_dir / "meta_clsloc.tsv")  # the real devkit table
    written = write_imagenet32(dataset, tmp_path, devkit)
    names = [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]
    assert [f.path.name for f in written] == names and sorted(os.listdir(tmp_path)) == sorted(names)

    train_pixels = images_by_pixels(dataset["train"])
    seen, rows = collections.Counter(), []
    for number in range(1, 11):
        x, y, mean_image = load_as_chrabaszcz(tmp_path, f"train_data_batch_{number}", SIZE)
        assert len(y) == (2 if number < 10 else 6)
        pixels = np.rint((x + mean_image.reshape(3, SIZE, SIZE)) * 255).astype(np.uint8)
        for image, label in zip(pixels, y):
            assert devkit.wnid_of_ilsvrc2014_id(int(label) + 1) == train_pixels[image.tobytes()]
            seen[image.tobytes()] += 1
        rows.append(unpickle(tmp_path / f"train_data_batch_{number}")["data"])
    assert len(train_pixels) == 24 and seen == collections.Counter(list(train_pixels))  # every training image once

    train = np.stack([np.asarray(image) for image in dataset["train"]["image"]])
    planar = np.concatenate([train[..., c].reshape(len(train), -1) for c in range(3)], axis=1)
    first = unpickle(tmp_path / "train_data_batch_1")
    np.testing.assert_array_equal(first["mean"], np.mean(planar, axis=0))  # the scripts' np.mean(x, axis=0)
    assert sorted(map(bytes, np.concatenate(rows))) == sorted(map(bytes, planar))

    mean_image = first["mean"] / np.float32(255)
    x, y, _ = load_as_chrabaszcz(tmp_path, "val_data", SIZE, mean_image)
    pixels = np.rint((x + mean_image.reshape(3, SIZE, SIZE)) * 255).astype(np.uint8)
    names = dataset["validation"].features["label"].names
    expected = np.stack([np.asarray(image).transpose(2, 0, 1) for image in dataset["validation"]["image"]])
    np.testing.assert_array_equal(pixels, expected)  # validation keeps the dataset's order
    assert [devkit.wnid_of_ilsvrc2014_id(int(label) + 1) for label in y] == [names[i] for i in dataset["validation"]["label"]]


@pytest.fixture(scope="module")
def devkit(ilsvrc_dir):
    return read_meta_clsloc(ilsvrc_dir / "meta_clsloc.tsv")


def test_file_contents_are_the_authors_types(variant, devkit, tmp_path):
    _, _, dataset = variant
    write_imagenet32(dataset, tmp_path, devkit)
    for number in range(1, 11):
        path = tmp_path / f"train_data_batch_{number}"
        assert path.read_bytes()[:2] == b"\x80\x03"  # pickle protocol 3: Python 3's default when they wrote theirs
        batch = unpickle(path)
        assert set(batch) == {"data", "labels", "mean"}
        assert batch["data"].dtype == np.uint8 and batch["data"].shape[1] == 3 * SIZE * SIZE
        assert type(batch["labels"]) is list and all(type(label) is int for label in batch["labels"])
        assert all(1 <= label <= 1000 for label in batch["labels"])
        assert batch["mean"].dtype == np.float64 and batch["mean"].shape == (3 * SIZE * SIZE,)
    val = unpickle(tmp_path / "val_data")
    assert set(val) == {"data", "labels"} and val["data"].shape == (24, 3 * SIZE * SIZE)


def test_training_rows_are_shuffled_reproducibly(variant, devkit, tmp_path):
    _, _, dataset = variant
    for seed, folder in ((0, "a"), (0, "b"), (1, "c")):
        write_imagenet32(dataset, tmp_path / folder, devkit, seed=seed)
    batch = "train_data_batch_10"
    assert (tmp_path / "a" / batch).read_bytes() == (tmp_path / "b" / batch).read_bytes()
    assert (tmp_path / "a" / batch).read_bytes() != (tmp_path / "c" / batch).read_bytes()
    labels = [label for n in range(1, 11) for label in unpickle(tmp_path / "a" / f"train_data_batch_{n}")["labels"]]
    assert labels != sorted(labels)  # not in class order, as the scripts' np.random.shuffle


def test_cli_writes_the_same_files(variant, devkit, ilsvrc_dir, tmp_path, capsys):
    root, cache, dataset = variant
    write_imagenet32(dataset, tmp_path / "direct", devkit)
    # A Kaggle download: the ILSVRC2014_IDs come with ImageNet-tiny, or from a --meta checked against them.
    for folder, meta in (("cli", []), ("cli-meta", ["--meta", str(ilsvrc_dir / "meta_clsloc.tsv")])):
        args = ["to-numpy", CONFIG, "--data-dir", str(root), "--cache-dir", str(cache), "--format", "imagenet32",
                "--to", str(tmp_path / folder), *meta]
        assert cli.main(args) == 0
        out = capsys.readouterr().out
        assert "Wrote 11 Imagenet32 files" in out and "train_data_batch_10: data uint8 (6, 3072)" in out
        for name in os.listdir(tmp_path / "direct"):
            assert (tmp_path / folder / name).read_bytes() == (tmp_path / "direct" / name).read_bytes()


@pytest.fixture(scope="module")
def synthetic(synthetic_sources):
    return synthetic_sources(per_class=(2, 1, 0))


@pytest.mark.parametrize(
    "config, message",
    [
        ("8x8-gray-5", "the train split's images are L: the Imagenet32 layout is RGB only; use an sRGB config"),
        ("16x8-sRGB-5", "the train split's images are 16x8: Imagenet32 readers reshape every row to size x size"),
    ],
)
def test_cli_refuses_what_the_layout_cannot_hold(synthetic, ilsvrc_dir, tmp_path, capsys, config, message):
    args = ["to-numpy", config, "--data-dir", str(synthetic), "--cache-dir", str(tmp_path / "c"), "--format", "imagenet32",
            "--meta", str(ilsvrc_dir / "meta_clsloc.tsv"), "--to", str(tmp_path / "out")]
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "to, extra, message",
    [
        ("folder", [], "must end in .npz (numpy) or .mat (MATLAB), or give --format imagenet32 and a folder"),
        ("x.mat", ["--format", "npz"], "--format npz writes a file whose name ends in .npz"),
        ("folder", ["--format", "imagenet32", "--kaggle"], "--kaggle goes with .npz or .mat output"),
    ],
)
def test_cli_output_format_must_fit_to(synthetic, tmp_path, capsys, to, extra, message):
    args = ["to-numpy", "8x8-sRGB-5", "--data-dir", str(synthetic), "--cache-dir", str(tmp_path / "c"), "--to", str(tmp_path / to), *extra]
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.benchmark
def test_the_recipe_config_stays_within_two_grey_levels_of_full_decodes(sample_dir):
    """32x32-sRGB-full-squash against a full decode, the builder's and plain Pillow's (Chrabaszcz et al.'s
    recipe: no colour management), on real sample images (the README quotes both figures for all 1000)."""
    from fidelity import measure_against_plain_pillow, measure_fidelity

    paths = sorted(sample_dir.glob("*.JPEG"))[::4]  # 250 of them: benchmarks/fidelity.py measures all 1000
    for measure in (measure_fidelity, measure_against_plain_pillow):
        result = measure(paths, (SIZE, SIZE), "sRGB", "squash")
        assert result.images == len(paths) and result.mean < 2.0, (measure.__name__, result)
