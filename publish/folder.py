"""Writing into an export folder: only over what an earlier export wrote, atomically, with the umask's modes.

``DIR/.imagenet-tiny-export.json``, the manifest, records the SHA-256 of each file that export wrote whose
content a person might change or put there themselves (the card, the previews). Export replaces such a file
only while it still holds what was recorded; a file that the manifest does not list is replaced only when
the caller recognises it as its own by content (a folder exported by an earlier version has no manifest).
A folder is replaced only when each of its entries is recognised. Anything else is an :class:`OverwriteError`
naming the path, unless ``force``.

Every write goes through a hidden staging name beside its target, ``.NAME.XXXXXXXX.partial``, renamed into
place when whole; writers hold ``DIR/.imagenet-tiny-export.lock`` meanwhile, so the staging names found by
the next writer are what a killed one left, and it removes them (:func:`remove_stale_staging`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Callable, Iterator, Union

from builder.errors import ImageNetTinyError

MANIFEST_FILENAME = ".imagenet-tiny-export.json"
LOCK_FILENAME = ".imagenet-tiny-export.lock"
# mkdtemp's eight characters too: the staging folders that the previous version's killed exports left.
STAGING_PATTERN = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.partial")
WRITER = "imagenet-tiny export"

PathLike = Union[str, os.PathLike]


class OverwriteError(ImageNetTinyError, ValueError):
    """A file or folder in the export folder that export did not write (or that changed since), in its way."""


@contextlib.contextmanager
def locked(out_dir: PathLike) -> Iterator[Path]:
    """Hold ``out_dir``'s writer lock (creating the folder): one writer at a time; yields the folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / LOCK_FILENAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield out_dir


def read_manifest(out_dir: PathLike) -> dict[str, str]:
    """The files export wrote into ``out_dir`` (relative path -> SHA-256); empty when it has no manifest."""
    path = Path(out_dir) / MANIFEST_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        manifest = json.loads(text)
        files = manifest["files"]
        if manifest.get("written_by") != WRITER or not all(isinstance(v, str) for v in files.values()):
            raise ValueError("not a manifest of " + WRITER)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise OverwriteError(f"{path} is not the manifest that {WRITER} writes ({error}): remove it") from None
    return files


def check_replaceable(
    out_dir: PathLike, name: str, *, recognised: Callable[[Path], bool], force: bool = False
) -> None:
    """Raise :class:`OverwriteError` unless ``out_dir/name`` is absent, or a file export wrote and may replace.

    ``recognised``: whether a file the manifest does not list is export's all the same, by its content.
    """
    path = Path(out_dir) / name
    if force or not os.path.lexists(path):
        return
    recorded = read_manifest(out_dir).get(name)
    if not _is_plain_file(path):
        raise OverwriteError(f"{path} is not a file that {WRITER} wrote: move it away or pass --force")
    if recorded is not None:
        if file_sha256(path) != recorded:
            raise OverwriteError(f"{path} was changed since {WRITER} wrote it: move it away or pass --force")
    elif not recognised(path):
        raise OverwriteError(f"{path} was not written by {WRITER}: move it away or pass --force")


def check_replaceable_folder(
    out_dir: PathLike, name: str, *, recognised: Callable[[Path], bool], force: bool = False
) -> None:
    """Raise :class:`OverwriteError` unless ``out_dir/name`` is absent, or a folder of files all ``recognised``."""
    path = Path(out_dir) / name
    if force or not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        raise OverwriteError(f"{path} is not a folder that {WRITER} wrote: move it away or pass --force")
    foreign = sorted(entry for entry in path.iterdir() if not (_is_plain_file(entry) and recognised(entry)))
    if foreign:
        listed = ", ".join(map(str, foreign[:3])) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OverwriteError(
            f"{listed} {'was' if len(foreign) == 1 else 'were'} not written by {WRITER}, and export would delete "
            f"{path} to replace it: move it away or pass --force"
        )


def write_file(out_dir: PathLike, name: str, data: bytes) -> None:
    """Write ``out_dir/name`` whole or not at all (a full disk leaves the previous file), and record it.

    Call with the lock held, after :func:`check_replaceable`.
    """
    _write_atomically(Path(out_dir) / name, data)
    files = read_manifest(out_dir)
    files[name] = hashlib.sha256(data).hexdigest()
    manifest = {"written_by": WRITER, "files": dict(sorted(files.items()))}
    _write_atomically(Path(out_dir) / MANIFEST_FILENAME, (json.dumps(manifest, indent=1) + "\n").encode())


def staging_folder(target: Path) -> Path:
    """A new, empty hidden folder beside ``target``, to be swapped in with :func:`replace_folder`.

    Made with ``mkdir``, so it has the umask's mode (``tempfile.mkdtemp`` would make it 0700).
    """
    while True:
        folder = _staging_name(target)
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def replace_folder(staging: Path, target: Path) -> None:
    """Put ``staging`` in ``target``'s place. The old folder is moved aside before it is removed, so that a
    kill at any point leaves ``target`` whole (old or new) or its contents in a staging name the next writer removes."""
    aside = None
    if target.is_symlink() or target.is_file():  # only with force, checked by the caller
        target.unlink()
    elif target.exists():
        aside = _staging_name(target)
        target.rename(aside)
    staging.rename(target)
    if aside is not None:
        shutil.rmtree(aside)


def remove_stale_staging(folder: Path, is_target: Callable[[str], bool]) -> list[Path]:
    """Remove what killed writers left in ``folder``: entries named ``.NAME.XXXXXXXX.partial`` with
    ``is_target(NAME)``. Call with the lock held; returns what was removed."""
    removed = []
    if not folder.is_dir():
        return removed
    for entry in sorted(folder.iterdir()):
        match = STAGING_PATTERN.fullmatch(entry.name)
        if match is None or not is_target(match["name"]):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed.append(entry)
    return removed


@contextlib.contextmanager
def naming(path: PathLike) -> Iterator[None]:
    """An ``OSError`` raised while writing ``path`` (a full disk, say) names it, if it does not already."""
    try:
        yield
    except OSError as error:
        if error.filename is not None:
            raise
        if error.errno is None:
            raise OSError(f"cannot write {path}: {error}") from error
        raise OSError(error.errno, f"cannot write {path}: {error.strerror or error}") from error


def file_sha256(path: PathLike) -> str:
    """The SHA-256 of a file's bytes, read in chunks (shards may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    remove_stale_staging(path.parent, lambda name: name == path.name)
    temporary = _staging_name(path)
    try:
        with naming(path):
            # os.open with 0o666, as open() does: the umask decides the mode (mkstemp would make it 0600).
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # whole on disk before it takes the old file's place
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _staging_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")


def _is_plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


__all__ = [
    "LOCK_FILENAME", "MANIFEST_FILENAME", "OverwriteError", "check_replaceable", "check_replaceable_folder",
    "file_sha256", "locked", "naming", "read_manifest", "remove_stale_staging", "replace_folder", "staging_folder",
    "write_file",
]
