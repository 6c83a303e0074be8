"""Opening the SQLite state database: file creation, pragmas, migrations, transactions.

:class:`Database` is the base of :class:`hfdl.store.Store`; it owns one SQLAlchemy engine
and hands out read and write transactions.

Concurrency: one engine per process with SQLAlchemy's default pool for file databases
(``QueuePool``; connections are handed between threads, never used by two at once). WAL
journal mode lets readers (``hfdl status``) run while a download writes. Writes take a
process-wide lock and start with ``BEGIN IMMEDIATE``, so two writer threads never deadlock on
a read-to-write lock upgrade; other processes wait up to ``busy_timeout`` (5 s).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import create_engine, event, exc, func, select
from sqlalchemy.engine import URL, Connection, Engine

from hfdl.errors import StoreError
from hfdl.store import migrations as migrations_module
from hfdl.store.migrations import Migration
from hfdl.store.reader import store_error
from hfdl.store.tables import schema_version, utc_now

BUSY_TIMEOUT_MS = 5000
DB_FILE_MODE = 0o600
STATE_DIR_MODE = 0o700

_BEGIN_OPTION = "hfdl_begin"


class Database:
    """An open state database: the engine, the schema version and transaction helpers.

    Args:
        db_path: the SQLite file. Missing parent directories are created (mode 0700) and a
            missing file is created with mode 0600 before SQLite opens it, so the database
            is never readable by other users, not even for an instant.

    Raises:
        StoreError: the directory or file cannot be created, the file is not a readable
            SQLite database (corrupt or foreign), WAL mode cannot be enabled, the schema is
            newer than this hfdl knows, or a migration fails. The message names the path.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        self._write_lock = threading.Lock()
        self._create_file()
        self._engine = self._create_engine()
        try:
            self._enable_wal()
            self.schema_version = self._migrate(migrations_module.MIGRATIONS)
        except BaseException:
            self._engine.dispose()
            raise

    # -- opening -------------------------------------------------------------------------

    def _create_file(self) -> None:
        try:
            self.path.parent.mkdir(mode=STATE_DIR_MODE, parents=True, exist_ok=True)
            # O_CREAT with 0600 before SQLite ever sees the path: SQLite would create the
            # file with the umask's mode (often 0644), and its -wal/-shm files copy the mode.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, DB_FILE_MODE)
            os.close(fd)
        except OSError as error:
            raise store_error(self.path, "create", error) from None

    def _create_engine(self) -> Engine:
        # URL.create takes the file name verbatim; a URL string would misparse '?' or '%'.
        url = URL.create("sqlite+pysqlite", database=str(self.path))
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (the
            # module's legacy mode skips BEGIN before SELECT and DDL).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA foreign_keys = ON")
                # In WAL mode NORMAL is safe against corruption; a power cut may lose the last
                # committed transaction (a progress update), which recovery tolerates.
                cursor.execute("PRAGMA synchronous = NORMAL")
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine

    def _enable_wal(self) -> None:
        try:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                # Must run outside a transaction; the raw connection is in autocommit mode.
                cursor.execute("PRAGMA journal_mode = WAL")
                row = cursor.fetchone()
                cursor.close()
            finally:
                raw.close()
        except (exc.SQLAlchemyError, sqlite3.Error) as error:
            raise store_error(self.path, "open", error) from None
        mode = str(row[0]).lower() if row else "unknown"
        if mode != "wal":
            raise StoreError(
                f"cannot enable WAL journal mode on the state database {self.path}"
                f" (SQLite reports {mode!r})",
                hint="keep the state database on a local file system",
            )

    def _migrate(self, migrations: Sequence[Migration]) -> int:
        """Bring the schema up to date; return the resulting version."""
        latest = max((migration.version for migration in migrations), default=0)
        try:
            with self._write("migrate") as connection:
                schema_version.create(connection, checkfirst=True)
                current = connection.scalar(select(func.max(schema_version.c.version))) or 0
                if current > latest:
                    raise StoreError(
                        f"the state database {self.path} has schema version {current},"
                        f" newer than this hfdl understands ({latest})",
                        hint="upgrade hfdl, or point it at another state database",
                    )
                for migration in sorted(migrations, key=lambda item: item.version):
                    if migration.version <= current:
                        continue
                    migration.apply(connection)
                    connection.execute(
                        schema_version.insert().values(
                            version=migration.version,
                            description=migration.description,
                            applied_at=utc_now(),
                        )
                    )
                    current = migration.version
                return current
        except exc.SQLAlchemyError as error:
            raise store_error(self.path, "migrate", error) from None

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def _translate_errors(self, action: str) -> Iterator[None]:
        """Turn database failures (locked, disk full, corrupt) into StoreError.

        IntegrityError passes through: callers turn constraint violations into their own
        errors, and one that escapes is a bug.
        """
        try:
            yield
        except exc.IntegrityError:
            raise
        except exc.DBAPIError as error:
            raise store_error(self.path, action, error) from None

    @contextmanager
    def _read(self, action: str = "read") -> Iterator[Connection]:
        """A connection whose statements share one consistent snapshot; rolled back at exit.

        ``action`` names the operation in error messages ("cannot read the state database").
        """
        with self._translate_errors(action), self._engine.connect() as connection:
            yield connection

    @contextmanager
    def _write(self, action: str = "write") -> Iterator[Connection]:
        """A ``BEGIN IMMEDIATE`` transaction, committed at exit (rolled back on error).

        ``action`` names the operation in error messages ("cannot write the state database").
        """
        with (
            self._write_lock,
            self._translate_errors(action),
            self._engine.connect() as connection,
        ):
            connection.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            with connection.begin():
                yield connection

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Close every pooled connection. The object must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()
