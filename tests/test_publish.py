"""``imagenet-tiny publish`` end to end, with the real huggingface_hub and datasets clients, against a local Hub.

The Hub is :mod:`tests.hub_server` on 127.0.0.1 (the ``hub`` fixture). Every client runs in a subprocess
whose environment (``hub_env``) points ``HF_ENDPOINT`` at it: huggingface_hub and datasets read it when
imported, so here the process is the point.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard

from imagenet_tiny import prepare_variant
from tests.fixtures.cli import run_console_script
from tests.fixtures.hub import BOB, READ, WRITE
from tests.hub_server import Fault

pytestmark = pytest.mark.hub
C1, C2, C3 = "16x16-sRGB-5", "8x8-gray-5", "32x32-gray-5-pad"

LOAD = """
import json
import sys
import datasets
datasets.config.USE_PARQUET_EXPORT = False  # the dataset viewer is a separate service this Hub does not run
repo_id, config, out, kwargs = sys.argv[1:5]
datasets.load_dataset(repo_id, config or None, cache_dir=out + ".cache", **json.loads(kwargs)).save_to_disk(out)
"""
# What timm does with --dataset hfds/NAME and hfids/NAME (timm.data.readers: create_reader, ReaderHfds,
# ReaderHfids): the name lowercased, its reader's prefix split off; rows as (image_id, label, sha256 of the PNG).
TIMM = """
import hashlib
import json
import sys
import datasets
datasets.config.USE_PARQUET_EXPORT = False
dataset, root, out = sys.argv[1:4]
name = dataset.lower().split("/", 1)[1]
ds = datasets.load_dataset(name, split="train", cache_dir=root, trust_remote_code=False)
ds = ds.cast_column("image", datasets.Image(decode=False))
builder = datasets.load_dataset_builder(name, cache_dir=root)
streamed = builder.as_streaming_dataset(split="train")
json.dump({
    "names": ds.info.features["label"].names,
    "num_examples": [ds.info.splits["train"].num_examples, builder.info.splits["train"].num_examples],
    "hfds": [[r["image_id"], r["label"], hashlib.sha256(r["image"]["bytes"]).hexdigest()] for r in ds],
    "hfids": [[r["image_id"], r["label"], r["image"].size] for r in streamed],
}, open(out, "w"))
"""


@pytest.fixture(scope="module")
def source(synthetic_sources) -> Path:
    return synthetic_sources(per_class=(3, 2, 0))


@contextlib.contextmanager
def faults(hub, *injected: Fault):
    """The local Hub fails requests as ``injected`` says while the block runs."""
    hub.state.faults[:] = injected
    try:
        yield
    finally:
        hub.state.faults.clear()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("builds"))


def publish(env, source, cache_dir, repo_id, *configs, token=WRITE, extra=()) -> subprocess.CompletedProcess:
    call_env = dict(env) if token is None else {**env, "HF_TOKEN": token}
    result = run_console_script("publish", "--repo-id", repo_id, *configs, "--data-dir", source, "--cache-dir", cache_dir,
                                *extra, env=call_env, timeout=300)
    for secret in (WRITE, READ, BOB):
        assert secret not in result.stdout + result.stderr, "a token was printed"
    return result


def load_from_hub(env, repo_id, config, tmp_path, **kwargs) -> datasets.DatasetDict:
    """``load_dataset(repo_id, config, **kwargs)`` in a client process; ``config`` None: no config name."""
    out = tmp_path / f"loaded-{config}-{len(list(tmp_path.glob('loaded-*')))}"
    result = subprocess.run([sys.executable, "-c", LOAD, repo_id, config or "", str(out), json.dumps(kwargs)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return datasets.load_from_disk(str(out))


def read_as_timm(env, dataset, tmp_path) -> dict:
    """What timm's readers read from ``--dataset hfds/NAME`` (and ``hfids/NAME``), in a client process whose
    working folder is ``tmp_path`` (a relative NAME: timm lowercases it, and tmp_path may have capitals)."""
    out = tmp_path / f"timm-{len(list(tmp_path.glob('timm-*')))}.json"
    result = subprocess.run([sys.executable, "-c", TIMM, dataset, str(tmp_path / "timm-root"), str(out)],
                            capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def assert_timm_read(read: dict, config, source, cache_dir):
    """timm's readers got ``config``'s train split as the local build has it."""
    local = prepare_variant(config, str(source), cache_dir=cache_dir).as_dataset()["train"]
    width, height = map(int, config.split("-")[0].split("x"))
    assert read["names"] == local.features["label"].names
    assert read["num_examples"] == [len(local)] * 2
    local = local.cast_column("image", datasets.Image(decode=False))
    assert read["hfds"] == [[r["image_id"], r["label"], hashlib.sha256(r["image"]["bytes"]).hexdigest()] for r in local]
    assert read["hfids"] == [[r["image_id"], r["label"], [width, height]] for r in local]


def card_default(files: dict[str, bytes]) -> list[str]:
    card = DatasetCard(files["README.md"].decode())
    return [c["config_name"] for c in card.data.to_dict()["configs"] if c.get("default")]


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


def test_publish_then_load_add_and_republish(hub, hub_env, source, cache_dir, tmp_path):
    repo_id = "alice/imagenet-tiny"
    result = publish(hub_env, source, cache_dir, repo_id, C1, C2)
    assert result.returncode == 0, result.stderr
    assert "Token of alice may write to alice/imagenet-tiny (to be created)" in result.stdout
    files = hub.state.files(repo_id)
    assert card_configs(files) == [C1, C2]
    assert {f"{C1}/train-00000-of-00001.parquet", f"{C2}/validation-00000-of-00001.parquet", f"previews/{C1}.png"} <= set(files)
    for config in (C1, C2):
        assert_same_as_local(load_from_hub(hub_env, repo_id, config, tmp_path), config, source, cache_dir)
    titles = [c.title for c in hub.state.repo(repo_id).history()]
    assert titles[0] == "Update dataset card"  # the card last
    assert not [path for path, content in files.items() if WRITE.encode() in content], "the token was uploaded"

    # A third config: the first two are untouched (same files, same bytes), and listed still.
    before = {p: b for p, b in files.items() if p.startswith((C1, C2, f"previews/{C1}", f"previews/{C2}"))}
    result = publish(hub_env, source, cache_dir, repo_id, C3)
    assert result.returncode == 0, result.stderr
    files = hub.state.files(repo_id)
    assert {p: b for p, b in files.items() if p in before} == before
    assert card_configs(files) == sorted([C1, C2, C3])
    assert_same_as_local(load_from_hub(hub_env, repo_id, C3, tmp_path), C3, source, cache_dir)

    # Publishing an unchanged config again makes no commit at all.
    commits = hub.state.commit_count(repo_id)
    result = publish(hub_env, source, cache_dir, repo_id, C1)
    assert result.returncode == 0, result.stderr
    assert "Nothing to do" in result.stdout
    assert hub.state.commit_count(repo_id) == commits
    assert_card_never_ahead_of_files(hub, repo_id)


def test_dry_run_says_what_would_be_uploaded_and_changes_nothing(hub, hub_env, source, cache_dir, tmp_path):
    # The token saved by `hf auth login` works as HF_TOKEN does.
    login = subprocess.run([str(Path(sys.executable).with_name("hf")), "auth", "login", "--token", WRITE],
                           capture_output=True, text=True, env=hub_env, timeout=120)
    assert login.returncode == 0, login.stderr
    assert (Path(hub_env["HF_HOME"]) / "token").read_text().strip() == WRITE
    writes = hub.state.uploads()
    result = publish(hub_env, source, cache_dir, "alice/dry-run", C1, token=None, extra=["--dry-run"])
    assert result.returncode == 0, result.stderr
    assert "Would publish to alice/dry-run (main)" in result.stdout
    assert f"upload (new)     {C1}/train-00000-of-00001.parquet" in result.stdout
    assert "upload (new)     README.md" in result.stdout and "Dry run: nothing was uploaded." in result.stdout
    assert hub.state.repo("alice/dry-run") is None and hub.state.uploads() == writes

    # On an existing repo: only what differs is listed.
    assert publish(hub_env, source, cache_dir, "alice/dry-run-2", C1).returncode == 0
    writes = hub.state.uploads()
    result = publish(hub_env, source, cache_dir, "alice/dry-run-2", C1, C2, extra=["--dry-run"])
    assert result.returncode == 0, result.stderr
    assert f"  {C1}: unchanged" in result.stdout and f"upload (new)     {C2}/train-00000-of-00001.parquet" in result.stdout
    assert "upload (changed) README.md" in result.stdout
    assert hub.state.uploads() == writes


def test_private_repo_of_an_organization_and_a_branch(hub, hub_env, source, cache_dir):
    repo_id = "tiny-org/variants"
    result = publish(hub_env, source, cache_dir, repo_id, C1, extra=["--private"])
    assert result.returncode == 0, result.stderr
    assert hub.state.repo(repo_id).private
    main = hub.state.files(repo_id, "main")
    result = publish(hub_env, source, cache_dir, repo_id, C2, extra=["--revision", "dev", "--private"])
    assert result.returncode == 0, result.stderr
    assert "Created branch dev" in result.stdout and "--private applies to new repos only" in result.stdout
    assert card_configs(hub.state.files(repo_id, "dev")) == sorted([C1, C2])  # the branch starts from main
    assert hub.state.files(repo_id, "main") == main


def test_faults_are_retried_and_a_rerun_completes(hub, hub_env, source, cache_dir, tmp_path):
    repo_id = "alice/flaky"
    with faults(hub, Fault("PUT", r"^/lfs-upload/", "500", times=2),
                Fault("PUT", r"^/lfs-upload/", "drop", times=1, skip=1),
                Fault("POST", rf"^/api/datasets/{repo_id}/commit/", "500", times=1)):
        result = publish(hub_env, source, cache_dir, repo_id, C1, C2)
    faults_hit = list(hub.state.fault_log)
    assert len([f for f in faults_hit if "flaky" in f or "lfs-upload" in f]) >= 4, faults_hit
    # Retried through: LFS uploads by huggingface_hub's backoff, the commit by the publisher.
    assert result.returncode == 0, result.stderr
    assert "retrying" in result.stdout
    assert card_configs(hub.state.files(repo_id)) == [C1, C2]
    assert_card_never_ahead_of_files(hub, repo_id)
    assert_same_as_local(load_from_hub(hub_env, repo_id, C2, tmp_path), C2, source, cache_dir)


def test_a_publish_that_cannot_finish_fails_clearly_and_a_rerun_completes(hub, hub_env, source, cache_dir):
    repo_id = "alice/broken"
    with faults(hub, Fault("POST", rf"^/api/datasets/{repo_id}/commit/", "500", times=3, skip=1)):
        result = publish(hub_env, source, cache_dir, repo_id, C1, C2)
    assert result.returncode == 2
    assert "publishing to alice/broken stopped" in result.stderr and "run the same command again" in result.stderr
    assert "Traceback" not in result.stderr
    files = hub.state.files(repo_id)
    assert card_configs(files) == [] and f"{C1}/train-00000-of-00001.parquet" in files  # first config in, no card yet
    assert_card_never_ahead_of_files(hub, repo_id)

    result = publish(hub_env, source, cache_dir, repo_id, C1, C2)
    assert result.returncode == 0, result.stderr
    assert f"  {C1}: unchanged" in result.stdout  # not sent again
    assert card_configs(hub.state.files(repo_id)) == [C1, C2]
    assert_card_never_ahead_of_files(hub, repo_id)


def test_republishing_with_other_shards_deletes_the_stale_ones(hub, hub_env, source, cache_dir, tmp_path):
    repo_id = "alice/reshard"
    assert publish(hub_env, source, cache_dir, repo_id, C1, extra=["--max-shard-size", "4KB"]).returncode == 0
    many = sorted(p for p in hub.state.files(repo_id) if p.startswith(f"{C1}/train-"))
    assert len(many) > 2
    # The commit fails once after it landed: the retry must not try to delete the shards again.
    with faults(hub, Fault("POST", rf"^/api/datasets/{repo_id}/commit/", "lost", times=1)):
        result = publish(hub_env, source, cache_dir, repo_id, C1)
    assert result.returncode == 0, result.stderr
    assert f"delete           {many[-1]}" in result.stdout and "retrying" in result.stdout
    titles = [c.title for c in hub.state.repo(repo_id).history()]
    assert titles.count(f"Update {C1}") == 1, titles  # the retry found the work done: no second commit
    assert sorted(p for p in hub.state.files(repo_id) if p.startswith(C1)) == [
        f"{C1}/train-00000-of-00001.parquet", f"{C1}/validation-00000-of-00001.parquet"]
    assert_card_never_ahead_of_files(hub, repo_id)
    assert_same_as_local(load_from_hub(hub_env, repo_id, C1, tmp_path), C1, source, cache_dir)


def test_a_commit_whose_connection_drops_is_retried(hub, hub_env, source, cache_dir):
    repo_id = "alice/dropped"
    # No answer at all, as when the network cuts the request: huggingface_hub's backoff counts that as transient.
    with faults(hub, Fault("POST", rf"^/api/datasets/{repo_id}/commit/", "drop", times=1)):
        result = publish(hub_env, source, cache_dir, repo_id, C1)
    assert result.returncode == 0, result.stderr
    assert "retrying" in result.stdout
    assert [c.title for c in hub.state.repo(repo_id).history()][:2] == ["Update dataset card", f"Add {C1}"]
    assert card_configs(hub.state.files(repo_id)) == [C1]
    assert_card_never_ahead_of_files(hub, repo_id)


def test_a_retried_card_commit_stops_when_others_changed_the_repo_meanwhile(hub, hub_env, source, cache_dir):
    repo_id = "alice/raced"
    # A card commit that landed although the client saw it fail: the retry, on the same parent, sends nothing.
    with faults(hub, Fault("POST", rf"^/api/datasets/{repo_id}/commit/", "lost", skip=1)):
        result = publish(hub_env, source, cache_dir, repo_id, C1)
    assert result.returncode == 0 and "retrying" in result.stdout, result.stderr
    assert [c.title for c in hub.state.repo(repo_id).history()][:3] == ["Update dataset card", f"Add {C1}", "initial commit"]

    # Publishing C2, the card (which carries C1) fails once; meanwhile another client unpublishes C1. A retry
    # on top of that commit would list C1 without its files: the card commit must fail instead.
    unpublish = functools.partial(hub.state.delete, repo_id, "README.md", C1)
    with faults(hub, Fault("POST", rf"^/api/datasets/{repo_id}/commit/", "500", skip=1, meanwhile=unpublish)):
        result = publish(hub_env, source, cache_dir, repo_id, C2)
    assert result.returncode == 2, result.stdout
    assert "the repo changed meanwhile" in result.stderr and "Traceback" not in result.stderr
    assert_card_never_ahead_of_files(hub, repo_id)

    result = publish(hub_env, source, cache_dir, repo_id, C2)
    assert result.returncode == 0, result.stderr
    assert card_configs(hub.state.files(repo_id)) == [C2]
    assert_card_never_ahead_of_files(hub, repo_id)


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
def test_token_and_repo_errors_stop_before_any_build_or_upload(hub, hub_env, source, tmp_path, token, repo_id, message):
    if repo_id.endswith("-existing") and hub.state.repo(repo_id) is None:
        assert publish(hub_env, source, str(tmp_path / "setup"), repo_id, C2).returncode == 0
    writes = hub.state.uploads()
    cache = tmp_path / "builds"
    result = publish(hub_env, source, str(cache), repo_id, C1, token=token)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not cache.exists(), "a build started before the token was checked"
    assert hub.state.uploads() == writes


def test_an_unreachable_hub_is_one_clear_error(hub_env, source, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = publish({**hub_env, "HF_ENDPOINT": f"http://127.0.0.1:{port}"}, source, str(tmp_path / "builds"), "alice/x", C1)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot check the token and alice/x with the Hub: ConnectError" in result.stderr
    assert not (tmp_path / "builds").exists()


def test_the_repo_root_loads_the_default_config_and_timm_reads_it(hub, hub_env, source, cache_dir, tmp_path):
    repo_id = "alice/defaults"  # lowercase: timm lowercases the name it is given
    result = publish(hub_env, source, cache_dir, repo_id, C1, C2, extra=["--default-config", C2])
    assert result.returncode == 0, result.stderr
    assert f"default config: {C2}" in result.stdout
    assert card_default(hub.state.files(repo_id)) == [C2]
    assert_same_as_local(load_from_hub(hub_env, repo_id, None, tmp_path), C2, source, cache_dir)  # no config name
    assert_timm_read(read_as_timm(hub_env, f"hfds/{repo_id}", tmp_path), C2, source, cache_dir)

    # The card's other ways to a config that is not the default: data_dir, and its folder downloaded for timm.
    assert_same_as_local(load_from_hub(hub_env, repo_id, None, tmp_path, data_dir=C1), C1, source, cache_dir)
    local_dir = tmp_path / "imagenet-tiny"
    download = subprocess.run(
        [str(Path(sys.executable).with_name("hf")), "download", repo_id, "--repo-type", "dataset",
         "--include", f"{C1}/*", "--local-dir", str(local_dir)],
        capture_output=True, text=True, env=hub_env, timeout=300,
    )
    assert download.returncode == 0, download.stderr
    (local_dir / C1).rename(local_dir / C1.lower())  # the card's `mv`: C1 has capitals
    assert_timm_read(read_as_timm(hub_env, f"hfds/{local_dir.name}/{C1.lower()}", tmp_path), C1, source, cache_dir)

    # Another config published: the default stays, so load_dataset(repo) loads what it loaded before.
    assert publish(hub_env, source, cache_dir, repo_id, C3).returncode == 0
    assert card_default(hub.state.files(repo_id)) == [C2]
    # A config already there made the default: only the card changes.
    commits = hub.state.commit_count(repo_id)
    result = publish(hub_env, source, cache_dir, repo_id, C1, extra=["--default-config", C3])
    assert result.returncode == 0, result.stderr
    assert f"  {C1}: unchanged" in result.stdout
    assert card_default(hub.state.files(repo_id)) == [C3]
    assert hub.state.commit_count(repo_id) == commits + 1
    assert [c.title for c in hub.state.repo(repo_id).history()][0] == "Update dataset card"
    assert_card_never_ahead_of_files(hub, repo_id)

    # A default that is neither published now nor on the card: an error before any build or upload.
    writes, builds = hub.state.uploads(), tmp_path / "no-builds"
    result = publish(hub_env, source, str(builds), repo_id, C1, extra=["--default-config", "64x64-sRGB-5"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (f"--default-config 64x64-sRGB-5 is neither published now nor listed on {repo_id}'s card "
            f"({', '.join(sorted([C1, C2, C3]))})") in result.stderr
    assert not builds.exists() and hub.state.uploads() == writes


def settings_requests(hub, repo_id) -> int:
    return len([r for r in hub.state.requests if r[:2] == ("PUT", f"/api/datasets/{repo_id}/settings")])


def test_gating_with_imagenet_terms(hub, hub_env, source, cache_dir):
    repo_id = "alice/gated"
    writes = hub.state.uploads()
    result = publish(hub_env, source, cache_dir, repo_id, C2, extra=["--gated", "auto", "--dry-run"])
    assert result.returncode == 0, result.stderr
    assert "gating: would set auto (now not gated)" in result.stdout
    assert "Dry run: nothing was uploaded and the gating was not changed." in result.stdout
    assert hub.state.repo(repo_id) is None and hub.state.uploads() == writes

    result = publish(hub_env, source, cache_dir, repo_id, C2, extra=["--gated", "auto"])
    assert result.returncode == 0, result.stderr
    assert f"Gated {repo_id}: auto approval of access requests" in result.stdout
    assert hub.state.repo(repo_id).gated == "auto" and settings_requests(hub, repo_id) == 1
    requests = [p for m, p, status in hub.state.requests if repo_id in p and m in ("PUT", "POST")]
    assert requests.index(f"/api/datasets/{repo_id}/settings") < requests.index(f"/api/datasets/{repo_id}/commit/main")
    card = DatasetCard(hub.state.files(repo_id)["README.md"].decode()).data.to_dict()
    assert "use the images only for non-commercial research and educational purposes" in card["extra_gated_prompt"]
    assert "https://image-net.org/download" in card["extra_gated_prompt"]
    assert card["extra_gated_fields"] == {"Name": "text", "Affiliation": "text",
                                          "I agree to use this dataset for non-commercial use ONLY": "checkbox"}

    # Gated so already: no request, no commit.
    commits = hub.state.commit_count(repo_id)
    result = publish(hub_env, source, cache_dir, repo_id, C2, extra=["--gated", "auto"])
    assert result.returncode == 0, result.stderr
    assert "gating: auto (unchanged)" in result.stdout and "Nothing to do" in result.stdout
    assert settings_requests(hub, repo_id) == 1 and hub.state.commit_count(repo_id) == commits

    writes = hub.state.uploads()
    result = publish(hub_env, source, cache_dir, repo_id, C2, extra=["--gated", "manual", "--dry-run"])
    assert result.returncode == 0, result.stderr
    assert "gating: would set manual (now auto)" in result.stdout
    assert hub.state.repo(repo_id).gated == "auto" and hub.state.uploads() == writes

    # Only the gating changes: one request, no commit; without --gated it stays as it is.
    result = publish(hub_env, source, cache_dir, repo_id, C2, extra=["--gated", "manual"])
    assert result.returncode == 0, result.stderr
    assert hub.state.repo(repo_id).gated == "manual" and settings_requests(hub, repo_id) == 2
    assert hub.state.commit_count(repo_id) == commits
    result = publish(hub_env, source, cache_dir, repo_id, C2)
    assert result.returncode == 0 and "gating: manual (unchanged)" in result.stdout
    assert hub.state.repo(repo_id).gated == "manual" and settings_requests(hub, repo_id) == 2
