"""``imagenet-tiny generate --data-dir hf://datasets/...``: the Hub's ImageNet streamed, end to end, against a local Hub.

The Hub is :mod:`hub_server` on 127.0.0.1, holding ``ILSVRC/imagenet-1k`` (Parquet) and
``timm/imagenet-1k-wds`` as :mod:`hub_sources` lays them out, both gated. The command runs in a subprocess
whose environment points ``HF_ENDPOINT`` at it, with Xet disabled and a private ``HF_HOME``: nothing can
reach the internet. What it built is compared with the Kaggle build of the same images; what it held
on disk is measured as each shard download starts (the bytes already under its download folder plus
the shard about to come), which is when a download folder is fullest.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builder.classes import ilsvrc_classes, select_classes
from tests.hub_server import Fault, HubServer
from tests.hub_sources import make_parquet_snapshot, make_wds_snapshot
from imagenet_tiny import prepare_variant
from tests.fixtures.sources import make_kaggle_source

pytestmark = pytest.mark.hub

CLI = str(Path(sys.executable).with_name("imagenet-tiny"))
CONFIG = "32x32-sRGB-10"
REPO, WDS_REPO = "ILSVRC/imagenet-1k", "timm/imagenet-1k-wds"
URL = f"hf://datasets/{REPO}"
TOKEN = "hf_carol_read_0123456789"
WNIDS = ilsvrc_classes().wnids
TEN = select_classes(WNIDS, 10)
OTHERS = [w for w in WNIDS[1:7] + WNIDS[-6:] if w not in TEN]  # in class order, some shards hold none of the ten
SHARDS = {"train": 22, "validation": 11, "test": 1}  # small shards: the dataset is many times the disk bound


@pytest.fixture(scope="module")
def made(tmp_path_factory, sample_dir, ilsvrc_dir):
    return make_kaggle_source(tmp_path_factory.mktemp("kaggle"), sample_dir, ilsvrc_dir, sorted(TEN + OTHERS), test_wnids=TEN[:3])


@pytest.fixture(scope="module")
def repo_files(made, ilsvrc_dir, tmp_path_factory) -> dict[str, dict[str, bytes]]:
    return {
        REPO: make_parquet_snapshot(tmp_path_factory.mktemp("parquet"), made, ilsvrc_dir, SHARDS),
        WDS_REPO: make_wds_snapshot(tmp_path_factory.mktemp("wds"), made, ilsvrc_dir, {"train": 4, "validation": 2}),
    }


@pytest.fixture(scope="module")
def hub(repo_files):
    with HubServer() as server:
        server.state.add_token(TOKEN, "carol", "read")
        for repo_id, files in repo_files.items():
            server.state.seed(repo_id, files, gated="manual")
        yield server
        assert not server.state.unknown, f"requests the local Hub does not know: {server.state.unknown}"


@pytest.fixture(scope="module")
def kaggle_build(made, tmp_path_factory) -> datasets.DatasetDict:
    return prepare_variant(CONFIG, str(made.root), cache_dir=str(tmp_path_factory.mktemp("kaggle-build"))).as_dataset()


@pytest.fixture
def env(hub, tmp_path) -> dict[str, str]:
    """A client environment that can only see the local Hub, with carol's token."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    return {
        **clean,
        "HF_ENDPOINT": hub.endpoint,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_TOKEN": TOKEN,
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }


