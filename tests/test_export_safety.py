"""Export writes only over what an earlier export wrote, with the umask's modes, atomically, and cleans up after a kill.

The source is a small Kaggle-layout download made from the real shared sample (the '-5' configs' classes).
"""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from builder.classes import SEED_FIVE_CLASSES
from publish.card import ExportLayoutError, is_generated_card, write_card
from publish.export import export
from publish.folder import LOCK_FILENAME, MANIFEST_FILENAME, OverwriteError
from tests.fixtures.cli import run_console_script

CONFIG, OTHER = "16x16-sRGB-5", "8x8-gray-5"
ENV = {**os.environ, "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


@pytest.fixture(scope="module")
def source(sample_sources) -> Path:
    return sample_sources("kaggle", SEED_FIVE_CLASSES).root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory, source) -> str:
    cache = str(tmp_path_factory.mktemp("builds"))
    export([CONFIG, OTHER], source, tmp_path_factory.mktemp("warm"), cache_dir=cache)  # builds both once
    return cache


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- export replaces only what an earlier export wrote ----------------------------------------------

def test_a_readme_export_did_not_write_is_refused_before_any_build(tmp_path, source):
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# My project\n\nNotes that took a week.\n")
    with pytest.raises(OverwriteError, match=r"project/README\.md was not written by imagenet-tiny export: move it away or pass --force"):
        export([CONFIG], source, project, cache_dir=str(tmp_path / "never-built"))
    assert snapshot(project) == {"README.md": b"# My project\n\nNotes that took a week.\n"}
    assert not (tmp_path / "never-built").exists()  # refused before the (long) build


