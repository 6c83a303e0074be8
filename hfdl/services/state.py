"""The reports' reader of the state database, opened as this host: the one place that
hands the run lock and the ``host_id`` and ``lease_seconds`` settings to
:class:`~hfdl.store.reader.StateReader`. (Writers open ``Store(settings.database,
host_id=settings.host_id)``.)

The reader is imported on first use, as the fast reports expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hfdl.config import Settings

if TYPE_CHECKING:
    from hfdl.database_url import DatabaseTarget
    from hfdl.store.fleet import FleetReader
    from hfdl.store.reader import StateReader


def open_reader(settings: Settings, where: DatabaseTarget | None = None) -> StateReader:
    """Open the reports' read-only view of the state database, as this host.

    The run lock (``<state_directory>/run.lock``) and the recorded pids tell this host's dead
    runs; the heartbeats (``lease_seconds``) tell other hosts' (:mod:`hfdl.store.staleness`).

    Args:
        settings: the effective configuration.
        where: the database, when already resolved (an open store's ``target``); default
            ``settings.database``.

    Raises:
        StoreError, DatabaseBusy: as :class:`hfdl.store.reader.StateReader`.
    """
    from hfdl.engine.lock import LOCK_FILE_NAME
    from hfdl.store.reader import StateReader

    return StateReader(
        settings.database if where is None else where,
        run_lock=settings.state_directory / LOCK_FILE_NAME,
        host=settings.host_id,
        lease_seconds=settings.lease_seconds,
    )


def open_fleet_reader(settings: Settings) -> FleetReader:
    """Like :func:`open_reader`, a reader that also summarises every host of the fleet."""
    from hfdl.engine.lock import LOCK_FILE_NAME
    from hfdl.store.fleet import FleetReader

    return FleetReader(
        settings.database,
        run_lock=settings.state_directory / LOCK_FILE_NAME,
        host=settings.host_id,
        lease_seconds=settings.lease_seconds,
    )