def generate(env, cache_dir, *extra: str, data_dir: str = URL, boxes_of=None) -> subprocess.CompletedProcess:
    boxes = [] if boxes_of is None else ["--boxes", str(boxes_of / "LOC_train_solution.csv"), "--boxes", str(boxes_of / "LOC_val_solution.csv")]
    result = subprocess.run([CLI, "generate", CONFIG, "--data-dir", data_dir, "--cache-dir", str(cache_dir), *boxes, *extra],
                            capture_output=True, text=True, env=env, timeout=300)
    assert TOKEN not in result.stdout + result.stderr, "the token was printed"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def built(cache_dir: Path) -> datasets.DatasetDict:
    """The splits of the one finished build under ``cache_dir``, read from its Arrow files."""
    (info,) = cache_dir.glob("**/dataset_info.json")
    splits = {}
    for split in ("train", "validation", "test"):
        files = sorted(info.parent.glob(f"imagenet_tiny-{split}*.arrow"))
        if files:
            splits[split] = datasets.concatenate_datasets([datasets.Dataset.from_file(str(f)) for f in files])
    return datasets.DatasetDict(splits)


def assert_same_rows(got: datasets.DatasetDict, expected: datasets.DatasetDict) -> None:
    assert sorted(got) == sorted(expected)
    for split in expected:
        assert got[split].features == expected[split].features
        assert got[split].data.table.equals(expected[split].data.table, check_metadata=False), split


class Downloads:
    """Watches the local Hub: which shards were downloaded (whole, or resumed; not the range reads of a
    footer), and the disk each download would need: what the download folders hold, plus the shard."""

    def __init__(self, files: dict[str, bytes], cache_dir: Path) -> None:
        self.paths = {hashlib.sha256(content).hexdigest(): path for path, content in files.items()}
        self.sizes = {path: len(content) for path, content in files.items()}
        self.cache_dir = cache_dir
        self.started: list[str] = []
        self.ranges: list[str] = []  # the Range header of each (empty: the whole file)
        self.disk: list[int] = []

    def __call__(self, method: str, path: str, headers) -> None:
        if method != "GET" or "/lfs-files/" not in path:
            return
        if re.fullmatch(r"bytes=\d+-\d+", headers.get("Range", "")):
            return  # a footer read: a few kB, not kept
        shard = self.paths[path.rsplit("/", 1)[1]]
        self.started.append(shard)
        self.ranges.append(headers.get("Range", ""))
        self.disk.append(self.held() + self.sizes[shard])

    def held(self) -> int:
        return sum(f.stat().st_size for folder in self.cache_dir.glob("**/*.staging/downloads") for f in folder.rglob("*") if f.is_file())


def holding(files: dict[str, bytes], split: str, wnids) -> list[str]:
    """The Parquet shards of ``split`` with a row of one of ``wnids`` (read independently of the builder)."""
    wanted = {WNIDS.index(w) for w in wnids}
    return [path for path, content in sorted(files.items()) if path.startswith(f"data/{split}-")
            and wanted & set(pq.read_table(pa.BufferReader(content), columns=["label"])["label"].to_pylist())]


@pytest.mark.e2e
def test_generate_streams_the_gated_repo_with_a_few_shards_on_disk(hub, env, made, repo_files, kaggle_build, tmp_path):
    cache = tmp_path / "cache"
    hub.state.repo(REPO).access.clear()  # carol has not accepted the terms yet
    denied = generate(env, cache, boxes_of=made.root)
    assert denied.returncode == 2
    assert f"{URL} is gated: accept the terms at {hub.endpoint}/datasets/{REPO} with the account of your token" in denied.stderr

    hub.state.grant_access(REPO, "carol")
    watch = Downloads(repo_files[REPO], cache)
    hub.state.observers.append(watch)
    try:
        result = generate(env, cache, "--num-proc", "2", boxes_of=made.root)
    finally:
        hub.state.observers.remove(watch)
    assert result.returncode == 0, result.stderr
    assert_same_rows(built(cache), kaggle_build)

    # Only the shards that hold the ten classes were downloaded, each once; the others' footers were read.
    needed = holding(repo_files[REPO], "train", TEN) + holding(repo_files[REPO], "validation", TEN)
    assert sorted(watch.started) == sorted(needed)
    assert len(holding(repo_files[REPO], "train", TEN)) < SHARDS["train"]
    # Disk: two shards being made tiny and one downloading at most, whatever the dataset's size.
    largest = max(watch.sizes[path] for path in needed)
    assert 0 < max(watch.disk) <= 3 * largest < sum(watch.sizes[path] for path in needed) / 2
    assert not list(cache.glob("**/*.staging")), "the downloads and staged parts outlive the build"
    # Progress: the bytes and images so far, shard by shard.
    assert f"Building from {URL}: {len(needed)} shard(s)" in result.stderr
    assert re.search(rf"data/\w+-\d+-of-\d+\.parquet: \d+ image\(s\); {len(needed)} of {len(needed)} shards, [\d.]+ MB of [\d.]+ MB, 30 images so far", result.stderr)


