"""Building straight from the downloads: Kaggle's zip and the ILSVRC2012 tar files give the extracted layout's rows."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

import imagenet_tiny
from builder import report
from builder.sources import ArchiveError, open_source
from builder.sources.archives import ZipFiles
from builder.synthetic import devkit_tars, zip_download
from imagenet_tiny import ImageNetTiny

WNIDS = ["n01440764", "n01443537", "n01622779", "n01773157", "n01944390", "n02676566", "n03452741"]
TEST_WNIDS = ["n04090263", "n01532829"]
CONFIG = "16x16-sRGB-5"


@pytest.fixture(scope="module")
def sources(tmp_path_factory, sample_sources):
    root = tmp_path_factory.mktemp("archives")
    counts = {"val_per_class": 2, "test_wnids": TEST_WNIDS}
    kaggle = sample_sources("kaggle", WNIDS, **counts).root
    devkit = sample_sources("devkit", WNIDS, **counts).root
    return {
        "kaggle": kaggle,
        "kaggle.zip": zip_download(kaggle, root / "imagenet-object-localization-challenge.zip"),
        "kaggle-top.zip": zip_download(kaggle, root / "top" / "imagenet-object-localization-challenge.zip",
                                       top="imagenet-object-localization-challenge", compression=zipfile.ZIP_DEFLATED),
        "devkit": devkit,
        "devkit-tars": devkit_tars(devkit, root / "devkit-tars"),
    }


def build(data_dir, cache_dir, config=CONFIG, num_proc=None):
    builder = ImageNetTiny(config_name=config, data_dir=str(data_dir), cache_dir=str(cache_dir))
    builder.download_and_prepare(num_proc=num_proc)
    return builder.as_dataset()


def assert_same_rows(a, b):
    assert set(a) == set(b)
    for split in a:
        assert len(a[split]) > 0
        assert a[split].data.table.equals(b[split].data.table), split


@pytest.mark.parametrize("archive, extracted", [("kaggle.zip", "kaggle"), ("kaggle-top.zip", "kaggle"), ("devkit-tars", "devkit")])
def test_archives_give_the_rows_of_the_extracted_download(sources, tmp_path, archive, extracted):
    assert_same_rows(build(sources[archive], tmp_path / "a", num_proc=2), build(sources[extracted], tmp_path / "e"))


@pytest.mark.parametrize("archive, extracted", [("kaggle.zip", "kaggle"), ("devkit-tars", "devkit")])
def test_archives_list_every_split_as_the_extracted_download(sources, archive, extracted):
    packed, unpacked = open_source(sources[archive]), open_source(sources[extracted])
    assert packed.splits == unpacked.splits == ("train", "validation", "test")
    assert packed.classes == unpacked.classes or packed.classes.wnids == unpacked.classes.wnids
    for split in packed.splits:
        ours = packed.images(split, WNIDS)
        theirs = unpacked.images(split, WNIDS)
        assert [(i.image_id, i.wnid, i.source_boxes) for i in ours] == [(i.image_id, i.wnid, i.source_boxes) for i in theirs]
        for image, original in zip(ours, theirs):
            assert image.member is not None and image.path.startswith(str(sources[archive]))
            assert image.file().read() == Path(original.path).read_bytes()


def test_nested_train_tars_name_the_inner_tar(sources):
    image = open_source(sources["devkit-tars"]).images("train", ["n01440764"])[0]
    assert image.path == f"{sources['devkit-tars']}/ILSVRC2012_img_train.tar:n01440764.tar:n01440764_1.JPEG"


def test_a_truncated_zip_is_named(sources, tmp_path):
    data = sources["kaggle.zip"].read_bytes()
    cut = tmp_path / "imagenet-object-localization-challenge.zip"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match=f"{cut}: no zip end record: not a zip archive, or a truncated one"):
        open_source(cut)


def test_a_truncated_train_tar_is_named(sources, tmp_path):
    copy = tmp_path / "devkit-tars"
    shutil.copytree(sources["devkit-tars"], copy)
    train = copy / "ILSVRC2012_img_train.tar"
    train.write_bytes(train.read_bytes()[: train.stat().st_size * 2 // 3])
    with pytest.raises(ArchiveError, match=f"{train}.*(truncated|unexpected end of data)"):
        open_source(copy).images("train", WNIDS)


def test_a_tar_without_its_end_is_named(sources, tmp_path):
    copy = tmp_path / "devkit-tars"
    shutil.copytree(sources["devkit-tars"], copy)
    val = copy / "ILSVRC2012_img_val.tar"
    with tarfile.open(val) as tar:
        last = tar.getmembers()[-1]
    val.write_bytes(val.read_bytes()[: last.offset_data + ((last.size + 511) // 512) * 512])  # no end marker
    with pytest.raises(ArchiveError, match=f"{val}: no end-of-archive marker: the archive is truncated"):
        open_source(copy).images("validation", WNIDS)


def test_a_corrupt_member_is_skipped_and_reported_with_its_archive(sources, tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(sources["kaggle.zip"]) as original, zipfile.ZipFile(broken, "w") as z:
        for info in original.infolist():
            data = original.read(info)
            z.writestr(info, data[:300] if info.filename.endswith("n01622779_1.JPEG") else data)
    builder = ImageNetTiny(config_name=CONFIG, data_dir=str(broken), cache_dir=str(tmp_path / "c"))
    builder.download_and_prepare()
    assert [(s.image_id, s.path) for s in report.read_report(builder.cache_dir)] == [
        ("n01622779_1", f"{broken}:ILSVRC/Data/CLS-LOC/train/n01622779/n01622779_1.JPEG")
    ]
    with pytest.raises(imagenet_tiny.CorruptImageError, match=f"cannot read {broken}:ILSVRC/Data"):
        imagenet_tiny.prepare_variant(CONFIG, str(broken), cache_dir=str(tmp_path / "s"), strict=True)


def test_a_member_cut_short_names_the_archive(sources, tmp_path):
    copy = tmp_path / "kaggle.zip"
    shutil.copyfile(sources["kaggle.zip"], copy)
    images = open_source(copy).images("train", ["n01440764"])
    with open(copy, "r+b") as f:
        f.truncate(images[0].member.offset + 40)  # the central directory was read already
    with pytest.raises(ArchiveError, match=f"{copy}:ILSVRC/Data/CLS-LOC/train/n01440764/n01440764_1.JPEG: .*truncated"):
        images[0].file()


def test_zip64_archives_are_read(tmp_path):
    """More than 65535 entries make zipfile write zip64 end records; the streaming reader follows them."""
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(70_000):
            z.writestr(f"ILSVRC/Data/CLS-LOC/train/n01440764/n01440764_{i}.JPEG", b"")
        z.writestr("LOC_synset_mapping.txt", b"n01440764 tench\n")
    files = ZipFiles(str(archive), ("LOC_synset_mapping.txt",))
    assert len(files.list_images("ILSVRC/Data/CLS-LOC/train/n01440764")) == 70_000
    assert files.open("LOC_synset_mapping.txt").read() == b"n01440764 tench\n"


def test_generate_from_the_archives_on_the_command_line(sources, tmp_path, run_cli):
    result = run_cli("generate", "8x8-gray-5", "--data-dir", sources["kaggle.zip"], "--cache-dir", tmp_path, "--num-proc", "2")
    assert result.returncode == 0, result.stderr
    assert "train: 10 examples" in result.stdout and "validation: 10 examples" in result.stdout
    devkit = run_cli("generate", "8x8-gray-5", "--data-dir", sources["devkit-tars"], "--cache-dir", tmp_path / "d")
    assert devkit.returncode == 0, devkit.stderr
    assert "train: 10 examples" in devkit.stdout
