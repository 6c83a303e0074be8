"""Parallel ranged transfers: one large blob fetched as several byte ranges at once.

A CDN caps each connection (issue 11: 16 MiB/s per connection, 50 ms to the first byte), so
one stream cannot fill the link. Here a file of at least ``2 * MIN_PART_BYTES`` is split into
up to ``connections_per_file`` parts; each part GETs ``Range: bytes=a-b`` and writes at its own
offset of the pre-sized ``<etag>.incomplete`` file (``pwrite``), so nothing is held in memory
but one receive buffer per connection.

Resuming: a sidecar ``<etag>.incomplete.parts`` (JSON, replaced atomically) records how far
each part got. It is rewritten every ``SIDECAR_FLUSH_BYTES`` of a part, so a SIGKILL loses at
most that much per part; the bytes past a part's recorded offset are simply fetched again.
The sidecar is written *before* the file is grown to its full size: a file without a sidecar
is always a plain prefix (what the single-stream path writes), never a sparse one.

Falling back: the first request is the probe. A ``200`` to it (the server ignored ``Range``)
or a ``206`` without ``Accept-Ranges: bytes`` means one stream. For a fresh file the probe is
also a speed test: its first ``PROBE_BYTES``, timed from the headers on, arriving at
``FAST_CONNECTION_BYTES_PER_SECOND`` or more mean one connection is enough (parallel parts
would only cost CPU and push the hash to the end). In both cases the file is cut back to the
prefix that is known good, the sidecar is deleted, and the caller's single-stream path takes
over (which itself truncates to zero on a ``200``), so bytes are never appended to a body
that started elsewhere. A slow probe connection is not wasted: it goes on as part 0.

Politeness: every part takes a slot of its host's :class:`HostLimiter` (``max_connections``
per host, shared by all files of the process). A 429 or 503 on a part halves the host's
allowed connections (down to 1) and retries that part after ``Retry-After`` or a backoff;
each part that completes doubles the allowance back up to the cap.

Verification is unchanged: the whole file is hashed (sha256 or git blob sha1) by a background
hasher that follows the leading run of finished bytes and catches up once every part is done;
the caller checks size and digest before publishing.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from hfdl.errors import AttemptTimeout, HubUnavailable, StalledTransfer
from hfdl.hub.body import ProgressCallback, direct_socket
from hfdl.hub.errormap import transport_error
from hfdl.hub.hashing import FileHasher, new_hasher
from hfdl.hub.parts import (
    MIB,
    SIDECAR_SUFFIX,
    HostLimiter,
    PartTable,
    RangedSettings,
    abandon_parts,
    limiter_for,
)
from hfdl.hub.remote import RemoteFile

# How often (bytes of one part) its progress is recorded: the most a kill loses per part.
SIDECAR_FLUSH_BYTES = 1 * MIB
RECEIVE_BUFFER_BYTES = 1 * MIB
# Retries of one part answered 429/503 before the attempt fails (the engine retries it later).
THROTTLE_RETRIES = 8
# The speed probe: a fresh file's first bytes on one connection decide whether to split it.
PROBE_BYTES = 2 * MIB
FAST_CONNECTION_BYTES_PER_SECOND = 64 * MIB
MAX_THROTTLE_DELAY_SECONDS = 30.0

OpenStream = Callable[[str, dict[str, str], int, int | None, httpx2.Timeout], httpx2.Response]
CheckStatus = Callable[[httpx2.Response], None]


@dataclass
class _Transfer:
    """What every part worker of one file shares."""

    url: str
    headers: dict[str, str]
    parts: PartTable
    fd: int
    where: str
    progress: ProgressCallback
    deadline: float | None
    timeout: httpx2.Timeout
    open_stream: OpenStream
    check_status: CheckStatus
    limiter: HostLimiter
    abort: threading.Event
    progress_lock: threading.Lock
    transferred: int = 0
    error: BaseException | None = None
    # Hashes the leading run of finished bytes while the parts stream (see fetch_ranged).
    hasher: FileHasher | None = None
    hashed_prefix: int = 0
    throttles: dict[int, int] = field(default_factory=dict)  # part index -> 429/503 seen


def fetch_ranged(
    *,
    url: str,
    headers: dict[str, str],
    incomplete: Path,
    remote_file: RemoteFile,
    where: str,
    progress: ProgressCallback,
    deadline: float | None,
    timeout: httpx2.Timeout,
    settings: RangedSettings,
    open_stream: OpenStream,
    check_status: CheckStatus,
) -> tuple[str, int] | None:
    """Fetch the missing parts of ``remote_file`` in parallel; return (digest, bytes received).

    Returns ``None`` when the server will not serve ranges or one connection is fast enough:
    the partial file is then a plain prefix again (sidecar gone) for the caller's single
    stream.

    Raises:
        The errors of ``fetch_blob``; the parts done so far stay recorded for the next try.
    """
    size = remote_file.size
    parts = PartTable.load_or_plan(incomplete, size, settings.connections_per_file)
    parts.save()  # before the file grows: a sized file always has its sidecar
    fd = os.open(incomplete, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        os.ftruncate(fd, size)
        already = parts.done_bytes()
        if already:
            progress(already)
        transfer = _Transfer(
            url=url,
            headers=headers,
            parts=parts,
            fd=fd,
            where=where,
            progress=progress,
            deadline=deadline,
            timeout=timeout,
            open_stream=open_stream,
            check_status=check_status,
            limiter=limiter_for(url, settings.max_connections),
            abort=threading.Event(),
            progress_lock=threading.Lock(),
        )
        todo = [i for i, (a, b, d) in enumerate(parts.parts) if d < b - a]
        first = None
        sock: _Resume | None = None
        fallback = False
        if todo:
            first = _probe(transfer, todo[0])
            fallback = first is None  # the server does not serve ranges
            if first is not None and not already:
                # A fresh file: time its first PROBE_BYTES on one connection. A connection that
                # fast needs no company (parallel streams would only add CPU and leave the hash
                # to the end); a slow one (a capped CDN, a long round trip) gets it.
                # Timed from the headers on: the rate of the connection, not its latency.
                asked = time.monotonic()
                try:
                    sock = _receive_part(transfer, todo[0], first, stop_at=PROBE_BYTES)
                except BaseException:
                    first.close()
                    transfer.limiter.release()
                    raise
                rate = PROBE_BYTES / max(time.monotonic() - asked, 1e-6)
                fallback = rate >= FAST_CONNECTION_BYTES_PER_SECOND
                if fallback:
                    # Finish part 0 on this connection (closing it mid-body would waste what
                    # the server already sent), then the single stream takes the rest.
                    try:
                        if sock is not None:
                            _receive_part(transfer, todo[0], first, resume=sock)
                    finally:
                        first.close()
                        first, sock = None, None
                        transfer.limiter.release()
        if fallback:
            # One stream: the file goes back to a plain prefix that the caller's single
            # stream resumes (and reports again, hence the negative progress).
            parts.save()
            progress(-parts.done_bytes())
            os.close(fd)
            fd = -1
            abandon_parts(incomplete)
            return None
        # The hash is sequential: it follows the file's leading run of finished bytes during
        # the transfer (part 0 as it streams, then each next part once its predecessors are
        # done), and catches up on the rest at the end.
        transfer.hashed_prefix = parts.prefix()
        transfer.hasher = FileHasher(incomplete, new_hasher(remote_file), transfer.hashed_prefix)
        try:
            threads = [
                threading.Thread(
                    target=_worker,
                    args=(transfer, index, first if n == 0 else None, sock if n == 0 else None),
                    daemon=True,
                )
                for n, index in enumerate(todo)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if todo:
                parts.save()
            if transfer.error is not None:
                raise transfer.error
            os.fsync(fd)  # durable before the rename publishes it
            digest = transfer.hasher.finish()
        finally:
            transfer.hasher.cancel()  # a no-op after finish()
    finally:
        if fd >= 0:
            os.close(fd)
    Path(f"{incomplete}{SIDECAR_SUFFIX}").unlink(missing_ok=True)
    return digest, transfer.transferred


def _probe(transfer: _Transfer, index: int) -> httpx2.Response | None:
    """Open the first part's request; ``None`` (closed) if the server does not do ranges."""
    while True:
        transfer.limiter.acquire(transfer.abort)
        try:
            answer = _request(transfer, index)
        except BaseException:
            transfer.limiter.release()
            raise
        if isinstance(answer, httpx2.Response):
            break
        transfer.limiter.release()  # never sleep on a slot another file could use
        transfer.abort.wait(answer)
    ranges = answer.headers.get("Accept-Ranges", "").lower() == "bytes"
    if answer.status_code == 206 and ranges:
        return answer  # its slot passes to the worker that streams it
    answer.close()
    transfer.limiter.release()
    return None


