"""What a run tells the outside world while it works, and the plain-log rendering of it.

The engine calls a ``RunObserver``; the CLI picks the rendering: on a TTY, progress bars
(``hfdl.cli.progress``), otherwise one log line per event (``LogObserver``), which under
systemd lands in the journal with structured ``HFDL_*`` fields.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from hfdl.sizes import format_size

logger = logging.getLogger("hfdl.run")


@dataclass(frozen=True)
class ModelOutcome:
    """How one model ended in a run.

    ``status`` is ``completed`` (files downloaded or linked), ``up-to-date`` (nothing to do),
    ``failed`` or ``skipped`` (refused before any byte moved). ``temporary``: it failed on an
    error that trying again later may fix (the Hub unavailable, a stalled transfer, a timeout),
    after the run's own retries were used up.
    """

    name: str
    status: str
    commit_sha: str | None = None
    bytes_downloaded: int = 0
    bytes_total: int = 0
    files_downloaded: int = 0
    retries: int = 0
    duration_seconds: float = 0.0
    error: str | None = None
    hint: str | None = None
    temporary: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the outcome."""
        return asdict(self)


@dataclass(frozen=True)
class RunResult:
    """What a whole run did. ``session_id`` is ``None`` for a dry run.

    ``temporary_failure``: models failed, all of them on errors that trying the run again
    later may fix (the Hub was unavailable); the CLI exits 75 then, which systemd retries.
    """

    session_id: int | None
    status: str
    outcomes: tuple[ModelOutcome, ...]
    bytes_downloaded: int
    duration_seconds: float
    temporary_failure: bool = False

    @property
    def failed(self) -> list[ModelOutcome]:
        """The models that failed or were skipped."""
        return [outcome for outcome in self.outcomes if outcome.status in ("failed", "skipped")]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the result."""
        return {
            "session_id": self.session_id,
            "status": self.status,
            "bytes_downloaded": self.bytes_downloaded,
            "duration_seconds": round(self.duration_seconds, 3),
            "models": [outcome.to_dict() for outcome in self.outcomes],
        }


class RunObserver(Protocol):
    """Receives a run's events. Methods are called from worker threads; keep them quick."""

    def run_started(self, session_id: int | None, models: list[str]) -> None:
        """The run selected these models (in order)."""

    def model_started(self, name: str, bytes_total: int, bytes_done: int, files: int) -> None:
        """A model's download began; ``bytes_done`` were already on disk."""

    def model_progress(self, name: str, bytes_done: int, bytes_total: int) -> None:
        """More bytes of a model arrived (called often)."""

    def model_retry(
        self, name: str, retry_number: int, max_retries: int, error: str, delay: float
    ) -> None:
        """A model's transfer failed and will be retried after ``delay`` seconds."""

    def model_finished(self, outcome: ModelOutcome) -> None:
        """A model completed, was up to date, failed or was skipped."""

    def run_finished(self, result: RunResult) -> None:
        """The run is over."""


def fields(
    event: str,
    *,
    session_id: int | None = None,
    model: str | None = None,
    nbytes: int | None = None,
) -> dict[str, Any]:
    """The structured fields of a log record; the journald handler sends them as ``HFDL_*``."""
    data: dict[str, Any] = {"hfdl_event": event}
    if session_id is not None:
        data["hfdl_session_id"] = session_id
    if model is not None:
        data["hfdl_model"] = model
    if nbytes is not None:
        data["hfdl_bytes"] = nbytes
    return data


def rate(nbytes: int, seconds: float) -> str:
    """A human transfer rate such as ``212.4 MiB/s``."""
    if seconds <= 0:
        return "-"
    return f"{format_size(int(nbytes / seconds))}/s"


class LogObserver:
    """Renders events as one plain log line each (no progress spam)."""

    def __init__(self) -> None:
        self.session_id: int | None = None

    def run_started(self, session_id: int | None, models: list[str]) -> None:
        """Log the session and what it will look at."""
        self.session_id = session_id
        logger.info(
            "session %s started: %d model(s) to check: %s",
            session_id,
            len(models),
            ", ".join(models) if models else "none",
            extra=fields("session-start", session_id=session_id),
        )

    def model_started(self, name: str, bytes_total: int, bytes_done: int, files: int) -> None:
        """Log the start of a model's download."""
        resumed = f", resuming from {format_size(bytes_done)}" if bytes_done else ""
        logger.info(
            "start %s: %d file(s), %s%s",
            name,
            files,
            format_size(bytes_total),
            resumed,
            extra=fields("start", session_id=self.session_id, model=name, nbytes=bytes_total),
        )

    def model_progress(self, name: str, bytes_done: int, bytes_total: int) -> None:
        """Progress is not logged line by line; ``hfdl status`` reads it from the DB."""

    def model_retry(
        self, name: str, retry_number: int, max_retries: int, error: str, delay: float
    ) -> None:
        """Log a retry with its reason and wait."""
        logger.warning(
            "retry %s (%d/%d) in %.1fs: %s",
            name,
            retry_number,
            max_retries,
            delay,
            error,
            extra=fields("retry", session_id=self.session_id, model=name),
        )

    def model_finished(self, outcome: ModelOutcome) -> None:
        """Log how a model ended, with bytes and rate."""
        event_fields = fields(
            "done" if outcome.status in ("completed", "up-to-date") else "failed",
            session_id=self.session_id,
            model=outcome.name,
            nbytes=outcome.bytes_downloaded,
        )
        if outcome.status == "up-to-date":
            logger.info(
                "up to date %s at %s",
                outcome.name,
                (outcome.commit_sha or "")[:12],
                extra=event_fields,
            )
        elif outcome.status == "completed":
            logger.info(
                "done %s at %s: %s downloaded in %.1fs (%s), %d retries",
                outcome.name,
                (outcome.commit_sha or "")[:12],
                format_size(outcome.bytes_downloaded),
                outcome.duration_seconds,
                rate(outcome.bytes_downloaded, outcome.duration_seconds),
                outcome.retries,
                extra=event_fields,
            )
        else:
            hint = f" ({outcome.hint})" if outcome.hint else ""
            logger.error(
                "%s %s: %s%s", outcome.status, outcome.name, outcome.error, hint, extra=event_fields
            )

    def run_finished(self, result: RunResult) -> None:
        """Log the session's summary."""
        counts: dict[str, int] = {}
        for outcome in result.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        summary = (
            ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
            or "nothing to do"
        )
        retries = sum(outcome.retries for outcome in result.outcomes)
        if retries:
            summary += f"; {retries} retries"
        if result.status == "interrupted":
            summary += "; partial files kept for the next run"
        # A stop is not a failure: a warning, so that `journalctl -p err` lists real errors.
        level = {"completed": logging.INFO, "interrupted": logging.WARNING}.get(
            result.status, logging.ERROR
        )
        logger.log(
            level,
            "session %s %s: %s; %s in %.1fs",
            result.session_id,
            result.status,
            summary,
            format_size(result.bytes_downloaded),
            result.duration_seconds,
            extra=fields(
                "session-end", session_id=result.session_id, nbytes=result.bytes_downloaded
            ),
        )
