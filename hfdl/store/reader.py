"""Read-only access to the state database with the standard library's ``sqlite3``.

``hfdl status`` and ``hfdl models list`` only read, and must answer in a fraction of a second
(issue #5: ≤ 0.4 s in all). Importing SQLAlchemy alone costs ~0.15-0.24 s on a small machine,
so these reports read through :class:`StateReader` instead of :class:`hfdl.store.Store`: plain
SQL on one connection, rows turned into the same frozen records (:mod:`hfdl.store.rows`).
Everything that writes, and the reads that writers need, stay in :class:`~hfdl.store.Store`.

A reader never creates, migrates or writes the database. It sees one consistent snapshot (all
its queries run in one read transaction, which WAL lets a running download write beside). A
database whose schema is older than this hfdl is migrated first by opening a ``Store`` (the
only case that imports SQLAlchemy); a newer or foreign one raises the same ``StoreError`` as
``Store`` would.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from hfdl.errors import StoreError
from hfdl.store.migrations import LATEST_VERSION
from hfdl.store.rows import (
    MODEL_STATUSES,
    AttemptRow,
    ModelState,
    ScheduleRow,
    SessionRow,
    stored_timestamp,
)

BUSY_TIMEOUT_SECONDS = 5.0


def store_error(path: Path, action: str, error: BaseException) -> StoreError:
    """The ``StoreError`` for a database failure: what could not be done, to which file, why.

    Args:
        path: the database file.
        action: the verb for the message ("read", "open", "migrate", ...).
        error: the underlying exception (SQLAlchemy's wrapper or the ``sqlite3`` error).
    """
    original = getattr(error, "orig", None) or error
    return StoreError(
        f"cannot {action} the state database {path}: {original}",
        hint="check that the file is an hfdl database, readable and writable by this user,"
        " and that its disk is not full; move a damaged file aside to start afresh",
    )


def _converter(annotation: str) -> Callable[[Any], Any] | None:
    """How to turn a stored column into the record field annotated ``annotation``.

    The storage conventions are those of :mod:`hfdl.store.tables`: timestamps as ISO text,
    string lists as JSON text, booleans as 0/1.
    """
    if annotation.startswith("datetime"):
        return stored_timestamp
    if annotation.startswith("tuple[str"):
        return lambda text: None if text is None else tuple(json.loads(text))
    if annotation == "bool":
        return bool
    return None


class _RecordReader:
    """SELECT list and row conversion for one record type, derived from its fields."""

    def __init__(self, record: type[Any], table: str) -> None:
        fields = dataclasses.fields(record)
        self.record = record
        self.select = f"SELECT {', '.join(field.name for field in fields)} FROM {table}"
        self._converters = [_converter(str(field.type)) for field in fields]

    def build(self, row: tuple[Any, ...]) -> Any:
        values = [
            value if convert is None else convert(value)
            for convert, value in zip(self._converters, row, strict=True)
        ]
        return self.record(*values)


_SESSIONS = _RecordReader(SessionRow, "sessions")
_ATTEMPTS = _RecordReader(AttemptRow, "attempts")
_SCHEDULES = _RecordReader(ScheduleRow, "schedules")


class StateReader:
    """A read-only view of the state database (one snapshot), without SQLAlchemy.

    Args:
        db_path: an existing state database file; it is never created.

    Raises:
        StoreError: the file cannot be opened or is not an hfdl database, or its schema is
            newer than this hfdl knows. An older schema is migrated first (see the module).
    """

    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        self._connection: sqlite3.Connection | None = None
        try:
            with self._translate_errors("open"):
                version = self._schema_version()
            if version != LATEST_VERSION:
                self.close()
                _settle_schema(self.path)
                with self._translate_errors("open"):
                    self._schema_version()
        except BaseException:
            self.close()
            raise

    def _schema_version(self) -> int | None:
        """Connect, start the snapshot and return the schema version (``None`` if unknown)."""
        # mode=rw: open an existing file for reading and writing (WAL readers need the -shm
        # file) but never create one; isolation_level=None: transactions are explicit.
        uri = f"file:{urllib.parse.quote(str(self.path))}?mode=rw"
        connection = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
        self._connection = connection
        connection.execute("BEGIN")
        try:
            row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return None
            raise
        return None if row is None else row[0]

    @contextmanager
    def _translate_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise store_error(self.path, action, error) from None

    def _rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self._connection is None:
            raise RuntimeError("the StateReader is closed")
        with self._translate_errors("read"):
            return self._connection.execute(sql, parameters).fetchall()

    # -- sessions and attempts ---------------------------------------------------------------

    def running_session(self) -> SessionRow | None:
        """Return the most recently started ``running`` session, or ``None``."""
        rows = self._rows(f"{_SESSIONS.select} WHERE status = 'running' ORDER BY id DESC LIMIT 1")
        return _SESSIONS.build(rows[0]) if rows else None

    def latest_session(self) -> SessionRow | None:
        """Return the most recently started session, whatever its status, or ``None``."""
        rows = self._rows(f"{_SESSIONS.select} ORDER BY id DESC LIMIT 1")
        return _SESSIONS.build(rows[0]) if rows else None

    def attempts_for_session(self, session_id: int) -> list[AttemptRow]:
        """Return a session's attempts in the order they started."""
        rows = self._rows(f"{_ATTEMPTS.select} WHERE session_id = ? ORDER BY id", (session_id,))
        return [_ATTEMPTS.build(row) for row in rows]

    def recent_failures(self, limit: int = 20) -> list[AttemptRow]:
        """Return the ``limit`` most recent failed attempts (any model), newest first."""
        rows = self._rows(
            f"{_ATTEMPTS.select} WHERE status = 'failed' ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_ATTEMPTS.build(row) for row in rows]

    # -- models ------------------------------------------------------------------------------

    def count_models_by_status(self) -> dict[str, int]:
        """Count the catalog's models (not removed ones) by status.

        Returns:
            ``{"pending": n, "downloading": n, "completed": n, "failed": n}``, every status
            present, zero when no model has it.
        """
        counts = dict.fromkeys(MODEL_STATUSES, 0)
        sql = "SELECT status, count(*) FROM models WHERE removed = 0 GROUP BY status"
        counts.update(dict(self._rows(sql)))
        return counts

    def bytes_on_disk(self) -> int:
        """Total size on disk of the catalog's models (removed ones not counted)."""
        sql = "SELECT coalesce(sum(bytes_on_disk), 0) FROM models WHERE removed = 0"
        ((total,),) = self._rows(sql)
        return int(total)

    def model_states(self) -> dict[str, ModelState]:
        """Every model's download state, keyed by name (removed models included).

        ``hfdl models list`` merges the catalog with these and must answer within a second for
        10,000 models, so only the state columns are read, not whole model rows.
        """
        columns = ", ".join(ModelState._fields)
        return {
            name: ModelState(
                status,
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
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()


def _settle_schema(db_path: Path) -> None:
    """Bring an older schema up to date, or raise ``Store``'s error for a newer/foreign one."""
    from hfdl.store.store import Store

    Store(db_path).close()