def _request(transfer: _Transfer, index: int) -> httpx2.Response | float:
    """GET the rest of part ``index``; after a 429/503, the seconds to wait before retrying.

    Raises:
        HubUnavailable: a wrong ``Content-Range``, a 200 mid-transfer, or too many 429s.
    """
    start, end, done = transfer.parts.parts[index]
    first = start + done
    try:
        response = transfer.open_stream(
            transfer.url, transfer.headers, first, end - 1, transfer.timeout
        )
    except httpx2.TimeoutException as error:
        raise StalledTransfer(f"no answer for a part of {transfer.where}") from error
    except httpx2.TransportError as error:
        # A refused certificate is permanent; a broken connection is retried.
        raise transport_error(error, f"connection failed for {transfer.where}") from error
    if response.status_code in (429, 503):
        response.close()
        transfer.limiter.throttled()
        return _throttle_delay(transfer, index, response.headers.get("Retry-After"))
    if response.status_code >= 400:
        response.read()
        transfer.check_status(response)  # raises the translated error
    if response.status_code == 206:
        content_range = response.headers.get("Content-Range", "")
        if not content_range.startswith(f"bytes {first}-{end - 1}/"):
            response.close()
            raise HubUnavailable(f"unexpected Content-Range {content_range!r} for {transfer.where}")
    return response


