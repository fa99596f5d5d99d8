"""Export to a folder laid out as a Hub dataset repository: layout, card, previews, and ``load_dataset`` of it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard
from PIL import Image

from imagenet_tiny import ImageNetTiny, prepare_variant
from publish.card import DefaultConfigError, ExportLayoutError, config_info, folder_default_config, variant_row, write_card
from publish.export import export, write_config, write_preview
from publish.folder import LOCK_FILENAME, MANIFEST_FILENAME
from publish.preview import draw_preview, preview_size

# Every predefined size, both colours, and the two other fit modes.
CONFIGS = ["8x8-gray-5", "16x16-sRGB-5", "32x32-gray-5", "64x64-sRGB-5", "16x16-gray-5-pad", "8x8-sRGB-5-squash"]
PER_CLASS = (3, 2, 2)


@pytest.fixture(scope="module")
def source(synthetic_sources) -> Path:
    return synthetic_sources(per_class=PER_CLASS)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("builds"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, source, cache_dir) -> Path:
    """All of CONFIGS exported into one folder, one config at a time (each adding to the folder)."""
    out = tmp_path_factory.mktemp("export")
    for config in CONFIGS:
        export([config], source, out, cache_dir=cache_dir)
    return out


def built(config: str, source: Path, cache_dir: str) -> datasets.DatasetDict:
    return prepare_variant(config, str(source), cache_dir=cache_dir).as_dataset()


def load_export(folder: Path, config: str, tmp_path: Path) -> datasets.DatasetDict:
    return datasets.load_dataset(str(folder), config, cache_dir=str(tmp_path / "loaded"))


def assert_same_dataset(loaded: datasets.DatasetDict, local: datasets.DatasetDict) -> None:
    assert sorted(loaded) == sorted(local)
    for split in local:
        assert loaded[split].features == local[split].features
        assert loaded[split].features["label"].names == local[split].features["label"].names
        assert loaded[split].data.table.equals(local[split].data.table, check_metadata=False), split


@pytest.mark.parametrize("config", CONFIGS)
def test_load_dataset_of_the_export_equals_the_build(exported, source, cache_dir, tmp_path, config):
    loaded = load_export(exported, config, tmp_path)
    assert_same_dataset(loaded, built(config, source, cache_dir))
    width, height = map(int, config.split("-")[0].split("x"))
    image = loaded["validation"][0]["image"]
    assert image.size == (width, height) and image.mode == ("L" if "-gray-" in config else "RGB")


def test_layout(exported):
    files = sorted(str(p.relative_to(exported)) for p in exported.rglob("*") if p.is_file())
    # The manifest of what export wrote, and the lock that one export at a time holds (publish.folder).
    expected = ["README.md", MANIFEST_FILENAME, LOCK_FILENAME]
    for config in CONFIGS:
        expected += [f"{config}/train-00000-of-00001.parquet", f"{config}/validation-00000-of-00001.parquet",
                     f"previews/{config}.png"]
    assert files == sorted(expected)


def test_card_yaml_lists_every_config_with_its_files_and_info(exported):
    card = DatasetCard.load(exported / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other" and data["pretty_name"] == "ImageNet-tiny"
    assert "image-classification" in data["task_categories"]
    configs = {c["config_name"]: c["data_files"] for c in data["configs"]}
    assert sorted(configs) == sorted(CONFIGS)
    for config, data_files in configs.items():
        assert data_files == [{"split": "train", "path": f"{config}/train-*"},
                              {"split": "validation", "path": f"{config}/validation-*"}]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    assert sorted(infos) == sorted(CONFIGS)
    for config in CONFIGS:
        assert [s["num_examples"] for s in infos[config]["splits"]] == [5 * PER_CLASS[0], 5 * PER_CLASS[1]]
        size = sum(p.stat().st_size for p in (exported / config).iterdir())
        assert infos[config]["download_size"] == size
    assert str(exported) not in card.content  # nothing of this machine


def test_variants_table_matches_the_data(exported, tmp_path):
    content = (exported / "README.md").read_text()
    rows = {}
    for line in content.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 9:
            rows[cells[0].strip("`")] = cells
    # Ordered by size, then colour, classes and fit mode.
    assert list(rows) == ["8x8-gray-5", "8x8-sRGB-5-squash", "16x16-gray-5-pad", "16x16-sRGB-5", "32x32-gray-5",
                          "64x64-sRGB-5"]
    for config, cells in rows.items():
        local = load_export(exported, config, tmp_path)
        width_height = config.split("-")[0]
        colour = config.split("-")[1]
        fit = config.split("-")[3] if config.count("-") == 3 else "crop"
        size = sum(p.stat().st_size for p in (exported / config).iterdir())
        assert cells[1:] == [width_height, colour, "5", fit, f"{len(local['train']):,}", f"{len(local['validation']):,}",
                             "-", f"{size:,}"]
        assert cells == list(variant_row(config, config_info(exported, config)).values())


def test_card_says_what_the_download_section_says(exported):
    content = " ".join(DatasetCard.load(exported / "README.md").text.split())
    assert 'evaluate.load("metrics/imagenet_clsloc")' not in content  # works only in the repository's root
    for needed in ('load_dataset("<namespace>/imagenet-tiny")', 'load_dataset("<namespace>/imagenet-tiny", "',
                   'load_dataset("<namespace>/imagenet-tiny", data_dir="',
                   'from imagenet_tiny import load_arrays x, y = load_arrays("<namespace>/imagenet-tiny", "8x8-gray-5", "train")',
                   "import imagenet_tiny clsloc = evaluate.load(imagenet_tiny.METRIC_PATH)",
                   "python train.py --dataset hfds/<namespace>/imagenet-tiny --train-split train --val-split validation",
                   "python validate.py --dataset hfds/<namespace>/imagenet-tiny --split validation",
                   "--num-classes 5 --input-size 1 8 8",  # the default config's: 8x8-gray-5
                   "timm lowercases the dataset name", "Terms of access",
                   "non-commercial research and educational purposes only", "Russakovsky",
                   "A Downsampled Variant of ImageNet as an Alternative to the {CIFAR} datasets",
                   "Pixel Recurrent Neural Networks", "imagenet-tiny export", "imagenet-tiny generate"):
        assert needed in content, needed
    for config in CONFIGS:
        assert f"](previews/{config}.png)" in content


def timm_dataset_name(dataset: str) -> str:
    """What timm's ``create_reader`` makes of ``--dataset hfds/NAME``: lowercased, the reader's prefix split off."""
    prefix, name = dataset.lower().split("/", 1)
    assert prefix in ("hfds", "hfids")
    return name


def as_timm_rows(split: datasets.Dataset) -> list[tuple[str, int, bytes]]:
    """Image id, label and PNG bytes per row, the image undecoded as timm's hfds reader casts it."""
    split = split.cast_column("image", datasets.Image(decode=False))
    return [(row["image_id"], row["label"], row["image"]["bytes"]) for row in split]


