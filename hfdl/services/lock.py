"""The run lock: at most one ``hfdl run`` works on a state directory at a time."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from hfdl.errors import LockedError, StoreError

LOCK_FILE_NAME = "run.lock"


class RunLock:
    """An exclusive ``flock`` on ``<state_directory>/run.lock``, held for the whole run.

    ``flock`` is released by the kernel when the process dies, even by SIGKILL, so a crashed
    run never leaves a stale lock behind. The file records the holder's pid for messages.

    Args:
        state_directory: where the lock file lives (created 0700 when missing).
        wait: block until the lock is free instead of failing at once.
    """

    def __init__(self, state_directory: Path, *, wait: bool = False) -> None:
        self.path = state_directory / LOCK_FILE_NAME
        self.wait = wait
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            LockedError: another process holds it and ``wait`` is false (exit 75).
            StoreError: the state directory cannot be created.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise StoreError(f"cannot create the run lock {self.path}: {error.strerror}") from error
        flags = fcntl.LOCK_EX if self.wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(descriptor, flags)
        except BlockingIOError as error:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            who = f" (pid {holder})" if holder else ""
            raise LockedError(
                f"another hfdl run is already working{who}; lock {self.path}",
                hint="wait for it to finish, or use `hfdl run --wait` to queue behind it",
            ) from error
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        self._descriptor = descriptor

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


def _read_holder(descriptor: int) -> str:
    try:
        return os.pread(descriptor, 32, 0).decode().strip()
    except OSError:
        return ""
