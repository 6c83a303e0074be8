"""The database's clock as a SQLAlchemy expression: one time for every host of a fleet.

Session heartbeats and blob leases compare times written by different hosts. Their own
clocks may disagree by seconds or more, so those times are taken from the database server's
clock instead, by :func:`db_epoch`, in the statement that writes them or compares them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from hfdl.store.staleness import POSTGRESQL_EPOCH_SQL, SQLITE_EPOCH_SQL


class _DatabaseEpoch(FunctionElement[float]):
    """The database's clock now, in seconds since the epoch (see :func:`db_epoch`)."""

    type = Float()
    inherit_cache = True
    name = "hfdl_db_epoch"


@compiles(_DatabaseEpoch, "postgresql")
def _postgresql_epoch(_element: _DatabaseEpoch, _compiler: Any, **_options: Any) -> str:
    # EXTRACT yields NUMERIC; the Float column type reads it back as a Python float.
    return f"CAST({POSTGRESQL_EPOCH_SQL} AS DOUBLE PRECISION)"


@compiles(_DatabaseEpoch, "sqlite")
def _sqlite_epoch(_element: _DatabaseEpoch, _compiler: Any, **_options: Any) -> str:
    return SQLITE_EPOCH_SQL


@compiles(_DatabaseEpoch)
def _unsupported_epoch(_element: _DatabaseEpoch, compiler: Any, **_options: Any) -> str:
    raise NotImplementedError(f"no database clock for the {compiler.dialect.name} dialect")


def db_epoch() -> Any:
    """A SQL expression for the database's clock now, in seconds since the epoch (float).

    PostgreSQL: ``EXTRACT(EPOCH FROM clock_timestamp())`` (the time of the statement, not of
    the transaction's start); SQLite: ``(julianday('now') - 2440587.5) * 86400.0``. Use it as a
    value (``.values(heartbeat_at=db_epoch())``), in a comparison, or alone
    (``connection.scalar(select(db_epoch()))``).

    Returns:
        A column expression of type ``Float``.
    """
    return _DatabaseEpoch()
