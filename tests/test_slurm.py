"""Sharded generation and ``imagenet-tiny slurm``: shards equal the single-machine build row for row, on a real cluster.

The cluster test (marked ``slurm``) starts a single-node SLURM cluster on this machine (tests/slurm_cluster.py).
It skips where SLURM or munge is not installed, or without root, and fails under CI, where ``.ci/run``
installs them. The commands run in this process (``cli.main``); the cluster's jobs run the console script.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import datasets
import pytest

from builder.examples import share
from imagenet_tiny import prepare_variant
from publish.cluster import SHARDS_DIR, ShardPlan
from publish.folder import LOCK_FILENAME, MANIFEST_FILENAME

CONFIG = "8x8-gray-5"


@pytest.fixture
def run(run_cli):
    """``run(*args, check=True)``: the command in this process; with ``check``, it must succeed."""

    def run_checked(*args: str, check: bool = True):
        result = run_cli(*args)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run_checked


@pytest.fixture(scope="module")
def source(synthetic_sources):
    return synthetic_sources(per_class=(4, 2, 0))  # 20 train, 10 validation images


@pytest.fixture(scope="module")
def single(source, tmp_path_factory):
    return prepare_variant(CONFIG, str(source), cache_dir=str(tmp_path_factory.mktemp("single"))).as_dataset()


def assert_equals_single(folder: Path, single, cache: Path) -> None:
    loaded = datasets.load_dataset(str(folder), CONFIG, cache_dir=str(cache))
    assert sorted(loaded) == sorted(single)
    for split in single:
        assert loaded[split].features == single[split].features
        assert loaded[split].data.table.equals(single[split].data.table, check_metadata=False), split


def test_shares_are_contiguous_and_balanced_by_file_count():
    images = {"train": list(range(10)), "validation": list(range(10, 13)), "test": []}
    parts = [share(images, i, 4) for i in range(4)]
    assert [sum(len(p) for p in part.values()) for part in parts] == [3, 3, 3, 4]
    assert [x for part in parts for split in images for x in part[split]] == list(range(13))
    assert parts[2] == {"train": [6, 7, 8], "validation": [], "test": []}
    assert parts[3] == {"train": [9], "validation": [10, 11, 12], "test": []}


def test_shards_assemble_into_the_single_build(source, single, tmp_path, run):
    out = tmp_path / "out"
    for index in range(3):
        result = run("generate", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "3",
                     "--shard-index", str(index), "--num-proc", "2")
        assert f"Built shard {index} of 3 of {CONFIG}" in result.stdout
    again = run("generate", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "3", "--shard-index", "1")
    assert f"shard 1 of 3 of {CONFIG} was finished already (train: 10 examples): nothing to do" in again.stdout
    result = run("slurm", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "3", "--finalize")
    assert f"Assembled 3 shards of {CONFIG} into {out}" in result.stdout and "No image was skipped." in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [SHARDS_DIR, MANIFEST_FILENAME, LOCK_FILENAME, CONFIG, "README.md", "previews"])
    assert_equals_single(out, single, tmp_path / "loaded")


def test_a_half_written_shard_is_built_again(source, tmp_path, run):
    out = tmp_path / "out"
    plan = ShardPlan(CONFIG, str(source), str(out), 2)
    plan.folder(1).mkdir(parents=True)
    (plan.folder(1) / "leftover").write_text("from an interrupted task")
    result = run("generate", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "2", "--shard-index", "1")
    assert "Built shard 1 of 2" in result.stdout
    assert not (plan.folder(1) / "leftover").exists() and plan.marker(1)["examples"] == {"train": 5, "validation": 10}


def test_finalize_names_the_unfinished_shards(source, tmp_path, run):
    out = tmp_path / "out"
    run("generate", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "4", "--shard-index", "1")
    result = run("slurm", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "4", "--finalize", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "3 of 4 shards of 8x8-gray-5" in result.stderr and "are not finished: 0, 2, 3" in result.stderr
    assert "--only-shards 0,2,3" in result.stderr
    status = run("slurm", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "4", "--status").stdout
    assert "1 of 4 shards finished" in status and "shard 0 not finished: no log: not started" in status
    assert "--only-shards 0,2-3" in status and "not assembled yet" in status


def test_dry_run_prints_the_scripts(source, tmp_path, run):
    out = tmp_path / "out"
    result = run(
        "slurm", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "4",
        "--partition", "cpu", "--time", "2:00:00", "--cpus-per-task", "8", "--mem", "8G", "--dry-run",
    )
    text = result.stdout
    for line in ("#SBATCH --array=0-3", "#SBATCH --cpus-per-task=8", "#SBATCH --partition=cpu", "#SBATCH --time=2:00:00",
                 "#SBATCH --mem=8G", f"#SBATCH --output={out}/{SHARDS_DIR}/{CONFIG}/logs/shard-%a.log"):
        assert line in text
    assert f'generate {CONFIG} --data-dir {source} --output {out} --num-shards 4 --shard-index "$SLURM_ARRAY_TASK_ID"' in text
    assert f"slurm {CONFIG} --data-dir {source} --output {out} --num-shards 4 --finalize" in text
    assert "sbatch --parsable '--dependency=afterok:<array job id>'" in text
    assert not out.exists()  # a dry run writes nothing
    only = run("slurm", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "8", "--only-shards", "2,5-6",
               "--dry-run").stdout
    assert "#SBATCH --array=2,5-6" in only


@pytest.mark.parametrize("args, message", [
    (["--only-shards", "9"], "[9] not in 0..3"),
    (["--only-shards", "two"], "expected indices and ranges such as 2,5,7-9"),
])
def test_bad_shard_selections_are_one_clear_message(source, tmp_path, args, message, run):
    result = run("slurm", CONFIG, "--data-dir", str(source), "--output", str(tmp_path), "--num-shards", "4", *args,
                 "--dry-run", check=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_generate_shard_arguments_go_together(source, tmp_path, run):
    result = run("generate", CONFIG, "--data-dir", str(source), "--output", str(tmp_path), "--num-shards", "2", check=False)
    assert result.returncode == 2 and "a shard needs all of --output, --num-shards and --shard-index" in result.stderr
    result = run("generate", CONFIG, "--data-dir", str(source), "--output", str(tmp_path), "--num-shards", "2",
                 "--shard-index", "2", check=False)
    assert result.returncode == 2 and "shard index 2 is not in 0..1" in result.stderr


def test_submitting_without_slurm_says_so(source, tmp_path, run, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # no sbatch there
    result = run("slurm", CONFIG, "--data-dir", str(source), "--output", str(tmp_path), "--num-shards", "2", check=False)
    assert result.returncode == 2 and "sbatch is not on PATH" in result.stderr


# --- on a real single-node cluster ---------------------------------------------------------------


@pytest.mark.slurm
def test_slurm_array_builds_the_single_machine_dataset_and_one_shard_resubmits_alone(cluster, source, single, tmp_path,
                                                                                     run, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", cluster.env["SLURM_CONF"])  # sbatch, squeue and the jobs' commands read it
    out = tmp_path / "out"
    args = ["slurm", CONFIG, "--data-dir", str(source), "--output", str(out), "--num-shards", "4"]
    options = ["--partition", "debug", "--time", "10", "--cpus-per-task", "1", "--mem", "1G"]
    submitted = run(*args, *options).stdout
    assert f"Submitted shards 0-3 of 4 of {CONFIG}: array job" in submitted and "Submitted the finalize job" in submitted
    cluster.wait_idle()
    assert (out / "README.md").is_file(), run(*args, "--status").stdout + cluster.logs()
    assert_equals_single(out, single, tmp_path / "loaded")

    plan = ShardPlan(CONFIG, str(source), str(out), 4)
    shutil.rmtree(plan.folder(2))
    for assembled in (out / CONFIG, out / "previews", out / "README.md"):
        shutil.rmtree(assembled) if assembled.is_dir() else assembled.unlink()
    status = run(*args, "--status").stdout
    assert "3 of 4 shards finished" in status and "shard 2 not finished" in status and "--only-shards 2" in status

    resubmitted = run(*args, *options, "--only-shards", "2").stdout
    assert f"Submitted shards 2 of 4 of {CONFIG}" in resubmitted
    cluster.wait_idle()
    assert "4 of 4 shards finished" in run(*args, "--status").stdout
    assert_equals_single(out, single, tmp_path / "loaded-again")
    assert (plan.root / "logs" / "shard-2.log").is_file() and (plan.root / "jobs" / "shards.sbatch").is_file()