def test_an_interrupted_build_resumes_without_downloading_finished_shards(hub, env, made, repo_files, kaggle_build, tmp_path):
    hub.state.grant_access(REPO, "carol")
    cache = tmp_path / "cache"
    needed = holding(repo_files[REPO], "train", TEN) + holding(repo_files[REPO], "validation", TEN)
    fourth = needed[3]
    oid = hashlib.sha256(repo_files[REPO][fourth]).hexdigest()
    watch = Downloads(repo_files[REPO], cache)
    hub.state.observers.append(watch)
    hub.state.faults[:] = [Fault("GET", f"/lfs-files/.*/{oid}$", "500", whole_only=True)]
    faults_before = len(hub.state.fault_log)
    try:
        interrupted = generate(env, cache, boxes_of=made.root)
        assert interrupted.returncode == 2
        assert f"{fourth}: the download failed" in interrupted.stderr
        assert "Run the same command again: it resumes, and the shards already built are not downloaded again" in interrupted.stderr
        assert hub.state.fault_log[faults_before:] == [f"500 GET /lfs-files/dataset/{REPO}/{oid}"]
        assert not built_anything(cache)

        resumed = generate(env, cache, boxes_of=made.root)
    finally:
        hub.state.observers.remove(watch)
        hub.state.faults.clear()
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming: 3 shard(s) were built by an earlier run and are not read again" in resumed.stderr
    assert_same_rows(built(cache), kaggle_build)
    # The failed shard was asked for twice; every other shard was downloaded once in the two runs.
    assert sorted(watch.started) == sorted(needed + [fourth])


def built_anything(cache: Path) -> bool:
    return bool(list(cache.glob("**/dataset_info.json")))


def test_a_download_cut_short_is_retried(hub, env, made, repo_files, kaggle_build, tmp_path):
    hub.state.grant_access(REPO, "carol")
    cache = tmp_path / "cache"
    shard = holding(repo_files[REPO], "validation", TEN)[0]
    oid = hashlib.sha256(repo_files[REPO][shard]).hexdigest()
    watch = Downloads(repo_files[REPO], cache)
    hub.state.observers.append(watch)
    hub.state.faults[:] = [Fault("GET", f"/lfs-files/.*/{oid}$", "cut", whole_only=True)]
    faults_before = len(hub.state.fault_log)
    try:
        result = generate(env, cache, boxes_of=made.root)
    finally:
        hub.state.observers.remove(watch)
        hub.state.faults.clear()
    assert result.returncode == 0, result.stderr
    assert hub.state.fault_log[faults_before:] == [f"cut GET /lfs-files/dataset/{REPO}/{oid}"]
    # Cut, then asked for again by huggingface_hub itself (which resumes from the last whole 10 MB it
    # received: from the start, for these small shards), in the same run.
    assert [watch.ranges[i] for i, started in enumerate(watch.started) if started == shard] == ["", ""]
    assert_same_rows(built(cache), kaggle_build)


