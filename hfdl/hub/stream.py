"""One connection's worth of a blob transfer: the request, its timeouts, a single stream.

:func:`open_stream` GETs a resolve URL (redirects followed by hand, the token kept from other
origins); :func:`limited_stream` appends one response body to a partial file while holding
one of the host's connection slots, with the speed probe that hands a slow stream over to
parallel ranges (:mod:`hfdl.hub.ranged`). :mod:`hfdl.hub.transfer` decides which to use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlparse

import httpx2
from huggingface_hub.utils import get_session

from hfdl.errors import AttemptTimeout, HubUnavailable, StalledTransfer
from hfdl.hub.body import ProgressCallback, SpeedProbe, stream_body
from hfdl.hub.errormap import transport_error
from hfdl.hub.parts import MIB, RangedSettings, connection_slot
from hfdl.hub.remote import RemoteFile
from hfdl.hub.untrusted import check_redirect

MAX_REDIRECTS = 10
CONNECT_TIMEOUT_SECONDS = 30.0
# The speed probe: a fresh file's first bytes on one connection decide whether to split it.
PROBE_BYTES = 2 * MIB
FAST_CONNECTION_BYTES_PER_SECOND = 64 * MIB


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = urlparse(url)
    return parsed.scheme, (parsed.hostname or "").lower(), parsed.port


def open_stream(
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


@dataclass(frozen=True)
class Stream:
    """What one single stream did: the digest (``None``: stopped by the speed probe, the
    file is a prefix), bytes received, and whether the server ignored ``Range`` (restart)."""

    digest: str | None
    received: int
    restarted: bool


def stream_single(
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
    probe: bool,
    ranged: RangedSettings | None,
) -> Stream:
    """Fetch the rest of the file after its ``existing`` bytes on one connection.

    ``probe``: time the first bytes, and stop early if they come slowly from a server that
    serves ranges (see :mod:`hfdl.hub.ranged`). ``ranged``: the connection limits; the stream
    holds one of its host's slots, as each part of a ranged transfer does, so files fetched
    side by side stay within ``max_connections`` (``None``: no limit).
    """
    with connection_slot(url, ranged):
        return _stream(
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
            probe=probe,
        )


def _stream(
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
    probe: bool,
) -> Stream:
    timeout = timeout_for(stall_timeout, deadline, where)
    try:
        response = open_stream(url, headers, existing, None, timeout)
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
        serves_ranges = response.headers.get("Accept-Ranges", "").lower() == "bytes"
        digest, received = stream_body(
            response,
            incomplete,
            remote_file,
            existing,
            where=where,
            progress=progress,
            deadline=deadline,
            read_timeout=timeout.read,
            probe=(
                SpeedProbe(PROBE_BYTES, FAST_CONNECTION_BYTES_PER_SECOND)
                if probe and serves_ranges
                else None
            ),
        )
    finally:
        response.close()
    return Stream(digest, received, restarted)


def timeout_for(stall_timeout: float, deadline: float | None, where: str) -> httpx2.Timeout:
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
