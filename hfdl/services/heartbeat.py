"""A running session's heartbeat: how other hosts of a fleet tell a live run from a dead one.

The pid of a run on another host cannot be checked, so each run renews its session's
``heartbeat_at`` (by the database's clock) every third of ``lease_seconds`` from a daemon
thread, from the session's start to its end; a session of another host whose heartbeat is
older than twice ``lease_seconds`` reads (and is recovered) as interrupted
(:mod:`hfdl.store.staleness`).

Why a thread of its own rather than the engine's progress writes: a run spends minutes
without any transfer (planning against a slow Hub, waiting in a retry backoff, verifying
hashes of large files after the downloads), and a session must not look dead then. One small
UPDATE every 20 s (the default) costs nothing next to the progress writes.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Self

from hfdl.errors import HfdlError
from hfdl.store import Store
from hfdl.store.staleness import heartbeat_interval_seconds

logger = logging.getLogger("hfdl.run")


class Heartbeat:
    """Renews one session's heartbeat until stopped. Use it as a context manager.

    The first heartbeat is written by ``Store.start_session``; this renews it every
    ``lease_seconds / 3`` seconds. A failed write (database busy or unreachable) is logged
    and retried at the next beat: the run goes on, and only a long outage makes other hosts
    take it as dead.

    Args:
        store: the open store the run writes through (shared with the run's threads).
        session_id: the running session.
        lease_seconds: the ``lease_seconds`` setting.
    """

    def __init__(self, store: Store, session_id: int, lease_seconds: float) -> None:
        self._store = store
        self._session_id = session_id
        self.interval = heartbeat_interval_seconds(lease_seconds)
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"hfdl-heartbeat-{session_id}", daemon=True
        )
        self.beats = 0

    def _beat(self) -> None:
        warned_closed = False
        while not self._stopped.wait(self.interval):
            try:
                alive = self._store.heartbeat(self._session_id)
            except HfdlError as error:
                logger.warning(
                    "session %s: cannot record its heartbeat: %s", self._session_id, error.message
                )
                continue
            self.beats += 1
            if not alive and not warned_closed:
                # Another host found the heartbeat stale (a long database outage) and closed
                # the session; the downloads go on and are recorded as usual.
                logger.warning(
                    "session %s is no longer recorded as running (closed by another host?)",
                    self._session_id,
                )
                warned_closed = True

    def start(self) -> None:
        """Start renewing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and wait for the thread (at most one write in progress)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()
