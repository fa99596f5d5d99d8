"""A local stand-in for the Hugging Face Hub: the part of its HTTP API that publishing and loading use here.

Enough for ``huggingface_hub`` 2.x and ``datasets`` 5.x (with ``HF_HUB_DISABLE_XET=1``) to create dataset repos,
commit files (preupload, LFS batch with the basic transfer, NDJSON commit), create branches, list trees and
paths, report repo and revision info, change the repo's gating, check tokens and write access, and resolve
files (regular files served directly, LFS files redirected to a second "CDN" port, as the Hub does; byte
ranges on both). A gated repo's files, and its auth-check, are refused (403 ``GatedRepo``; 401 without a
token) to all but its owners and the users granted access (:meth:`HubState.grant_access`), as on the Hub;
its listing and info stay open. Tests seed repos made by others with :meth:`HubState.seed`. State lives
in memory in :class:`HubState`, which tests read directly (commits, files), watch (``observers``, called
as each request arrives) and use to inject faults.

Requests that the server does not know are answered 501 and recorded in ``HubState.unknown``, so a gap in
this emulation shows up as a visible failure rather than as a silent difference from the real Hub.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".parquet", ".arrow", ".png", ".jpg", ".jpeg", ".bin", ".safetensors", ".tar", ".gz")
LFS_MIN_SIZE = 10 * 1024 * 1024
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclasses.dataclass(frozen=True)
class Blob:
    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.content)}\n".encode()

    @property
    def oid(self) -> str:
        """The git blob id: of the pointer file for LFS files, as git stores them."""
        return git_blob_oid(self.pointer if self.lfs else self.content)

    def entry(self, path: str) -> dict[str, Any]:
        entry = {"type": "file", "oid": self.oid, "size": len(self.content), "path": path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.content), "pointerSize": len(self.pointer)}
        return entry


@dataclasses.dataclass(frozen=True)
class Commit:
    oid: str
    parent: Optional[str]
    title: str
    files: dict[str, Blob]
    date: str


@dataclasses.dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    branches: dict[str, str]  # branch -> commit oid
    commits: dict[str, Commit]
    lfs: dict[str, bytes] = dataclasses.field(default_factory=dict)  # LFS storage is per repo, as on the Hub
    gated: Any = False  # False, "auto" or "manual", as the Hub reports it
    access: set[str] = dataclasses.field(default_factory=set)  # users granted access to a gated repo

    def resolve(self, revision: str) -> Optional[Commit]:
        revision = unquote(revision)
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        matches = [c for oid, c in self.commits.items() if oid.startswith(revision) and len(revision) >= 7]
        return matches[0] if len(matches) == 1 else None

    def history(self, branch: str = "main") -> list[Commit]:
        """Commits reachable from ``branch``, newest first."""
        out, oid = [], self.branches.get(branch)
        while oid is not None:
            out.append(self.commits[oid])
            oid = self.commits[oid].parent
        return out

    def advance(self, branch: str, title: str, files: dict[str, Blob]) -> Commit:
        """A new commit on ``branch`` holding ``files``; the caller holds the state's lock."""
        new = _new_commit(self.branches[branch], title, files)
        self.commits[new.oid] = new
        self.branches[branch] = new.oid
        return new


@dataclasses.dataclass
class Fault:
    """Fail requests matching ``method`` and the ``path`` regex: ``times`` of them, with ``kind``.

    ``kind``: ``"500"`` answers HTTP 500; ``"drop"`` closes the connection without any answer; ``"lost"``
    does the work, then answers HTTP 500 (a commit that landed although the client saw it fail); ``"cut"``
    sends the answer's headers and half of its body, then closes the connection (a download cut short).
    ``meanwhile``: what another client does on the Hub before the failure is answered (a commit of theirs).
    """

    method: str
    path: str
    kind: str
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    meanwhile: Optional[Callable[[], None]] = None
    whole_only: bool = False  # match only requests for a whole file (no Range header), not the reads of its parts


@dataclasses.dataclass
class Token:
    user: str
    role: str = "write"  # "write" or "read"
    orgs: tuple[str, ...] = ()


