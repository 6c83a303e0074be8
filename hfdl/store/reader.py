"""Read-only access to the state database: SQLite with the standard library's ``sqlite3``,
PostgreSQL with psycopg directly.

``hfdl status`` and ``hfdl models list`` only read, and must answer in a fraction of a second
(issue #5: ≤ 0.4 s in all). Importing SQLAlchemy alone costs ~0.15-0.24 s on a small machine,
so these reports read through :class:`StateReader` instead of :class:`hfdl.store.Store`: plain
SQL on one connection, rows turned into the same frozen records (:mod:`hfdl.store.rows`).
Everything that writes, and the reads that writers need, stay in :class:`~hfdl.store.Store`.

A reader never creates, migrates or writes the database. It sees one consistent snapshot (all
its queries run in one read transaction, which WAL lets a running download write beside; on
PostgreSQL a ``REPEATABLE READ READ ONLY`` one). The SQL is written to run on both. A
database whose schema is older than this hfdl is migrated first by opening a ``Store`` (the
only case that imports SQLAlchemy); a newer or foreign one raises the same ``StoreError`` as
``Store`` would.

A session stays recorded ``running`` when its process dies without finishing it (``kill -9``,
OOM killer, power loss, a host gone) until the next run recovers it. The reader does not wait
for that: it decides at read time whether the run of each such session is still alive (see
:meth:`StateReader.interrupted_session_ids`: the pid for this host's, the heartbeat for other
hosts') and reports a dead one as the next run will
record it: the session and its running attempts ``interrupted``, its models ``pending``
instead of ``downloading``. It writes nothing; the next run (``recover_interrupted``) does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Self

from hfdl.database_url import DatabaseTarget, database_target
from hfdl.store import schema
from hfdl.store.liveness import process_gone, run_lock_held
from hfdl.store.record_reader import RecordReader
from hfdl.store.rows import (
    MODEL_STATUSES,
    AttemptRow,
    ModelState,
    ScheduleRow,
    SessionRow,
    stored_timestamp,
)
from hfdl.store.snapshot import Snapshot
from hfdl.store.staleness import (
    DEFAULT_LEASE_SECONDS,
    POSTGRESQL_EPOCH_SQL,
    SQLITE_EPOCH_SQL,
    heartbeat_stale,
    interrupted_error,
)

# Every model whose status is "downloading" (see StateReader._pending_again).
_ALL_DOWNLOADING = None


_SESSIONS = RecordReader(SessionRow, "sessions")
_ATTEMPTS = RecordReader(AttemptRow, "attempts")
_SCHEDULES = RecordReader(ScheduleRow, "schedules")


class StateReader:
    """A read-only view of the state database (one snapshot), without SQLAlchemy.

    Sessions recorded ``running`` whose run is gone read as ``interrupted`` (see the module).

    Args:
        where: an existing state database file (it is never created), or a PostgreSQL URL
            (see :func:`hfdl.database_url.database_target`).
        run_lock: the run lock file (``<state_directory>/run.lock``), probed to tell whether a
            run is working; ``None``: decide from the recorded process alone.
        host: this host's id (the ``host_id`` setting; default ``socket.gethostname()``).
            Running sessions of this host are checked by their pid; those of other hosts by
            their heartbeat (:mod:`hfdl.store.staleness`).
        lease_seconds: the ``lease_seconds`` setting: another host's running session whose
            heartbeat is older than twice this reads as interrupted.

    Raises:
        StoreError: the file cannot be opened or is not an hfdl database, or its schema is
            newer than this hfdl knows. An older schema is migrated first (see the module).
    """

    def __init__(
        self,
        where: Path | str | DatabaseTarget,
        *,
        run_lock: Path | None = None,
        host: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.target = database_target(where)
        self._snapshot = Snapshot(self.target)
        self._run_lock = run_lock
        if host is None:
            import socket

            host = socket.gethostname()
        self.host = host
        self.lease_seconds = lease_seconds
        # Probed before the snapshot starts and again after (see interrupted_session_ids).
        self._lock_before = None if run_lock is None else run_lock_held(run_lock)
        self._interrupted: frozenset[int] | None = None
        try:
            with self._translate_errors("open"):
                version = self._schema_version()
            if version != schema.HEAD_REVISION:
                self.close()
                _settle_schema(self.target)
                with self._translate_errors("open"):
                    self._schema_version()
        except BaseException:
            self.close()
            raise

    def _schema_version(self) -> str | None:
        """Open a new snapshot; return the database's schema revision (``None`` if unknown)."""
        self._snapshot = Snapshot(self.target)
        return self._snapshot.open()

    def _translate_errors(self, action: str) -> AbstractContextManager[None]:
        return self._snapshot.translate_errors(action)

    def _rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self._snapshot.rows(sql, parameters)

    # -- liveness of recorded runs ----------------------------------------------------------

    def database_now(self) -> float:
        """The database's clock now, in seconds since the epoch (what heartbeats record)."""
        sql = POSTGRESQL_EPOCH_SQL if self.target.path is None else SQLITE_EPOCH_SQL
        ((now,),) = self._rows(f"SELECT {sql}")
        return float(now)

    def interrupted_session_ids(self) -> frozenset[int]:
        """Sessions recorded ``running`` whose run has ended without finishing them.

        A session of another host is gone when its heartbeat is stale
        (:func:`hfdl.store.staleness.heartbeat_stale`, by the database's clock). One of this
        host is gone when its process has certainly ended (:func:`process_gone`: no such pid, a
        zombie, or the pid reused by a later process), or when the run lock was free both
        before and after the snapshot was taken.
        Both probes, because one alone can misread a run at its edges: a run that finished
        its session just after the snapshot frees the lock before a later probe, and one
        that started just before the snapshot took the lock after an earlier probe.
        """
        if self._interrupted is None:
            running = self._rows(
                "SELECT id, host, pid, process_start, heartbeat_at, started_at FROM sessions"
                " WHERE status = 'running'"
            )
            lock_free = (
                bool(running)
                and self._run_lock is not None
                and self._lock_before is False
                and run_lock_held(self._run_lock) is False
            )
            database_now = self.database_now() if running else 0.0
            self._interrupted = frozenset(
                session_id
                for session_id, host, pid, started, heartbeat_at, started_at in running
                if (
                    (lock_free or process_gone(pid, started))
                    if host == self.host
                    else heartbeat_stale(
                        heartbeat_at,
                        stored_timestamp(started_at),
                        database_now,
                        self.lease_seconds,
                    )
                )
            )
        return self._interrupted

    def _as_seen(self, session: SessionRow) -> SessionRow:
        """The session as the next run will record it: ``interrupted`` if its run is gone."""
        if session.status != "running" or session.id not in self.interrupted_session_ids():
            return session
        # The totals recovery computes: each model counts by its last attempt in the session.
        attempts = self.attempts_for_session(session.id)
        finals = list({attempt.model_name: attempt.status for attempt in attempts}.values())
        error = interrupted_error(
            session.pid,
            session.host,
            heartbeat_lost=session.host != self.host,
            lease_seconds=self.lease_seconds,
        )
        return dataclasses.replace(
            session,
            status="interrupted",
            models_total=len(finals),
            models_completed=finals.count("completed"),
            models_failed=finals.count("failed"),
            models_skipped=finals.count("skipped"),
            bytes_downloaded=sum(attempt.bytes_downloaded for attempt in attempts),
            error=session.error or error,
        )

    def _pending_again(self) -> frozenset[str] | None:
        """Models recorded ``downloading`` that the next run will put back to ``pending``.

        As ``recover_interrupted`` does: the models of the gone sessions' running attempts,
        or every ``downloading`` model (``None``) when no live run remains.
        """
        live = self._rows("SELECT id FROM sessions WHERE status = 'running'")
        interrupted = self.interrupted_session_ids()
        if all(session_id in interrupted for (session_id,) in live):
            return _ALL_DOWNLOADING
        if not interrupted:
            return frozenset()
        placeholders = ", ".join("?" * len(interrupted))
        rows = self._rows(
            "SELECT DISTINCT model_name FROM attempts WHERE status = 'running'"
            f" AND session_id IN ({placeholders})",
            tuple(interrupted),
        )
        return frozenset(name for (name,) in rows)

    def _model_status(self, name: str, status: str, pending_again: frozenset[str] | None) -> str:
        if status == "downloading" and (pending_again is None or name in pending_again):
            return "pending"
        return status

    # -- sessions and attempts ---------------------------------------------------------------

    def running_session(self) -> SessionRow | None:
        """Return the most recently started session whose run is still working, or ``None``."""
        rows = self._rows(f"{_SESSIONS.select} WHERE status = 'running' ORDER BY id DESC")
        interrupted = self.interrupted_session_ids()
        for row in rows:
            session: SessionRow = _SESSIONS.build(row)
            if session.id not in interrupted:
                return session
        return None

    def latest_session(self) -> SessionRow | None:
        """Return the most recently started session, whatever its status, or ``None``."""
        rows = self._rows(f"{_SESSIONS.select} ORDER BY id DESC LIMIT 1")
        return self._as_seen(_SESSIONS.build(rows[0])) if rows else None

    def latest_sessions_by_schedule(self) -> dict[str, SessionRow]:
        """The most recently started session of each schedule name that ever started one."""
        rows = self._rows(
            f"{_SESSIONS.select} WHERE id IN (SELECT max(id) FROM sessions"
            " WHERE schedule_name IS NOT NULL GROUP BY schedule_name)"
        )
        sessions = (self._as_seen(_SESSIONS.build(row)) for row in rows)
        return {session.schedule_name or "": session for session in sessions}

    def attempts_for_session(self, session_id: int) -> list[AttemptRow]:
        """Return a session's attempts in the order they started.

        The running attempts of a session whose run is gone read as ``interrupted``.
        """
        rows = self._rows(f"{_ATTEMPTS.select} WHERE session_id = ? ORDER BY id", (session_id,))
        attempts: list[AttemptRow] = [_ATTEMPTS.build(row) for row in rows]
        if session_id not in self.interrupted_session_ids():
            return attempts
        return [
            dataclasses.replace(attempt, status="interrupted")
            if attempt.status == "running"
            else attempt
            for attempt in attempts
        ]

    def current_failures(
        self, limit: int = 20, catalog_names: Collection[str] | None = None
    ) -> list[AttemptRow]:
        """The latest failed attempt of each model that is failed now, newest first.

        A model counts while its status is ``failed`` (a later success, or a reset to
        pending, ends that) and it is in the catalog (not removed; and in ``catalog_names``
        when given, which catches a ``models.json`` edited since the last run).

        Args:
            limit: at most this many attempts.
            catalog_names: the names in the catalog as it is now, if known.
        """
        rows = self._rows(
            f"SELECT {_ATTEMPTS.columns} FROM attempts JOIN models"
            " ON models.name = attempts.model_name"
            " WHERE models.status = 'failed' AND models.removed = FALSE AND attempts.id ="
            " (SELECT max(latest.id) FROM attempts AS latest"
            "  WHERE latest.model_name = models.name AND latest.status = 'failed')"
            " ORDER BY attempts.id DESC"
        )
        failures = (_ATTEMPTS.build(row) for row in rows)
        kept = [
            attempt
            for attempt in failures
            if catalog_names is None or attempt.model_name in catalog_names
        ]
        return kept[:limit]

    # -- models ------------------------------------------------------------------------------

    def count_models_by_status(self) -> dict[str, int]:
        """Count the catalog's models (not removed ones) by status, as the next run sees them.

        Returns:
            ``{"pending": n, "downloading": n, "completed": n, "failed": n}``, every status
            present, zero when no model has it. A model whose run is gone counts as pending.
        """
        counts = dict.fromkeys(MODEL_STATUSES, 0)
        sql = "SELECT status, count(*) FROM models WHERE removed = FALSE GROUP BY status"
        counts.update(dict(self._rows(sql)))
        if counts["downloading"]:
            pending_again = self._pending_again()
            downloading = self._rows(
                "SELECT name FROM models WHERE removed = FALSE AND status = 'downloading'"
            )
            moved = sum(
                1
                for (name,) in downloading
                if self._model_status(name, "downloading", pending_again) == "pending"
            )
            counts["downloading"] -= moved
            counts["pending"] += moved
        return counts

    def bytes_on_disk(self) -> int:
        """Total size on disk of the catalog's models (removed ones not counted)."""
        sql = "SELECT coalesce(sum(bytes_on_disk), 0) FROM models WHERE removed = FALSE"
        ((total,),) = self._rows(sql)
        return int(total)

    def model_states(self) -> dict[str, ModelState]:
        """Every model's download state, keyed by name (removed models included).

        ``hfdl models list`` merges the catalog with these and must answer within a second for
        10,000 models, so only the state columns are read, not whole model rows. A model
        recorded ``downloading`` by a run that is gone reads as ``pending``.
        """
        columns = ", ".join(ModelState._fields)
        pending_again = self._pending_again()
        return {
            name: ModelState(
                self._model_status(name, status, pending_again),
                commit_sha,
                bytes_on_disk,
                stored_timestamp(last_success_at),
                stored_timestamp(last_checked_at),
                last_error,
                attempts,
            )
            for (
                name,
                status,
                commit_sha,
                bytes_on_disk,
                last_success_at,
                last_checked_at,
                last_error,
                attempts,
            ) in self._rows(f"SELECT name, {columns} FROM models")
        }

    # -- schedules ---------------------------------------------------------------------------

    def list_schedules(self) -> list[ScheduleRow]:
        """Return every schedule, sorted by name."""
        return [_SCHEDULES.build(row) for row in self._rows(f"{_SCHEDULES.select} ORDER BY name")]

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """End the snapshot and close the connection. The object must not be used afterwards."""
        self._snapshot.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()


def _settle_schema(target: DatabaseTarget) -> None:
    """Bring an older schema up to date, or raise ``Store``'s error for a newer/foreign one."""
    from hfdl.store.store import Store

    Store(target).close()
