"""When is a running session of another host taken as dead? Its heartbeat is too old.

A run records its session's ``heartbeat_at`` (seconds since the epoch **by the database's
clock**) when it starts and then every ``lease_seconds / 3`` seconds while it lives
(:mod:`hfdl.services.heartbeat`). The pid of a run on another host cannot be checked from
here, so a ``running`` session of another host is taken as dead once its heartbeat is older
than :func:`stale_after_seconds` (twice ``lease_seconds``): two renewals in a row, and some,
were missed. Both ages are measured against the database's clock too, so hosts whose clocks
disagree still agree on which sessions are stale.

A session of another host without any heartbeat (recorded before schema revision 0003, when
no run wrote one) is stale once it *started* longer ago than that by the database's clock:
every hfdl that writes sessions now writes a heartbeat at the start, so such a session is an
old one whose run is long gone.

Standard library only: :mod:`hfdl.store.reader` (no SQLAlchemy) and
:mod:`hfdl.store.sessions` share these rules; :mod:`hfdl.store.clock` the SQL below.
"""

from __future__ import annotations

from datetime import datetime

# The database's clock now, in seconds since the epoch (a float), in each dialect's SQL.
# PostgreSQL: clock_timestamp(), not now(): now() is the start of the transaction, and a
# report's snapshot transaction may be old. SQLite: julianday('now') is the current time in
# UTC (days since noon, 24 November 4714 BC); 2440587.5 is the Julian day of 1970-01-01.
POSTGRESQL_EPOCH_SQL = "EXTRACT(EPOCH FROM clock_timestamp())"
SQLITE_EPOCH_SQL = "((julianday('now') - 2440587.5) * 86400.0)"


def stale_after_seconds(lease_seconds: float) -> float:
    """How old a heartbeat may be before its session is taken as dead: ``2 * lease_seconds``."""
    return 2.0 * lease_seconds


def heartbeat_interval_seconds(lease_seconds: float) -> float:
    """How often a run renews its heartbeat: every third of ``lease_seconds``."""
    return lease_seconds / 3.0


def heartbeat_stale(
    heartbeat_at: float | None,
    started_at: datetime | None,
    database_now: float,
    lease_seconds: float,
) -> bool:
    """Whether a running session of another host is to be taken as dead.

    Args:
        heartbeat_at: the session's last heartbeat (database clock, epoch seconds), or
            ``None`` when it never wrote one.
        started_at: when the session started (aware datetime), used without a heartbeat.
        database_now: the database's clock now (epoch seconds).
        lease_seconds: the ``lease_seconds`` setting.

    Returns:
        ``True`` when the heartbeat (or, without one, the start) is older than
        :func:`stale_after_seconds`.
    """
    last_sign_of_life = heartbeat_at
    if last_sign_of_life is None:
        if started_at is None:
            return True
        last_sign_of_life = started_at.timestamp()
    return database_now - last_sign_of_life > stale_after_seconds(lease_seconds)


# The default of the ``lease_seconds`` setting (hfdl.config.schema), for callers without one.
DEFAULT_LEASE_SECONDS = 60


def interrupted_error(pid: int, host: str, *, heartbeat_lost: bool, lease_seconds: float) -> str:
    """The ``error`` recorded (and reported) for a session whose run ended without finishing it.

    Args:
        pid, host: the run's process id and host id, as the session recorded them.
        heartbeat_lost: the run was found dead by its heartbeat (another host's session),
            not by its pid.
        lease_seconds: the ``lease_seconds`` setting, for the message.
    """
    message = f"the run (pid {pid} on {host}) ended without finishing its session"
    if heartbeat_lost:
        message += f" (no heartbeat for over {stale_after_seconds(lease_seconds):g}s)"
    return message