class HubState:
    """Everything the server knows; safe to read from tests while the server runs (under ``lock``)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.repos: dict[tuple[str, str], Repo] = {}
        self.tokens: dict[str, Token] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.unknown: list[str] = []
        self.fault_log: list[str] = []
        # Called with (method, path, request headers) as each request arrives, before it is answered.
        self.observers: list[Callable[[str, str, Any], None]] = []

    def add_token(self, token: str, user: str, role: str = "write", orgs: tuple[str, ...] = ()) -> None:
        self.tokens[token] = Token(user, role, orgs)

    def seed(self, repo_id: str, files: dict[str, bytes], gated: Any = False, repo_type: str = "dataset") -> Repo:
        """A repo that another user made, holding ``files`` in one commit (LFS by suffix or size, as uploads go)."""
        blobs = {path: Blob(content, path.lower().endswith(LFS_SUFFIXES) or len(content) >= LFS_MIN_SIZE)
                 for path, content in files.items()}
        commit = _new_commit(None, "Upload the dataset", blobs)
        repo = Repo(repo_id, repo_type, False, {"main": commit.oid}, {commit.oid: commit}, gated=gated)
        repo.lfs.update({blob.sha256: blob.content for blob in blobs.values() if blob.lfs})
        with self.lock:
            self.repos[(repo_type, repo_id)] = repo
        return repo

    def grant_access(self, repo_id: str, user: str, repo_type: str = "dataset") -> None:
        """``user`` accepted the terms of the gated ``repo_id`` (and was approved)."""
        with self.lock:
            self.repos[(repo_type, repo_id)].access.add(user)

    def repo(self, repo_id: str, repo_type: str = "dataset") -> Optional[Repo]:
        with self.lock:
            return self.repos.get((repo_type, repo_id))

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> dict[str, bytes]:
        """The files of ``repo_id`` at ``revision``, path -> content."""
        with self.lock:
            repo = self.repos[(repo_type, repo_id)]
            commit = repo.resolve(revision)
            return {path: blob.content for path, blob in commit.files.items()}

    def commit_count(self, repo_id: str, branch: str = "main", repo_type: str = "dataset") -> int:
        with self.lock:
            return len(self.repos[(repo_type, repo_id)].history(branch))

    def delete(self, repo_id: str, *paths: str, branch: str = "main", repo_type: str = "dataset") -> None:
        """Delete ``paths`` (files, or folders with all they hold) from ``branch`` in one commit, as another client would."""
        with self.lock:
            repo = self.repos[(repo_type, repo_id)]
            files = repo.commits[repo.branches[branch]].files
            kept = {p: b for p, b in files.items() if not any(p == d or p.startswith(d + "/") for d in paths)}
            repo.advance(branch, f"Delete {', '.join(paths)}", kept)

    def uploads(self) -> list[str]:
        """Paths of every request that wrote something (LFS uploads, commits, repo or branch creation)."""
        with self.lock:
            return [
                f"{m} {p}"
                for m, p, status in self.requests
                if m in ("PUT", "POST") and status < 400
                and re.search(r"/lfs-upload/|/commit/|/repos/create|/branch/|/settings$", p)
            ]

    def _take_fault(self, method: str, path: str, ranged: bool = False) -> Optional[Fault]:
        with self.lock:
            for fault in self.faults:
                if fault.whole_only and ranged:
                    continue
                if fault.method == method and re.search(fault.path, path) and fault.times > 0:
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    self.fault_log.append(f"{fault.kind} {method} {path}")
                    return fault
        return None


class HubError(Exception):
    def __init__(self, status: int, message: str, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


REPO = r"(?P<repo_id>[\w.-]+/[\w.-]+)"
TYPES = r"(?P<types>datasets|models|spaces)"


class HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: HubState  # set by HubServer, as are the endpoints
    endpoint: str
    cdn_endpoint: str

    # --- plumbing -------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests read HubState.requests
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        body = self._body() if method in ("POST", "PUT") else b""
        for observer in list(self.state.observers):
            observer(method, path, self.headers)
        fault = self.state._take_fault(method, path, ranged="Range" in self.headers)
        if fault is not None and fault.meanwhile is not None:
            fault.meanwhile()
        if fault is not None and fault.kind == "drop":
            self._record(method, path, 0)
            self.close_connection = True
            self.connection.shutdown(2)  # no answer at all: the client sees the connection dropped
            return
        if fault is not None and fault.kind == "500":
            return self._send_error(method, path, HubError(500, "Internal Error (injected fault)"))
        for route_method, pattern, handler in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and route_method == method.replace("HEAD", "GET"):
                try:
                    status, headers, payload = handler(self, match.groupdict(), query, body)
                except HubError as error:
                    return self._send_error(method, path, error)
                if fault is not None and fault.kind == "cut":
                    return self._send(method, path, status, headers, payload, cut=True)
                if fault is not None:  # "lost": done, but the client never hears of it
                    return self._send_error(method, path, HubError(500, "Internal Error (injected fault, after the work)"))
                return self._send(method, path, status, headers, payload)
        with self.state.lock:
            self.state.unknown.append(f"{method} {self.path}")
        sys.stderr.write(f"hub_server: unknown request {method} {self.path}\n")
        self._send_error(method, path, HubError(501, f"hub_server: unknown request {method} {self.path}"))

    def _record(self, method: str, path: str, status: int) -> None:
        with self.state.lock:
            self.state.requests.append((method, path, status))

    def _send(self, method: str, path: str, status: int, headers: dict[str, str], payload: Any, cut: bool = False) -> None:
        """Answer; ``cut``: the whole length announced, half the body sent, the connection closed."""
        if isinstance(payload, (dict, list)):
            data = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **headers}
        else:
            data = payload or b""
        self._record(method, path, status)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if cut:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
        elif method != "HEAD":
            self.wfile.write(data)

    def _send_error(self, method: str, path: str, error: HubError) -> None:
        headers = {"X-Error-Message": error.message}
        if error.code:
            headers["X-Error-Code"] = error.code
        self._send(method, path, error.status, headers, {"error": error.message})

    # --- auth -----------------------------------------------------------------------------------

    def _token(self) -> Optional[Token]:
        """The caller's token; a token the server does not know is a 401 at once, as on the Hub."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        token = self.state.tokens.get(auth.removeprefix("Bearer ").strip())
        if token is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return token

    def _repo(self, groups: dict[str, str], write: bool = False) -> Repo:
        repo_type = groups["types"].rstrip("s") if groups.get("types") else "dataset"
        token = self._token()
        repo = self.state.repo(groups["repo_id"], repo_type)
        if repo is None or (repo.private and not self._may_write(token, groups["repo_id"], read_only=True)):
            raise HubError(404 if token else 401, "Repository not found", "RepoNotFound")
        if write and not self._may_write(token, repo.repo_id):
            if token is None:
                raise HubError(401, "You must be authenticated to write", None)
            raise HubError(403, f"You don't have the rights to write to {repo.repo_id}")
        return repo

    def _check_gate(self, repo: Repo) -> None:
        """A gated repo's files are for its owners and the users granted access (403 GatedRepo; 401 anonymous)."""
        token = self._token()
        if not repo.gated or (token is not None and (self._may_write(token, repo.repo_id, read_only=True) or token.user in repo.access)):
            return
        raise HubError(
            403 if token else 401,
            f"Access to dataset {repo.repo_id} is restricted. You must have access to it and be authenticated to access it. "
            "Please log in.",
            "GatedRepo",
        )

    @staticmethod
    def _may_write(token: Optional[Token], repo_id: str, read_only: bool = False) -> bool:
        if token is None:
            return False
        namespace = repo_id.split("/")[0]
        return namespace in (token.user, *token.orgs) and (read_only or token.role == "write")

    def _commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {unquote(revision)}", "RevisionNotFound")
        return commit

    # --- endpoints ------------------------------------------------------------------------------

    def whoami(self, groups, query, body):
        token = self._token()
        if token is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return 200, {}, {
            "type": "user",
            "id": hashlib.md5(token.user.encode()).hexdigest()[:24],
            "name": token.user,
            "fullname": token.user,
            "orgs": [{"type": "org", "name": org, "roleInOrg": "write"} for org in token.orgs],
            "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": token.role}},
        }

    def create_repo(self, groups, query, body):
        token = self._token()
        payload = json.loads(body or b"{}")
        repo_type = payload.get("type") or "model"
        namespace = payload.get("organization") or (token.user if token else None)
        repo_id = f"{namespace}/{payload['name']}"
        if token is None:
            raise HubError(401, "You must be authenticated to create a repo")
        if not self._may_write(token, repo_id):
            raise HubError(403, f"You don't have the rights to create a repo under {namespace}")
        if not re.fullmatch(r"[\w.-]+", payload["name"]):
            raise HubError(400, f"Invalid repo name {payload['name']!r}")
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{self.endpoint}/{prefix}{repo_id}"
        with self.state.lock:
            if (repo_type, repo_id) in self.state.repos:
                raise HubError(409, "You already created this repo")
            first = _new_commit(None, "initial commit", {".gitattributes": Blob(b"*.parquet filter=lfs diff=lfs merge=lfs -text\n", False)})
            private = payload.get("private", payload.get("visibility") == "private")
            self.state.repos[(repo_type, repo_id)] = Repo(repo_id, repo_type, bool(private), {"main": first.oid}, {first.oid: first})
        return 200, {}, {"url": url, "name": repo_id, "id": uuid.uuid4().hex[:24]}

    def repo_info(self, groups, query, body):
        repo = self._repo(groups)
        commit = self._commit(repo, groups.get("revision") or "main")
        return 200, {}, {
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "lastModified": commit.date,
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        }

    def auth_check(self, groups, query, body):
        repo = self._repo(groups, write=bool(groups.get("write")))
        self._check_gate(repo)
        return 200, {}, {}

    def create_branch(self, groups, query, body):
        repo = self._repo(groups, write=True)
        payload = json.loads(body or b"{}")
        branch = unquote(groups["branch"])
        with self.state.lock:
            if branch in repo.branches:
                raise HubError(409, f"Branch {branch} already exists")
            start = self._commit(repo, payload.get("startingPoint") or "main")
            repo.branches[branch] = start.oid
        return 200, {}, {}

    def settings(self, groups, query, body):
        repo = self._repo(groups, write=True)
        payload = json.loads(body or b"{}")
        unknown = set(payload) - {"gated"}
        if unknown:  # visibility and the rest: not needed here yet, so a visible gap
            raise HubError(400, f"hub_server: unsupported settings {sorted(unknown)}")
        if payload.get("gated") not in (False, "auto", "manual"):
            raise HubError(400, f"Invalid gated value {payload.get('gated')!r}")
        with self.state.lock:
            repo.gated = payload["gated"]
        return 200, {}, {}

    def preupload(self, groups, query, body):
        repo = self._repo(groups, write=True)
        commit = self._commit(repo, groups["revision"])
        files = []
        for item in json.loads(body)["files"]:
            lfs = item["path"].lower().endswith(LFS_SUFFIXES) or item["size"] >= LFS_MIN_SIZE
            existing = commit.files.get(item["path"])
            oid = None
            if existing is not None:
                oid = existing.sha256 if existing.lfs else existing.oid
            files.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return 200, {}, {"files": files, "commitOid": commit.oid}

    def lfs_batch(self, groups, query, body):
        groups = {**groups, "types": groups.get("types") or None}
        repo = self._repo(groups, write=True)
        payload = json.loads(body)
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in repo.lfs:
                href = f"{self.endpoint}/lfs-upload/{repo.repo_type}/{repo.repo_id}/{obj['oid']}"
                entry["actions"] = {"upload": {"href": href, "header": {}}}
            objects.append(entry)
        return 200, {"Content-Type": "application/vnd.git-lfs+json"}, {"transfer": "basic", "objects": objects}

    def lfs_upload(self, groups, query, body):
        if hashlib.sha256(body).hexdigest() != groups["oid"]:
            raise HubError(400, "uploaded content does not match its sha256")
        repo = self.state.repo(groups["repo_id"], groups["type"])
        if repo is None:
            raise HubError(404, "no such repo")
        with self.state.lock:
            repo.lfs[groups["oid"]] = body
        return 200, {"ETag": f'"{groups["oid"]}"'}, b""

    def commit(self, groups, query, body):
        repo = self._repo(groups, write=True)
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = lines[0]["value"]
        branch = unquote(groups["revision"])
        with self.state.lock:
            if branch not in repo.branches:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            head = repo.commits[repo.branches[branch]]
            parent = header.get("parentCommit")
            if parent is not None and not head.oid.startswith(parent):
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = dict(head.files)
            for line in lines[1:]:
                key, value = line["key"], line["value"]
                if key == "file":
                    files[value["path"]] = Blob(base64.b64decode(value["content"]), False)
                elif key == "lfsFile":
                    content = repo.lfs.get(value["oid"])
                    if content is None:
                        raise HubError(422, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                    files[value["path"]] = Blob(content, True)
                elif key == "deletedFile":
                    if value["path"] not in files:
                        raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
                    del files[value["path"]]
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    for path in [p for p in files if p.startswith(prefix)]:
                        del files[path]
                else:
                    raise HubError(400, f"hub_server: unsupported commit operation {key}")
            new = repo.advance(branch, header["summary"], files)
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return 200, {}, {
            "success": True,
            "commitOid": new.oid,
            "commitUrl": f"{self.endpoint}/{prefix}{repo.repo_id}/commit/{new.oid}",
            "pullRequestUrl": None,
        }

    def tree(self, groups, query, body):
        repo = self._repo(groups)
        commit = self._commit(repo, groups["revision"])
        base = unquote(groups.get("path") or "").strip("/")
        recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
        entries = _tree_entries(commit, base, recursive)
        if base and not entries and base not in _folders(commit):
            raise HubError(404, f"{base} does not exist", "EntryNotFound")
        return 200, {}, entries

    def paths_info(self, groups, query, body):
        repo = self._repo(groups)
        commit = self._commit(repo, groups["revision"])
        form = parse_qs(body.decode())
        out = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit.files:
                out.append(commit.files[path].entry(path))
            elif path in _folders(commit):
                out.append({"type": "directory", "oid": _tree_oid(commit, path), "size": 0, "path": path})
        return 200, {}, out

    def commits(self, groups, query, body):
        repo = self._repo(groups)
        branch = unquote(groups["revision"])
        return 200, {}, [
            {"id": c.oid, "title": c.title, "message": "", "authors": [], "date": c.date} for c in repo.history(branch)
        ]

    def resolve(self, groups, query, body):
        repo = self._repo(groups)
        self._check_gate(repo)
        commit = self._commit(repo, groups["revision"])
        path = unquote(groups["path"])
        blob = commit.files.get(path)
        if blob is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
        headers = {"X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
        if blob.lfs:
            # As on the Hub: LFS content lives elsewhere; the redirect carries the file's metadata.
            headers.update({
                "X-Linked-Etag": f'"{blob.sha256}"',
                "X-Linked-Size": str(len(blob.content)),
                "ETag": f'"{blob.oid}"',
                "Location": f"{self.cdn_endpoint}/lfs-files/{repo.repo_type}/{repo.repo_id}/{blob.sha256}",
            })
            return 302, headers, b""
        headers["ETag"] = f'"{blob.oid}"'
        return self._ranged(headers, blob.content)

    def cdn(self, groups, query, body):
        repo = self.state.repo(groups["repo_id"], groups["type"])
        content = repo.lfs.get(groups["oid"]) if repo else None
        if content is None:
            raise HubError(404, "no such object")
        return self._ranged({"ETag": f'"{groups["oid"]}"', "Accept-Ranges": "bytes"}, content)

    def _ranged(self, headers: dict[str, str], content: bytes):
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if not match:
            return 200, headers, content
        start = int(match[1]) if match[1] else max(0, len(content) - int(match[2]))
        end = int(match[2]) if match[1] and match[2] else len(content) - 1
        end = min(end, len(content) - 1)
        if start >= len(content):
            return 416, {**headers, "Content-Range": f"bytes */{len(content)}"}, b""
        return 206, {**headers, "Content-Range": f"bytes {start}-{end}/{len(content)}"}, content[start : end + 1]

    def agent_harnesses(self, groups, query, body):
        return 200, {}, {"standardEnvVars": [], "harnesses": {}}

    def validate_yaml(self, groups, query, body):
        return 200, {}, {"errors": [], "warnings": []}


def _new_commit(parent: Optional[str], title: str, files: dict[str, Blob]) -> Commit:
    oid = hashlib.sha1(f"{parent}{title}{time.time_ns()}{uuid.uuid4()}".encode()).hexdigest()
    return Commit(oid, parent, title, files, time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()))


def _folders(commit: Commit) -> set[str]:
    folders = set()
    for path in commit.files:
        parts = path.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return folders


def _tree_oid(commit: Commit, folder: str) -> str:
    inside = sorted((p, b.oid) for p, b in commit.files.items() if p.startswith(folder + "/"))
    return hashlib.sha1(json.dumps(inside).encode()).hexdigest() if inside else EMPTY_TREE


def _tree_entries(commit: Commit, base: str, recursive: bool) -> list[dict[str, Any]]:
    prefix = base + "/" if base else ""
    entries = []
    for folder in sorted(_folders(commit)):
        if folder.startswith(prefix) and (recursive or "/" not in folder[len(prefix):]):
            entries.append({"type": "directory", "oid": _tree_oid(commit, folder), "size": 0, "path": folder})
    for path in sorted(commit.files):
        if path.startswith(prefix) and (recursive or "/" not in path[len(prefix):]):
            entries.append(commit.files[path].entry(path))
    return entries


REV = r"(?P<revision>[^/]+)"
ROUTES = [
    ("GET", r"/api/whoami-v2", HubHandler.whoami),
    ("GET", r"/api/agent-harnesses", HubHandler.agent_harnesses),
    ("POST", r"/api/repos/create", HubHandler.create_repo),
    ("POST", r"/api/validate-yaml", HubHandler.validate_yaml),
    ("GET", rf"/api/{TYPES}/{REPO}", HubHandler.repo_info),
    ("GET", rf"/api/{TYPES}/{REPO}/revision/{REV}", HubHandler.repo_info),
    ("GET", rf"/api/{TYPES}/{REPO}/auth-check(?P<write>/write)?", HubHandler.auth_check),
    ("POST", rf"/api/{TYPES}/{REPO}/branch/(?P<branch>.+)", HubHandler.create_branch),
    ("PUT", rf"/api/{TYPES}/{REPO}/settings", HubHandler.settings),
    ("POST", rf"/api/{TYPES}/{REPO}/preupload/{REV}", HubHandler.preupload),
    ("POST", rf"/api/{TYPES}/{REPO}/commit/{REV}", HubHandler.commit),
    ("GET", rf"/api/{TYPES}/{REPO}/commits/{REV}", HubHandler.commits),
    ("GET", rf"/api/{TYPES}/{REPO}/tree/{REV}(?:/(?P<path>.*))?", HubHandler.tree),
    ("POST", rf"/api/{TYPES}/{REPO}/paths-info/{REV}", HubHandler.paths_info),
    ("POST", rf"/(?:(?P<types>datasets|spaces)/)?{REPO}\.git/info/lfs/objects/batch", HubHandler.lfs_batch),
    ("PUT", rf"/lfs-upload/(?P<type>\w+)/{REPO}/(?P<oid>[0-9a-f]{{64}})", HubHandler.lfs_upload),
    ("GET", rf"/lfs-files/(?P<type>\w+)/{REPO}/(?P<oid>[0-9a-f]{{64}})", HubHandler.cdn),
    ("GET", rf"/(?P<types>datasets|spaces)/{REPO}/resolve/{REV}/(?P<path>.+)", HubHandler.resolve),
]


class HubServer:
    """The API server and its "CDN" on two free ports of 127.0.0.1, serving in daemon threads."""

    def __init__(self, state: Optional[HubState] = None) -> None:
        self.state = state or HubState()
        handler = type("BoundHubHandler", (HubHandler,), {"state": self.state})
        self.api = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        for server in (self.api, self.cdn):
            server.daemon_threads = True
        handler.endpoint = f"http://127.0.0.1:{self.api.server_address[1]}"
        handler.cdn_endpoint = f"http://127.0.0.1:{self.cdn.server_address[1]}"
        self.endpoint = handler.endpoint
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.api, self.cdn)]

    def __enter__(self) -> "HubServer":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for server in (self.api, self.cdn):
            server.shutdown()
            server.server_close()


