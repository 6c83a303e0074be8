"""Download sessions and attempts in the state database, and recovery after a crash."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from hfdl.store.db import Database
from hfdl.store.liveness import process_gone, process_start
from hfdl.store.models import require_model
from hfdl.store.rows import (
    ATTEMPT_STATUSES,
    SESSION_STATUSES,
    SESSION_TRIGGERS,
    AttemptRow,
    SessionRow,
)
from hfdl.store.tables import attempts, models, sessions, utc_now

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
            host: this machine's host name.
            pid: the running process's id (used by :meth:`recover_interrupted`). Its start
                time is recorded too (``process_start``), so that a later process reusing
                the pid is not taken for the run.
            invocation_id: systemd's ``INVOCATION_ID`` of the service run, if any.

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
            _require_session(connection, session_id)
            _finalize_session(connection, session_id, status, error, utc_now())
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
        }
        with self._write() as connection:
            _require_session(connection, session_id)
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

    def recover_interrupted(
        self, *, all_running: bool = False, host: str | None = None
    ) -> list[int]:
        """Close sessions left ``running`` by a process that died (crash, kill -9, reboot).

        A recovered session becomes ``interrupted`` with ``ended_at`` set and its totals
        computed; its running attempts become ``interrupted``; their models go from
        ``downloading`` back to ``pending``. When no session is left running afterwards,
        every model still marked ``downloading`` goes back to ``pending`` too.

        Args:
            all_running: recover every running session, whatever its host and pid. Only
                correct while holding the run lock, which proves no run is in progress.
            host: this machine's name (default ``socket.gethostname()``). Without
                ``all_running``, only sessions of this host whose process is gone (no such
                pid, a zombie, or the pid reused by a later process) are recovered: another
                host's pids cannot be checked from here.

        Returns:
            The ids of the recovered sessions, oldest first.
        """
        host = host or socket.gethostname()
        now = utc_now()
        with self._write() as connection:
            running = connection.execute(
                select(sessions.c.id, sessions.c.host, sessions.c.pid, sessions.c.process_start)
                .where(sessions.c.status == "running")
                .order_by(sessions.c.id)
            ).all()
            recovered = [
                session_id
                for session_id, session_host, pid, started in running
                if all_running or (session_host == host and process_gone(pid, started))
            ]
            for session_id, session_host, pid, _started in running:
                if session_id in recovered:
                    error = (
                        f"the run (pid {pid} on {session_host}) ended without finishing its session"
                    )
                    _finalize_session(connection, session_id, "interrupted", error, now)
            if len(recovered) == len(running):
                connection.execute(
                    update(models)
                    .where(models.c.status == "downloading")
                    .values(status="pending", updated_at=now)
                )
        return recovered

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


def _require_session(connection: Connection, session_id: int) -> None:
    if connection.scalar(select(sessions.c.id).where(sessions.c.id == session_id)) is None:
        raise ValueError(f"no session with id {session_id}")


def _finalize_session(
    connection: Connection, session_id: int, status: str, error: str | None, now: datetime
) -> None:
    """Close the session's running attempts, compute its totals and set its end state."""
    still_running = connection.execute(
        select(attempts.c.id, attempts.c.model_name, attempts.c.started_at).where(
            attempts.c.session_id == session_id, attempts.c.status == "running"
        )
    ).all()
    if still_running:
        connection.execute(
            update(attempts)
            .where(attempts.c.id == bindparam("p_id"))
            .values(
                status="interrupted",
                ended_at=now,
                duration_seconds=bindparam("p_duration"),
            ),
            [
                {"p_id": attempt_id, "p_duration": (now - started_at).total_seconds()}
                for attempt_id, _name, started_at in still_running
            ],
        )
        connection.execute(
            update(models)
            .where(
                models.c.name.in_({name for _id, name, _started in still_running}),
                models.c.status == "downloading",
            )
            .values(status="pending", updated_at=now)
        )
    last_status_by_model: dict[str, str] = {}
    for model_name, attempt_status in connection.execute(
        select(attempts.c.model_name, attempts.c.status)
        .where(attempts.c.session_id == session_id)
        .order_by(attempts.c.id)
    ):
        last_status_by_model[model_name] = attempt_status
    bytes_downloaded = connection.scalar(
        select(func.coalesce(func.sum(attempts.c.bytes_downloaded), 0)).where(
            attempts.c.session_id == session_id
        )
    )
    final_statuses = list(last_status_by_model.values())
    values: dict[str, Any] = {
        "status": status,
        "ended_at": now,
        "models_total": len(final_statuses),
        "models_completed": final_statuses.count("completed"),
        "models_failed": final_statuses.count("failed"),
        "models_skipped": final_statuses.count("skipped"),
        "bytes_downloaded": int(bytes_downloaded or 0),
    }
    if error is not None:
        values["error"] = error
    connection.execute(update(sessions).where(sessions.c.id == session_id).values(values))
