"""Download one blob into the HF cache: resume from a partial file, verify, then publish.

huggingface_hub 2.4's ``hf_hub_download`` opens its ``.incomplete`` file afresh on every call,
so an interrupted multi-gigabyte file starts over. This module keeps the library's building
blocks (its shared HTTP session, headers, error types and cache layout) but owns the streaming
loop, so that it can:

* resume from the bytes already on disk with ``Range: bytes=N-`` (across runs and processes),
* hash while streaming (sha256 for LFS files, git blob sha1 otherwise) and refuse a file whose
  size or hash differs from the Hub's metadata *before* it is renamed into ``blobs/``,
* abort a stalled transfer (no byte for ``stall_timeout`` seconds) and bound a whole attempt,
* never send the ``Authorization`` header to a CDN origin the Hub redirects to,
* fetch a large file as parallel byte ranges when ``ranged`` allows it (:mod:`hfdl.hub.ranged`).
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlparse

import httpx2
from filelock import FileLock
from filelock import Timeout as LockTimeout
from huggingface_hub.utils import get_session, hf_raise_for_status

from hfdl.errors import (
    AttemptTimeout,
    DiskFullError,
    HubUnavailable,
    IntegrityError,
    StalledTransfer,
)
from hfdl.hub.body import ProgressCallback, stream_body
from hfdl.hub.cache import RepoCache
from hfdl.hub.client import RemoteFile, translate_error
from hfdl.hub.errormap import transport_error
from hfdl.hub.hashing import hash_file, new_hasher
from hfdl.hub.parts import RangedSettings, abandon_parts, limiter_for
from hfdl.hub.ranged import fetch_ranged
from hfdl.hub.untrusted import check_redirect

MAX_REDIRECTS = 10
CONNECT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class TransferResult:
    """What one ``fetch_blob`` call did.

    ``resumed_from`` is how many bytes were already on disk when it started; ``transferred``
    how many bytes it received over the network.
    """

    resumed_from: int
    transferred: int


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = urlparse(url)
    return parsed.scheme, (parsed.hostname or "").lower(), parsed.port


def _open_stream(
    url: str,
    headers: dict[str, str],
    range_start: int,
    range_end: int | None,
    timeout: httpx2.Timeout,
) -> httpx2.Response:
    """GET ``url`` as a stream, following redirects by hand.

    Redirects within the Hub's origin keep the headers; a redirect to another origin (a CDN
    with a signed URL) drops ``Authorization`` so the token never leaves the Hub.

    Raises:
        UntrustedMetadata: a redirect to anything but an http or https URL with a host.
        HubUnavailable: too many redirects.
    """
    session = get_session()
    request_headers = dict(headers)
    request_headers["Accept-Encoding"] = "identity"  # sizes and offsets are of the raw bytes
    if range_end is not None:  # one part of a ranged transfer (end inclusive)
        request_headers["Range"] = f"bytes={range_start}-{range_end}"
    elif range_start > 0:
        request_headers["Range"] = f"bytes={range_start}-"
    current = url
    for _ in range(MAX_REDIRECTS):
        request = session.build_request("GET", current, headers=request_headers, timeout=timeout)
        response = session.send(request, stream=True, follow_redirects=False)
        if not response.has_redirect_location:
            return response
        target = urljoin(current, response.headers["Location"])
        response.close()
        # Only http(s) with a host: never file://, a local socket or another scheme.
        check_redirect(current, target)
        if _origin(target) != _origin(current):
            request_headers = {
                key: value
                for key, value in request_headers.items()
                if key.lower() != "authorization"
            }
        current = target
    raise HubUnavailable(f"too many redirects fetching {url}")


def fetch_blob(
    *,
    url: str,
    headers: dict[str, str],
    repo_cache: RepoCache,
    remote_file: RemoteFile,
    repo_id: str,
    commit_sha: str,
    progress: ProgressCallback,
    stall_timeout: float,
    deadline: float | None = None,
    ranged: RangedSettings | None = None,
) -> TransferResult:
    """Make ``blobs/<etag>`` hold the verified content of ``remote_file``.

    Resumes from ``blobs/<etag>.incomplete`` when present. The blob appears in ``blobs/``
    only after its size and hash matched; on a mismatch the partial file is deleted.

    Args:
        url: the file's ``resolve`` URL at ``commit_sha``.
        headers: request headers (user agent, authorization).
        repo_cache: the repository's cache paths.
        remote_file: the Hub's metadata of the file (size and expected hash).
        repo_id: for error messages.
        commit_sha: for error messages.
        progress: called with the number of new bytes as they arrive (and with the bytes
            already on disk at the start of a resume).
        stall_timeout: seconds without a byte before the transfer is abandoned.
        deadline: ``time.monotonic()`` value after which the attempt is abandoned.
        ranged: connections allowed for parallel ranges; ``None``: always one stream.

    Returns:
        What was resumed and transferred.

    Raises:
        HubUnavailable, StalledTransfer, AttemptTimeout: retryable; the partial file stays.
        IntegrityError: size or hash mismatch (retryable; the partial file is removed).
        DiskFullError: the disk filled up.
        HubError subclasses: permanent HTTP errors (not found, gated).
        UntrustedMetadata: a redirect to a non-http(s) URL (permanent).
        UnsafePath: a path of the blob would leave the model's cache folders.
    """
    # Every path is checked to stay inside the model's cache folders before any is created.
    blob = repo_cache.blob_path(remote_file.etag)
    lock_path = repo_cache.lock_path(remote_file.etag)
    repo_cache.incomplete_path(remote_file.etag)
    blob.parent.mkdir(parents=True, exist_ok=True)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # The same lock huggingface_hub takes, so a loader downloading this blob at the same
    # moment does not interleave writes with us.
    lock_timeout = -1.0 if deadline is None else max(1.0, deadline - time.monotonic())
    try:
        with FileLock(str(lock_path), timeout=lock_timeout):
            if repo_cache.has_blob(remote_file.etag, remote_file.size):
                return TransferResult(resumed_from=remote_file.size, transferred=0)
            return _fetch_locked(
                url=url,
                headers=headers,
                repo_cache=repo_cache,
                remote_file=remote_file,
                repo_id=repo_id,
                commit_sha=commit_sha,
                progress=progress,
                stall_timeout=stall_timeout,
                deadline=deadline,
                blob=blob,
                ranged=ranged,
            )
    except LockTimeout as error:
        raise AttemptTimeout(
            f"another process kept {remote_file.path} of {repo_id} locked until the deadline"
        ) from error
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(
                f"the disk holding {repo_cache.cache_dir} is full while writing "
                f"{remote_file.path} of {repo_id}",
                hint="free space or lower settings.max_total_size; the partial file is kept "
                "and the next run resumes it",
            ) from error
        raise


def _fetch_locked(
    *,
    url: str,
    headers: dict[str, str],
    repo_cache: RepoCache,
    remote_file: RemoteFile,
    repo_id: str,
    commit_sha: str,
    progress: ProgressCallback,
    stall_timeout: float,
    deadline: float | None,
    blob: os.PathLike[str],
    ranged: RangedSettings | None,
) -> TransferResult:
    where = f"{repo_id}@{commit_sha[:12]} {remote_file.path}"
    incomplete = repo_cache.incomplete_path(remote_file.etag)
    expected = remote_file.size
    # The resolve URL is "<endpoint>/<repo>/resolve/...": the hints (e.g. where to accept
    # gated terms) name the Hub, not the file.
    endpoint = url.split(f"/{repo_id}/resolve/", 1)[0]

    def check_status(response: httpx2.Response) -> None:
        try:
            hf_raise_for_status(response)
        except Exception as error:
            raise translate_error(
                error,
                repo_id=repo_id,
                revision=commit_sha,
                endpoint=endpoint,
                path=remote_file.path,
            ) from error

    probed = 0
    if ranged is not None and ranged.applies_to(expected):
        outcome = fetch_ranged(
            url=url,
            headers=headers,
            incomplete=incomplete,
            remote_file=remote_file,
            where=where,
            progress=progress,
            deadline=deadline,
            timeout=_timeout(stall_timeout, deadline, where),
            settings=ranged,
            open_stream=_open_stream,
            check_status=check_status,
        )
        if outcome.digest is not None:
            _verify(incomplete, outcome.digest, remote_file, where)
            os.replace(incomplete, blob)
            # Every byte not received now was recorded done before: that is what was resumed.
            return TransferResult(
                resumed_from=expected - outcome.transferred, transferred=outcome.transferred
            )
        # A speed probe's bytes came over the network: the single stream resumes after them.
        probed = outcome.transferred
    # A ranged partial (this run's fallback, or a run with other settings) becomes a prefix.
    abandon_parts(incomplete)
    existing = repo_cache.partial_size(remote_file.etag)
    if existing > expected:
        # Longer than the file can be: not a prefix of it. Start over.
        os.truncate(incomplete, 0)
        existing = 0
    if existing:
        progress(existing)
    resumed_from = max(0, existing - probed)
    transferred = probed

    if existing >= expected:
        # Complete but never published (a crash between the last byte and the rename), or an
        # empty file, which needs no request: make sure the (empty) partial file exists.
        os.close(os.open(incomplete, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
        hasher = new_hasher(remote_file)
        hash_file(incomplete, existing, hasher)
        digest = str(hasher.hexdigest())
    else:
        # One stream takes one of the host's connection slots, as each part of a ranged
        # transfer does: files fetched side by side stay within max_connections.
        limiter = None if ranged is None else limiter_for(url, ranged.max_connections)
        if limiter is not None:
            limiter.acquire()
        try:
            digest, received, restarted = _stream_single(
                url=url,
                headers=headers,
                incomplete=incomplete,
                remote_file=remote_file,
                existing=existing,
                where=where,
                progress=progress,
                stall_timeout=stall_timeout,
                deadline=deadline,
                check_status=check_status,
            )
        finally:
            if limiter is not None:
                limiter.release()
        transferred += received
        if restarted:
            resumed_from = 0

    _verify(incomplete, digest, remote_file, where)
    os.replace(incomplete, blob)
    return TransferResult(resumed_from=resumed_from, transferred=transferred)


def _stream_single(
    *,
    url: str,
    headers: dict[str, str],
    incomplete: os.PathLike[str],
    remote_file: RemoteFile,
    existing: int,
    where: str,
    progress: ProgressCallback,
    stall_timeout: float,
    deadline: float | None,
    check_status: Callable[[httpx2.Response], None],
) -> tuple[str, int, bool]:
    """Fetch the rest of the file after its ``existing`` bytes on one connection.

    Returns:
        The whole file's digest, the bytes received, and whether the server ignored the
        ``Range`` and the file was started over.
    """
    timeout = _timeout(stall_timeout, deadline, where)
    try:
        response = _open_stream(url, headers, existing, None, timeout)
    except httpx2.TimeoutException as error:
        raise StalledTransfer(f"no answer within {stall_timeout:g}s for {where}") from error
    except httpx2.TransportError as error:
        # A refused certificate is permanent; a broken connection is retried.
        raise transport_error(error, f"connection failed for {where}") from error
    restarted = False
    try:
        if response.status_code >= 400:
            response.read()
            check_status(response)
        if existing and response.status_code == 200:
            # The server ignored our Range header: the body starts at byte 0.
            os.truncate(incomplete, 0)
            progress(-existing)
            existing = 0
            restarted = True
        elif existing and response.status_code == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {existing}-"):
                raise HubUnavailable(f"unexpected Content-Range {content_range!r} for {where}")
        digest, received = stream_body(
            response,
            incomplete,
            remote_file,
            existing,
            where=where,
            progress=progress,
            deadline=deadline,
            read_timeout=timeout.read,
        )
    finally:
        response.close()
    return digest, received, restarted


def _timeout(stall_timeout: float, deadline: float | None, where: str) -> httpx2.Timeout:
    """Timeouts of one request: a read may not block past the attempt's deadline either."""
    if deadline is None:
        return httpx2.Timeout(
            connect=CONNECT_TIMEOUT_SECONDS, read=stall_timeout, write=stall_timeout, pool=None
        )
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise AttemptTimeout(f"time ran out before {where}")
    return httpx2.Timeout(
        connect=min(CONNECT_TIMEOUT_SECONDS, remaining),
        read=min(stall_timeout, remaining),
        write=min(stall_timeout, remaining),
        pool=None,
    )


def _verify(incomplete: os.PathLike[str], digest: str, remote_file: RemoteFile, where: str) -> None:
    size = os.stat(incomplete).st_size
    if size != remote_file.size:
        if size > remote_file.size:
            os.unlink(incomplete)
        raise HubUnavailable(f"{where} is incomplete: {size} of {remote_file.size} bytes")
    expected = remote_file.sha256 if remote_file.is_lfs else remote_file.blob_id
    if expected and digest != expected:
        os.unlink(incomplete)
        kind = "sha256" if remote_file.is_lfs else "git blob sha1"
        raise IntegrityError(
            f"{where} failed verification: {kind} {digest} != expected {expected}; "
            "the file was discarded and will be fetched again"
        )