def test_the_card_marks_the_first_config_exported_as_default_and_load_dataset_of_the_root_gives_it(
    exported, source, cache_dir, tmp_path
):
    card = DatasetCard.load(exported / "README.md").data.to_dict()
    assert [c["config_name"] for c in card["configs"] if c.get("default")] == [CONFIGS[0]]
    loaded = datasets.load_dataset(str(exported), cache_dir=str(tmp_path / "loaded"))  # no config name
    assert_same_dataset(loaded, built(CONFIGS[0], source, cache_dir))


def test_timm_readers_load_the_default_config_of_the_export_root(exported, source, cache_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(exported.parent)  # a relative path: timm lowercases it, and the folder's name is lowercase
    name = timm_dataset_name(f"hfds/{exported.name}")
    assert name == exported.name
    local = built(CONFIGS[0], source, cache_dir)["train"]
    # timm's ReaderHfds
    ds = datasets.load_dataset(name, split="train", cache_dir=str(tmp_path / "timm"), trust_remote_code=False)
    assert ds.info.features["label"].names == local.features["label"].names
    assert ds.info.splits["train"].num_examples == len(local)
    assert as_timm_rows(ds) == as_timm_rows(local)
    # timm's ReaderHfids
    builder = datasets.load_dataset_builder(name, cache_dir=str(tmp_path / "timm"))
    assert builder.info.splits["train"].num_examples == len(local)
    streamed = [(row["image_id"], row["label"]) for row in builder.as_streaming_dataset(split="train")]
    assert streamed == [(row["image_id"], row["label"]) for row in local]


def test_default_config_is_asked_for_or_kept(tmp_path, source, cache_dir, run_cli):
    out = tmp_path / "export"
    export([CONFIGS[1], CONFIGS[0]], source, out, cache_dir=cache_dir)
    assert folder_default_config(out) == CONFIGS[1]  # the first exported, not the first in the card's order
    export([CONFIGS[2]], source, out, cache_dir=cache_dir)
    assert folder_default_config(out) == CONFIGS[1]  # kept: load_dataset(out) loads what it loaded before
    export([CONFIGS[2]], source, out, cache_dir=cache_dir, default_config=CONFIGS[0])  # one already there
    assert folder_default_config(out) == CONFIGS[0]
    write_card(out)
    assert folder_default_config(out) == CONFIGS[0]
    card = DatasetCard.load(out / "README.md").data.to_dict()
    assert [c["config_name"] for c in card["configs"] if c.get("default")] == [CONFIGS[0]]

    # Neither exported now nor in the folder: an error before any build.
    fresh = tmp_path / "no-build"
    with pytest.raises(DefaultConfigError, match=rf"the default config '{CONFIGS[3]}' is not among the configs"):
        export([CONFIGS[2]], source, out, cache_dir=str(fresh), default_config=CONFIGS[3])
    assert not fresh.exists() and folder_default_config(out) == CONFIGS[0]

    result = run_cli("export", CONFIGS[2], "--data-dir", source, "--to", out, "--cache-dir", cache_dir,
                     "--default-config", CONFIGS[2])
    assert result.returncode == 0, result.stderr
    assert f"datasets.load_dataset({str(out)!r}) (the default config, {CONFIGS[2]})" in result.stdout
    assert folder_default_config(out) == CONFIGS[2]


@pytest.mark.parametrize("config", ["8x8-gray-5", "64x64-sRGB-5"])
def test_preview_is_a_png_of_the_expected_size(exported, config):
    with Image.open(exported / "previews" / f"{config}.png") as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert image.size == preview_size(5)  # one pair per class of the five
        image.load()


def test_exporting_another_config_leaves_the_others_untouched(tmp_path, source, cache_dir):
    export(["8x8-gray-5"], source, tmp_path, cache_dir=cache_dir)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "8x8-gray-5").iterdir()}
    preview = (tmp_path / "previews" / "8x8-gray-5.png").stat().st_mtime_ns
    export(["16x16-sRGB-5"], source, tmp_path, cache_dir=cache_dir)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "8x8-gray-5").iterdir()} == before
    assert (tmp_path / "previews" / "8x8-gray-5.png").stat().st_mtime_ns == preview
    names = [c["config_name"] for c in DatasetCard.load(tmp_path / "README.md").data.to_dict()["configs"]]
    assert names == ["16x16-sRGB-5", "8x8-gray-5"]


