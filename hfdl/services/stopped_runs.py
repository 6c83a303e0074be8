"""What ``hfdl stop`` stopped: the run services that were working, and how their sessions ended.

Read through the light :class:`~hfdl.store.reader.StateReader` (no SQLAlchemy), before the
stop (which sessions were running) and after it (how each one was recorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hfdl.config import Settings
from hfdl.store.rows import SessionRow
from hfdl.systemd.units import service_unit_name


@dataclass(frozen=True)
class StoppedRun:
    """A run service ``hfdl stop`` stopped, and how its session ended.

    ``session_id`` is ``None`` when the run had not started a session yet (it was waiting
    for the run lock, or starting up); the model lists are then empty.
    """

    service: str
    session_id: int | None = None
    session_status: str | None = None
    models_done: list[str] = field(default_factory=list)
    models_interrupted: list[str] = field(default_factory=list)
    models_failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "service": self.service,
            "session_id": self.session_id,
            "session_status": self.session_status,
            "models_done": self.models_done,
            "models_interrupted": self.models_interrupted,
            "models_failed": self.models_failed,
        }

    def describe(self) -> str:
        """One line: ``hfdl-run@nightly.service: session 12 interrupted; 1 model(s) done;
        org/a interrupted (partial files kept)``."""
        if self.session_id is None:
            return f"{self.service}: no session had started (it was starting or waiting)"
        parts = [
            f"{self.service}: session {self.session_id} {self.session_status}",
            f"{len(self.models_done)} model(s) done",
        ]
        if self.models_interrupted:
            names = ", ".join(self.models_interrupted)
            parts.append(f"{names} interrupted (partial files kept, the next run resumes them)")
        if self.models_failed:
            parts.append(f"{', '.join(self.models_failed)} failed")
        return "; ".join(parts)


def running_sessions(settings: Settings) -> dict[int, SessionRow]:
    """The sessions recorded ``running`` whose run is alive, by id (read-only; ``{}`` when
    there is no database). Usually at most one: runs take the run lock."""
    if not settings.database_exists():
        return {}
    from hfdl.errors import HfdlError
    from hfdl.services.state import open_reader

    try:
        reader = open_reader(settings)
    except HfdlError:
        return {}
    try:
        session = reader.running_session()
        return {session.id: session} if session is not None else {}
    finally:
        reader.close()


def stopped_runs(
    settings: Settings, services: list[str], sessions_before: dict[int, SessionRow]
) -> list[StoppedRun]:
    """What each stopped service's session recorded once it stopped."""
    if not services:
        return []
    from hfdl.services.state import open_reader

    by_service = {
        service_unit_name(session.schedule_name or ""): session
        for session in sessions_before.values()
    }
    stopped = []
    reader = None
    if by_service:
        reader = open_reader(settings)
    try:
        for service in services:
            before = by_service.get(service)
            if before is None or reader is None:
                stopped.append(StoppedRun(service=service))
                continue
            session = reader.latest_sessions_by_schedule().get(before.schedule_name or "", before)
            attempts = reader.attempts_for_session(before.id)
            stopped.append(
                StoppedRun(
                    service=service,
                    session_id=session.id,
                    session_status=session.status,
                    models_done=[a.model_name for a in attempts if a.status == "completed"],
                    models_interrupted=[
                        a.model_name for a in attempts if a.status in ("interrupted", "running")
                    ],
                    models_failed=[
                        a.model_name for a in attempts if a.status in ("failed", "skipped")
                    ],
                )
            )
    finally:
        if reader is not None:
            reader.close()
    return stopped
