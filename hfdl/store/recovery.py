"""Heartbeats of running sessions, and closing the sessions whose run died.

A run that dies without finishing its session (``kill -9``, OOM killer, power loss, a host
that went away) leaves it recorded ``running``. :meth:`RecoveryMixin.recover_interrupted`,
called at the start of every ``hfdl run``, closes such sessions: those of this host whose
process is gone, and those of other hosts whose heartbeat is stale
(:mod:`hfdl.store.staleness`). :meth:`RecoveryMixin.heartbeat` is what keeps a live run's
session from looking stale.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from hfdl.store.clock import db_epoch
from hfdl.store.db import Database
from hfdl.store.liveness import process_gone
from hfdl.store.staleness import DEFAULT_LEASE_SECONDS, heartbeat_stale, interrupted_error
from hfdl.store.tables import attempts, models, sessions, utc_now


class RecoveryMixin(Database):
    """Session heartbeats and crash recovery. Mixed into :class:`hfdl.store.Store`."""

    def heartbeat(self, session_id: int) -> bool:
        """Record that a session's run is alive: ``heartbeat_at`` = the database's clock now.

        Args:
            session_id: the session of this process's run.

        Returns:
            Whether the session is still ``running`` (``False``: it was finished, or closed by
            another host's recovery because its heartbeat had gone stale).

        Raises:
            StoreError, DatabaseBusy: the database cannot be written.
        """
        statement = (
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.status == "running")
            .values(heartbeat_at=db_epoch())
        )
        with self._write("record the heartbeat in") as connection:
            return bool(connection.execute(statement).rowcount)

    def database_now(self) -> float:
        """The database's clock now, in seconds since the epoch (what heartbeats record)."""
        with self._read() as connection:
            return float(connection.execute(select(db_epoch())).scalar_one())

    def recover_interrupted(
        self,
        *,
        all_running: bool = False,
        host: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> list[int]:
        """Close sessions left ``running`` by a run that died (crash, kill -9, reboot, a host
        that went away).

        A recovered session becomes ``interrupted`` with ``ended_at`` set and its totals
        computed; its running attempts become ``interrupted``; their models go from
        ``downloading`` back to ``pending``. When no session is left running afterwards,
        every model still marked ``downloading`` goes back to ``pending`` too.

        Recovered are:

        * sessions of this host (``host``) whose process is gone (no such pid, a zombie, or
          the pid reused by a later process), or all of them with ``all_running``;
        * sessions of other hosts whose heartbeat is older than ``2 * lease_seconds`` by the
          database's clock (without a heartbeat: started longer ago than that); see
          :mod:`hfdl.store.staleness`. Their pids cannot be checked from here.

        Args:
            all_running: recover every running session of this host, whatever its pid. Only
                correct while holding the run lock, which proves no run of this host is in
                progress (the lock is per host: it says nothing about other hosts' runs).
            host: this host's id (default: the store's ``host_id``).
            lease_seconds: the ``lease_seconds`` setting.

        Returns:
            The ids of the recovered sessions, oldest first.
        """
        host = host or self.host_id
        now = utc_now()
        with self._write() as connection:
            running = connection.execute(
                select(
                    sessions.c.id,
                    sessions.c.host,
                    sessions.c.pid,
                    sessions.c.process_start,
                    sessions.c.heartbeat_at,
                    sessions.c.started_at,
                )
                .where(sessions.c.status == "running")
                .order_by(sessions.c.id)
            ).all()
            database_now = float(connection.execute(select(db_epoch())).scalar_one())
            recovered: list[int] = []
            for session_id, session_host, pid, started, heartbeat_at, started_at in running:
                if session_host == host:
                    if not (all_running or process_gone(pid, started)):
                        continue
                    error = interrupted_error(
                        pid, session_host, heartbeat_lost=False, lease_seconds=lease_seconds
                    )
                elif heartbeat_stale(heartbeat_at, started_at, database_now, lease_seconds):
                    error = interrupted_error(
                        pid, session_host, heartbeat_lost=True, lease_seconds=lease_seconds
                    )
                else:
                    continue
                finalize_session(connection, session_id, "interrupted", error, now, host)
                recovered.append(session_id)
            if len(recovered) == len(running):
                connection.execute(
                    update(models)
                    .where(models.c.status == "downloading")
                    .values(status="pending", updated_at=now, host=host)
                )
        return recovered


def finalize_session(
    connection: Connection,
    session_id: int,
    status: str,
    error: str | None,
    now: datetime,
    host: str,
) -> None:
    """Close the session's running attempts, compute its totals and set its end state.

    Args:
        connection: a write transaction.
        session_id: the session.
        status: its end status.
        error: why it ended so, if it did not complete (``None`` keeps the recorded one).
        now: the end time.
        host: the host id doing it, recorded on the models put back to ``pending``.
    """
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
            .values(status="pending", updated_at=now, host=host)
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
