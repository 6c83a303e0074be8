"""``sd_notify`` STATUS lines for ``systemctl status`` while a run works.

Example: ``3/8 models, 1.2 GiB of 4.5 GiB, 210.0 MiB/s, retrying org/model (2/5)``. Sent at
most once a second, and only when systemd gave us a ``NOTIFY_SOCKET``. The last line says how
the run ended: ``finished: completed``, or for a stop ``stopped by SIGTERM; 2/8 models done;
partial files kept``, so that ``systemctl status`` never shows a stale progress line.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Protocol

from hfdl.engine.events import ModelOutcome, RunObserver, RunResult
from hfdl.sizes import format_size

MIN_INTERVAL_SECONDS = 1.0


class Notifier(Protocol):
    """What sends a notification line to systemd (``sdnotify.SystemdNotifier``)."""

    def notify(self, state: str) -> None:
        """Send ``state`` (e.g. ``STATUS=...``)."""


class NotifyObserver:
    """Forwards every event to ``inner`` and keeps systemd's STATUS= up to date.

    Args:
        inner: the observer that renders events (logs or progress bars).
        notifier: an object with ``notify(str)``; by default ``sdnotify.SystemdNotifier``.
    """

    def __init__(self, inner: RunObserver, notifier: Notifier | None = None) -> None:
        self.inner = inner
        if notifier is None:
            import sdnotify

            notifier = sdnotify.SystemdNotifier()
        self._notifier: Notifier = notifier
        self._lock = threading.Lock()
        self._models_total = 0
        self._models_done = 0
        self._bytes: dict[str, tuple[int, int]] = {}
        self._retrying: str | None = None
        self._started = time.monotonic()
        self._last_sent = 0.0
        self.stopped_by: str | None = None

    def _send(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_sent < MIN_INTERVAL_SECONDS:
                return
            self._last_sent = now
            done = sum(pair[0] for pair in self._bytes.values())
            total = sum(pair[1] for pair in self._bytes.values())
            elapsed = max(now - self._started, 1e-6)
            parts = [
                f"{self._models_done}/{self._models_total} models",
                f"{format_size(done)} of {format_size(total)}",
                f"{format_size(int(done / elapsed))}/s",
            ]
            if self._retrying:
                parts.append(self._retrying)
            status = ", ".join(parts)
        self._notifier.notify(f"STATUS={status}")

    def run_started(self, session_id: int | None, models: list[str]) -> None:
        """Count the models of the run."""
        self._models_total = len(models)
        self._started = time.monotonic()
        self.inner.run_started(session_id, models)
        self._send(force=True)

    def model_started(self, name: str, bytes_total: int, bytes_done: int, files: int) -> None:
        """Start counting a model's bytes."""
        with self._lock:
            self._bytes[name] = (bytes_done, bytes_total)
        self.inner.model_started(name, bytes_total, bytes_done, files)
        self._send()

    def model_progress(self, name: str, bytes_done: int, bytes_total: int) -> None:
        """Update a model's bytes (throttled)."""
        with self._lock:
            self._bytes[name] = (bytes_done, bytes_total)
        self.inner.model_progress(name, bytes_done, bytes_total)
        self._send()

    def model_retry(
        self, name: str, retry_number: int, max_retries: int, error: str, delay: float
    ) -> None:
        """Say which model is retrying."""
        self._retrying = f"retrying {name} ({retry_number}/{max_retries})"
        self.inner.model_retry(name, retry_number, max_retries, error, delay)
        self._send(force=True)

    def model_finished(self, outcome: ModelOutcome) -> None:
        """Count a finished model."""
        with self._lock:
            self._models_done += 1
            if self._retrying and outcome.name in self._retrying:
                self._retrying = None
        self.inner.model_finished(outcome)
        self._send(force=True)

    def run_finished(self, result: RunResult) -> None:
        """Report the final state (for a stop: by what, how far it got, what was kept)."""
        self.inner.run_finished(result)
        if result.status == "interrupted":
            with self._lock:
                done, total = self._models_done, self._models_total
            self._notifier.notify(
                f"STATUS=stopped by {self.stopped_by or 'request'}; {done}/{total} models done;"
                " partial files kept"
            )
            return
        self._notifier.notify(f"STATUS=finished: {result.status}")


def record_stop_signal(observer: RunObserver, signal_name: str) -> None:
    """Tell a :class:`NotifyObserver` which signal stopped the run (for its last STATUS=).

    Args:
        observer: the run's observer; anything but a ``NotifyObserver`` is left alone.
        signal_name: e.g. ``SIGTERM``.
    """
    if isinstance(observer, NotifyObserver):
        observer.stopped_by = signal_name


def wrap_for_systemd(observer: RunObserver) -> RunObserver:
    """Add STATUS= notifications when systemd is listening (``NOTIFY_SOCKET`` set)."""
    if os.environ.get("NOTIFY_SOCKET"):
        return NotifyObserver(observer)
    return observer
