"""The run lock: at most one ``hfdl run`` works on a state directory at a time."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from types import TracebackType

from hfdl.errors import Cancelled, LockedError, StoreError

LOCK_FILE_NAME = "run.lock"
# How often a waiting run tries the lock again: polling (not a blocking flock) lets a stop
# signal and the wait's time bound end the wait.
_POLL_SECONDS = 0.2

logger = logging.getLogger("hfdl.run")


class RunLock:
    """An exclusive ``flock`` on ``<state_directory>/run.lock``, held for the whole run.

    ``flock`` is released by the kernel when the process dies, even by SIGKILL, so a crashed
    run never leaves a stale lock behind. The file records the holder's pid for messages.

    Args:
        state_directory: where the lock file lives (created 0700 when missing).
        wait: block until the lock is free instead of failing at once.
        wait_timeout: with ``wait``, give up after this many seconds (``None``: no bound).
        stop: with ``wait``, stop waiting when this is set (a signal asked the run to stop).

    After :meth:`acquire`, ``waited_seconds`` is how long it waited (``None`` when the lock
    was free) and ``holder`` who held it then (``pid 123 (session 7)``).
    """

    def __init__(
        self,
        state_directory: Path,
        *,
        wait: bool = False,
        wait_timeout: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.path = state_directory / LOCK_FILE_NAME
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.stop = stop
        self.waited_seconds: float | None = None
        self.holder: str | None = None
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            LockedError: another process holds it and ``wait`` is false, or it still held
                it after ``wait_timeout`` seconds (exit 75).
            Cancelled: ``stop`` was set while waiting.
            StoreError: the state directory cannot be created.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise StoreError(f"cannot create the run lock {self.path}: {error.strerror}") from error
        try:
            _flock_past_probes(descriptor)
        except BlockingIOError as error:
            holder = _read_holder(descriptor)
            if not self.wait:
                os.close(descriptor)
                who = f" ({holder})" if holder else ""
                raise LockedError(
                    f"another hfdl run is already working{who}; lock {self.path}",
                    hint="wait for it to finish, or use `hfdl run --wait` to queue behind it",
                ) from error
            self._wait_for(descriptor, holder)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        self._descriptor = descriptor

    def _wait_for(self, descriptor: int, holder: str) -> None:
        """Poll the lock until it is free, logging the wait when it starts and ends.

        Raises:
            LockedError: still held after ``wait_timeout`` seconds.
            Cancelled: ``stop`` was set.
        """
        self.holder = holder or "an unknown process"
        logger.info("waiting for the run lock held by %s", self.holder)
        started = time.monotonic()
        deadline = None if self.wait_timeout is None else started + self.wait_timeout
        while True:
            if self.stop is not None and self.stop.wait(_POLL_SECONDS):
                os.close(descriptor)
                raise Cancelled("stopped while waiting for the run lock")
            if self.stop is None:
                time.sleep(_POLL_SECONDS)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    os.close(descriptor)
                    raise LockedError(
                        f"gave up after waiting {self.wait_timeout:.0f}s for the run lock held "
                        f"by {_read_holder_path(self.path) or self.holder}; lock {self.path}",
                        hint="a run held the lock for very long; see `hfdl status`",
                    ) from None
                continue
            self.waited_seconds = time.monotonic() - started
            logger.info(
                "acquired the run lock after waiting %.1fs (it was held by %s)",
                self.waited_seconds,
                self.holder,
            )
            return

    def record_session(self, session_id: int) -> None:
        """Write the session this lock's run recorded next to its pid, for waiting runs'
        messages ("held by pid 123 (session 7)")."""
        if self._descriptor is not None:
            os.ftruncate(self._descriptor, 0)
            os.pwrite(self._descriptor, f"{os.getpid()}\n{session_id}\n".encode(), 0)

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._descriptor is not None:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _flock_past_probes(descriptor: int) -> None:
    """Take the exclusive lock without blocking, trying again for a few milliseconds.

    ``hfdl status`` probes the lock with a shared lock it drops at once
    (:func:`hfdl.store.liveness.run_lock_held`); a run starting in that instant must not take
    the probe for a run and fail.

    Raises:
        BlockingIOError: the lock is still held (by a run, or by cleanup).
    """
    for _ in range(5):
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.01)
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_holder(descriptor: int) -> str:
    """Who holds the lock, from its file: ``pid 123 (session 7)``, or ``""`` if unknown."""
    try:
        lines = os.pread(descriptor, 64, 0).decode().split()
    except (OSError, UnicodeDecodeError):
        return ""
    if not lines:
        return ""
    session = f" (session {lines[1]})" if len(lines) > 1 else " (no session yet)"
    return f"pid {lines[0]}{session}"


def _read_holder_path(path: Path) -> str:
    """:func:`_read_holder` by path (the holder may have changed while we waited)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        return _read_holder(descriptor)
    finally:
        os.close(descriptor)
