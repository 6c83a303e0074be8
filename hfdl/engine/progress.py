"""Counting one model's download: bytes (for the observer and the DB), retries, and stops.

A model's files are fetched by several threads at once (:mod:`hfdl.engine.download`), so
every count here is taken under a lock.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from hfdl.engine.events import RunObserver
from hfdl.errors import Cancelled, LeaseLost

if TYPE_CHECKING:
    # Annotations only: the store (SQLAlchemy) is the caller's to open.
    from hfdl.store import Store

# Progress reaches the DB at most this often, so `hfdl status` in another process can show it
# without every 4 MiB chunk costing a SQLite transaction.
PROGRESS_WRITE_INTERVAL_SECONDS = 2.0


class ModelProgress:
    """Counts a model's bytes; tells the observer, writes the DB now and then, checks stop.

    Several files of one model are fetched at once, so every count is taken under a lock.
    """

    def __init__(
        self,
        *,
        name: str,
        bytes_total: int,
        store: Store,
        attempt_id: int,
        observer: RunObserver,
        stop: threading.Event | None,
    ) -> None:
        self.name = name
        self.bytes_total = bytes_total
        self.bytes_done = 0
        self.bytes_transferred = 0
        self._store = store
        self._attempt_id = attempt_id
        self._observer = observer
        self._stop = stop
        self._last_write = 0.0
        self._lock = threading.Lock()
        # Set when one file failed for good: the model's other files stop where they are.
        self.sibling_failed = threading.Event()

    def add_existing(self, nbytes: int) -> None:
        """Count bytes that were already on disk (complete blobs, partial files)."""
        with self._lock:
            self.bytes_done += nbytes

    def __call__(self, nbytes: int) -> None:
        if self._stop is not None and self._stop.is_set():
            raise Cancelled("the run was asked to stop")
        if self.sibling_failed.is_set():
            raise SiblingFailed
        with self._lock:
            self.bytes_done += nbytes
            done = self.bytes_done
            now = time.monotonic()
            write = now - self._last_write >= PROGRESS_WRITE_INTERVAL_SECONDS
            if write:
                self._last_write = now
        self._observer.model_progress(self.name, done, self.bytes_total)
        if write:
            self.flush()

    def transferred(self, nbytes: int) -> None:
        """Count bytes that came over the network."""
        with self._lock:
            self.bytes_transferred += nbytes

    def forget(self, nbytes: int) -> None:
        """Uncount the bytes a failed try of one file reported (the next try recounts them
        from disk); they did come over the network."""
        with self._lock:
            self.bytes_done -= nbytes
            self.bytes_transferred += max(0, nbytes)

    def flush(self) -> None:
        """Write the current progress to the DB."""
        self._store.update_attempt_progress(self._attempt_id, self.bytes_done, self.bytes_total)


class FileProgress:
    """One file's share of a model's :class:`ModelProgress` (what to uncount if it fails).

    ``lease_lost``: set when the blob's lease in a shared cache was taken over; the next
    chunk then stops the transfer (:class:`~hfdl.errors.LeaseLost`).
    """

    def __init__(self, model: ModelProgress, where: str = "") -> None:
        self.model = model
        self.counted = 0
        self.where = where
        self.lease_lost: threading.Event | None = None

    def __call__(self, nbytes: int) -> None:
        if self.lease_lost is not None and self.lease_lost.is_set():
            raise LeaseLost(
                f"another host took over {self.where}: this run stalled past its lease",
                hint="raise lease_seconds if transfers stall this long on this network",
            )
        self.model(nbytes)
        self.counted += nbytes


class SiblingFailed(Exception):
    """Another file of the model failed for good: this one stops (its partial file stays)."""


class RetryCounter:
    """The model's retry count, shared by its files' threads."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def take(self, limit: int) -> int | None:
        """Count one more retry and return the new count; ``None`` once ``limit`` are spent."""
        with self._lock:
            if self.count >= limit:
                return None
            self.count += 1
            return self.count
