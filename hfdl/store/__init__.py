"""hfdl's state database: a SQLite file, or PostgreSQL for a fleet sharing one.

``from hfdl.store import Store`` opens it. The row types (``ModelRow``, ``SessionRow``,
``AttemptRow``, ``ScheduleRow``, ``FileRecord``, ``SyncReport``) live in
:mod:`hfdl.store.rows`, which does not import SQLAlchemy; ``Store`` is loaded on first use,
so importing this package for the row types alone stays cheap. The reports read through
:class:`hfdl.store.reader.StateReader` (plain ``sqlite3`` or psycopg, read-only) instead of
``Store``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hfdl.store.rows import (
    UNCHANGED,
    AttemptRow,
    FileRecord,
    ModelRow,
    ModelState,
    ScheduleRow,
    SessionRow,
    SyncReport,
)

if TYPE_CHECKING:
    from hfdl.store.store import Store

__all__ = [
    "UNCHANGED",
    "AttemptRow",
    "FileRecord",
    "ModelRow",
    "ModelState",
    "ScheduleRow",
    "SessionRow",
    "Store",
    "SyncReport",
]


def __getattr__(name: str) -> Any:
    # Importing SQLAlchemy costs a noticeable fraction of a second; pay it only when a
    # Store is actually needed.
    if name == "Store":
        from hfdl.store.store import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
