"""HTTP side of the fake Hub: URL routing, Hub-shaped responses, body sending with faults.

One :class:`HubRequestHandler` class serves both listeners; ``server.origin`` says whether a
connection came to the Hub origin or the CDN origin.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import select
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from .faults import Fault
from .repos import Blob, Commit, Repo, RepoBuilder, TreeEntry
from .server import HubServer, Origin

_API_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_TYPES = {"datasets": "dataset", "spaces": "space"}
_API_OPS = {
    "revision",
    "tree",
    "refs",
    "paths-info",
    "commits",
    "resolve",
    "discussions",
    "settings",
}
_COMMIT_RE = re.compile(r"[0-9a-f]{40}")
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
_NOT_FOUND = "Sorry, we can't find the page you are looking for."
_INLINE_MAX = 64 * 1024  # file bodies up to this size are read and sent with the headers


class HubHTTPServer(ThreadingHTTPServer):
    """One listener (Hub or CDN origin) of a :class:`HubServer`: a thread per connection."""

    daemon_threads = True
    # Stopping drops connections itself; do not wait for handler threads (a stalled one
    # would block until its client gives up).
    block_on_close = False
    # The default backlog of 5 refuses connections under a parallel download benchmark.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], hub: HubServer, origin: Origin) -> None:
        self.hub = hub
        self.origin = origin
        super().__init__(address, HubRequestHandler)


@dataclass(slots=True)
class FileSlice:
    """A response body read from disk: ``length`` bytes of ``path`` from ``offset``."""

    path: Path
    offset: int
    length: int


@dataclass(slots=True)
class Response:
    """A response to send; ``Content-Length`` is added from the body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | FileSlice = b""


@dataclass(slots=True)
class Route:
    """What a URL path asks for. ``path`` is a decoded file or directory path."""

    action: str
    repo_type: str = "model"
    repo_id: str | None = None
    revision: str | None = None
    path: str = ""


def parse_route(
    origin: Origin, raw_path: str, query: dict[str, list[str]], repos: RepoBuilder
) -> Route:
    """Map a raw URL path to a :class:`Route` (action ``"not_found"`` if nothing matches).

    Repo ids are one or two segments; an existing repo wins, else the Hub's own guess
    (two segments unless the second is an API keyword) is used to report RepoNotFound.
    """
    segs = raw_path.strip("/").split("/")
    if origin == "cdn":
        if len(segs) == 4 and segs[0] == "repos":
            repo_id = query.get("repo", [""])[0] or None
            return Route("cdn", repo_id=repo_id, path=query.get("file", [""])[0] or segs[3])
        return Route("not_found")
    if segs[0] == "api":
        if segs[1:] == ["whoami-v2"]:
            return Route("whoami")
        if len(segs) >= 3 and segs[1] in _API_TYPES:
            repo_type = _API_TYPES[segs[1]]
            repo_id, rest = _split_repo(segs[2:], repo_type, repos, lambda s: s in _API_OPS)
            return _api_route(repo_type, repo_id, rest)
        if len(segs) >= 5 and segs[1] == "resolve-cache" and segs[2] in _API_TYPES:
            repo_type = _API_TYPES[segs[2]]
            repo_id, rest = _split_repo(segs[3:], repo_type, repos, _COMMIT_RE.fullmatch)
            if len(rest) >= 2:
                return Route("resolve", repo_type, repo_id, rest[0], unquote("/".join(rest[1:])))
        return Route("not_found")
    repo_type = "model"
    if segs[0] in _URL_TYPES:
        repo_type, segs = _URL_TYPES[segs[0]], segs[1:]
    for i in (2, 1):
        if len(segs) > i + 1 and segs[i] == "resolve":
            repo_id = unquote("/".join(segs[:i]))
            return Route(
                "resolve",
                repo_type,
                repo_id,
                unquote(segs[i + 1]),
                unquote("/".join(segs[i + 2 :])),
            )
    return Route("not_found")


