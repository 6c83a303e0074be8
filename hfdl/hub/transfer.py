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

import contextlib
import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
from filelock import FileLock
from filelock import Timeout as LockTimeout
from huggingface_hub.utils import hf_raise_for_status

from hfdl.errors import (
    AttemptTimeout,
    DiskFullError,
    HubUnavailable,
    IntegrityError,
)
from hfdl.hub.body import ProgressCallback
from hfdl.hub.cache import RepoCache
from hfdl.hub.client import RemoteFile, translate_error
from hfdl.hub.hashing import hash_file, new_hasher
from hfdl.hub.parts import (
    MIN_PART_BYTES,
    SIDECAR_SUFFIX,
    RangedSettings,
    abandon_parts,
)
from hfdl.hub.ranged import (
    RangedOutcome,
    fetch_ranged,
)
from hfdl.hub.stream import open_stream, stream_single, timeout_for


@dataclass(frozen=True)
class TransferResult:
    """What one ``fetch_blob`` call did.

    ``resumed_from`` is how many bytes were already on disk when it started; ``transferred``
    how many bytes it received over the network.
    """

    resumed_from: int
    transferred: int


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
    file_lock: bool = True,
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
        file_lock: take huggingface_hub's lock file of the blob; ``False`` when the caller
            holds the blob's lease in the database instead (a shared cache, where file locks
            are unreliable).

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
    lock: contextlib.AbstractContextManager[object] = (
        FileLock(str(lock_path), timeout=lock_timeout) if file_lock else contextlib.nullcontext()
    )
    try:
        with lock:
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

    def split(reported: int) -> RangedOutcome:
        # The ranged parts report the file's done bytes themselves: take back what was reported.
        progress(-reported)
        assert ranged is not None
        return fetch_ranged(
            url=url,
            headers=headers,
            incomplete=incomplete,
            remote_file=remote_file,
            where=where,
            progress=progress,
            deadline=deadline,
            timeout=timeout_for(stall_timeout, deadline, where),
            settings=ranged,
            open_stream=open_stream,
            check_status=check_status,
        )

    splittable = ranged is not None and ranged.applies_to(expected)
    if splittable and Path(f"{incomplete}{SIDECAR_SUFFIX}").exists():
        # An earlier try split this file: it goes on part by part.
        outcome = split(0)
        if outcome.digest is not None:
            _verify(incomplete, outcome.digest, remote_file, where)
            os.replace(incomplete, blob)
            # Every byte not received now was recorded done before: that is what was resumed.
            return TransferResult(
                resumed_from=expected - outcome.transferred, transferred=outcome.transferred
            )
    # A ranged partial (the server stopped serving ranges, or other settings) becomes a prefix.
    abandon_parts(incomplete)
    existing = repo_cache.partial_size(remote_file.etag)
    if existing > expected:
        # Longer than the file can be: not a prefix of it. Start over.
        os.truncate(incomplete, 0)
        existing = 0
    if existing:
        progress(existing)
    resumed_from = existing
    transferred = 0
    digest: str | None = None

    if existing >= expected:
        # Complete but never published (a crash between the last byte and the rename), or an
        # empty file, which needs no request: make sure the (empty) partial file exists.
        os.close(os.open(incomplete, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
        hasher = new_hasher(remote_file)
        hash_file(incomplete, existing, hasher)
        digest = str(hasher.hexdigest())
    # One try with a speed probe when the file could be split, then (after a split the server
    # refused) one without.
    for probing in (splittable, False):
        if digest is not None:
            break
        existing = repo_cache.partial_size(remote_file.etag)
        stream = stream_single(
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
            probe=probing and expected - existing >= 2 * MIN_PART_BYTES,
            ranged=ranged,
        )
        transferred += stream.received
        if stream.restarted:
            resumed_from = 0
        digest = stream.digest
        if digest is None:
            # Slow: the rest of the file goes as parallel ranges from the received prefix,
            # which is exactly what was reported so far (after a 200 restart too).
            outcome = split(repo_cache.partial_size(remote_file.etag))
            transferred += outcome.transferred
            digest = outcome.digest
            if digest is None:  # the server would not serve ranges after all
                progress(repo_cache.partial_size(remote_file.etag))

    assert digest is not None
    _verify(incomplete, digest, remote_file, where)
    os.replace(incomplete, blob)
    return TransferResult(resumed_from=resumed_from, transferred=transferred)


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
