"""The workers of a parallel ranged transfer: one per part, each on its own connection.

:func:`hfdl.hub.ranged.fetch_ranged` plans the parts and starts the workers; see that module
for the design (probe, fallback, politeness, resume, verification). Here: opening one part's
request (and what a 429/503 or a wrong ``Content-Range`` means), and receiving its body at its
offset of the partial file while recording progress.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2

from hfdl.errors import AttemptTimeout, HubUnavailable, StalledTransfer
from hfdl.hub.body import ProgressCallback, direct_socket, receive_exact
from hfdl.hub.errormap import transport_error
from hfdl.hub.hashing import FileHasher
from hfdl.hub.parts import MIB, HostLimiter, PartTable

# How often (bytes of one part) its progress is recorded: the most a kill loses per part.
SIDECAR_FLUSH_BYTES = 1 * MIB
# Retries of one part answered 429/503 before the attempt fails (the engine retries it later).
THROTTLE_RETRIES = 8
MAX_THROTTLE_DELAY_SECONDS = 30.0

OpenStream = Callable[[str, dict[str, str], int, int | None, httpx2.Timeout], httpx2.Response]
CheckStatus = Callable[[httpx2.Response], None]


@dataclass
class Transfer:
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


def probe(transfer: Transfer, index: int) -> httpx2.Response | None:
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


def _request(transfer: Transfer, index: int) -> httpx2.Response | float:
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


def _throttle_delay(transfer: Transfer, index: int, retry_after: str | None) -> float:
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


def worker(
    transfer: Transfer,
    index: int,
    response: httpx2.Response | None,
) -> None:
    """Fetch part ``index`` to its end.

    ``response``: the first part's, already open (it checked that the server serves ranges)
    and holding a slot; ``None`` for the others, which open their own.
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
                receive_part(transfer, index, response)
            finally:
                response.close()
                response = None
                transfer.limiter.release()
    except BaseException as error:  # handed to the calling thread
        if transfer.error is None:
            transfer.error = error
        transfer.abort.set()
    finally:
        if response is not None:  # aborted before streaming the first part's response
            response.close()
            transfer.limiter.release()


def receive_part(transfer: Transfer, index: int, response: httpx2.Response) -> None:
    """Write the body of one part at its offset, recording progress every flush interval.

    Raises:
        HubUnavailable, StalledTransfer, AttemptTimeout: as ``fetch_blob``; returns quietly
        when another part failed (the bytes written so far stay recorded).
    """
    start, end, done = transfer.parts.parts[index]
    position = start + done
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
            raise Aborted
        if transfer.deadline is not None and time.monotonic() > transfer.deadline:
            raise AttemptTimeout(f"the attempt's time limit ran out during {transfer.where}")

    try:
        chunks = response.iter_raw()
        write(next(chunks, b""))
        sock = direct_socket(response, end - position, min_bytes=0)
        if sock is None:
            for chunk in chunks:
                write(chunk)
        elif position < end:
            receive_exact(
                sock,
                end - position,
                write,
                read_timeout=transfer.timeout.read,
                describe=lambda: f"a part of {transfer.where}",
            )
    except Aborted:
        return
    except httpx2.TimeoutException as error:
        raise StalledTransfer(f"a part of {transfer.where} stalled") from error
    except httpx2.TransportError as error:
        raise HubUnavailable(f"the connection broke during {transfer.where}: {error}") from error
    if position < end:
        raise HubUnavailable(f"a part of {transfer.where} ended early")


class Aborted(Exception):
    """Another part failed: this one stops where it is (its progress is recorded)."""
