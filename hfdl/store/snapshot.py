"""One read-only snapshot of the state database, for :mod:`hfdl.store.reader`.

SQLite through the standard library's ``sqlite3`` (one ``BEGIN``: WAL lets a running
download write beside it); PostgreSQL through psycopg directly, in a ``REPEATABLE READ READ
ONLY`` transaction. Neither imports SQLAlchemy: the reports must stay fast. The SQL handed to
:meth:`Snapshot.rows` uses ``?`` placeholders and runs on both.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hfdl.database_url import DatabaseTarget
from hfdl.store.db_errors import store_error

BUSY_TIMEOUT_SECONDS = 5.0


class Snapshot:
    """A read transaction on one database; :meth:`open` starts it.

    Args:
        target: the database (see :func:`hfdl.database_url.database_target`).
    """

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target
        self._connection: Any = None
        # What the driver raises: sqlite3's errors, or psycopg's (imported only for a server).
        self._errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def open(self) -> str | None:
        """Connect and start the snapshot.

        Returns:
            The schema revision recorded in ``alembic_version``; ``None`` when there is none
            (an empty database, or one of the migrations before Alembic).

        Raises:
            StoreError, DatabaseBusy: the database cannot be opened or read; a missing SQLite
                file is never created.
        """
        with self.translate_errors("open"):
            if self.target.path is None:
                return self._open_server()
            return self._open_file()

    def _open_file(self) -> str | None:
        # mode=rw: open an existing file for reading and writing (WAL readers need the -shm
        # file) but never create one; isolation_level=None: transactions are explicit.
        uri = f"file:{urllib.parse.quote(str(self.target.path))}?mode=rw"
        connection = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
        self._connection = connection
        connection.execute("BEGIN")
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return None
            raise
        return None if row is None else str(row[0])

    def _open_server(self) -> str | None:
        import psycopg

        self._errors = (psycopg.Error,)
        connection = psycopg.connect(
            self.target.libpq_url(),
            autocommit=True,
            connect_timeout=30,
            options=f"-c lock_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}",
        )
        self._connection = connection
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        exists = connection.execute("SELECT to_regclass('alembic_version')").fetchone()
        if exists is None or exists[0] is None:
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])

    @contextmanager
    def translate_errors(self, action: str) -> Iterator[None]:
        """Turn the driver's errors into ``StoreError``/``DatabaseBusy`` naming the database
        (a URL without its password); ``action`` is the verb ("read", "open")."""
        try:
            yield
        except self._errors as error:
            raise store_error(
                self.target.display, action, error, busy_timeout_seconds=BUSY_TIMEOUT_SECONDS
            ) from None

    def rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one query in the snapshot and return all its rows.

        Raises:
            RuntimeError: the snapshot is not open.
            StoreError, DatabaseBusy: the query failed.
        """
        if self._connection is None:
            raise RuntimeError("the StateReader is closed")
        if self.target.path is None:
            # psycopg's placeholder; the SQL here has no literal '?' or '%'.
            sql = sql.replace("?", "%s")
        with self.translate_errors("read"):
            return list(self._connection.execute(sql, parameters).fetchall())

    def close(self) -> None:
        """End the snapshot and close the connection (again: nothing)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
