"""Hashing a blob while it downloads, in a thread that reads back what was written.

The network thread only receives and writes; a ``FileHasher`` thread follows it through the
partial file (``pread`` into one reused buffer), so on two or more cores hashing overlaps the
transfer instead of adding to it. Because it hashes the file, not the chunks in flight:

* memory stays bounded by one buffer per transfer, whatever the file size or chunk size;
* on a resume, hashing the bytes already on disk overlaps the transfer of the rest;
* what is verified is exactly what is on disk, the bytes that will be published.

No ``huggingface_hub`` import here: only ``hashlib`` and the file.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

from hfdl.hub.remote import RemoteFile
from hfdl.hub.writeback import WRITEBACK_STEP_BYTES, start_writeback

# One read per step; large enough that per-call costs vanish, small enough to stay in cache.
READ_BLOCK_BYTES = 1024 * 1024
# Files up to this size are hashed inline (a thread would cost more than it saves).
INLINE_HASH_MAX_BYTES = 4 * 1024 * 1024
# The hasher thread re-checks for new bytes at least this often (seconds), even unwoken.
_POLL_SECONDS = 0.02


def hasher_for(size: int, is_lfs: bool) -> Any:
    """A hashlib object for the digest the Hub names a file by: sha256 (LFS) or git blob sha1.

    Args:
        size: the file's size in bytes (part of the git blob header).
        is_lfs: whether the file is stored with LFS.
    """
    if is_lfs:
        return hashlib.sha256()
    # A git blob id is sha1 over a "blob <size>\0" header followed by the content.
    hasher = hashlib.sha1(usedforsecurity=False)
    hasher.update(b"blob %d\0" % size)
    return hasher


def new_hasher(remote_file: RemoteFile) -> Any:
    """A hashlib object for the file's expected digest (see :func:`hasher_for`)."""
    return hasher_for(remote_file.size, remote_file.is_lfs)


def hash_file(path: os.PathLike[str], length: int, hasher: Any) -> None:
    """Feed the first ``length`` bytes of ``path`` to ``hasher`` (inline, one reused buffer)."""
    buffer = bytearray(READ_BLOCK_BYTES)
    view = memoryview(buffer)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        offset = 0
        while offset < length:
            got = os.preadv(fd, [view[: min(READ_BLOCK_BYTES, length - offset)]], offset)
            if got <= 0:
                break
            hasher.update(view[:got])
            offset += got
    finally:
        os.close(fd)


class FileHasher:
    """Hashes a growing file in a background thread, up to what the writer reports written.

    The writer calls :meth:`advance` after each write; the thread reads and hashes from the
    start of the file up to that point, and keeps following. :meth:`finish` waits until
    everything written is hashed and returns the hex digest. Behind itself, every
    ``WRITEBACK_STEP_BYTES``, it asks the kernel to start writing the new bytes to disk
    (``sync_file_range``, which may block on a busy disk: better here than in the receiver).

    Args:
        path: the partial file (opened read-only here).
        hasher: a fresh hashlib object (see :func:`new_hasher`).
        written: bytes already in the file (hashed first, overlapping the transfer).
    """

    def __init__(self, path: os.PathLike[str], hasher: Any, written: int) -> None:
        self._hasher = hasher
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._written = written
        self._hashed = 0
        self._flushed = written  # what was on disk before this transfer is not ours to flush
        self._done_writing = False
        self._cancelled = False
        self._error: BaseException | None = None
        self._wake = threading.Condition()
        self._waiting = False
        self._thread = threading.Thread(target=self._run, name="hfdl-hash", daemon=True)
        self._thread.start()

    @property
    def hashed(self) -> int:
        """Bytes hashed so far."""
        return self._hashed

    def advance(self, nbytes: int) -> None:
        """Report ``nbytes`` more bytes written to the file (called by the writer thread)."""
        self._written += nbytes
        if self._waiting and self._written - self._hashed >= READ_BLOCK_BYTES:
            with self._wake:
                self._wake.notify()

    def finish(self) -> str:
        """Wait until every written byte is hashed; return the hex digest.

        Raises:
            OSError: reading the file back failed.
        """
        with self._wake:
            self._done_writing = True
            self._wake.notify()
        self._thread.join()
        self._close()
        if self._error is not None:
            raise self._error
        return str(self._hasher.hexdigest())

    def cancel(self) -> None:
        """Stop hashing and release the file (the transfer failed; the digest is unwanted)."""
        with self._wake:
            self._cancelled = True
            self._wake.notify()
        self._thread.join()
        self._close()

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _run(self) -> None:
        buffer = bytearray(READ_BLOCK_BYTES)
        view = memoryview(buffer)
        try:
            while not self._cancelled:
                available = self._written - self._hashed
                # Whole blocks while the writer is busy (fewer, larger reads); the tail at the end.
                if available >= READ_BLOCK_BYTES or (self._done_writing and available > 0):
                    want = min(READ_BLOCK_BYTES, available)
                    got = os.preadv(self._fd, [view[:want]], self._hashed)
                    if got <= 0:
                        raise OSError(
                            f"the partial file ended at {self._hashed} of {self._written} bytes"
                        )
                    self._hasher.update(view[:got])
                    self._hashed += got
                    if self._hashed - self._flushed >= WRITEBACK_STEP_BYTES:
                        start_writeback(self._fd, self._flushed, self._hashed - self._flushed)
                        self._flushed = self._hashed
                    continue
                with self._wake:
                    if self._done_writing and self._written == self._hashed:
                        return
                    if self._cancelled or self._done_writing:
                        continue
                    if self._written - self._hashed >= READ_BLOCK_BYTES:
                        continue
                    self._waiting = True
                    # A wake-up missed between the check and the wait costs one poll period.
                    self._wake.wait(_POLL_SECONDS)
                    self._waiting = False
        except BaseException as error:  # handed to the writer thread by finish()
            self._error = error
