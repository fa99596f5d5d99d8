"""Publish configs to a Hub dataset repository: the exported layout (``publish.export``), uploaded card last.

``publish("NS/NAME", ["16x16-sRGB-5"], data_dir)``:

1. checks the repo id, then the token (``HF_TOKEN`` or the one saved by ``hf auth login``): that the Hub
   accepts it, that it may write, and that it may write to NS/NAME (or create it), all before any build;
2. builds (or reuses) each config and exports it into a work folder with ``publish.export``;
3. reads what the repo holds: its files and its card, whose configs other than those published are
   carried into the new card as they are (if their files are really there), as is its default config
   (the one ``load_dataset(repo)`` loads) unless ``default_config`` names another;
4. with ``gated`` ("auto" or "manual"), gates the repo (before any file goes up to a new repo), so that the
   Hub asks for ImageNet's terms, which the card carries, before a download; a repo gated so already is
   left alone;
5. commits each config (its shards, stale shards deleted, and its preview) with ``HfApi.create_commit``,
   which sends LFS files through the Hub's LFS protocol with retries, skips files whose content is already
   on the Hub, and makes no commit at all when nothing changed; a commit that fails as the library's
   backoff counts transient is retried;
6. commits the regenerated card last, so that a reader never sees a config listed whose files are not
   there yet. The card commit names its parent: a repo changed meanwhile makes it fail, not clobber.

One commit per config keeps a config's replacement atomic (readers see the old shards or the new, never a
mix), and an interrupted publish resumes at the file: a rerun does not send again what was uploaded.
``dry_run`` stops after step 3 and says what would be uploaded, deleted and gated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from datasets.utils.py_utils import convert_file_size_to_int
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard, HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError, HFValidationError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.utils import validate_repo_id
from huggingface_hub.utils._http import (  # what the library's own backoff retries: one notion of transient
    _DEFAULT_RETRY_ON_EXCEPTIONS as RETRY_ON_EXCEPTIONS,
    _DEFAULT_RETRY_ON_STATUS_CODES as RETRY_ON_STATUS_CODES,
)
from huggingface_hub.utils.sha import git_hash

from builder.errors import ImageNetTinyError
from publish.card import (
    CARD_FILENAME, card_default_config, card_infos, choose_default_config, is_config_name, preview_path, write_card,
)
from publish.export import DEFAULT_MAX_SHARD_SIZE, DEFAULT_MIN_SHARDS, check_min_shards, export
from publish.folder import file_sha256

REPO_TYPE = "dataset"
COMMIT_ATTEMPTS = 3  # a failed commit is safe to retry: files already committed are skipped as no-ops
GATE_MODES = ("auto", "manual")  # the Hub's: requests approved at once, or by the repo's owners

logger = logging.getLogger(__name__)


class PublishError(ImageNetTinyError, ValueError):
    """A publish that cannot start or finish; the message says what to do."""


class TokenError(PublishError):
    """A missing, rejected, read-only or insufficient token."""


@dataclasses.dataclass(frozen=True)
class FileChange:
    path: str  # in the repository
    action: str  # "new", "changed", "unchanged" or "delete"
    size: int = 0


@dataclasses.dataclass
class PublishReport:
    repo_id: str
    revision: str
    changes: dict[str, list[FileChange]]  # per commit: each config, then the card
    planned_on: Optional[str] = None  # the commit whose files and card the plan compares with
    commits: list[str] = dataclasses.field(default_factory=list)  # oids of the commits made
    dry_run: bool = False
    default_config: Optional[str] = None  # the config the card marks as default
    gated_before: str | bool = False  # the repo's gating as found: False, "auto" or "manual"
    gate: Optional[str] = None  # the gating to set, where it differs from gated_before

    @property
    def uploads(self) -> list[FileChange]:
        return [c for changes in self.changes.values() for c in changes if c.action in ("new", "changed", "delete")]


@dataclasses.dataclass(frozen=True)
class Access:
    api: HfApi
    user: str
    repo_exists: bool
    branch_exists: bool
    gated: str | bool = False  # the repo's gating: False, "auto" or "manual"


def check_repo_id(repo_id: str) -> None:
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise PublishError(f"--repo-id {repo_id!r} is not a valid Hub repo id: {error}") from None
    if "/" not in repo_id:
        raise PublishError(f"--repo-id {repo_id!r} needs a namespace: NAMESPACE/NAME, e.g. your-user/imagenet-tiny")


def check_access(repo_id: str, revision: Optional[str] = None, token: Optional[str] = None) -> Access:
    """The token may write to ``repo_id`` (or create it): checked with the Hub, without changing anything."""
    token = token or get_token()
    if not token:
        raise TokenError(
            "no Hugging Face token: set HF_TOKEN or run `hf auth login`, with a token that has write access "
            "(create one at https://huggingface.co/settings/tokens)"
        )
    api = HfApi(token=token, library_name="imagenet-tiny")
    try:
        me = api.whoami()
    except HfHubHTTPError as error:
        if _status(error) == 401:
            raise TokenError(
                "the Hub rejected the token (401 Unauthorized): it is invalid or expired; set HF_TOKEN to a valid "
                "write token or run `hf auth login --force`"
            ) from None
        raise
    user = me.get("name", "?")
    role = (me.get("auth", {}).get("accessToken") or {}).get("role")
    if role == "read":
        raise TokenError(f"the token of {user} is read-only: publishing needs a token with write access")
    namespace = repo_id.split("/")[0]
    try:
        info = api.repo_info(repo_id, repo_type=REPO_TYPE)
    except RepositoryNotFoundError:
        allowed = [user, *(org.get("name") for org in me.get("orgs", []))]
        if namespace not in allowed:
            raise TokenError(
                f"{repo_id} does not exist (or is private) and {user} cannot create it: {namespace} is neither the user nor one of "
                f"its organizations ({', '.join(allowed)})"
            ) from None
        return Access(api, user, repo_exists=False, branch_exists=False)
    try:
        api.auth_check(repo_id, repo_type=REPO_TYPE, write=True)
    except HfHubHTTPError as error:
        raise TokenError(
            f"the token of {user} may not write to {repo_id} ({_status(error)}): use a token with write access to it"
        ) from None
    branch_exists = True
    if revision:
        try:
            api.repo_info(repo_id, repo_type=REPO_TYPE, revision=revision)
        except RevisionNotFoundError:
            branch_exists = False
    return Access(api, user, repo_exists=True, branch_exists=branch_exists, gated=info.gated or False)


def publish(
    repo_id: str,
    config_names: Sequence[str],
    data_dir: str | os.PathLike,
    *,
    private: bool = False,
    revision: Optional[str] = None,
    dry_run: bool = False,
    cache_dir: Optional[str] = None,
    num_proc: Optional[int] = None,
    max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE,
    min_shards: int = DEFAULT_MIN_SHARDS,
    default_config: Optional[str] = None,
    gated: Optional[str] = None,
    work_dir: Optional[str] = None,
    log: Optional[Callable[[str], None]] = None,
) -> PublishReport:
    """Build, export and publish ``config_names`` to the Hub dataset repo ``repo_id``; see the module doc.

    ``default_config``: the config ``load_dataset(repo_id)`` loads, one of ``config_names`` or of those the
    repo's card lists (default: the card's default, else the first of ``config_names``). ``gated``:
    "auto" or "manual" to gate the repo (default: leave its gating as it is). ``log`` receives each line
    of the plan and of the progress (default: this module's logger, at INFO).
    """
    log = log or logger.info
    check_repo_id(repo_id)
    bad = [name for name in config_names if not is_config_name(name)]
    if default_config is not None and not is_config_name(default_config):
        bad.append(default_config)
    if bad:
        raise PublishError(f"not canonical config names: {', '.join(bad)} (see `imagenet-tiny configs`)")
    if gated is not None and gated not in GATE_MODES:
        raise PublishError(f"--gated {gated!r} is not one of {', '.join(GATE_MODES)}")
    convert_file_size_to_int(max_shard_size)  # a bad size fails here, not after the builds
    check_min_shards(min_shards)
    with _hub_errors(f"cannot check the token and {repo_id} with the Hub"):
        access = check_access(repo_id, revision)
    branch = revision or "main"
    log(f"Token of {access.user} may write to {repo_id}" + ("" if access.repo_exists else " (to be created)"))
    if private and access.repo_exists:
        log(f"Note: --private applies to new repos only; {repo_id} exists, so its visibility stays as it is")

    # Always a fresh folder: the card is made from what it holds, which must be only this publish's configs.
    work = Path(tempfile.mkdtemp(prefix="imagenet-tiny-publish-", dir=work_dir))
    try:
        if default_config is not None and default_config not in config_names:
            with _hub_errors(f"cannot read what {repo_id} holds"):  # before the builds: it must be listed there
                card = _remote_card(access.api, repo_id, *_remote_files(access, repo_id, branch), work)
            listed = sorted(card_infos(card)) if card is not None else []
            if default_config not in listed:
                raise PublishError(
                    f"--default-config {default_config} is neither published now nor listed on {repo_id}'s card "
                    f"({', '.join(listed) or 'no configs'}): publish it too, or choose one of those"
                )
        export(config_names, data_dir, work, cache_dir=cache_dir, num_proc=num_proc,
               max_shard_size=max_shard_size, min_shards=min_shards, repo_id=repo_id)
        with _hub_errors(f"cannot read what {repo_id} holds"):
            planned_on, remote = _remote_files(access, repo_id, branch)
            card = _remote_card(access.api, repo_id, planned_on, remote, work)
            carried, carried_previews = _carried_configs(card, repo_id, remote, set(config_names), log)
        # The card's default stays (what load_dataset(repo) loads now), unless another is asked for.
        default = choose_default_config({*config_names, *carried}, default_config,
                                        card_default_config(card) if card is not None else None,
                                        fallback=next(iter(config_names), None))
        write_card(work, repo_id=repo_id, carried=carried, carried_previews=carried_previews, default_config=default)
        changes = {name: _config_changes(work, name, remote) for name in config_names}
        changes[CARD_FILENAME] = [_change(work, CARD_FILENAME, remote)]
        report = PublishReport(repo_id, branch, changes, planned_on=planned_on, dry_run=dry_run,
                               default_config=default, gated_before=access.gated,
                               gate=gated if gated is not None and gated != access.gated else None)
        _log_plan(report, log)
        if dry_run:
            log("Dry run: nothing was uploaded" + (" and the gating was not changed." if report.gate else "."))
            return report
        if not report.uploads and report.gate is None:
            log(f"Nothing to do: {repo_id} ({branch}) already holds these configs as built.")
            return report
        _upload(access, repo_id, branch, private, report, work, log)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- what the repo holds ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RemoteFile:
    size: int
    sha256: Optional[str]  # LFS files
    blob_id: str


def _remote_files(access: Access, repo_id: str, branch: str) -> tuple[Optional[str], dict[str, RemoteFile]]:
    """The commit to plan against (None for a repo to be created), and its files."""
    if not access.repo_exists:
        return None, {}
    # A branch to be created starts from main: plan against what it will hold.
    revision = branch if access.branch_exists else "main"
    sha = access.api.repo_info(repo_id, repo_type=REPO_TYPE, revision=revision).sha
    entries = access.api.list_repo_tree(repo_id, recursive=True, repo_type=REPO_TYPE, revision=sha)
    return sha, {
        e.path: RemoteFile(e.size, e.lfs.sha256 if e.lfs else None, e.blob_id)
        for e in entries
        if hasattr(e, "blob_id")  # files, not folders
    }


def _remote_card(
    api: HfApi, repo_id: str, revision: Optional[str], remote: dict[str, RemoteFile], work: Path
) -> Optional[DatasetCard]:
    """The repo's card at ``revision`` (None where it has none), downloaded into the work folder's cache."""
    if CARD_FILENAME not in remote:
        return None
    path = api.hf_hub_download(repo_id, CARD_FILENAME, repo_type=REPO_TYPE, revision=revision,
                               cache_dir=work / ".hub-cache")
    return DatasetCard.load(path)


def _carried_configs(
    card: Optional[DatasetCard], repo_id: str, remote: dict[str, RemoteFile], published: set[str], log
) -> tuple[dict, set[str]]:
    """The configs of the repo's card that stay listed: not republished now, and with their files there."""
    if card is None:
        return {}, set()
    carried = {}
    for name, info in card_infos(card).items():
        if name in published:
            continue
        missing = [s for s in info.splits if not any(p.startswith(f"{name}/{s}-") for p in remote)]
        if missing:
            log(f"Dropping {name} from the card: the repo has no files for its split(s) {', '.join(missing)}")
            continue
        carried[name] = info
    listed = set(carried) | published
    orphans = sorted({p.split("/")[0] for p in remote if "/" in p and is_config_name(p.split("/")[0])} - listed)
    for name in orphans:
        log(f"Note: {repo_id} has files of {name} but its card does not list it; publish {name} again to list it")
    return carried, {name for name in carried if preview_path(name) in remote}


def _change(work: Path, path: str, remote: dict[str, RemoteFile]) -> FileChange:
    # create_commit finds unchanged files too, but only while committing (asking the Hub file by file):
    # too late for --dry-run, and for "Nothing to do" before the repo, branch or gating is touched.
    local = work / path
    size = local.stat().st_size
    there = remote.get(path)
    if there is None:
        return FileChange(path, "new", size)
    if there.sha256 is not None:
        same = there.size == size and there.sha256 == file_sha256(local)
    else:
        same = there.blob_id == git_hash(local.read_bytes())
    return FileChange(path, "unchanged" if same else "changed", size)


def _config_changes(work: Path, config: str, remote: dict[str, RemoteFile]) -> list[FileChange]:
    local = sorted(f"{config}/{p.name}" for p in (work / config).iterdir()) + [preview_path(config)]
    changes = [_change(work, path, remote) for path in local]
    # Not upload_folder(delete_patterns=...): with hf_xet (installed with huggingface_hub) it may split a
    # folder into several commits, the deletions in the first, so readers could see a config half replaced.
    stale = sorted(p for p in remote if p.startswith(config + "/") and p not in local)
    return changes + [FileChange(p, "delete", remote[p].size) for p in stale]


def _log_plan(report: PublishReport, log) -> None:
    log(f"{'Would publish' if report.dry_run else 'Publishing'} to {report.repo_id} ({report.revision}):")
    for commit, changes in report.changes.items():
        todo = [c for c in changes if c.action != "unchanged"]
        log(f"  {commit}: " + (f"{len(todo)} change(s)" if todo else "unchanged"))
        for change in todo:
            verb = "delete" if change.action == "delete" else f"upload ({change.action})"
            log(f"    {verb:<16} {change.path}  {change.size:,} bytes")
    log(f"  default config: {report.default_config}")
    before = report.gated_before or "not gated"
    if report.gate is not None:
        log(f"  gating: {'would set' if report.dry_run else 'set'} {report.gate} (now {before})")
    else:
        log(f"  gating: {before} (unchanged)")


# --- uploading ------------------------------------------------------------------------------------

def _upload(access: Access, repo_id: str, branch: str, private: bool, report: PublishReport, work: Path, log) -> None:
    api = access.api
    with _hub_errors(
        f"publishing to {repo_id} stopped",
        ". The card lists only configs whose files are all there; run the same command again to finish "
        "(files already uploaded are not sent again)",
    ):
        if not access.repo_exists:
            api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
            log(f"Created {'private ' if private else ''}dataset repo {repo_id}")
        if report.gate is not None:
            # Before the first file goes up: a new repo's data are never downloadable without the terms.
            api.update_repo_settings(repo_id, gated=report.gate, repo_type=REPO_TYPE)
            log(f"Gated {repo_id}: {report.gate} approval of access requests")
        if branch != "main" and not access.branch_exists:
            api.create_branch(repo_id, branch=branch, repo_type=REPO_TYPE, exist_ok=True)
            log(f"Created branch {branch}")
        head = None
        for name, changes in report.changes.items():
            if name == CARD_FILENAME or not any(c.action != "unchanged" for c in changes):
                continue
            verb = "Update" if any(c.action in ("changed", "delete") for c in changes) else "Add"
            head = _commit(api, repo_id, branch, changes, work, f"{verb} {name}", parent=None, log=log)
            report.commits.append(head)
        card = report.changes[CARD_FILENAME]
        if any(c.action != "unchanged" for c in card):
            # The card was made from the commit planned on: a change by others since then fails the commit.
            parent = head or report.planned_on or api.repo_info(repo_id, repo_type=REPO_TYPE, revision=branch).sha
            report.commits.append(_commit(api, repo_id, branch, card, work, "Update dataset card", parent=parent, log=log))
    log(f"Published {', '.join(n for n in report.changes if n != CARD_FILENAME)} to {api.endpoint}/datasets/{repo_id}"
        + ("" if branch == "main" else f" (branch {branch})"))


def _commit(api: HfApi, repo_id: str, branch: str, changes: list[FileChange], work: Path, message: str,
            parent: Optional[str], log) -> str:
    """Commit ``changes``, retrying failures that huggingface_hub's backoff counts as transient.

    Retried here because ``create_commit`` sends a commit once, and the library's own commit retry (its Xet
    pipeline's) resends the same deletions after a lost answer. A retry drops the deletions that landed;
    ``create_commit`` drops the additions that did, and sends nothing when all did. So ``parent`` stays:
    a commit by others meanwhile fails the retry (412) instead of being built upon.
    """
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        # Operations are spent by a commit attempt: fresh ones each time.
        operations = [
            CommitOperationDelete(c.path) if c.action == "delete" else CommitOperationAdd(c.path, str(work / c.path))
            for c in changes
            if c.action != "unchanged"
        ]
        try:
            info = api.create_commit(repo_id, operations, commit_message=message, repo_type=REPO_TYPE,
                                     revision=branch, parent_commit=parent)
            log(f"  {message}: commit {info.oid[:10]}")
            return info.oid
        except Exception as error:
            if not _transient(error) or attempt == COMMIT_ATTEMPTS:
                raise
            log(f"  {message}: {_failure(error)}; retrying ({attempt}/{COMMIT_ATTEMPTS - 1})")
            time.sleep(attempt)
            deletes = [c.path for c in changes if c.action == "delete"]
            if deletes:
                present = {e.path for e in api.get_paths_info(repo_id, deletes, repo_type=REPO_TYPE, revision=branch)}
                changes = [c for c in changes if c.action != "delete" or c.path in present]
    raise AssertionError("unreachable")


def _transient(error: BaseException) -> bool:
    """Whether huggingface_hub's ``http_backoff`` would retry the request that failed so."""
    return isinstance(error, RETRY_ON_EXCEPTIONS) or _status(error) in RETRY_ON_STATUS_CODES


def _failure(error: BaseException) -> str:
    status = _status(error)
    return f"the Hub answered {status}" if status is not None else f"no answer ({type(error).__name__})"


@contextlib.contextmanager
def _hub_errors(what: str, hint: str = ""):
    """Network and Hub errors as one actionable line, ``what: cause[hint]``; the cause stays chained."""
    try:
        yield
    except PublishError:
        raise
    except Exception as error:
        if _status(error) == 412:
            cause = "the repo changed meanwhile (another publish?)"
        else:
            cause = f"{type(error).__name__}: {_first_line(error).rstrip('.')}"
        raise PublishError(f"{what}: {cause}{hint}") from error


def _status(error: BaseException) -> Optional[int]:
    response = getattr(error, "response", None)
    if response is None and error.__cause__ is not None:
        return _status(error.__cause__)
    return getattr(response, "status_code", None)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
