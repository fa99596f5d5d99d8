"""Damaged or hostile archives: bit rot, members that inflate without bound, entries that cannot be read in place.

Every archive here is a real zip or tar made in the test from the shared sample (Kaggle's layout), then
damaged the way a disk, a transfer or a forger would: a flipped byte, a central directory that lies.
"""

from __future__ import annotations

import io
import shutil
import struct
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest

import imagenet_tiny
from builder import report
from builder.sources import ArchiveError, open_source
from builder.sources import archives
from builder.synthetic import zip_download
from imagenet_tiny import ImageNetTiny
from tests.fixtures.sources import make_devkit_source, sample_path

WNIDS = ["n01440764", "n02342885", "n03787032"]  # the classes of CONFIG
CONFIG = "8x8-gray-3"
VICTIM_CLASS = "n02342885"
VICTIM = f"ILSVRC/Data/CLS-LOC/train/{VICTIM_CLASS}/{VICTIM_CLASS}_1.JPEG"
SMALL_LIMIT = 1 << 20  # the member size limit, patched down so that a test's bomb stays small


@pytest.fixture(scope="module")
def kaggle(sample_sources) -> Path:
    return sample_sources("kaggle", WNIDS, val_per_class=1).root


def central_entry(data: bytes, name: str) -> int:
    """Where the central directory header of member ``name`` starts in the zip ``data``."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        directory = z.start_dir
    position = data.index(b"PK\x01\x02", directory)
    while True:
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        if data[position + 46 : position + 46 + name_length].decode() == name:
            return position
        position += 46 + name_length + extra_length + comment_length


def patch_central_directory(archive: Path, name: str, field_offset: int, fmt: str, value: int) -> None:
    """Overwrite one field of ``name``'s central directory header (what the reader trusts), not its local header."""
    data = bytearray(archive.read_bytes())
    struct.pack_into(fmt, data, central_entry(bytes(data), name) + field_offset, value)
    archive.write_bytes(bytes(data))


CRC_FIELD, COMPRESSED_SIZE_FIELD, SIZE_FIELD = 16, 20, 24  # offsets in a central directory header


def built_report(data_dir: Path, cache_dir: Path) -> list[report.SkippedImage]:
    builder = ImageNetTiny(config_name=CONFIG, data_dir=str(data_dir), cache_dir=str(cache_dir))
    builder.download_and_prepare()
    return report.read_report(builder.cache_dir)


def reasons(skipped: list[report.SkippedImage]) -> dict[str, str]:
    return {s.path: s.reason for s in skipped}


# --- CRC-32 --------------------------------------------------------------------------------------------