@pytest.mark.e2e
def test_a_class_subset_of_a_shuffled_webdataset_says_first_that_it_downloads_everything(hub, env, made, repo_files, kaggle_build, tmp_path):
    hub.state.grant_access(WDS_REPO, "carol")
    cache = tmp_path / "cache"
    result = generate(env, cache, data_dir=f"hf://datasets/{WDS_REPO}", boxes_of=made.root)
    assert result.returncode == 0, result.stderr
    train_size = sum(len(c) for p, c in repo_files[WDS_REPO].items() if "-train-" in p)
    notice = (f"timm/imagenet-1k-wds: a 10-class build downloads every one of the 4 train shards ({train_size / 1e6:.1f} MB): "
              "its shards are shuffled, so any of them may hold the chosen classes")
    assert notice in result.stderr
    assert result.stderr.index(notice) < result.stderr.index(f"Building from hf://datasets/{WDS_REPO}")
    assert_same_rows(built(cache), kaggle_build)


def test_a_revision_builds_the_repository_as_it_was(hub, env, repo_files, made, tmp_path):
    repo_id = "carol/imagenet-1k-copy"
    old = hub.state.seed(repo_id, repo_files[REPO]).branches["main"]
    hub.state.delete(repo_id, "classes.py")  # main moves on, and is no longer complete
    now = generate(env, tmp_path / "now", data_dir=f"hf://datasets/{repo_id}")
    assert now.returncode == 2 and "lacks 1 file(s): classes.py" in now.stderr
    unknown = generate(env, tmp_path / "unknown", "--revision", "v9", data_dir=f"hf://datasets/{repo_id}")
    assert unknown.returncode == 2 and f"hf://datasets/{repo_id} has no revision 'v9'" in unknown.stderr
    then = generate(env, tmp_path / "then", "--revision", old, data_dir=f"hf://datasets/{repo_id}")
    assert then.returncode == 0, then.stderr
    same = generate(env, tmp_path / "then", data_dir=f"hf://datasets/{repo_id}@{old}")
    assert same.returncode == 0 and "Resuming" not in same.stderr  # the build of that commit, reused
    assert len(built(tmp_path / "then")["train"]) == sum(m.wnid in TEN for m in made.train)


def test_a_repository_that_does_not_exist_is_explained(hub, env, tmp_path):
    result = generate(env, tmp_path, data_dir="hf://datasets/nobody/imagenet")
    assert result.returncode == 2
    assert "hf://datasets/nobody/imagenet was not found, or it is private and your token may not read it" in result.stderr
    wrong = generate(env, tmp_path, data_dir="hf://imagenet")
    assert wrong.returncode == 2 and "expected hf://datasets/OWNER/NAME" in wrong.stderr


@pytest.mark.e2e
def test_a_snapshot_from_hf_download_builds_in_place(hub, env, made, kaggle_build, tmp_path):
    """The snapshot as ``hf download`` leaves it: in a folder of its own (``--local-dir``), or in the Hub
    cache (``snapshots/<commit>``, links into the cache's blobs); either is read where it is."""
    hub.state.grant_access(REPO, "carol")
    hf = str(Path(sys.executable).with_name("hf"))
    local = subprocess.run([hf, "download", REPO, "--repo-type", "dataset", "--local-dir", str(tmp_path / "imagenet-1k")],
                           capture_output=True, text=True, env=env, timeout=300)
    assert local.returncode == 0, local.stderr
    cached = subprocess.run([hf, "download", REPO, "--repo-type", "dataset", "--cache-dir", str(tmp_path / "hub-cache")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert cached.returncode == 0, cached.stderr
    (snapshot,) = (tmp_path / "hub-cache" / "datasets--ILSVRC--imagenet-1k" / "snapshots").iterdir()
    assert snapshot.parent.name == "snapshots" and (snapshot / "classes.py").is_symlink()
    for folder in (tmp_path / "imagenet-1k", snapshot):
        cache = tmp_path / f"cache-{folder.name}"
        result = generate(env, cache, data_dir=str(folder), boxes_of=made.root)
        assert result.returncode == 0, result.stderr
        assert_same_rows(built(cache), kaggle_build)
