"""The fake Hub server: two threaded HTTP listeners (Hub origin + CDN origin) over a RepoBuilder."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import math
import os
import re
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import quote, urlencode

from .faults import Fault, FaultMatch, FaultSet
from .hostile import InfoRewrite, MetadataOverride
from .repos import FileContent, FileEntry, Repo, RepoBuilder
from .thin import ThinMirror
from .throttle import Throttle
from .tls import TestCA

Origin = Literal["hub", "cdn"]


@dataclass
class RequestRecord:
    """What the server saw of one request, and what it answered.

    The record is logged when the request arrives and completed as it is served, so a
    request still in flight has ``end_time`` ``None``.

    Attributes:
        origin: ``"hub"`` (the main origin) or ``"cdn"``.
        path: the raw (percent-encoded) URL path, without the query string.
        query: the raw query string ("" if none).
        headers: request headers, names lower-cased.
        start_time, end_time: ``time.monotonic()`` when the request line was read / when
            the response was fully sent (or the connection dropped).
        response_headers: the headers sent (names as sent).
        bytes_sent: body bytes sent (headers excluded).
        repo_id, filename, revision: what the request was about, when the route says so.
        fault: label of the injected fault that hit the request, if any.
        error: why sending failed (client gone, server bug), if it did.
    """

    origin: Origin
    method: str
    path: str
    query: str
    headers: dict[str, str]
    start_time: float
    end_time: float | None = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    bytes_sent: int = 0
    repo_id: str | None = None
    filename: str | None = None
    revision: str | None = None
    fault: str | None = None
    error: str | None = None

    @property
    def range(self) -> str | None:
        """The ``Range`` request header, if any."""
        return self.headers.get("range")

    @property
    def has_auth(self) -> bool:
        """Whether the request carried an ``Authorization`` header."""
        return "authorization" in self.headers

    @property
    def duration(self) -> float | None:
        """Seconds from request to end of response (``None`` while in flight)."""
        return None if self.end_time is None else self.end_time - self.start_time


RecordFilter = str | re.Pattern[str] | Callable[[RequestRecord], bool]
"""A regex searched in :attr:`RequestRecord.path`, or a predicate on the record."""


class HubServer:
    """A Hub-compatible HTTP server for the real ``huggingface_hub`` client.

    Serves repo metadata (``/api/models/...``), file resolution (``/{repo}/resolve/...``, with
    302 redirects of LFS files to a second "CDN" listener) and file bodies with ``sendfile``.
    Logs every request, injects faults, and enforces gated/private access.

    Args:
        root_dir: where blobs are stored (ignored if ``repos`` is given).
        repos: serve an existing :class:`RepoBuilder` (e.g. built once for a benchmark).
        host: interface to listen on; ports are picked by the OS.
        tree_page_size: entries per page of the tree API (the Hub uses 1000).
        cdn_url_ttl: lifetime in seconds of the signed CDN URLs (negative: born expired).
        resolve_redirects: answer ``/resolve/<branch or tag>/...`` with a relative 307 to
            ``/api/resolve-cache/<type>s/<repo>/<commit>/<path>``, as the Hub does nowadays.
        record_requests: keep :class:`RequestRecord` objects (turn off for long benchmarks;
            byte counters keep working).
        tls: serve both origins over HTTPS with this CA's server certificate (see
            :mod:`tests.hubserver.tls`); ``None``: plain HTTP.

    Attributes:
        accepted_tokens: repo_id -> tokens allowed to read that gated or private repo.
        users: token -> user name, for ``/api/whoami-v2``.
    """

    def __init__(
        self,
        root_dir: Path | None = None,
        *,
        repos: RepoBuilder | None = None,
        host: str = "127.0.0.1",
        tree_page_size: int = 1000,
        cdn_url_ttl: float = 3600,
        resolve_redirects: bool = False,
        record_requests: bool = True,
        tls: TestCA | None = None,
    ) -> None:
        if repos is None:
            if root_dir is None:
                raise ValueError("HubServer needs root_dir or repos")
            repos = RepoBuilder(root_dir)
        self.repos = repos
        self.host = host
        self.tree_page_size = tree_page_size
        self.cdn_url_ttl = cdn_url_ttl
        self.resolve_redirects = resolve_redirects
        self.record_requests = record_requests
        self.tls = tls
        self.accepted_tokens: defaultdict[str, set[str]] = defaultdict(set)
        self.users: dict[str, str] = {}
        self.faults = FaultSet()
        self.overrides: dict[str, MetadataOverride] = {}
        # Thin-mirror mode (see tests/hubserver/thin.py): None serves full metadata.
        self.thin: ThinMirror | None = None
        # CDN-like pacing of file bodies (see tests/hubserver/throttle.py): None is full speed.
        self.throttle: Throttle | None = None
        self._secret = os.urandom(16)
        self._records: list[RequestRecord] = []
        self._bytes_sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._connections: set[socket.socket] = set()
        self._listeners: dict[Origin, object] = {}
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count(1)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> HubServer:
        """Bind both listeners on random ports and serve in background threads.

        Returns:
            ``self``.

        Raises:
            RuntimeError: already started.
        """
        from .handler import HubHTTPServer  # late import: handler imports this module

        if self._listeners:
            raise RuntimeError("HubServer already started")
        self._stop.clear()
        for origin in ("hub", "cdn"):
            listener = HubHTTPServer((self.host, 0), self, origin)
            if self.tls is not None:  # HTTPS: every accepted connection speaks TLS
                listener.socket = self.tls.wrap_listener(listener.socket)
            self._listeners[origin] = listener
            thread = threading.Thread(
                target=listener.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"hubserver-{origin}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving: release stalled or trickling responses, drop open connections."""
        self._stop.set()
        for listener in self._listeners.values():
            listener.shutdown()  # type: ignore[attr-defined]
            listener.server_close()  # type: ignore[attr-defined]
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listeners.clear()
        self._threads.clear()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _address(self, origin: Origin) -> str:
        listener = self._listeners.get(origin)
        if listener is None:
            raise RuntimeError("HubServer is not started")
        host, port = listener.server_address[:2]  # type: ignore[attr-defined]
        return f"{'http' if self.tls is None else 'https'}://{host}:{port}"

    @property
    def url(self) -> str:
        """Base URL of the Hub origin, e.g. ``http://127.0.0.1:40123`` (pass as ``endpoint=``)."""
        return self._address("hub")

    @property
    def cdn_url(self) -> str:
        """Base URL of the CDN origin, where LFS files are redirected to."""
        return self._address("cdn")

    @property
    def stopping(self) -> threading.Event:
        """Set when :meth:`stop` is called; handlers wait on it instead of sleeping."""
        return self._stop

    # -- repos (delegates to RepoBuilder, see there for details) --------------------------

    def create_repo(
        self,
        repo_id: str,
        files: Mapping[str, FileContent],
        *,
        repo_type: str = "model",
        lfs_threshold: int | None = None,
        lfs_patterns: Sequence[str] | None = None,
        gated: bool | str = False,
        private: bool = False,
        branch: str = "main",
        message: str = "Initial commit",
    ) -> str:
        """Create a repo; see :meth:`RepoBuilder.create_repo`. Returns the commit sha."""
        return self.repos.create_repo(
            repo_id,
            files,
            repo_type=repo_type,
            lfs_threshold=lfs_threshold,
            lfs_patterns=lfs_patterns,
            gated=gated,
            private=private,
            branch=branch,
            message=message,
        )

    def commit(
        self,
        repo_id: str,
        files_changed: Mapping[str, FileContent] | None = None,
        deleted: Collection[str] = (),
        branch: str = "main",
        *,
        repo_type: str = "model",
        message: str = "Update files",
    ) -> str:
        """Add a commit on ``branch``; see :meth:`RepoBuilder.commit`. Returns the new sha."""
        return self.repos.commit(
            repo_id, files_changed, deleted, branch=branch, repo_type=repo_type, message=message
        )

    def create_tag(
        self,
        repo_id: str,
        tag: str,
        revision: str = "main",
        *,
        repo_type: str = "model",
        overwrite: bool = False,
    ) -> str:
        """Point ``tag`` at ``revision``; see :meth:`RepoBuilder.create_tag`. Returns the sha."""
        return self.repos.create_tag(
            repo_id, tag, revision, repo_type=repo_type, overwrite=overwrite
        )

    def create_branch(
        self,
        repo_id: str,
        branch: str,
        revision: str = "main",
        *,
        repo_type: str = "model",
        overwrite: bool = False,
    ) -> str:
        """Point ``branch`` at ``revision``; see :meth:`RepoBuilder.create_branch`. Returns sha."""
        return self.repos.create_branch(
            repo_id, branch, revision, repo_type=repo_type, overwrite=overwrite
        )

    def get_repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        """Return the repo (mutable: flip ``private`` / ``gated`` in tests).

        Raises:
            KeyError: no such repo.
        """
        return self.repos.get_repo(repo_id, repo_type)

    def file_entry(
        self, repo_id: str, path: str, revision: str = "main", *, repo_type: str = "model"
    ) -> FileEntry:
        """Return a file's entry (etag, size, lfs, blob); see :meth:`RepoBuilder.file_entry`."""
        return self.repos.file_entry(repo_id, path, revision, repo_type=repo_type)

    def file_bytes(
        self, repo_id: str, path: str, revision: str = "main", *, repo_type: str = "model"
    ) -> bytes:
        """Return a file's content; see :meth:`RepoBuilder.file_bytes`."""
        return self.repos.file_bytes(repo_id, path, revision, repo_type=repo_type)

    def unique_repo_id(self, base: str = "org/model") -> str:
        """Return ``base`` with a suffix unique for this server, e.g. ``org/model-7``."""
        return f"{base}-{next(self._ids)}"

    def grant(self, repo_id: str, token: str, user: str = "hf-test-user") -> None:
        """Let ``token`` read the gated or private ``repo_id``, and make it known to whoami."""
        self.accepted_tokens[repo_id].add(token)
        self.users.setdefault(token, user)

    def resolve_url(
        self, repo_id: str, filename: str, revision: str = "main", *, repo_type: str = "model"
    ) -> str:
        """Return the ``/resolve/`` URL of a file, encoded as ``hf_hub_url`` does."""
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        return f"{self.url}/{prefix}{repo_id}/resolve/{quote(revision, safe='')}/{quote(filename)}"

    def cdn_url_for(
        self, repo_id: str, filename: str, revision: str = "main", *, repo_type: str = "model"
    ) -> str:
        """Return a freshly signed CDN URL of a file (LFS or not), as a 302 would carry it.

        Raises:
            KeyError: unknown repo, revision or path.
        """
        return self.sign_cdn_url(
            repo_id, self.file_entry(repo_id, filename, revision, repo_type=repo_type)
        )

    def sign_cdn_url(self, repo_id: str, entry: FileEntry) -> str:
        """Return a signed CDN URL for ``entry``: content-addressed path, expiry and signature."""
        sha = entry.blob.sha256
        expires = str(math.floor(time.time() + self.cdn_url_ttl))
        name = entry.path.rsplit("/", 1)[-1]
        query = {
            "repo": repo_id,
            "file": entry.path,
            "expires": expires,
            "response-content-disposition": (
                f"inline; filename*=UTF-8''{quote(name)}; filename=\"{quote(name)}\";"
            ),
        }
        query["signature"] = self.cdn_signature(sha, query)
        return f"{self.cdn_url}/repos/{sha[:2]}/{sha[2:4]}/{sha}?{urlencode(query)}"

    def cdn_signature(self, sha256: str, query: Mapping[str, str]) -> str:
        """Return the signature of a CDN URL: HMAC of the blob and the signed query fields."""
        fields = [sha256] + [
            query.get(k, "") for k in ("repo", "file", "expires", "response-content-disposition")
        ]
        return hmac.new(self._secret, "\n".join(fields).encode(), hashlib.sha256).hexdigest()[:32]

    # -- faults -------------------------------------------------------------------------

    def inject(
        self,
        match: FaultMatch,
        *,
        status: int | None = None,
        retry_after: str | None = None,
        headers: Mapping[str, str] | None = None,
        cut_after: int | None = None,
        trickle: tuple[int, float] | None = None,
        corrupt_byte_at: int | None = None,
        delay_headers: float | None = None,
        stall_after: int | None = None,
        times: int | None = 1,
        methods: Collection[str] | None = None,
        origin: Origin | None = None,
    ) -> Fault:
        """Inject a fault; the first matching active fault hits a request.

        Args:
            match: ``(repo_id, filename)`` (resolve and CDN requests of that file;
                ``filename=None`` for any request about the repo), or a regex searched in the
                raw URL path.
            status: answer this status instead of serving (with ``retry_after`` as
                ``Retry-After`` and extra ``headers``, e.g. ``{"X-Error-Code": ...}``).
            cut_after: send the headers with the full ``Content-Length``, then this many body
                bytes, then close the connection.
            trickle: ``(bytes_per_chunk, delay_s)``: send the body slowly.
            corrupt_byte_at: flip (xor 0xFF) the byte at this *file* offset; only hits a
                response whose range contains it.
            delay_headers: wait this long before sending the response headers.
            stall_after: send this many body bytes, then hang without closing until the
                client goes away or the server stops.
            times: how many requests to hit before healing (``None``: until reset).
            methods: only hit these methods (e.g. ``("GET",)``).
            origin: only hit requests to ``"hub"`` or ``"cdn"``.

        Returns:
            The :class:`Fault` (see its ``hits``).

        Raises:
            ValueError: no fault given, or a status combined with a body fault.
        """
        return self.faults.add(
            match,
            methods=methods,
            origin=origin,
            status=status,
            retry_after=retry_after,
            headers=dict(headers or {}),
            cut_after=cut_after,
            trickle=trickle,
            corrupt_byte_at=corrupt_byte_at,
            delay_headers=delay_headers,
            stall_after=stall_after,
            times=times,
        )

    def reset_faults(self) -> None:
        """Remove every injected fault, metadata override (hostile mode) and thin mode."""
        self.faults.clear()
        self.overrides.clear()
        self.thin = None

    def override_metadata(
        self,
        repo_id: str,
        *,
        info: InfoRewrite | None = None,
        resolve_status: int | None = None,
        resolve_headers: Mapping[str, str] | None = None,
        serve_unknown: bytes | None = None,
    ) -> MetadataOverride:
        """Hostile mode: make the server lie about ``repo_id`` until :meth:`reset_faults`.

        Args:
            repo_id: the repository (model) concerned.
            info: rewrites the honest ``model_info`` answer (a deep copy) into the lie, e.g.
                a sibling's ``rfilename`` set to ``"../../x"`` or ``sha`` to ``"../x"``.
            resolve_status: answer every ``resolve`` request of the repo with this status
                and an empty body (e.g. 302 with a ``Location`` in ``resolve_headers``).
            resolve_headers: headers set on every ``resolve`` answer of the repo.
            serve_unknown: while this override is active, answer every URL that names no
                file (any repo) with 200 and these bytes instead of 404.

        Returns:
            The active :class:`MetadataOverride`.
        """
        override = MetadataOverride(
            info=info,
            resolve_status=resolve_status,
            resolve_headers=dict(resolve_headers or {}),
            serve_unknown=serve_unknown,
        )
        self.overrides[repo_id] = override
        return override

    # -- request log --------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot (copy) of the request log, oldest first."""
        with self._lock:
            return list(self._records)

    def clear_requests(self) -> None:
        """Empty the request log and reset the byte counter."""
        with self._lock:
            self._records.clear()
            self._bytes_sent = 0

    @property
    def bytes_sent(self) -> int:
        """Body bytes sent since start or the last :meth:`clear_requests`, on both origins."""
        return self._bytes_sent

    def find_requests(
        self,
        path_filter: RecordFilter | None = None,
        *,
        origin: Origin | None = None,
        method: str | None = None,
    ) -> list[RequestRecord]:
        """Return the logged requests matching every given filter."""
        return [r for r in self.requests if _keep(r, path_filter, origin, method)]

    def max_concurrent(
        self,
        path_filter: RecordFilter | None = None,
        *,
        origin: Origin | None = None,
        method: str | None = None,
    ) -> int:
        """Return the peak number of matching requests that were in flight at the same time.

        A request is in flight from its request line to the end of its response; one ending
        exactly when another starts does not overlap it. Requests still running count as
        running forever.
        """
        events: list[tuple[float, int]] = []
        for record in self.find_requests(path_filter, origin=origin, method=method):
            events.append((record.start_time, 1))
            events.append((math.inf if record.end_time is None else record.end_time, -1))
        events.sort()  # at equal times, -1 sorts before +1
        peak = current = 0
        for _, delta in events:
            current += delta
            peak = max(peak, current)
        return peak

    def _begin(
        self, origin: Origin, method: str, path: str, query: str, headers: dict[str, str]
    ) -> RequestRecord:
        record = RequestRecord(origin, method, path, query, headers, time.monotonic())
        if self.record_requests:
            with self._lock:
                self._records.append(record)
        return record

    def _count(self, record: RequestRecord, n: int) -> None:
        with self._lock:
            record.bytes_sent += n
            self._bytes_sent += n

    def _connection_opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _connection_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)


def _keep(
    record: RequestRecord, path_filter: RecordFilter | None, origin: str | None, method: str | None
) -> bool:
    if origin is not None and record.origin != origin:
        return False
    if method is not None and record.method != method.upper():
        return False
    if path_filter is None:
        return True
    if callable(path_filter) and not isinstance(path_filter, re.Pattern):
        return path_filter(record)
    return re.search(path_filter, record.path) is not None