def test_export_to_dot_inside_a_project_keeps_its_readme_unless_forced(tmp_path, source, cache_dir, run_cli):
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# My project\n")
    (project / "main.py").write_text("print('hello')\n")
    refused = run_cli("export", CONFIG, "--data-dir", str(source), "--to", ".", "--cache-dir", cache_dir, cwd=project)
    assert refused.returncode == 2, refused.stderr
    assert "README.md was not written by imagenet-tiny export: move it away or pass --force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert sorted(p.name for p in project.iterdir()) == ["README.md", "main.py"]
    assert (project / "README.md").read_text() == "# My project\n"
    forced = run_cli("export", CONFIG, "--data-dir", str(source), "--to", ".", "--cache-dir", cache_dir, "--force",
                     cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert is_generated_card(project / "README.md") and (project / "main.py").read_text() == "print('hello')\n"


@pytest.mark.parametrize("stray", ["notes.txt", "data/keep.csv", "train-00000-of-00001.parquet.bak"])
def test_a_folder_named_as_a_config_is_not_deleted_unless_it_holds_only_shards(tmp_path, source, cache_dir, stray):
    out = tmp_path / "out"
    user = out / CONFIG / stray
    user.parent.mkdir(parents=True)
    user.write_text("mine")
    with pytest.raises(OverwriteError, match=rf"{CONFIG}/{stray.split('/')[0]}.* was not written by imagenet-tiny export"):
        export([CONFIG], source, out, cache_dir=cache_dir)
    assert user.read_text() == "mine"
    export([CONFIG], source, out, cache_dir=cache_dir, force=True)
    assert not user.exists() and sorted(p.name for p in (out / CONFIG).iterdir()) == [
        "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]


def test_a_preview_export_did_not_write_is_refused(tmp_path, source, cache_dir):
    out = tmp_path / "out"
    (out / "previews").mkdir(parents=True)
    (out / "previews" / f"{CONFIG}.png").write_bytes(b"my own picture")
    with pytest.raises(OverwriteError, match=rf"previews/{CONFIG}\.png was not written by imagenet-tiny export"):
        export([CONFIG], source, out, cache_dir=cache_dir)
    assert (out / "previews" / f"{CONFIG}.png").read_bytes() == b"my own picture"


def test_a_card_edited_since_export_wrote_it_is_not_overwritten(tmp_path, source, cache_dir):
    out = tmp_path / "out"
    export([CONFIG], source, out, cache_dir=cache_dir)
    edited = (out / "README.md").read_text() + "\n## My notes\n\nKept.\n"
    (out / "README.md").write_text(edited)
    with pytest.raises(OverwriteError, match=r"README\.md was changed since imagenet-tiny export wrote it"):
        export([OTHER], source, out, cache_dir=cache_dir)
    assert (out / "README.md").read_text() == edited and not (out / OTHER).exists()
    export([OTHER], source, out, cache_dir=cache_dir, force=True)
    assert "My notes" not in (out / "README.md").read_text()


def test_exporting_again_replaces_what_export_wrote(tmp_path, source, cache_dir):
    out = tmp_path / "out"
    export([CONFIG], source, out, cache_dir=cache_dir, max_shard_size="2KB")
    assert len(list((out / CONFIG).iterdir())) > 2
    export([CONFIG, OTHER], source, out, cache_dir=cache_dir)
    assert sorted(p.name for p in (out / CONFIG).iterdir()) == [
        "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    assert (out / MANIFEST_FILENAME).is_file()


def test_an_export_folder_of_the_previous_version_is_accepted(tmp_path, source, cache_dir):
    """No manifest: the card is recognised by its content, previews by the card's links, folders of only shards."""
    out = tmp_path / "out"
    export([CONFIG, OTHER], source, out, cache_dir=cache_dir, max_shard_size="2KB")
    (out / MANIFEST_FILENAME).unlink()
    export([CONFIG], source, out, cache_dir=cache_dir)
    (out / MANIFEST_FILENAME).unlink()
    export([OTHER], source, out, cache_dir=cache_dir)
    assert is_generated_card(out / "README.md")


def test_a_readme_that_only_mentions_imagenet_tiny_is_not_taken_for_the_card(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("---\npretty_name: ImageNet-tiny\n---\n# ImageNet-tiny\n\nThe project that makes the card.\n")
    assert not is_generated_card(readme)
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe---\n")
    assert not is_generated_card(tmp_path / "binary.md")


# --- modes ----------------------------------------------------------------------------------------

@pytest.fixture
def umask():
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask, folder_mode, file_mode", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600),
                                                          (0o002, 0o775, 0o664)])
def test_export_folders_and_files_follow_the_umask(tmp_path, source, cache_dir, umask, mask, folder_mode, file_mode):
    umask(mask)
    out = tmp_path / "out"
    export([CONFIG], source, out, cache_dir=cache_dir)
    for path in [out, *out.rglob("*")]:
        expected = folder_mode if path.is_dir() else file_mode
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


# --- disk full, and what a killed export leaves --------------------------------------------------

def files_at_most(size: int):
    """For a subprocess: writes past ``size`` bytes fail with EFBIG (as on a full disk), not with a signal."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_full_disk_names_the_path_and_leaves_the_previous_export_whole(tmp_path, source, cache_dir):
    out = tmp_path / "out"
    export([CONFIG], source, out, cache_dir=cache_dir)
    before = snapshot(out)
    failed = run_console_script("export", CONFIG, "--data-dir", source, "--to", out, "--cache-dir", cache_dir,
                                env=ENV, preexec_fn=files_at_most(1000))
    assert failed.returncode == 2, failed.stderr
    assert "Traceback" not in failed.stderr
    assert f"cannot write {out}/" in failed.stderr and "File too large" in failed.stderr, failed.stderr
    assert snapshot(out) == before
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]


def test_a_card_that_cannot_be_written_leaves_the_previous_card_whole(tmp_path, source, cache_dir):
    out = tmp_path / "out"
    export([CONFIG], source, out, cache_dir=cache_dir)
    before = snapshot(out)
    size = len(before["README.md"])
    code = f"from publish.card import write_card; write_card({str(out)!r}, repo_id='someone/a-much-longer-repo-name')"
    failed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                            preexec_fn=files_at_most(size - 10), timeout=600)
    assert failed.returncode != 0
    assert f"cannot write {out}/README.md" in failed.stderr and "File too large" in failed.stderr, failed.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [MANIFEST_FILENAME, LOCK_FILENAME]


def test_the_next_export_removes_what_a_killed_export_left(tmp_path, source, cache_dir):
    out = tmp_path / "out"
    export([CONFIG], source, out, cache_dir=cache_dir)
    # As a killed export leaves them: a config's staging folder (tempfile.mkdtemp's name), the card's temporary file.
    stale = [out / f".{CONFIG}.k3_x9q0a.partial", out / f".{OTHER}.abcdefgh.partial"]
    for folder in stale:
        folder.mkdir()
        (folder / "train-00000-of-00001.parquet").write_bytes(b"PAR1 half written")
    stale_card = out / ".README.md.0a1b2c3d.partial"
    stale_card.write_text("---\npretty")
    # Hidden folders of the user's, whose names are not of our pattern, stay.
    kept = [out / ".notes.abcdefgh.partial", out / ".my-drafts.partial", out / f".{CONFIG}.partial"]
    for folder in kept:
        folder.mkdir()
    export([OTHER], source, out, cache_dir=cache_dir)
    assert not any(p.exists() for p in [*stale, stale_card])
    assert all(folder.is_dir() for folder in kept)


def test_a_killed_export_is_cleaned_up_by_the_next(tmp_path, source, cache_dir):
    """A real kill -9 during the shards' writing, then an export that must finish and leave no staging."""
    out = tmp_path / "out"
    code = (
        "import os, signal\n"
        "import publish.export\n"
        "real = publish.export.write_parquet\n"
        "def killed(dataset, path):\n"
        "    real(dataset, path)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "publish.export.write_parquet = killed\n"
        "from publish.export import export\n"
        f"export([{CONFIG!r}], {str(source)!r}, {str(out)!r}, cache_dir={cache_dir!r})\n"
    )
    killed = subprocess.run([sys.executable, "-c", code], env=ENV, timeout=600)
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in out.iterdir() if p.name.endswith(".partial")]
    export([CONFIG], source, out, cache_dir=cache_dir)
    assert not [p.name for p in out.iterdir() if p.name.endswith(".partial")]
    assert sorted(p.name for p in (out / CONFIG).iterdir()) == [
        "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]


def test_write_card_refuses_a_foreign_readme_too(tmp_path):
    """The layout functions that other steps (SLURM's finalize, the demo) call follow the same rule."""
    (tmp_path / "README.md").write_text("mine")
    with pytest.raises(OverwriteError, match="README.md was not written by imagenet-tiny export"):
        write_card(tmp_path)
    assert (tmp_path / "README.md").read_text() == "mine"
    write_card(tmp_path, force=True)
    assert is_generated_card(tmp_path / "README.md")


def test_a_folder_of_another_config_that_the_card_cannot_list_is_said_before_any_build(tmp_path, source):
    out = tmp_path / "out"
    (out / OTHER).mkdir(parents=True)
    (out / OTHER / "notes.txt").write_text("mine")
    with pytest.raises(ExportLayoutError, match=rf"{OTHER}/notes\.txt is not a shard of {OTHER}"):
        export([CONFIG], source, out, cache_dir=str(tmp_path / "never-built"))
    assert not (tmp_path / "never-built").exists() and not (out / CONFIG).exists()
