"""Download sessions and attempts in the state database (recovery: hfdl.store.recovery)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from hfdl.store.clock import db_epoch
from hfdl.store.db import Database
from hfdl.store.liveness import process_start
from hfdl.store.models import require_model
from hfdl.store.recovery import finalize_session
from hfdl.store.rows import (
    ATTEMPT_STATUSES,
    SESSION_STATUSES,
    SESSION_TRIGGERS,
    AttemptRow,
    SessionRow,
)
from hfdl.store.tables import attempts, sessions, utc_now

_SESSION_ROW_COLUMNS = [sessions.c[field] for field in SessionRow.__dataclass_fields__]
_ATTEMPT_ROW_COLUMNS = [attempts.c[field] for field in AttemptRow.__dataclass_fields__]

_FINISHED_SESSION_STATUSES = tuple(status for status in SESSION_STATUSES if status != "running")
_FINISHED_ATTEMPT_STATUSES = tuple(status for status in ATTEMPT_STATUSES if status != "running")


def _check_choice(kind: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{kind} must be one of {', '.join(choices)}: {value!r}")


class SessionsMixin(Database):
    """Sessions, attempts and crash recovery. Mixed into :class:`hfdl.store.Store`."""

    def start_session(
        self,
        trigger: str,
        schedule_name: str | None,
        host: str,
        pid: int,
        invocation_id: str | None,
    ) -> int:
        """Record the start of a run.

        Args:
            trigger: ``manual`` or ``timer``.
            schedule_name: the schedule whose timer started the run, if any.
            host: the host id of the run (the ``host_id`` setting, as the store's ``host_id``).
            pid: the running process's id (used by ``recover_interrupted``). Its start
                time is recorded too (``process_start``), so that a later process reusing
                the pid is not taken for the run.
            invocation_id: systemd's ``INVOCATION_ID`` of the service run, if any.

        The session's first heartbeat (``heartbeat_at``, by the database's clock) is written
        with it; the run renews it with :meth:`~hfdl.store.recovery.RecoveryMixin.heartbeat`.

        Returns:
            The new session's id; the session is ``running``.

        Raises:
            ValueError: ``trigger`` is not ``manual`` or ``timer``.
        """
        _check_choice("session trigger", trigger, SESSION_TRIGGERS)
        values = {
            "trigger": trigger,
            "schedule_name": schedule_name,
            "started_at": utc_now(),
            "status": "running",
            "models_total": 0,
            "models_completed": 0,
            "models_failed": 0,
            "models_skipped": 0,
            "bytes_downloaded": 0,
            "host": host,
            "pid": pid,
            "invocation_id": invocation_id,
            "process_start": process_start(pid),
            # The first sign of life, by the database's clock (hfdl.store.staleness).
            "heartbeat_at": db_epoch(),
        }
        with self._write() as connection:
            insert = sessions.insert().values(values).returning(sessions.c.id)
            session_id: int = connection.execute(insert).scalar_one()
            return session_id

    def finish_session(
        self, session_id: int, status: str, *, error: str | None = None
    ) -> SessionRow:
        """Record the end of a run and compute its totals from its attempts.

        Attempts still ``running`` become ``interrupted`` and their models go from
        ``downloading`` back to ``pending``. For each model the session's last attempt
        decides whether it counts as completed, failed or skipped; ``models_total`` is the
        number of distinct models attempted and ``bytes_downloaded`` the sum over attempts.

        Args:
            session_id: the session.
            status: ``completed``, ``failed`` or ``interrupted``.
            error: why the run failed, if it did.

        Returns:
            The finished session.

        Raises:
            ValueError: unknown session or invalid status.
        """
        _check_choice("session end status", status, _FINISHED_SESSION_STATUSES)
        with self._write() as connection:
            require_session(connection, session_id)
            finalize_session(connection, session_id, status, error, utc_now(), self.host_id)
            row = _get_session(connection, session_id)
        assert row is not None
        return row

    def start_attempt(
        self, session_id: int, model_name: str, bytes_total: int | None = None
    ) -> int:
        """Record the start of one model's download in a session.

        Args:
            session_id: the running session.
            model_name: the model (must be in the database).
            bytes_total: the expected download size, if known yet.

        Returns:
            The new attempt's id; the attempt is ``running``.

        Raises:
            ValueError: unknown session.
            ModelNotFound: unknown model.
        """
        now = utc_now()
        values = {
            "session_id": session_id,
            "model_name": model_name,
            "started_at": now,
            "status": "running",
            "bytes_downloaded": 0,
            "bytes_total": bytes_total,
            "retries": 0,
            "progress_updated_at": now,
            "host": self.host_id,
        }
        with self._write() as connection:
            require_session(connection, session_id)
            require_model(connection, model_name)
            insert = attempts.insert().values(values).returning(attempts.c.id)
            attempt_id: int = connection.execute(insert).scalar_one()
            return attempt_id

    def update_attempt_progress(
        self, attempt_id: int, bytes_downloaded: int, bytes_total: int | None = None
    ) -> None:
        """Record download progress (one small write: call it every second or so, not per chunk).

        Args:
            attempt_id: the attempt.
            bytes_downloaded: bytes received so far in this attempt.
            bytes_total: the expected total, when it becomes known (``None`` keeps the old one).

        An unknown ``attempt_id`` changes nothing (progress is best-effort bookkeeping).
        """
        values: dict[str, Any] = {
            "bytes_downloaded": bytes_downloaded,
            "progress_updated_at": utc_now(),
        }
        if bytes_total is not None:
            values["bytes_total"] = bytes_total
        with self._write() as connection:
            connection.execute(update(attempts).where(attempts.c.id == attempt_id).values(values))

    def finish_attempt(
        self,
        attempt_id: int,
        status: str,
        *,
        bytes_downloaded: int,
        retries: int = 0,
        error: str | None = None,
        commit_sha: str | None = None,
    ) -> AttemptRow:
        """Record the end of an attempt; ``duration_seconds`` is computed from its start.

        Args:
            attempt_id: the attempt.
            status: ``completed``, ``failed``, ``skipped`` or ``interrupted``.
            bytes_downloaded: bytes received in this attempt.
            retries: how many times a transfer was retried within the attempt.
            error: what went wrong, for a failed attempt.
            commit_sha: the commit the attempt resolved and downloaded.

        Returns:
            The finished attempt.

        Raises:
            ValueError: unknown attempt or invalid status.
        """
        _check_choice("attempt end status", status, _FINISHED_ATTEMPT_STATUSES)
        now = utc_now()
        with self._write() as connection:
            started_at = connection.scalar(
                select(attempts.c.started_at).where(attempts.c.id == attempt_id)
            )
            if started_at is None:
                raise ValueError(f"no attempt with id {attempt_id}")
            connection.execute(
                update(attempts)
                .where(attempts.c.id == attempt_id)
                .values(
                    status=status,
                    ended_at=now,
                    bytes_downloaded=bytes_downloaded,
                    retries=retries,
                    error=error,
                    commit_sha=commit_sha,
                    duration_seconds=(now - started_at).total_seconds(),
                    progress_updated_at=now,
                )
            )
            row = _get_attempt(connection, attempt_id)
        assert row is not None
        return row

    def get_session(self, session_id: int) -> SessionRow | None:
        """Return the session with this id, or ``None``."""
        with self._read() as connection:
            return _get_session(connection, session_id)

    def latest_session_for_schedule(self, schedule_name: str) -> SessionRow | None:
        """Return the most recently started session of a schedule, or ``None``.

        Args:
            schedule_name: the name the session was started with (``hfdl run --schedule``);
                sessions keep it after the schedule is deleted or renamed.
        """
        return self._one_session(
            select(*_SESSION_ROW_COLUMNS)
            .where(sessions.c.schedule_name == schedule_name)
            .order_by(sessions.c.id.desc())
        )

    def _one_session(self, query: Any) -> SessionRow | None:
        with self._read() as connection:
            row = connection.execute(query.limit(1)).first()
        return None if row is None else SessionRow(**row._mapping)

    def attempts_for_model(self, name: str, limit: int = 20) -> list[AttemptRow]:
        """Return a model's ``limit`` most recent attempts, newest first."""
        return self._attempts(
            select(*_ATTEMPT_ROW_COLUMNS)
            .where(attempts.c.model_name == name)
            .order_by(attempts.c.id.desc())
            .limit(limit)
        )

    def _attempts(self, query: Any) -> list[AttemptRow]:
        with self._read() as connection:
            return [AttemptRow(**row._mapping) for row in connection.execute(query)]


def _get_session(connection: Connection, session_id: int) -> SessionRow | None:
    query = select(*_SESSION_ROW_COLUMNS).where(sessions.c.id == session_id)
    row = connection.execute(query).first()
    return None if row is None else SessionRow(**row._mapping)


def _get_attempt(connection: Connection, attempt_id: int) -> AttemptRow | None:
    row = connection.execute(
        select(*_ATTEMPT_ROW_COLUMNS).where(attempts.c.id == attempt_id)
    ).first()
    return None if row is None else AttemptRow(**row._mapping)


def require_session(connection: Connection, session_id: int) -> None:
    """Raise ValueError unless the database has a session with this id."""
    if connection.scalar(select(sessions.c.id).where(sessions.c.id == session_id)) is None:
        raise ValueError(f"no session with id {session_id}")