def _split_repo(
    segs: list[str], repo_type: str, repos: RepoBuilder, is_op: Callable[[str], object]
) -> tuple[str, list[str]]:
    """Split path segments into (repo_id, remaining segments)."""
    two = unquote("/".join(segs[:2]))
    if len(segs) >= 2 and repos.find_repo(two, repo_type) is not None:
        return two, segs[2:]
    if repos.find_repo(unquote(segs[0]), repo_type) is not None:
        return unquote(segs[0]), segs[1:]
    if len(segs) >= 2 and not is_op(segs[1]):
        return two, segs[2:]
    return unquote(segs[0]), segs[1:]


def _api_route(repo_type: str, repo_id: str, rest: list[str]) -> Route:
    if not rest:
        return Route("repo_info", repo_type, repo_id)
    op, args = rest[0], rest[1:]
    # Revisions arrive percent-encoded as one segment; an unencoded "refs/pr/1" is tolerated.
    if op == "revision" and args:
        return Route("repo_info", repo_type, repo_id, unquote("/".join(args)))
    if op == "tree" and args:
        return Route("tree", repo_type, repo_id, unquote(args[0]), unquote("/".join(args[1:])))
    if op == "paths-info" and args:
        return Route("paths_info", repo_type, repo_id, unquote("/".join(args)))
    if op == "refs" and not args:
        return Route("refs", repo_type, repo_id)
    return Route("not_found", repo_type, repo_id)


def error_response(
    status: int, code: str | None, message: str, headers: dict[str, str] | None = None
) -> Response:
    """A Hub-style error: ``X-Error-Code`` (what the client maps to exceptions) and message."""
    out = {"Content-Type": "application/json; charset=utf-8", "X-Error-Message": message}
    if code is not None:
        out["X-Error-Code"] = code
    out.update(headers or {})
    return Response(status, out, json.dumps({"error": message}).encode())


def json_response(data: Any, headers: dict[str, str] | None = None) -> Response:
    """A 200 JSON response."""
    out = {"Content-Type": "application/json; charset=utf-8"}
    out.update(headers or {})
    return Response(200, out, json.dumps(data, separators=(",", ":")).encode())


