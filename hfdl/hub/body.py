"""Streaming one response body into a blob's partial file, hashing it on the way.

``huggingface_hub``'s own loop (``response.iter_raw()``) hands over the body in 64 KiB
``bytes`` objects, each copied several times on its way through ``httpcore``'s HTTP/1.1
parser; on a fast link that loop, not the network, is the limit. For a large body this module
takes the first chunk through that same loop (which empties the parser's buffer), then reads
the rest of the ``Content-Length`` body straight from the connection's socket (the
``network_stream`` that ``httpcore`` exposes on every response) into one reused buffer:
one kernel copy in, one write out. The connection is then closed rather than pooled, since its
parser never saw the body. Anything unusual (no or another ``Content-Length``, another HTTP
version, TLS inside TLS) keeps the library's loop.

Bytes go to the file as they arrive, unbuffered: a crash or SIGKILL loses nothing that was
received, and those bytes are exactly what the next run resumes from. Hashing runs in a
:class:`~hfdl.hub.hashing.FileHasher` thread that reads the file back, overlapping the transfer;
that thread also starts the file's writeback as it goes, so the receiving thread never waits
on the disk until the final ``fsync``.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2

from hfdl.errors import AttemptTimeout, HubUnavailable, IntegrityError, StalledTransfer
from hfdl.hub.hashing import INLINE_HASH_MAX_BYTES, FileHasher, hash_file, new_hasher
from hfdl.hub.remote import RemoteFile

# Bodies at least this large are read from the socket directly (the connection is then not
# reused: a new one costs a handshake, which a large body amortizes).
DIRECT_READ_MIN_BYTES = 16 * 1024 * 1024
# One receive at most: the socket gives what it has, up to this.
RECEIVE_BUFFER_BYTES = 1024 * 1024
# Reads are gathered until at least this much is in the buffer before it is written out.
FILL_BYTES = 256 * 1024

ProgressCallback = Callable[[int], None]


class SpeedProbe:
    """Times a single stream's first bytes: too slow means parallel ranges would do better.

    Args:
        probe_bytes: how many bytes decide (timed from the response headers on: the rate of
            the connection, not its latency).
        fast_bytes_per_second: at or above this rate, the one stream goes on to the end.
    """

    def __init__(self, probe_bytes: int, fast_bytes_per_second: float) -> None:
        self.probe_bytes = probe_bytes
        self.fast_bytes_per_second = fast_bytes_per_second
        self.started = time.monotonic()

    def too_slow(self, received: int) -> bool:
        """Whether ``received`` bytes since the start came slower than the fast rate."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return received / elapsed < self.fast_bytes_per_second


class _SlowStream(Exception):
    """The speed probe found the connection slow: the stream stops, ranged parts take over."""