def _throttle_delay(transfer: _Transfer, index: int, retry_after: str | None) -> float:
    """How long to wait before asking for part ``index`` again: ``Retry-After``, else 0.5 s
    doubling per 429/503 of that part (at most ``MAX_THROTTLE_DELAY_SECONDS``).
    """
    count = transfer.throttles.get(index, 0) + 1
    transfer.throttles[index] = count
    if count > THROTTLE_RETRIES:
        raise HubUnavailable(f"the server kept throttling parts of {transfer.where}")
    try:
        delay = float(retry_after) if retry_after else 0.25 * 2**count
    except ValueError:
        delay = 0.25 * 2**count
    delay = min(delay, MAX_THROTTLE_DELAY_SECONDS)
    if transfer.deadline is not None and time.monotonic() + delay > transfer.deadline:
        raise AttemptTimeout(
            f"the attempt's time limit would pass while throttled: {transfer.where}"
        )
    return delay


def _worker(
    transfer: _Transfer,
    index: int,
    response: httpx2.Response | None,
    sock: _Resume | None,
) -> None:
    """Fetch part ``index`` to its end.

    ``response``: the speed probe's, already open and holding a slot; ``sock``: its socket,
    which the rest of its body is read from.
    """
    try:
        while not transfer.abort.is_set():
            start, end, done = transfer.parts.parts[index]
            if done >= end - start:
                transfer.limiter.succeeded()
                return
            if response is None:
                if not transfer.limiter.acquire(transfer.abort):
                    return
                try:
                    answer = _request(transfer, index)
                except BaseException:
                    transfer.limiter.release()
                    raise
                if not isinstance(answer, httpx2.Response):
                    transfer.limiter.release()  # the wait holds no slot
                    transfer.abort.wait(answer)
                    continue
                response = answer
            try:
                if response.status_code != 206:
                    raise HubUnavailable(
                        f"the server stopped serving ranges in the middle of {transfer.where}"
                    )
                _receive_part(transfer, index, response, resume=sock)
                sock = None
            finally:
                response.close()
                response = None
                transfer.limiter.release()
    except BaseException as error:  # handed to the calling thread
        if transfer.error is None:
            transfer.error = error
        transfer.abort.set()
    finally:
        if response is not None:  # aborted before streaming the probe's response
            response.close()
            transfer.limiter.release()


