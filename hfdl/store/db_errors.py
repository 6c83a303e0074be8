"""The errors of a failed state-database operation, shared by the Store and the light reader.

Plain ``sqlite3`` only (no SQLAlchemy or psycopg import): :mod:`hfdl.store.reader` uses it on
the fast commands' path. PostgreSQL errors are recognised by their SQLSTATE.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hfdl.errors import DatabaseBusy, StoreError

# PostgreSQL's SQLSTATEs of a lock wait that ran out (lock_timeout) or a deadlock victim:
# temporary, like SQLITE_BUSY.
_BUSY_SQLSTATES = ("55P03", "40P01")


def is_busy(error: BaseException) -> bool:
    """Whether a database error means another connection holds a lock (SQLITE_BUSY/LOCKED,
    or PostgreSQL's lock_not_available/deadlock_detected).

    Args:
        error: SQLAlchemy's wrapper (its ``orig`` is looked at), a ``sqlite3`` or a psycopg
            error.
    """
    original = getattr(error, "orig", None) or error
    if getattr(original, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    if not isinstance(original, sqlite3.OperationalError):
        return False
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int):
        # Extended codes (SQLITE_BUSY_SNAPSHOT...) keep the primary code in the low byte.
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "database is locked" in str(original)


def store_error(
    path: Path | str,
    action: str,
    error: BaseException,
    *,
    busy_timeout_seconds: float | None = None,
) -> StoreError | DatabaseBusy:
    """The error for a database failure: what could not be done, to which file, why.

    A lock held by another process is a temporary condition of a healthy database, so it is
    :class:`DatabaseBusy` (exit 75, "try again"), never a ``StoreError`` whose hint says to
    move a damaged file aside.

    Args:
        path: the database file, or a server database's URL without its password.
        action: the verb for the message ("read", "open", "migrate", ...).
        error: the underlying exception (SQLAlchemy's wrapper or the ``sqlite3`` error).
        busy_timeout_seconds: how long the connection waited for the lock, for the message.
    """
    original = getattr(error, "orig", None) or error
    if is_busy(error):
        waited = (
            "" if busy_timeout_seconds is None else f" for more than {busy_timeout_seconds:g} s"
        )
        return DatabaseBusy(
            f"cannot {action} the state database {path}: it is busy (another process held its"
            f" lock{waited})",
            hint="another hfdl process (or a sqlite3 shell) is writing the state database;"
            " try again when it is done",
        )
    if "://" in str(path):
        hint = (
            "check that the database server is reachable, that the database exists and that"
            " its user may create tables in it"
        )
    else:
        hint = (
            "check that the file is an hfdl database, readable and writable by this user,"
            " and that its disk is not full; move a damaged file aside to start afresh"
        )
    return StoreError(f"cannot {action} the state database {path}: {original}", hint=hint)
