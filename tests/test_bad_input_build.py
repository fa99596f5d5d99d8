"""Bad input to a build: nothing silently wrong, nothing lost.

A build is reused only for the same download; a strict run never returns a build that skipped images;
the reports describe exactly the build beside them; files the listing cannot take as images and boxes
outside their image are reported; workers end with a killed build; config names are ASCII.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imagenet_tiny
from builder import report
from builder.classes import SEED_FIVE_CLASSES, ClassTableError, read_meta_clsloc
from builder.config import ConfigNameError, ImageNetTinyConfig, parse_config_name
from publish.cluster import ShardError, ShardPlan, build_shard, shard_splits
from builder.sources import SourceLayoutError, open_source
from builder.synthetic import devkit_tars, zip_download
from imagenet_tiny import CorruptImageError, prepare_variant
from tests.fixtures.cli import CONSOLE_SCRIPT
from tests.fixtures.sources import make_devkit_source, make_kaggle_source, sample_path

WNIDS = sorted(SEED_FIVE_CLASSES)
CONFIG = "8x8-gray-5"
TRAIN = Path("ILSVRC", "Data", "CLS-LOC", "train")


def kaggle(root: Path, sample_dir, ilsvrc_dir, train_per_class: int = 2):
    return make_kaggle_source(root, sample_dir, ilsvrc_dir, WNIDS, train_per_class=train_per_class)


def build(data_dir, cache_dir, config=CONFIG, **kwargs):
    builder = prepare_variant(config, str(data_dir), cache_dir=str(cache_dir), **kwargs)
    return builder, builder.as_dataset()


def no_generation(monkeypatch):
    """From here on, building an example fails the test: a reused build makes none."""

    def fail(*args, **kwargs):
        raise AssertionError("an example was built: the build was not reused")

    monkeypatch.setattr(imagenet_tiny, "tiny_example", fail)


# --- a build is reused only for the same download ------------------------------------------------


def test_one_relative_data_dir_in_two_folders_is_two_builds(sample_dir, ilsvrc_dir, tmp_path, monkeypatch):
    kaggle(tmp_path / "a" / "src", sample_dir, ilsvrc_dir, train_per_class=1)
    kaggle(tmp_path / "b" / "src", sample_dir, ilsvrc_dir, train_per_class=2)
    monkeypatch.chdir(tmp_path / "a")
    first, a = build("src", tmp_path / "cache")
    monkeypatch.chdir(tmp_path / "b")
    second, b = build("src", tmp_path / "cache")
    assert len(a["train"]) == 5 and len(b["train"]) == 10
    assert first.cache_dir != second.cache_dir
    monkeypatch.chdir(tmp_path / "a")
    no_generation(monkeypatch)
    again, a_again = build("src", tmp_path / "cache")
    assert again.cache_dir == first.cache_dir and len(a_again["train"]) == 5


def test_the_command_line_builds_each_folder_it_is_given(sample_dir, ilsvrc_dir, tmp_path, run_cli):
    kaggle(tmp_path / "a" / "src", sample_dir, ilsvrc_dir, train_per_class=1)
    kaggle(tmp_path / "b" / "src", sample_dir, ilsvrc_dir, train_per_class=2)
    outputs = [run_cli("generate", CONFIG, "--data-dir", "src", "--cache-dir", str(tmp_path / "c"), cwd=tmp_path / d) for d in "ab"]
    assert [r.returncode for r in outputs] == [0, 0], [r.stderr for r in outputs]
    assert "train: 5 examples" in outputs[0].stdout and "train: 10 examples" in outputs[1].stdout


def test_the_same_download_through_a_symbolic_link_is_reused(sample_dir, ilsvrc_dir, tmp_path, monkeypatch):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    first, _ = build(source.root, tmp_path / "cache")
    (tmp_path / "link").symlink_to(source.root)
    no_generation(monkeypatch)
    again, ds = build(tmp_path / "link", tmp_path / "cache")
    assert again.cache_dir == first.cache_dir and len(ds["train"]) == 10


def test_a_changed_download_is_built_anew_and_says_why(sample_dir, ilsvrc_dir, tmp_path, monkeypatch, caplog):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    first, ds = build(source.root, tmp_path / "cache")
    assert len(ds["train"]) == 10
    folder = source.root / TRAIN / "n01622779"

    added = folder / "n01622779_3.JPEG"
    shutil.copyfile(sample_path(sample_dir, "n01622779"), added)
    caplog.clear()
    grown, ds = build(source.root, tmp_path / "cache")
    assert len(ds["train"]) == 11 and grown.cache_dir != first.cache_dir
    said = caplog.text
    assert f"The download at {os.path.realpath(source.root)} changed since the build in {first.cache_dir}" in said
    assert f"building anew in {grown.cache_dir}" in said

    (folder / "n01622779_1.JPEG").unlink()
    shrunk, ds = build(source.root, tmp_path / "cache")
    assert len(ds["train"]) == 10 and "n01622779_1" not in ds["train"]["image_id"]

    with Image.open(sample_path(sample_dir, "n01773157")) as other:
        other.convert("RGB").resize((120, 90)).save(added, format="JPEG")  # replaced: other pixels, other size
    replaced, ds = build(source.root, tmp_path / "cache")
    row = ds["train"][ds["train"]["image_id"].index("n01622779_3")]
    assert (row["original_width"], row["original_height"]) == (120, 90)
    assert len({first.cache_dir, grown.cache_dir, shrunk.cache_dir, replaced.cache_dir}) == 4

    no_generation(monkeypatch)
    caplog.clear()
    unchanged, _ = build(source.root, tmp_path / "cache")
    assert unchanged.cache_dir == replaced.cache_dir
    assert "changed since" not in caplog.text


def test_a_changed_zip_is_built_anew(sample_dir, ilsvrc_dir, tmp_path):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    archive = zip_download(source.root, tmp_path / "zip" / "imagenet-object-localization-challenge.zip")
    _, ds = build(archive, tmp_path / "cache")
    shutil.copyfile(sample_path(sample_dir, "n01622779"), source.root / TRAIN / "n01622779" / "n01622779_3.JPEG")
    zip_download(source.root, archive)  # the same path, written again with one more image
    _, again = build(archive, tmp_path / "cache")
    assert (len(ds["train"]), len(again["train"])) == (10, 11)


def test_a_changed_train_tar_is_built_anew(sample_dir, ilsvrc_dir, tmp_path):
    source = make_devkit_source(tmp_path / "src", sample_dir, ilsvrc_dir, WNIDS, test_wnids=WNIDS[:1])
    tars = devkit_tars(source.root, tmp_path / "tars")
    _, ds = build(tars, tmp_path / "cache")
    (source.root / "ILSVRC2012_img_train" / "n01622779" / "n01622779_2.JPEG").unlink()
    shutil.rmtree(tars)
    devkit_tars(source.root, tars)
    _, again = build(tars, tmp_path / "cache")
    assert (len(ds["train"]), len(again["train"])) == (10, 9)


def test_a_shard_is_not_reused_as_the_whole_build(sample_dir, ilsvrc_dir, tmp_path):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    _, part = build(source.root, tmp_path / "cache", shard=(0, 3))
    _, whole = build(source.root, tmp_path / "cache")
    assert sum(len(split) for split in part.values()) == 5
    assert (len(whole["train"]), len(whole["validation"])) == (10, 5)


def test_shards_of_a_changed_download_are_built_anew_not_assembled(sample_dir, ilsvrc_dir, tmp_path, caplog):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    plan = ShardPlan(CONFIG, str(source.root), str(tmp_path / "out"), 2)
    for index in range(2):
        build_shard(plan, index)
    assert sum(len(split) for split in shard_splits(plan).values()) == 15
    shutil.copyfile(sample_path(sample_dir, "n01622779"), source.root / TRAIN / "n01622779" / "n01622779_3.JPEG")
    with pytest.raises(ShardError, match=r"changed since 2 of 2 shards of 8x8-gray-5 were built: 0, 1.*--only-shards 0,1"):
        shard_splits(plan)
    caplog.clear()
    assert build_shard(plan, 0)["reused"] is False
    assert f"The download at {source.root} changed since shard 0 of 2 was built: building it anew" in caplog.text
    assert build_shard(plan, 1)["reused"] is False and build_shard(plan, 1)["reused"] is True
    assert sum(len(split) for split in shard_splits(plan).values()) == 16


# --- strict runs and the reports -------------------------------------------------------------------


def break_image(source, wnid: str = "n01622779") -> Path:
    broken = source.root / TRAIN / wnid / f"{wnid}_2.JPEG"
    broken.write_bytes(broken.read_bytes()[:1000])
    return broken


def test_a_strict_run_fails_on_a_cached_build_that_skipped_images(sample_dir, ilsvrc_dir, tmp_path, run_cli):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    broken = break_image(source)
    lenient, ds = build(source.root, tmp_path / "cache")
    assert len(ds["train"]) == 9
    listed = os.path.join(lenient.cache_dir, "skipped_images.csv")
    with pytest.raises(CorruptImageError, match=f"skipped 1 image.*listed in {listed}: {broken}: "):
        build(source.root, tmp_path / "cache", strict=True)
    result = run_cli("generate", CONFIG, "--data-dir", str(source.root), "--cache-dir", str(tmp_path / "cache"), "--strict")
    assert result.returncode == 2 and str(broken) in result.stderr and listed in result.stderr


def test_a_strict_run_fails_on_a_finished_shard_that_skipped_images(sample_dir, ilsvrc_dir, tmp_path, run_cli):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    broken = break_image(source)
    shard = ["--data-dir", str(source.root), "--output", str(tmp_path / "out"), "--num-shards", "2", "--shard-index", "0"]
    assert run_cli("generate", CONFIG, *shard).returncode == 0
    result = run_cli("generate", CONFIG, *shard, "--strict")
    assert result.returncode == 2 and "skipped 1 image(s)" in result.stderr and str(broken) in result.stderr


# A build in a subprocess that dies as kill -9 would kill it (no clean-up at all) at its 7th image.
KILLED_BUILD = """
import os, sys
import imagenet_tiny
real, calls = imagenet_tiny.tiny_example, []
def dying(*args, **kwargs):
    calls.append(1)
    if len(calls) == 7:
        os._exit(9)
    return real(*args, **kwargs)