def _receive_part(
    transfer: _Transfer,
    index: int,
    response: httpx2.Response,
    stop_at: int | None = None,
    resume: _Resume | None = None,
) -> _Resume | None:
    """Write the body of one part at its offset, recording progress every flush interval.

    ``stop_at``: return once the file holds the part's bytes up to this offset (the speed
    probe); the response is then left unfinished. ``resume``: the socket returned by that
    earlier call, to read the rest of the body from (the library's parser is not used again).

    Returns:
        The socket the body was read from directly and the library's iterator over the
        body (kept alive: dropping it would close the connection), or ``None`` when the
        body went through the library's loop.
    """
    start, end, done = transfer.parts.parts[index]
    position = start + done
    limit = end if stop_at is None else min(end, stop_at)
    unflushed = 0

    def write(data: bytes | memoryview) -> None:
        nonlocal position, unflushed
        size = len(data)
        if not size:
            return
        if position + size > end:
            raise HubUnavailable(f"the server sent more than a part's bytes for {transfer.where}")
        view = memoryview(data)
        while view:
            written = os.pwrite(transfer.fd, view, position)
            view = view[written:]
            position += written
        transfer.parts.advance(index, size)
        unflushed += size
        if unflushed >= SIDECAR_FLUSH_BYTES:
            unflushed = 0
            transfer.parts.save()
        with transfer.progress_lock:
            transfer.transferred += size
            if transfer.hasher is not None:
                prefix = transfer.parts.prefix()
                if prefix > transfer.hashed_prefix:
                    transfer.hasher.advance(prefix - transfer.hashed_prefix)
                    transfer.hashed_prefix = prefix
            transfer.progress(size)
        if transfer.abort.is_set():
            raise _Aborted
        if transfer.deadline is not None and time.monotonic() > transfer.deadline:
            raise AttemptTimeout(f"the attempt's time limit ran out during {transfer.where}")

    read_timeout = transfer.timeout.read
    try:
        if resume is not None:
            sock: socket.socket | None = resume[0]
            chunks = resume[1]  # with no socket, the library's loop goes on below
        else:
            chunks = response.iter_raw()
            write(next(chunks, b""))
            sock = direct_socket(response, end - position, min_bytes=0)
        if sock is None:
            for chunk in chunks:
                write(chunk)
                if position >= limit:
                    break
        else:
            buffer = memoryview(bytearray(RECEIVE_BUFFER_BYTES))
            sock.settimeout(read_timeout)
            while position < limit:
                try:
                    got = sock.recv_into(buffer, min(RECEIVE_BUFFER_BYTES, limit - position))
                except TimeoutError as error:
                    raise StalledTransfer(f"a part of {transfer.where} stalled") from error
                except OSError as error:
                    raise HubUnavailable(
                        f"the connection broke during {transfer.where}: {error}"
                    ) from error
                if not got:
                    raise HubUnavailable(f"the server closed a part of {transfer.where} early")
                write(buffer[:got])
    except _Aborted:
        return None
    except httpx2.TimeoutException as error:
        raise StalledTransfer(f"a part of {transfer.where} stalled") from error
    except httpx2.TransportError as error:
        raise HubUnavailable(f"the connection broke during {transfer.where}: {error}") from error
    if position < limit:
        raise HubUnavailable(f"a part of {transfer.where} ended early")
    return sock, chunks


_Resume = tuple[socket.socket | None, Iterator[bytes]]


class _Aborted(Exception):
    """Another part failed: this one stops where it is (its progress is recorded)."""
