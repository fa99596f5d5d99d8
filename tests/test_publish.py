"""``imagenet-tiny publish`` end to end, with the real huggingface_hub and datasets clients, against a local Hub.

The Hub is :mod:`hub_server` on 127.0.0.1. Every client runs in a subprocess whose environment points
``HF_ENDPOINT`` at it (huggingface_hub and datasets read it when imported), with Xet disabled, a private
``HF_HOME`` and no other ``HF_*`` variable of this machine: nothing can reach the internet.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard

from builder.synthetic import write_synthetic_source
from hub_server import Fault, HubServer
from imagenet_tiny import prepare_variant

CLI = str(Path(sys.executable).with_name("imagenet-tiny"))
WRITE, READ, BOB = "hf_alice_write_0123456789", "hf_alice_read_0123456789", "hf_bob_write_0123456789"
C1, C2, C3 = "16x16-sRGB-5", "8x8-gray-5", "32x32-gray-5-pad"

LOAD = """
import sys
import datasets
datasets.config.USE_PARQUET_EXPORT = False  # the dataset viewer is a separate service this Hub does not run
repo_id, config, out = sys.argv[1:4]
datasets.load_dataset(repo_id, config, cache_dir=out + ".cache").save_to_disk(out)
"""


@pytest.fixture(scope="module")
def hub():
    with HubServer() as server:
        server.state.add_token(WRITE, "alice", "write", orgs=("tiny-org",))
        server.state.add_token(READ, "alice", "read")
        server.state.add_token(BOB, "bob", "write")
        yield server
        assert not server.state.unknown, f"requests the local Hub does not know: {server.state.unknown}"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    write_synthetic_source(root, per_class=(3, 2, 0))
    return root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("builds"))


@pytest.fixture
def env(hub, tmp_path) -> dict[str, str]:
    """A client environment that can only see the local Hub; the token is added per call."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    return {
        **clean,
        "HF_ENDPOINT": hub.endpoint,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets"),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }


def publish(env, source, cache_dir, repo_id, *configs, token=WRITE, extra=()) -> subprocess.CompletedProcess:
    call_env = dict(env) if token is None else {**env, "HF_TOKEN": token}
    result = subprocess.run(
        [CLI, "publish", "--repo-id", repo_id, *configs, "--data-dir", str(source), "--cache-dir", cache_dir, *extra],
        capture_output=True, text=True, env=call_env, timeout=300,
    )
    for secret in (WRITE, READ, BOB):
        assert secret not in result.stdout + result.stderr, "a token was printed"
    return result