def iso(date: datetime) -> str:
    """Format a UTC datetime as the Hub does: ``2024-05-01T12:00:00.000Z``."""
    return date.strftime("%Y-%m-%dT%H:%M:%S.") + f"{date.microsecond // 1000:03d}Z"


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """Parse a single-range ``Range`` header against a file of ``size`` bytes.

    Returns:
        ``(first, last)`` inclusive; ``None`` to ignore the header and serve everything
        (absent, malformed, multi-range, empty file); ``False`` if unsatisfiable (416).
    """
    if header is None or size == 0:
        return None
    match = _RANGE_RE.fullmatch(header.replace(" ", ""))
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        n = int(last)
        return False if n == 0 else (max(0, size - n), size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size:
        return False
    return None if end < start else (start, end)


class HubRequestHandler(BaseHTTPRequestHandler):
    """Serves one connection (HTTP/1.1 keep-alive) for the Hub or the CDN origin."""

    protocol_version = "HTTP/1.1"
    server: HubHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle's algorithm
        # meets the client's delayed ACK and small responses stall ~40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.hub._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.hub._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log (the request log records everything)."""

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    # -- request flow -------------------------------------------------------------------

    def _handle(self) -> None:
        hub = self.server.hub
        raw_path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = hub._begin(self.server.origin, self.command, raw_path, query, headers)
        self._record = record
        self._headers_sent = False
        try:
            body_in = self._read_body()
            params = parse_qs(query, keep_blank_values=True)
            route = parse_route(self.server.origin, raw_path, params, hub.repos)
            record.repo_id = route.repo_id
            record.filename = route.path if route.action in ("resolve", "cdn") else None
            record.revision = route.revision
            fault = hub.faults.take(record, "headers")
            if fault is not None:
                record.fault = fault.kind
                if fault.delay_headers and hub.stopping.wait(fault.delay_headers):
                    self.close_connection = True
                    return
                if fault.status is not None:
                    self._send(self._fault_response(fault))
                    return
            response = self._dispatch(route, params, body_in)
            if hub.thin is not None:  # thin-mirror mode: see tests/hubserver/thin.py
                response = hub.thin.rewrite(route, response)
            self._send(response)
        except OSError as exc:  # client went away, connection reset, server stopping
            record.error = f"{type(exc).__name__}: {exc}"
            self.close_connection = True
        except Exception as exc:
            record.error = traceback.format_exc()
            print(f"hubserver: error serving {self.command} {self.path}", file=sys.stderr)
            traceback.print_exc()
            if not self._headers_sent:
                self._send(error_response(500, None, f"internal server error: {exc!r}"))
            self.close_connection = True
        finally:
            record.end_time = time.monotonic()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, route: Route, params: dict[str, list[str]], body_in: bytes) -> Response:
        if route.action == "cdn":
            return self._cdn(route, params)
        if route.action == "whoami":
            return self._whoami()
        hub = self.server.hub
        unknown = self._hostile_body()
        if route.action == "not_found":
            return unknown or error_response(404, None, _NOT_FOUND)
        assert route.repo_id is not None
        repo = hub.repos.find_repo(route.repo_id, route.repo_type)
        if repo is None and unknown is not None:
            return unknown
        denied = self._access_error(route, repo, files=route.action == "resolve")
        if denied is not None:
            return denied
        assert repo is not None
        if route.action == "refs":
            return self._refs(repo, params)
        revision = route.revision or repo.default_branch
        commit = repo.resolve(revision)
        if commit is None and unknown is not None and route.action == "resolve":
            return unknown
        if commit is None:
            return error_response(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        if route.action == "repo_info":
            return self._repo_info(repo, commit, params)
        if route.action == "tree":
            return self._tree(repo, commit, route, params)
        if route.action == "paths_info":
            return self._paths_info(commit, parse_qs(body_in.decode()))
        return self._resolve(repo, commit, route)

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization")
        if auth is None:
            return None
        return auth.removeprefix("Bearer ").strip() or None

    def _access_error(self, route: Route, repo: Repo | None, files: bool) -> Response | None:
        """Refuse private/missing repos always, gated repos for file downloads only (as the Hub)."""
        token = self._token()
        accepted = self.server.hub.accepted_tokens.get(route.repo_id or "", set())
        if repo is None or (repo.private and token not in accepted):
            return error_response(
                401 if token is None else 404, "RepoNotFound", "Repository not found"
            )
        if files and repo.gated and token not in accepted:
            kind = f"{repo.repo_type} {repo.repo_id}"
            if token is None:
                message = (
                    f"Access to {kind} is restricted. You must have access to it and be "
                    "authenticated to access it. Please log in."
                )
                return error_response(401, "GatedRepo", message)
            message = (
                f"Access to {kind} is restricted and you are not in the authorized list. "
                f"Visit {self.server.hub.url}/{repo.repo_id} to ask for access."
            )
            return error_response(403, "GatedRepo", message)
        return None

    # -- API endpoints ------------------------------------------------------------------

    def _whoami(self) -> Response:
        token = self._token()
        user = self.server.hub.users.get(token or "")
        if user is None:
            return error_response(401, None, "Invalid credentials in Authorization header")
        return json_response(
            {
                "type": "user",
                "id": user,
                "name": user,
                "fullname": user,
                "isPro": False,
                "orgs": [],
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": "test", "role": "read"},
                },
            }
        )

    def _repo_info(self, repo: Repo, commit: Commit, params: dict[str, list[str]]) -> Response:
        blobs = params.get("blobs", ["false"])[0].lower() in ("true", "1")
        siblings = []
        for path, entry in sorted(commit.files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling["size"] = entry.size
                sibling["blobId"] = entry.oid
                if entry.lfs:
                    sibling["lfs"] = {
                        "size": entry.size,
                        "sha256": entry.blob.sha256,
                        "pointerSize": entry.pointer_size,
                    }
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": commit.sha[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0] if "/" in repo.repo_id else None,
            "sha": commit.sha,
            "lastModified": iso(commit.date),
            "createdAt": iso(repo.created_at),
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
            "usedStorage": sum(e.size for e in commit.files.values()),
        }
        if repo.repo_type == "model":
            info["modelId"] = repo.repo_id
        override = self.server.hub.overrides.get(repo.repo_id)
        if override is not None:
            info = override.rewrite_info(info)
        return json_response(info)

    def _tree(
        self, repo: Repo, commit: Commit, route: Route, params: dict[str, list[str]]
    ) -> Response:
        path = route.path.strip("/")
        if not commit.is_dir(path):
            return error_response(
                404, "EntryNotFound", f'{path} does not exist on "{route.revision}"'
            )
        recursive = params.get("recursive", ["false"])[0] == "true"
        expand = params.get("expand", ["false"])[0] == "true"
        rows = commit.listing(path, recursive)
        # The Hub pages by 1000 entries, by 50 when expanding (expensive) metadata.
        size = max(
            1, min(self.server.hub.tree_page_size, 50) if expand else self.server.hub.tree_page_size
        )
        cursor = params.get("cursor", [""])[0]
        start = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        page = [_tree_row(row, commit if expand else None) for row in rows[start : start + size]]
        headers = {}
        if start + size < len(rows):
            next_query = {k: v[0] for k, v in params.items() if k != "cursor"}
            next_query["cursor"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            host = self.headers.get("Host") or self.server.hub.url.removeprefix("http://")
            headers["Link"] = (
                f'<http://{host}{self._record.path}?{urlencode(next_query)}>; rel="next"'
            )
        return json_response(page, headers)

    def _paths_info(self, commit: Commit, form: dict[str, list[str]]) -> Response:
        expand = form.get("expand", ["False"])[0].lower() == "true"
        rows = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit.files:
                entry = commit.files[path]
                rows.append(
                    _tree_row(TreeEntry(path, entry.oid, entry), commit if expand else None)
                )
            elif path and commit.is_dir(path):
                parent = path.rpartition("/")[0]
                row = next(r for r in commit.children[parent] if r.path == path)
                rows.append(_tree_row(row, commit if expand else None))
        return json_response(rows)

    def _refs(self, repo: Repo, params: dict[str, list[str]]) -> Response:
        def ref(name: str, kind: str, sha: str) -> dict[str, str]:
            full = name if name.startswith("refs/") else f"refs/{kind}/{name}"
            return {"name": name, "ref": full, "targetCommit": sha}

        data: dict[str, Any] = {
            "branches": [
                ref(n, "heads", s) for n, s in repo.branches.items() if not n.startswith("refs/pr/")
            ],
            "tags": [ref(n, "tags", s) for n, s in repo.tags.items()],
            "converts": [],
        }
        if params.get("include_prs", ["0"])[0] not in ("0", "false", ""):
            data["pullRequests"] = [
                ref(n, "pr", s) for n, s in repo.branches.items() if n.startswith("refs/pr/")
            ]
        return json_response(data)

    # -- file endpoints -----------------------------------------------------------------

    def _resolve(self, repo: Repo, commit: Commit, route: Route) -> Response:
        response = self._honest_resolve(repo, commit, route)
        override = self.server.hub.overrides.get(repo.repo_id)
        if override is None:
            return response
        if override.resolve_status is not None:
            return Response(override.resolve_status, dict(override.resolve_headers))
        response.headers.update(override.resolve_headers)
        return response

    def _hostile_body(self) -> Response | None:
        """Hostile mode: the 200 answer to a file URL that names nothing (or ``None``)."""
        for override in list(self.server.hub.overrides.values()):
            if override.serve_unknown is not None:
                headers = {"Content-Type": "application/octet-stream", "ETag": '"hostile"'}
                return Response(200, headers, override.serve_unknown)
        return None

    def _honest_resolve(self, repo: Repo, commit: Commit, route: Route) -> Response:
        hub = self.server.hub
        common = {"X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes"}
        revision = route.revision or repo.default_branch
        if hub.resolve_redirects and not _COMMIT_RE.fullmatch(revision):
            # Relative, same-origin redirect to the immutable commit URL: the client follows it
            # itself (HEAD included) and keeps the Authorization header.
            location = f"/api/resolve-cache/{repo.repo_type}s/{repo.repo_id}/{commit.sha}/"
            location += quote(route.path)
            return Response(
                307, {**common, "Location": location, "Content-Type": "text/plain; charset=utf-8"}
            )
        entry = commit.files.get(route.path)
        if entry is None:
            return self._hostile_body() or error_response(
                404, "EntryNotFound", "Entry not found", common
            )
        if entry.lfs:
            location = hub.sign_cdn_url(repo.repo_id, entry)
            headers = {
                **common,
                "Location": location,
                "ETag": f'"{entry.oid}"',
                # The client does not follow a HEAD redirect to another origin: the real
                # metadata must ride on the 302 itself.
                "X-Linked-Etag": f'"{entry.blob.sha256}"',
                "X-Linked-Size": str(entry.size),
                "Content-Type": "text/plain; charset=utf-8",
            }
            return Response(302, headers, f"Found. Redirecting to {location}".encode())
        headers = {**common, "ETag": f'"{entry.etag}"', "Content-Type": "text/plain; charset=utf-8"}
        return self._file_response(entry.blob, headers)

    def _cdn(self, route: Route, params: dict[str, list[str]]) -> Response:
        hub = self.server.hub
        sha = self._record.path.rsplit("/", 1)[-1]
        query = {k: v[0] for k, v in params.items()}
        blob = hub.repos.blob(sha)
        if blob is None or query.get("signature") != hub.cdn_signature(sha, query):
            return _s3_error("AccessDenied", "Access Denied")
        if int(query.get("expires") or 0) < time.time():
            return _s3_error("AccessDenied", "Request has expired")
        headers = {
            "ETag": f'"{sha}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "Content-Disposition": query.get("response-content-disposition", "inline"),
        }
        return self._file_response(blob, headers)

    def _file_response(self, blob: Blob, headers: dict[str, str]) -> Response:
        size = blob.size
        span = parse_range(self.headers.get("Range"), size)
        throttle = self.server.hub.throttle
        if span is False:
            return Response(416, {**headers, "Content-Range": f"bytes */{size}"})
        if throttle is not None and throttle.ignore_range:  # throttle.py
            # A server that does not do ranges does not say it does.
            headers.pop("Accept-Ranges", None)
            return Response(200, headers, FileSlice(blob.path, 0, size))
        if span is None:
            return Response(200, headers, FileSlice(blob.path, 0, size))
        first, last = span
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return Response(206, headers, FileSlice(blob.path, first, last - first + 1))

    def _fault_response(self, fault: Fault) -> Response:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        headers.update(fault.headers)
        assert fault.status is not None
        body = json.dumps({"error": f"injected fault: HTTP {fault.status}"}).encode()
        return Response(fault.status, headers, body)

    # -- sending ------------------------------------------------------------------------

    def _send(self, response: Response) -> None:
        """Send status line, headers and (unless HEAD) the body, applying any body fault."""
        hub, record = self.server.hub, self._record
        body = response.body
        length = len(body) if isinstance(body, bytes) else body.length
        headers = response.headers
        headers["Content-Length"] = str(length)
        if self.close_connection:
            headers["Connection"] = "close"
        send_body = self.command != "HEAD" and length > 0
        fault = None
        if send_body and response.status in (200, 206):
            start = body.offset if isinstance(body, FileSlice) else 0
            fault = hub.faults.take(record, "body", start, length)
            if fault is not None:
                record.fault = fault.kind
                if fault.delay_headers and hub.stopping.wait(fault.delay_headers):
                    self.close_connection = True
                    return
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        head = f"HTTP/1.1 {response.status} {reason}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        head_bytes = (head + "\r\n").encode("latin-1")
        record.status = response.status
        record.response_headers = headers
        self._headers_sent = True
        if hub.throttle is not None and fault is None and send_body and isinstance(body, FileSlice):
            hub.throttle.send(self, head_bytes, body)  # CDN-like pacing (throttle.py)
        elif not send_body:
            self.connection.sendall(head_bytes)
        elif fault is None and (isinstance(body, bytes) or length <= _INLINE_MAX):
            # Small bodies leave with the headers in one write (one syscall, one packet);
            # larger files go through sendfile, never copied through Python.
            self.connection.sendall(
                head_bytes + (body if isinstance(body, bytes) else _pread(body))
            )
            hub._count(record, length)
        else:
            self.connection.sendall(head_bytes)
            self._send_body(body, fault)

    def _send_body(self, body: bytes | FileSlice, fault: Fault | None) -> None:
        length = len(body) if isinstance(body, bytes) else body.length
        limit = length
        if fault is not None:
            for cap in (fault.cut_after, fault.stall_after):
                if cap is not None:
                    limit = min(limit, cap)
        step = fault.trickle[0] if fault is not None and fault.trickle else max(limit, 1)
        corrupt = None
        if fault is not None and fault.corrupt_byte_at is not None:
            corrupt = fault.corrupt_byte_at - (body.offset if isinstance(body, FileSlice) else 0)
        file = open(body.path, "rb") if isinstance(body, FileSlice) else None  # noqa: SIM115
        try:
            sent = 0
            while sent < limit:
                n = min(step, limit - sent)
                if corrupt is not None and sent <= corrupt < sent + n:
                    self._write(body, file, sent, corrupt - sent)
                    self._write(bytes([self._byte_at(body, file, corrupt) ^ 0xFF]), None, 0, 1)
                    self._write(body, file, corrupt + 1, sent + n - corrupt - 1)
                else:
                    self._write(body, file, sent, n)
                sent += n
                if (
                    fault is not None
                    and fault.trickle
                    and sent < limit
                    and self.server.hub.stopping.wait(fault.trickle[1])
                ):
                    break
        finally:
            if file is not None:
                file.close()
        if fault is not None and fault.stall_after is not None:
            self._stall()
        if fault is not None and (fault.cut_after is not None or fault.stall_after is not None):
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may have closed it already
                self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, body: bytes | FileSlice, file: Any, rel: int, n: int) -> None:
        """Send ``n`` body bytes from relative offset ``rel``; count what actually went out."""
        if n <= 0:
            return
        if isinstance(body, bytes):
            self.connection.sendall(memoryview(body)[rel : rel + n])
            self.server.hub._count(self._record, n)
            return
        offset = body.offset + rel
        file.seek(offset)
        try:
            sent = self.connection.sendfile(file, offset, n)
        except OSError:
            # socket.sendfile leaves the file position after the bytes it did send.
            self.server.hub._count(self._record, max(0, file.tell() - offset))
            raise
        self.server.hub._count(self._record, sent)

    @staticmethod
    def _byte_at(body: bytes | FileSlice, file: Any, rel: int) -> int:
        if isinstance(body, bytes):
            return body[rel]
        return os.pread(file.fileno(), 1, body.offset + rel)[0]

    def _stall(self) -> None:
        """Hang until the client closes the connection or the server stops."""
        stopping = self.server.hub.stopping
        while not stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable:
                try:
                    if not self.connection.recv(65536):
                        return  # EOF: the client gave up
                except OSError:
                    return


def _pread(body: FileSlice) -> bytes:
    """Read a (small) file slice."""
    fd = os.open(body.path, os.O_RDONLY)
    try:
        return os.pread(fd, body.length, body.offset)
    finally:
        os.close(fd)


def _tree_row(row: TreeEntry, expand_commit: Commit | None) -> dict[str, Any]:
    """JSON of a tree row. Never any ``xetHash``: it would switch the client to Xet."""
    if row.file is None:
        data: dict[str, Any] = {"type": "directory", "oid": row.oid, "path": row.path}
    else:
        entry = row.file
        data = {"type": "file", "oid": entry.oid, "size": entry.size, "path": row.path}
        if entry.lfs:
            data["lfs"] = {
                "oid": entry.blob.sha256,
                "size": entry.size,
                "pointerSize": entry.pointer_size,
            }
    if expand_commit is not None:
        # Approximation: the listed commit stands for each entry's last commit.
        data["lastCommit"] = {
            "id": expand_commit.sha,
            "title": expand_commit.message,
            "date": iso(expand_commit.date),
        }
    return data


def _s3_error(code: str, message: str) -> Response:
    """A 403 as S3/CloudFront send it: XML body, no Hub error headers."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(403, {"Content-Type": "application/xml"}, body.encode())