def test_exporting_again_replaces_the_shards_and_the_card_follows_the_folder(tmp_path, source, cache_dir):
    out = tmp_path / "export"
    export(["16x16-sRGB-5"], source, out, cache_dir=cache_dir, max_shard_size="4KB")
    shards = sorted(p.name for p in (out / "16x16-sRGB-5").iterdir())
    train = [name for name in shards if name.startswith("train-")]
    assert len(train) > 2 and train[-1] == f"train-{len(train) - 1:05d}-of-{len(train):05d}.parquet"
    assert_same_dataset(load_export(out, "16x16-sRGB-5", tmp_path), built("16x16-sRGB-5", source, cache_dir))
    export(["16x16-sRGB-5", "8x8-gray-5"], source, out, cache_dir=cache_dir)
    assert sorted(p.name for p in (out / "16x16-sRGB-5").iterdir()) == [
        "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]
    # A config removed from the folder leaves the card when it is regenerated.
    shutil.rmtree(out / "8x8-gray-5")
    card = write_card(out)
    assert [c["config_name"] for c in card.data.to_dict()["configs"]] == ["16x16-sRGB-5"]


def test_incomplete_or_stray_files_are_errors_naming_them(tmp_path, source, cache_dir):
    export(["16x16-sRGB-5"], source, tmp_path, cache_dir=cache_dir, max_shard_size="4KB")
    (second,) = (tmp_path / "16x16-sRGB-5").glob("train-00001-of-*.parquet")
    second.unlink()
    with pytest.raises(ExportLayoutError, match=rf"train shards are incomplete.*{re.escape(second.name)}"):
        write_card(tmp_path)
    export(["16x16-sRGB-5"], source, tmp_path, cache_dir=cache_dir)
    (tmp_path / "16x16-sRGB-5" / "notes.txt").write_text("x")
    with pytest.raises(ExportLayoutError, match="notes.txt is not a shard of 16x16-sRGB-5"):
        write_card(tmp_path)


def test_write_config_from_split_datasets_as_a_finalize_step_would(tmp_path, source, cache_dir):
    """Datasets assembled from pieces (as separate jobs would build them) give the same export."""
    local = built("16x16-sRGB-5", source, cache_dir)
    pieces = {
        split: datasets.concatenate_datasets([ds.shard(2, 0, contiguous=True), ds.shard(2, 1, contiguous=True)])
        for split, ds in local.items()
    }
    written = write_config(pieces, "16x16-sRGB-5", tmp_path / "export")
    assert written == ["16x16-sRGB-5/train-00000-of-00001.parquet", "16x16-sRGB-5/validation-00000-of-00001.parquet"]
    builder = ImageNetTiny(config_name="16x16-sRGB-5", data_dir=str(source), cache_dir=str(tmp_path / "unbuilt"))
    picture = draw_preview(pieces["validation"], builder.source, builder.classes, title="16x16-sRGB-5", split="validation")
    assert write_preview(picture, "16x16-sRGB-5", tmp_path / "export") == "previews/16x16-sRGB-5.png"
    card = write_card(tmp_path / "export")
    assert "](previews/16x16-sRGB-5.png)" in card.text
    assert_same_dataset(load_export(tmp_path / "export", "16x16-sRGB-5", tmp_path), local)
    with pytest.raises(ExportLayoutError, match="canonical"):
        write_config(pieces, "16x16-sRGB-5-crop", tmp_path / "export")


def test_export_command(tmp_path, source, cache_dir, run_cli):
    out = tmp_path / "imagenet-tiny-export"
    result = run_cli("export", "16x16-sRGB-5", "8x8-gray-5-pad", "--data-dir", source, "--to", out,
                     "--cache-dir", cache_dir, "--num-proc", "2")
    assert result.returncode == 0, result.stderr
    assert "Exported 16x16-sRGB-5: 2 Parquet shard(s) and a preview" in result.stdout
    assert_same_dataset(load_export(out, "8x8-gray-5-pad", tmp_path), built("8x8-gray-5-pad", source, cache_dir))
    bad = run_cli("export", "16x16-sRGB", "--data-dir", source, "--to", out)
    assert bad.returncode == 2 and "is not an ImageNet-tiny config name" in bad.stderr
    assert re.search(r"Traceback", bad.stderr) is None