def load_from_hub(env, repo_id, config, tmp_path) -> datasets.DatasetDict:
    out = tmp_path / f"loaded-{config}"
    result = subprocess.run([sys.executable, "-c", LOAD, repo_id, config, str(out)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return datasets.load_from_disk(str(out))


def assert_same_as_local(loaded, config, source, cache_dir):
    local = prepare_variant(config, str(source), cache_dir=cache_dir).as_dataset()
    assert sorted(loaded) == sorted(local)
    for split in local:
        assert loaded[split].features == local[split].features
        assert loaded[split].features["label"].names == local[split].features["label"].names
        assert loaded[split].data.table.equals(local[split].data.table, check_metadata=False), split


def card_configs(files: dict[str, bytes]) -> list[str]:
    if "README.md" not in files:
        return []
    card = DatasetCard(files["README.md"].decode())
    return sorted(c["config_name"] for c in card.data.to_dict().get("configs", []))


def assert_card_never_ahead_of_files(hub, repo_id):
    """In every commit of main, each config the card lists has files for each of its splits, and its preview."""
    repo = hub.state.repo(repo_id)
    for commit in repo.history("main"):
        files = commit.files
        if "README.md" not in files:
            continue
        card = DatasetCard(files["README.md"].content.decode())
        for config in card.data.to_dict().get("configs", []):
            for data_files in config["data_files"]:
                assert fnmatch.filter(files, data_files["path"]), (commit.title, data_files)
            assert f"previews/{config['config_name']}.png" in files


def test_publish_then_load_add_and_republish(hub, env, source, cache_dir, tmp_path):
    repo_id = "alice/imagenet-tiny"
    result = publish(env, source, cache_dir, repo_id, C1, C2)
    assert result.returncode == 0, result.stderr
    assert "Token of alice may write to alice/imagenet-tiny (to be created)" in result.stdout
    files = hub.state.files(repo_id)
    assert card_configs(files) == [C1, C2]
    assert {f"{C1}/train-00000-of-00001.parquet", f"{C2}/validation-00000-of-00001.parquet", f"previews/{C1}.png"} <= set(files)
    for config in (C1, C2):
        assert_same_as_local(load_from_hub(env, repo_id, config, tmp_path), config, source, cache_dir)
    titles = [c.title for c in hub.state.repo(repo_id).history()]
    assert titles[0] == "Update dataset card"  # the card last
    assert not [path for path, content in files.items() if WRITE.encode() in content], "the token was uploaded"

    # A third config: the first two are untouched (same files, same bytes), and listed still.
    before = {p: b for p, b in files.items() if p.startswith((C1, C2, f"previews/{C1}", f"previews/{C2}"))}
    result = publish(env, source, cache_dir, repo_id, C3)
    assert result.returncode == 0, result.stderr
    files = hub.state.files(repo_id)
    assert {p: b for p, b in files.items() if p in before} == before
    assert card_configs(files) == sorted([C1, C2, C3])
    assert_same_as_local(load_from_hub(env, repo_id, C3, tmp_path), C3, source, cache_dir)

    # Publishing an unchanged config again makes no commit at all.
    commits = hub.state.commit_count(repo_id)
    result = publish(env, source, cache_dir, repo_id, C1)
    assert result.returncode == 0, result.stderr
    assert "Nothing to do" in result.stdout
    assert hub.state.commit_count(repo_id) == commits
    assert_card_never_ahead_of_files(hub, repo_id)


def test_dry_run_says_what_would_be_uploaded_and_changes_nothing(hub, env, source, cache_dir, tmp_path):
    # The token saved by `hf auth login` works as HF_TOKEN does.
    login = subprocess.run([str(Path(sys.executable).with_name("hf")), "auth", "login", "--token", WRITE],
                           capture_output=True, text=True, env=env, timeout=120)
    assert login.returncode == 0, login.stderr
    assert (Path(env["HF_HOME"]) / "token").read_text().strip() == WRITE
    writes = hub.state.uploads()
    result = publish(env, source, cache_dir, "alice/dry-run", C1, token=None, extra=["--dry-run"])
    assert result.returncode == 0, result.stderr
    assert "Would publish to alice/dry-run (main)" in result.stdout
    assert f"upload (new)     {C1}/train-00000-of-00001.parquet" in result.stdout
    assert "upload (new)     README.md" in result.stdout and "Dry run: nothing was uploaded." in result.stdout
    assert hub.state.repo("alice/dry-run") is None and hub.state.uploads() == writes

    # On an existing repo: only what differs is listed.
    assert publish(env, source, cache_dir, "alice/dry-run-2", C1).returncode == 0
    writes = hub.state.uploads()
    result = publish(env, source, cache_dir, "alice/dry-run-2", C1, C2, extra=["--dry-run"])
    assert result.returncode == 0, result.stderr
    assert f"  {C1}: unchanged" in result.stdout and f"upload (new)     {C2}/train-00000-of-00001.parquet" in result.stdout
    assert "upload (changed) README.md" in result.stdout
    assert hub.state.uploads() == writes


def test_private_repo_of_an_organization_and_a_branch(hub, env, source, cache_dir):
    repo_id = "tiny-org/variants"
    result = publish(env, source, cache_dir, repo_id, C1, extra=["--private"])
    assert result.returncode == 0, result.stderr
    assert hub.state.repo(repo_id).private
    main = hub.state.files(repo_id, "main")
    result = publish(env, source, cache_dir, repo_id, C2, extra=["--revision", "dev", "--private"])
    assert result.returncode == 0, result.stderr
    assert "Created branch dev" in result.stdout and "--private applies to new repos only" in result.stdout
    assert card_configs(hub.state.files(repo_id, "dev")) == sorted([C1, C2])  # the branch starts from main
    assert hub.state.files(repo_id, "main") == main


def test_faults_are_retried_and_a_rerun_completes(hub, env, source, cache_dir, tmp_path):
    repo_id = "alice/flaky"
    hub.state.faults[:] = [
        Fault("PUT", r"^/lfs-upload/", "500", times=2),
        Fault("PUT", r"^/lfs-upload/", "drop", times=1, skip=1),
        Fault("POST", rf"^/api/datasets/{repo_id}/commit/", "500", times=1),
    ]
    try:
        result = publish(env, source, cache_dir, repo_id, C1, C2)
    finally:
        faults_hit = list(hub.state.fault_log)
        hub.state.faults.clear()
    assert len([f for f in faults_hit if "flaky" in f or "lfs-upload" in f]) >= 4, faults_hit
    # Retried through: LFS uploads by huggingface_hub's backoff, the commit by the publisher.
    assert result.returncode == 0, result.stderr
    assert "retrying" in result.stdout
    assert card_configs(hub.state.files(repo_id)) == [C1, C2]
    assert_card_never_ahead_of_files(hub, repo_id)
    assert_same_as_local(load_from_hub(env, repo_id, C2, tmp_path), C2, source, cache_dir)


def test_a_publish_that_cannot_finish_fails_clearly_and_a_rerun_completes(hub, env, source, cache_dir):
    repo_id = "alice/broken"
    hub.state.faults[:] = [Fault("POST", rf"^/api/datasets/{repo_id}/commit/", "500", times=3, skip=1)]
    try:
        result = publish(env, source, cache_dir, repo_id, C1, C2)
    finally:
        hub.state.faults.clear()
    assert result.returncode == 2
    assert "publishing to alice/broken stopped" in result.stderr and "run the same command again" in result.stderr
    assert "Traceback" not in result.stderr
    files = hub.state.files(repo_id)
    assert card_configs(files) == [] and f"{C1}/train-00000-of-00001.parquet" in files  # first config in, no card yet
    assert_card_never_ahead_of_files(hub, repo_id)

    result = publish(env, source, cache_dir, repo_id, C1, C2)
    assert result.returncode == 0, result.stderr
    assert f"  {C1}: unchanged" in result.stdout  # not sent again
    assert card_configs(hub.state.files(repo_id)) == [C1, C2]
    assert_card_never_ahead_of_files(hub, repo_id)


def test_republishing_with_other_shards_deletes_the_stale_ones(hub, env, source, cache_dir, tmp_path):
    repo_id = "alice/reshard"
    assert publish(env, source, cache_dir, repo_id, C1, extra=["--max-shard-size", "4KB"]).returncode == 0
    many = sorted(p for p in hub.state.files(repo_id) if p.startswith(f"{C1}/train-"))
    assert len(many) > 2
    # The commit fails once after it landed: the retry must not try to delete the shards again.
    hub.state.faults[:] = [Fault("POST", rf"^/api/datasets/{repo_id}/commit/", "lost", times=1)]
    try:
        result = publish(env, source, cache_dir, repo_id, C1)
    finally:
        hub.state.faults.clear()
    assert result.returncode == 0, result.stderr
    assert f"delete           {many[-1]}" in result.stdout and "retrying" in result.stdout
    titles = [c.title for c in hub.state.repo(repo_id).history()]
    assert titles.count(f"Update {C1}") == 1, titles  # the retry found the work done: no second commit
    assert sorted(p for p in hub.state.files(repo_id) if p.startswith(C1)) == [
        f"{C1}/train-00000-of-00001.parquet", f"{C1}/validation-00000-of-00001.parquet"]
    assert_card_never_ahead_of_files(hub, repo_id)
    assert_same_as_local(load_from_hub(env, repo_id, C1, tmp_path), C1, source, cache_dir)


@pytest.mark.parametrize(
    "token, repo_id, message",
    [
        (None, "alice/no-token", "no Hugging Face token: set HF_TOKEN or run `hf auth login`"),
        ("hf_not_a_token_of_this_hub", "alice/rejected", "the Hub rejected the token (401 Unauthorized)"),
        (READ, "alice/read-only", "the token of alice is read-only"),
        (BOB, "alice/not-bobs", "alice/not-bobs does not exist (or is private) and bob cannot create it"),
        (BOB, "alice/imagenet-tiny-existing", "the token of bob may not write to alice/imagenet-tiny-existing (403)"),
        (WRITE, "not a repo id", "--repo-id 'not a repo id' is not a valid Hub repo id"),
        (WRITE, "no-namespace", "needs a namespace"),
    ],
)
def test_token_and_repo_errors_stop_before_any_build_or_upload(hub, env, source, tmp_path, token, repo_id, message):
    if repo_id.endswith("-existing") and hub.state.repo(repo_id) is None:
        assert publish(env, source, str(tmp_path / "setup"), repo_id, C2).returncode == 0
    writes = hub.state.uploads()
    cache = tmp_path / "builds"
    result = publish(env, source, str(cache), repo_id, C1, token=token)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not cache.exists(), "a build started before the token was checked"
    assert hub.state.uploads() == writes


def test_an_unreachable_hub_is_one_clear_error(env, source, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = publish({**env, "HF_ENDPOINT": f"http://127.0.0.1:{port}"}, source, str(tmp_path / "builds"), "alice/x", C1)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot check the token and alice/x with the Hub: ConnectError" in result.stderr
    assert not (tmp_path / "builds").exists()