imagenet_tiny.tiny_example = dying
imagenet_tiny.prepare_variant(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])
"""


def test_a_killed_build_leaves_no_stale_report(sample_dir, ilsvrc_dir, tmp_path):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    broken = source.root / TRAIN / "n01622779" / "n01622779_1.JPEG"  # the 1st image: reported before the kill
    good, status = broken.read_bytes(), broken.stat()
    broken.write_bytes(b"\0" * len(good))  # as long as the image, so that only its content differs
    os.utime(broken, ns=(status.st_atime_ns, status.st_mtime_ns))
    killed = subprocess.run([sys.executable, "-c", KILLED_BUILD, CONFIG, str(source.root), str(tmp_path / "cache")])
    assert killed.returncode == 9
    assert list((tmp_path / "cache").rglob("skipped_images.csv.*.part")), "the killed build should have left its report part"
    # Repaired as a restore from a backup does it: same size, same time, so the same download to the cache.
    broken.write_bytes(good)
    os.utime(broken, ns=(status.st_atime_ns, status.st_mtime_ns))
    builder, ds = build(source.root, tmp_path / "cache")
    assert len(ds["train"]) == 10
    assert report.read_report(builder.cache_dir) == []
    assert not os.path.exists(os.path.join(builder.cache_dir, "skipped_images.csv"))


def write_bytes_named(folder: Path, name: bytes, data: bytes) -> Path:
    path = os.path.join(os.fsencode(folder), name)
    with open(path, "wb") as f:
        f.write(data)
    return Path(os.fsdecode(path))


def test_files_the_listing_cannot_read_are_skipped_and_reported(sample_dir, ilsvrc_dir, tmp_path, caplog):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    folder = source.root / TRAIN / "n01622779"
    (folder / "n01622779_7.JPEG").symlink_to("nowhere.JPEG")  # dangling
    (folder / "n01622779_8.JPEG").symlink_to("n01622779_8.JPEG")  # a loop
    (folder / "n01622779_9.JPEG").mkdir()  # a folder named as an image
    write_bytes_named(folder, b"n01622779_\xff.JPEG", (folder / "n01622779_1.JPEG").read_bytes())
    shutil.copyfile(folder / "n01622779_1.JPEG", folder / "n01622779_1.png")  # a second file of one image id
    val = source.validation[0]
    val.path.unlink()
    val.path.symlink_to("gone.JPEG")

    caplog.clear()
    builder, ds = build(source.root, tmp_path / "cache")
    assert len(ds["train"]) == 10 and len(ds["validation"]) == 4
    rows = {(s.split, s.path): s for s in report.read_report(builder.cache_dir)}
    assert set(rows) == {
        ("train", str(folder / "n01622779_7.JPEG")),
        ("train", str(folder / "n01622779_8.JPEG")),
        ("train", str(folder / "n01622779_9.JPEG")),
        ("train", str(folder) + "/n01622779_\\xff.JPEG"),
        ("train", str(folder / "n01622779_1.png")),
        ("validation", str(val.path)),
    }
    assert "'nowhere.JPEG', which does not exist" in rows["train", str(folder / "n01622779_7.JPEG")].reason
    assert "Too many levels of symbolic links" in rows["train", str(folder / "n01622779_8.JPEG")].reason
    assert "a folder" in rows["train", str(folder / "n01622779_9.JPEG")].reason
    assert "not valid UTF-8" in rows["train", str(folder) + "/n01622779_\\xff.JPEG"].reason
    assert f"same image id: {folder / 'n01622779_1.JPEG'}" in rows["train", str(folder / "n01622779_1.png")].reason
    assert rows["validation", str(val.path)].image_id == val.image_id
    said = caplog.text
    assert "Skipped 6 unreadable image(s)" in said and str(folder / "n01622779_7.JPEG") in said

    with pytest.raises(CorruptImageError, match="cannot read .*n01622779_"):
        build(source.root, tmp_path / "strict", strict=True)


def test_tar_links_are_read_as_their_target_or_reported(sample_dir, ilsvrc_dir, tmp_path):
    source = make_devkit_source(tmp_path / "src", sample_dir, ilsvrc_dir, WNIDS, test_wnids=WNIDS[:1])
    tars = devkit_tars(source.root, tmp_path / "tars")
    train = tars / "ILSVRC2012_img_train.tar"
    with tarfile.open(train) as outer:  # rewrite one class's inner tar with links in it
        members = {m.name: outer.extractfile(m).read() for m in outer.getmembers()}
    inner = io.BytesIO(members["n01622779.tar"])
    with tarfile.open(fileobj=inner) as tar:
        images = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    linked = io.BytesIO()
    with tarfile.open(fileobj=linked, mode="w") as tar:
        for name, data in images.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind, target in [
            ("n01622779_3.JPEG", tarfile.LNKTYPE, "n01622779_1.JPEG"),
            ("n01622779_4.JPEG", tarfile.SYMTYPE, "n01622779_2.JPEG"),
            ("n01622779_5.JPEG", tarfile.SYMTYPE, "../outside.JPEG"),
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
    members["n01622779.tar"] = linked.getvalue()
    with tarfile.open(train, "w") as outer:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            outer.addfile(info, io.BytesIO(data))

    builder, ds = build(tars, tmp_path / "cache")
    ids = ds["train"]["image_id"]
    assert {"n01622779_3", "n01622779_4"} <= set(ids) and "n01622779_5" not in ids
    pixels = {i: np.asarray(ds["train"][ids.index(i)]["image"]) for i in ("n01622779_1", "n01622779_2", "n01622779_3", "n01622779_4")}
    assert np.array_equal(pixels["n01622779_3"], pixels["n01622779_1"])
    assert np.array_equal(pixels["n01622779_4"], pixels["n01622779_2"])
    (skipped,) = report.read_report(builder.cache_dir)
    assert skipped.path == f"{train}:n01622779.tar:n01622779_5.JPEG"
    assert "symbolic link to '../outside.JPEG', which is not a regular member of the tar" in skipped.reason


def test_boxes_outside_the_image_are_clipped_or_dropped_and_reported(sample_dir, ilsvrc_dir, tmp_path, caplog, run_cli):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir)
    image = next(m for m in source.train if m.boxes and m.wnid == "n01622779")
    with Image.open(image.path) as opened:
        w, h = opened.size
    reaching, outside = (10, 10, w + 40, h - 1), (w + 5, 0, w + 30, 20)
    solution = source.root / "LOC_train_solution.csv"
    with open(solution, newline="") as f:
        rows = list(csv.reader(f))
    for row in rows:
        if row[0] == image.image_id:
            row[1] += "".join(f" {image.wnid} {x0} {y0} {x1} {y1}" for x0, y0, x1, y1 in (reaching, outside))
    with open(solution, "w", newline="") as f:
        csv.writer(f).writerows(rows)

    caplog.clear()
    builder, ds = build(source.root, tmp_path / "cache", config="32x32-gray-5-pad")
    said = caplog.text
    listed = os.path.join(builder.cache_dir, "adjusted_boxes.csv")
    assert f"2 annotation box(es) reached outside their image: 1 clipped to it, 1 dropped (no part inside); listed in {listed}" in said
    with open(listed, newline="") as f:
        adjusted = list(csv.DictReader(f))
    assert adjusted == [
        {"split": "train", "image_id": image.image_id, "path": str(image.path), "box": " ".join(map(str, box)), "action": action}
        for box, action in ((reaching, "clipped"), (outside, "dropped"))
    ]
    row = ds["train"][ds["train"]["image_id"].index(image.image_id)]
    assert len(row["bboxes"]) == len(image.boxes) + 1  # the one wholly outside is left out
    # pad: the clipped box ends where the image does, not in the black border beside it
    scale = min(32 / w, 32 / h)
    right_edge = (32 - round(w * scale)) // 2 + round(w * scale)
    assert max(box[2] for box in row["bboxes"]) <= right_edge
    result = run_cli("generate", "32x32-gray-5-pad", "--data-dir", str(source.root), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0 and "2 annotation box(es) reached outside their image" in result.stdout


# --- workers end with a killed build ---------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path("/proc", str(pid), "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; it only waits to be reaped


def wait_for(condition, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the workers through /proc")
def test_workers_end_when_the_build_is_killed(sample_dir, ilsvrc_dir, tmp_path):
    source = kaggle(tmp_path / "src", sample_dir, ilsvrc_dir, train_per_class=1)
    for wnid in WNIDS:  # enough images that the build is still running when it is killed
        for i in range(2, 1500):
            target = source.root / TRAIN / wnid / f"{wnid}_{i}.JPEG"
            try:
                os.link(sample_path(sample_dir, wnid), target)
            except OSError:
                shutil.copyfile(sample_path(sample_dir, wnid), target)
    env = {**os.environ, "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    process = subprocess.Popen(
        [CONSOLE_SCRIPT, "generate", "32x32-sRGB-5", "--data-dir", str(source.root), "--cache-dir", str(tmp_path / "c"), "--num-proc", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        # The manager of datasets' queue and the two workers.
        assert wait_for(lambda: len(children_of(process.pid)) >= 3 or process.poll() is not None, 300)
        workers = children_of(process.pid)
        assert process.poll() is None and len(workers) >= 3, "the build ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert wait_for(lambda: not any(alive(pid) for pid in workers), 60), [p for p in workers if alive(p)]
    finally:
        if process.poll() is None:
            process.kill()


# --- config names are ASCII ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["1٠x8-gray-5", "8x1٠-gray-5", "8x8-gray-1٠"])  # the first digit was ASCII already
def test_config_names_take_ascii_digits_only(name):
    with pytest.raises(ConfigNameError, match="is not an ImageNet-tiny config name"):
        parse_config_name(name)


def test_class_lists_take_ascii_wnids_only():
    with pytest.raises(ConfigNameError, match="classes must be WNIDs"):
        ImageNetTinyConfig.from_name("8x8-gray-1", classes=["n٠١٤٤٠٧٦٤"])


def test_the_devkit_class_table_takes_ascii_numbers_only(ilsvrc_dir, tmp_path):
    lines = (ilsvrc_dir / "meta_clsloc.tsv").read_text().splitlines()
    number, rest = lines[1].split("\t", 1)
    lines[1] = "".join(chr(ord("٠") + int(d)) for d in number) + "\t" + rest
    (tmp_path / "meta_clsloc.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ClassTableError, match="line 2: expected 'ILSVRC2014_ID<TAB>WNID<TAB>words'"):
        read_meta_clsloc(tmp_path / "meta_clsloc.tsv")


def test_devkit_ground_truth_takes_ascii_numbers_only(sample_dir, ilsvrc_dir, tmp_path):
    source = make_devkit_source(tmp_path / "src", sample_dir, ilsvrc_dir, WNIDS)
    truth = source.root / "ILSVRC2014_devkit" / "data" / "ILSVRC2014_clsloc_validation_ground_truth.txt"
    lines = truth.read_text().splitlines()
    lines[2] = "".join(chr(ord("٠") + int(d)) for d in lines[2])  # the same number in Arabic-Indic digits
    truth.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceLayoutError, match="line 3: expected an ILSVRC2014_ID"):
        open_source(source.root).images("validation", WNIDS)
