"""The fleet's view of the state database: one summary per host that ever wrote to it.

``hfdl status --fleet`` reads it through :class:`FleetReader`, the reports' reader
(:class:`~hfdl.store.reader.StateReader`: plain ``sqlite3`` or psycopg, one snapshot, no
SQLAlchemy) with one more query set. Sessions are seen as the reader sees them everywhere: a
running session whose run is gone (this host: its pid; another host: its heartbeat, see
:mod:`hfdl.store.staleness`) reads as ``interrupted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hfdl.store.reader import StateReader
from hfdl.store.record_reader import RecordReader
from hfdl.store.rows import AttemptRow, SessionRow, stored_timestamp

_SESSIONS = RecordReader(SessionRow, "sessions")
_ATTEMPTS = RecordReader(AttemptRow, "attempts")


@dataclass(frozen=True)
class HostSummary:
    """What one host of the fleet did last and is doing now.

    ``last_session`` is its most recently started session; ``running_session`` the one whose
    run is alive (``None`` when idle), with ``running_attempts`` its attempts in order.
    ``failed_models`` are the catalog's models (not removed) whose status is ``failed`` and
    whose failure this host recorded, by name. ``last_heartbeat_at`` is its sessions' latest
    heartbeat (database clock), ``heartbeat_age_seconds`` how long ago that was by the
    database's clock; ``last_ended_at`` its sessions' latest end.
    """

    host: str
    last_session: SessionRow | None
    running_session: SessionRow | None
    running_attempts: tuple[AttemptRow, ...]
    failed_models: tuple[str, ...]
    last_heartbeat_at: datetime | None
    heartbeat_age_seconds: float | None
    last_ended_at: datetime | None

    @property
    def last_seen(self) -> datetime | None:
        """When the host last showed life: its latest heartbeat, session end or start."""
        candidates = [self.last_heartbeat_at, self.last_ended_at]
        if self.last_session is not None:
            candidates.append(self.last_session.started_at)
        known = [moment for moment in candidates if moment is not None]
        return max(known) if known else None


class FleetReader(StateReader):
    """A :class:`~hfdl.store.reader.StateReader` that also summarises every host.

    Takes the same arguments and raises the same errors.
    """

    def hosts(self) -> list[HostSummary]:
        """One summary per host id found in the sessions, attempts or models, sorted by id."""
        names = sorted(
            str(host)
            for (host,) in self._rows(
                "SELECT host FROM sessions UNION SELECT host FROM attempts WHERE host IS NOT NULL"
                " UNION SELECT host FROM models WHERE host IS NOT NULL"
            )
        )
        last = {
            session.host: self._as_seen(session)
            for session in (
                _SESSIONS.build(row)
                for row in self._rows(
                    f"{_SESSIONS.select} WHERE id IN (SELECT max(id) FROM sessions GROUP BY host)"
                )
            )
        }
        running = self._running_by_host()
        failed = self._failed_models_by_host()
        database_now = self.database_now()
        signs = {
            str(host): (heartbeat_at, stored_timestamp(ended_at))
            for host, heartbeat_at, ended_at in self._rows(
                "SELECT host, max(heartbeat_at), max(ended_at) FROM sessions GROUP BY host"
            )
        }
        summaries = []
        for host in names:
            heartbeat_at, ended_at = signs.get(host, (None, None))
            session = running.get(host)
            summaries.append(
                HostSummary(
                    host=host,
                    last_session=last.get(host),
                    running_session=session,
                    running_attempts=tuple(
                        self.attempts_for_session(session.id) if session else ()
                    ),
                    failed_models=tuple(failed.get(host, ())),
                    last_heartbeat_at=(
                        None
                        if heartbeat_at is None
                        else datetime.fromtimestamp(float(heartbeat_at), UTC)
                    ),
                    heartbeat_age_seconds=(
                        None if heartbeat_at is None else database_now - float(heartbeat_at)
                    ),
                    last_ended_at=ended_at,
                )
            )
        return summaries

    def _running_by_host(self) -> dict[str, SessionRow]:
        """Each host's most recently started session whose run is alive."""
        interrupted = self.interrupted_session_ids()
        running: dict[str, SessionRow] = {}
        for row in self._rows(f"{_SESSIONS.select} WHERE status = 'running' ORDER BY id DESC"):
            session: SessionRow = _SESSIONS.build(row)
            if session.id not in interrupted:
                running.setdefault(session.host, session)
        return running

    def _failed_models_by_host(self) -> dict[str, list[str]]:
        """The failed models (not removed) by the host that recorded the failure.

        That host is the model's ``host`` (who last changed its state); for rows written
        before hosts were recorded, the host of the session of its latest failed attempt.
        """
        rows = self._rows(
            "SELECT coalesce(models.host, attempts.host, sessions.host), models.name"
            " FROM models LEFT JOIN attempts ON attempts.id ="
            " (SELECT max(latest.id) FROM attempts AS latest"
            "  WHERE latest.model_name = models.name AND latest.status = 'failed')"
            " LEFT JOIN sessions ON sessions.id = attempts.session_id"
            " WHERE models.status = 'failed' AND models.removed = FALSE"
            " ORDER BY models.name"
        )
        failed: dict[str, list[str]] = {}
        for host, name in rows:
            if host is not None:
                failed.setdefault(str(host), []).append(str(name))
        return failed
