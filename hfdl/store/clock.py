"""The database's clock, as one SQL expression for SQLite and PostgreSQL.

Leases and heartbeats compare times written by different hosts. Their own clocks may be
skewed; the database's is the one clock they all share, so every such time is taken there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class _DbEpoch(FunctionElement[float]):
    """Seconds since the Unix epoch, now, by the database's clock."""

    type = Float()
    inherit_cache = True
    name = "hfdl_db_epoch"


@compiles(_DbEpoch)
def _sqlite_epoch(element: _DbEpoch, compiler: Any, **kw: Any) -> str:
    # julianday() has millisecond resolution; 2440587.5 is the Julian day of 1970-01-01.
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(_DbEpoch, "postgresql")
def _postgresql_epoch(element: _DbEpoch, compiler: Any, **kw: Any) -> str:
    # clock_timestamp(), not now(): now() is frozen at the start of the transaction.
    return "EXTRACT(EPOCH FROM clock_timestamp())"


def db_epoch() -> _DbEpoch:
    """A SQL expression: seconds since the epoch, now, by the database's clock (a float)."""
    return _DbEpoch()