def test_bit_rot_in_a_stored_member_is_skipped_and_reported_as_a_crc_mismatch(kaggle, tmp_path):
    archive = zip_download(kaggle, tmp_path / "imagenet-object-localization-challenge.zip")
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(VICTIM)
    data = bytearray(archive.read_bytes())
    header_length = 30 + len(info.filename.encode()) + len(info.extra)
    data[info.header_offset + header_length + info.compress_size // 2] ^= 0x10  # mid-scan: still decodes
    archive.write_bytes(bytes(data))

    skipped = built_report(archive, tmp_path / "cache")
    assert list(reasons(skipped)) == [f"{archive}:{VICTIM}"]
    assert "CRC mismatch" in skipped[0].reason and skipped[0].reason.startswith("ArchiveError:")
    with pytest.raises(imagenet_tiny.CorruptImageError, match=f"cannot read {archive}:{VICTIM}: .*CRC mismatch"):
        imagenet_tiny.prepare_variant(CONFIG, str(archive), cache_dir=str(tmp_path / "strict"), strict=True)


def test_a_deflated_member_that_disagrees_with_its_recorded_crc_is_refused(kaggle, tmp_path):
    archive = zip_download(kaggle, tmp_path / "k.zip", compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(archive) as z:
        crc = z.getinfo(VICTIM).CRC
    patch_central_directory(archive, VICTIM, CRC_FIELD, "<I", crc ^ 1)
    (image,) = [i for i in open_source(archive).images("train", [VICTIM_CLASS]) if i.image_id == f"{VICTIM_CLASS}_1"]
    with pytest.raises(ArchiveError, match=f"^{archive}:{VICTIM}: CRC mismatch"):
        image.file()


def test_a_small_file_with_bit_rot_is_named_when_opened(kaggle, tmp_path):
    archive = zip_download(kaggle, tmp_path / "k.zip")
    with zipfile.ZipFile(archive) as z:
        crc = z.getinfo("LOC_synset_mapping.txt").CRC
    patch_central_directory(archive, "LOC_synset_mapping.txt", CRC_FIELD, "<I", crc ^ 0x8000)
    with pytest.raises(ArchiveError, match=f"{archive}:LOC_synset_mapping.txt: CRC mismatch"):
        open_source(archive)


# --- members that inflate without bound ----------------------------------------------------------------


def padded_jpeg(sample_dir: Path, size: int) -> bytes:
    """A real JPEG followed by zeros up to ``size`` bytes: decoders stop at its end marker, deflate packs it tiny."""
    jpeg = sample_path(sample_dir, VICTIM_CLASS).read_bytes()
    return jpeg + bytes(size - len(jpeg))


def with_member(source: Path, archive: Path, name: str, content: bytes) -> Path:
    """A deflated copy of the zip ``source`` in which member ``name`` holds ``content``."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for info in original.infolist():
            z.writestr(info.filename, content if info.filename == name else original.read(info))
    return archive


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", SMALL_LIMIT)


def test_a_member_declared_beyond_the_limit_is_skipped_and_reported(kaggle, sample_dir, tmp_path, small_limit):
    plain = zip_download(kaggle, tmp_path / "plain.zip")
    bomb = with_member(plain, tmp_path / "imagenet-object-localization-challenge.zip", VICTIM,
                       padded_jpeg(sample_dir, 3 * SMALL_LIMIT))
    assert bomb.stat().st_size < SMALL_LIMIT  # a few kilobytes of zeros inflate to three times the limit

    skipped = built_report(bomb, tmp_path / "cache")
    assert list(reasons(skipped)) == [f"{bomb}:{VICTIM}"]
    assert f"inflates to {3 * SMALL_LIMIT} bytes, beyond the limit of {SMALL_LIMIT} bytes" in skipped[0].reason


def test_a_member_that_inflates_beyond_what_the_central_directory_declares_is_refused(kaggle, sample_dir, tmp_path, small_limit):
    """The central directory says 1000 bytes; the data inflate to 32 times the limit. Reading stops at the lie."""
    plain = zip_download(kaggle, tmp_path / "plain.zip")
    forged = with_member(plain, tmp_path / "forged.zip", VICTIM, padded_jpeg(sample_dir, 32 * SMALL_LIMIT))
    patch_central_directory(forged, VICTIM, SIZE_FIELD, "<I", 1000)
    (image,) = [i for i in open_source(forged).images("train", [VICTIM_CLASS]) if i.image_id == f"{VICTIM_CLASS}_1"]

    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match=f"^{forged}:{VICTIM}: inflates beyond the 1000 bytes"):
            image.file()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < SMALL_LIMIT  # nothing near the 32 MiB the data would inflate to was ever allocated


def test_a_member_whose_data_end_before_the_declared_size_is_refused(kaggle, tmp_path):
    archive = zip_download(kaggle, tmp_path / "k.zip", compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(archive) as z:
        size = z.getinfo(VICTIM).file_size
    patch_central_directory(archive, VICTIM, SIZE_FIELD, "<I", size + 1)
    (image,) = [i for i in open_source(archive).images("train", [VICTIM_CLASS]) if i.image_id == f"{VICTIM_CLASS}_1"]
    with pytest.raises(ArchiveError, match=f"^{archive}:{VICTIM}: inflates to {size} of the {size + 1} bytes"):
        image.file()


def test_a_tar_member_beyond_the_limit_is_refused_before_it_is_read(sample_dir, ilsvrc_dir, tmp_path, small_limit):
    devkit = make_devkit_source(tmp_path / "devkit", sample_dir, ilsvrc_dir, WNIDS).root
    val = devkit / "ILSVRC2012_img_val"
    (first, *_) = sorted(val.iterdir())
    first.write_bytes(padded_jpeg(sample_dir, 2 * SMALL_LIMIT))
    with tarfile.open(devkit / "ILSVRC2012_img_val.tar", "w") as tar:
        for image in sorted(val.iterdir()):
            tar.add(image, arcname=image.name)
    shutil.rmtree(val)
    images = open_source(devkit).images("validation", WNIDS)
    assert images[0].image_id == first.stem
    with pytest.raises(ArchiveError, match=f"{first.name}: holds {2 * SMALL_LIMIT} bytes, beyond the limit of {SMALL_LIMIT} bytes"):
        images[0].file()
    assert images[1].file().read()[:2] == b"\xff\xd8"  # the others are read as before


# --- entries that cannot be read in place --------------------------------------------------------------


def test_an_encrypted_image_member_is_named_when_the_zip_is_opened(kaggle, tmp_path):
    archive = zip_download(kaggle, tmp_path / "k.zip")
    patch_central_directory(archive, VICTIM, 8, "<H", 0x0001)  # general purpose flags: encrypted
    with pytest.raises(ArchiveError, match=f"{archive}:{VICTIM} is encrypted"):
        open_source(archive)


def test_a_zip64_entry_without_its_zip64_values_is_named(kaggle, tmp_path):
    """Sizes saturated at 0xFFFFFFFF promise a zip64 extra field; an empty one is a corrupt directory, not a crash."""
    archive = tmp_path / "k.zip"
    with zipfile.ZipFile(zip_download(kaggle, tmp_path / "plain.zip")) as original, zipfile.ZipFile(archive, "w") as z:
        for info in original.infolist():
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.extra = struct.pack("<HH", 0x0001, 0) if info.filename == VICTIM else b""
            z.writestr(copy, original.read(info))
    patch_central_directory(archive, VICTIM, SIZE_FIELD, "<I", 0xFFFFFFFF)
    with pytest.raises(ArchiveError, match=f"{archive}: corrupt central directory: {VICTIM} lacks its zip64 sizes"):
        open_source(archive)


def test_a_devkit_tar_gz_member_beyond_the_limit_is_refused_before_it_is_inflated(sample_dir, ilsvrc_dir, tmp_path, small_limit):
    """The devkit's .tar.gz is read whole into memory: a member of gigabytes of zeros would be held whole."""
    devkit = make_devkit_source(tmp_path / "devkit", sample_dir, ilsvrc_dir, WNIDS).root
    folder = devkit / "ILSVRC2014_devkit"
    (folder / "data" / "padding.bin").write_bytes(bytes(2 * SMALL_LIMIT))
    with tarfile.open(devkit / "ILSVRC2014_devkit.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    shutil.rmtree(folder)
    archive = devkit / "ILSVRC2014_devkit.tar.gz"
    with pytest.raises(ArchiveError, match=f"^{archive}:ILSVRC2014_devkit/data/padding.bin: holds {2 * SMALL_LIMIT} bytes, "
                                            f"beyond the limit of {SMALL_LIMIT} bytes"):
        open_source(devkit)