class _PartialFile:
    """The partial file being appended to: writes, counts, hashes, reports, checks limits."""

    def __init__(
        self,
        incomplete: os.PathLike[str],
        remote_file: RemoteFile,
        existing: int,
        where: str,
        progress: ProgressCallback,
        deadline: float | None,
        probe: SpeedProbe | None = None,
    ) -> None:
        self.expected = remote_file.size
        self._probe = probe
        self.existing = existing
        self.received = 0
        self.where = where
        self._progress = progress
        self._deadline = deadline
        self.fd = os.open(incomplete, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
        self._inline: Any = None
        self._background: FileHasher | None = None
        try:
            if self.expected <= INLINE_HASH_MAX_BYTES:
                self._inline = new_hasher(remote_file)
                if existing:
                    hash_file(incomplete, existing, self._inline)
            else:
                self._background = FileHasher(incomplete, new_hasher(remote_file), existing)
        except BaseException:
            os.close(self.fd)
            raise

    @property
    def position(self) -> int:
        """Bytes in the file now."""
        return self.existing + self.received

    def append(self, data: bytes | memoryview) -> None:
        """Write ``data`` at the end of the file, hash it, report it, check the deadline."""
        size = len(data)
        if not size:
            return
        if self.position + size > self.expected:
            raise IntegrityError(
                f"the server sent more than {self.expected} bytes for {self.where}"
            )
        _write_all(self.fd, data)
        self.received += size
        if self._background is not None:
            self._background.advance(size)
        else:
            self._inline.update(data)
        self._progress(size)
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise AttemptTimeout(f"the attempt's time limit ran out during {self.where}")
        if self._probe is not None and self.received >= self._probe.probe_bytes:
            probe, self._probe = self._probe, None
            if probe.too_slow(self.received):
                raise _SlowStream

    def finish(self) -> str:
        """Wait for the hasher; return the hex digest of the whole file."""
        if self._background is not None:
            background, self._background = self._background, None
            return background.finish()
        return str(self._inline.hexdigest())

    def cancel(self) -> None:
        """Stop the hasher thread, if any (the transfer failed)."""
        if self._background is not None:
            background, self._background = self._background, None
            background.cancel()

    def close(self) -> None:
        """Make the bytes durable and release the file (on success and on error alike).

        Durable before the file can be renamed into place (a power loss must not leave a
        published blob with missing data), and kept on error for the next resume. The hasher
        keeps reading meanwhile.
        """
        try:
            os.fsync(self.fd)
        finally:
            os.close(self.fd)


def stream_body(
    response: httpx2.Response,
    incomplete: os.PathLike[str],
    remote_file: RemoteFile,
    existing: int,
    *,
    where: str,
    progress: ProgressCallback,
    deadline: float | None,
    read_timeout: float | None,
    probe: SpeedProbe | None = None,
) -> tuple[str | None, int]:
    """Append the response body to the partial file; return the file's digest and bytes read.

    With a ``probe``, a connection found slow stops early: the digest is then ``None`` and the
    file holds a plain prefix (everything received, durable) for ranged parts to go on from.

    Args:
        response: an open streaming response (status already checked).
        incomplete: the partial file; ``existing`` bytes of it are kept and hashed first.
        remote_file: size and kind of hash expected.
        existing: bytes already in the file that this body continues.
        where: names the file in error messages.
        progress: called with each number of new bytes.
        deadline: ``time.monotonic()`` after which the attempt is abandoned.
        read_timeout: seconds without a byte before the transfer counts as stalled.
        probe: times the first bytes (see :class:`SpeedProbe`); ``None``: read to the end.

    Raises:
        StalledTransfer, HubUnavailable, AttemptTimeout, IntegrityError: as ``fetch_blob``.
        OSError: writing the file failed (a full disk among others).
    """
    partial = _PartialFile(incomplete, remote_file, existing, where, progress, deadline, probe)
    chunks: Iterator[bytes] | None = None
    try:
        try:
            chunks = response.iter_raw()
            # The first chunk empties whatever the parser buffered along with the headers.
            partial.append(next(chunks, b""))
            raw = direct_socket(response, partial.expected - partial.position)
            if raw is not None:
                _receive_into(raw, partial, read_timeout)
            else:
                for chunk in chunks:
                    partial.append(chunk)
        except httpx2.TimeoutException as error:
            raise StalledTransfer(
                f"the transfer of {where} stalled (no data) after {partial.position} bytes"
            ) from error
        except httpx2.TransportError as error:
            raise HubUnavailable(
                f"the connection broke during {where} after {partial.position} bytes: {error}"
            ) from error
        finally:
            if chunks is not None:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            partial.close()
        return partial.finish(), partial.received
    except _SlowStream:
        return None, partial.received
    finally:
        partial.cancel()  # a no-op after finish(); on an error, stops the hasher thread


def direct_socket(
    response: httpx2.Response, remaining: int, min_bytes: int = DIRECT_READ_MIN_BYTES
) -> socket.socket | None:
    """The connection's socket, when the rest of the body can be read from it directly.

    Only for a plain HTTP/1.1 body of exactly ``remaining`` bytes (``Content-Length``, no
    transfer or content coding) that is large enough, on a socket that carries it in the clear
    or through its own TLS (``ssl.SSLSocket``); never for TLS inside TLS (a proxy tunnel).
    ``min_bytes``: smaller bodies keep the library's loop (ranged parts pass 0: each part's
    connection is its own and is closed after it anyway).
    """
    if remaining < min_bytes or response.http_version != "HTTP/1.1":
        return None
    headers = response.headers
    if "transfer-encoding" in headers:
        return None
    if headers.get("content-encoding", "identity").lower() != "identity":
        return None
    try:
        length = int(headers.get("content-length", ""))
    except ValueError:
        return None
    stream = response.extensions.get("network_stream")
    if stream is None or not hasattr(stream, "get_extra_info"):
        return None
    sock = stream.get_extra_info("socket")
    if not isinstance(sock, socket.socket):
        return None
    ssl_object = stream.get_extra_info("ssl_object")
    if ssl_object is not None and (
        isinstance(ssl_object, ssl.SSLObject) or not isinstance(sock, ssl.SSLSocket)
    ):
        return None
    # The first chunk already came through the parser: what is left must be the rest.
    received = response.num_bytes_downloaded
    if length - received != remaining:
        return None
    return sock


def _receive_into(sock: socket.socket, partial: _PartialFile, read_timeout: float | None) -> None:
    """Receive the rest of the body from ``sock``, appending it to the partial file."""
    receive_exact(
        sock,
        partial.expected - partial.position,
        partial.append,
        read_timeout=read_timeout,
        describe=lambda: f"the transfer of {partial.where} after {partial.position} bytes",
    )


def receive_exact(
    sock: socket.socket,
    remaining: int,
    write: Callable[[memoryview], None],
    *,
    read_timeout: float | None,
    describe: Callable[[], str],
) -> None:
    """Receive exactly ``remaining`` bytes from ``sock`` into one reused buffer.

    ``write`` gets the bytes in chunks of at least ``FILL_BYTES`` (less only for the last):
    a TLS socket hands over one 16 KiB record per read, and paying a write, a hash step and a
    progress report per record costs more than the decryption. Bytes already received are
    handed to ``write`` before an error is raised, so a resume never fetches them again.

    Args:
        sock: the connection, positioned at the body.
        remaining: the bytes still expected.
        write: takes each filled chunk (a view into the reused buffer: copy to keep it).
        read_timeout: seconds without a byte before the transfer counts as stalled.
        describe: names the transfer for error messages ("the transfer of X after N bytes").

    Raises:
        StalledTransfer: no byte for ``read_timeout`` seconds.
        HubUnavailable: the connection broke or closed before ``remaining`` bytes.
    """
    buffer = memoryview(bytearray(RECEIVE_BUFFER_BYTES))
    sock.settimeout(read_timeout)
    while remaining > 0:
        want = min(RECEIVE_BUFFER_BYTES, remaining)
        enough = min(FILL_BYTES, want)
        filled = 0
        try:
            while filled < enough:
                try:
                    got = sock.recv_into(buffer[filled:want])
                except TimeoutError as error:
                    raise StalledTransfer(f"{describe()} stalled (no data)") from error
                except OSError as error:
                    raise HubUnavailable(
                        f"the connection broke during {describe()}: {error}"
                    ) from error
                if not got:
                    raise HubUnavailable(
                        f"the connection broke during {describe()}: the server closed it before"
                        " the end of the body"
                    )
                filled += got
        finally:
            if filled:
                write(buffer[:filled])
        remaining -= filled


def _write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte (a write may take only part of the data)."""
    written = os.write(fd, data)
    if written == len(data):
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]
