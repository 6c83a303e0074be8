"""Opening the state database (SQLite or PostgreSQL): files, pragmas, migrations, transactions.

:class:`Database` is the base of :class:`hfdl.store.Store`; it owns one SQLAlchemy engine
and hands out read and write transactions.

Concurrency: one engine per process with SQLAlchemy's default pool for file databases
(``QueuePool``; connections are handed between threads, never used by two at once). WAL
journal mode lets readers (``hfdl status``) run while a download writes. Writes take a
process-wide lock and start with ``BEGIN IMMEDIATE``, so two writer threads never deadlock on
a read-to-write lock upgrade; other processes wait up to ``busy_timeout``.

Another process holding the write lock (an ``hfdl run``, ``models add``, or a ``sqlite3``
shell in a transaction) is a temporary condition, not damage: every connection waits for it up
to :data:`BUSY_TIMEOUT_MS` (60 s, or ``$HFDL_DB_BUSY_TIMEOUT`` seconds), so a run survives a
lock held for a while, and past that raises :class:`~hfdl.errors.DatabaseBusy` (exit 75, "try
again"), never ``StoreError`` (exit 73, whose hint says to move a damaged file aside).

PostgreSQL (``database_url``, issue 13): the same statements through SQLAlchemy Core; reads
run in one ``REPEATABLE READ`` snapshot, writes at ``READ COMMITTED`` behind the same
process-wide lock; ``lock_timeout`` plays ``busy_timeout``'s part (then ``DatabaseBusy``).
Migrations (:mod:`hfdl.store.migrate`) take a transaction-level advisory lock instead of
``BEGIN IMMEDIATE``. Hosts writing the same rows at once are not coordinated yet (see
docs/fleet.md, "Limits today").
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Table, create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url

from hfdl.database_url import DatabaseTarget, database_target
from hfdl.errors import HfdlError, StoreError
from hfdl.store import migrate, schema
from hfdl.store.db_errors import store_error

# How long a statement waits for another process's write lock; see busy_timeout_ms().
BUSY_TIMEOUT_ENV = "HFDL_DB_BUSY_TIMEOUT"
DEFAULT_BUSY_TIMEOUT_SECONDS = 60.0


def busy_timeout_ms(environ: Mapping[str, str] = os.environ) -> int:
    """How long (milliseconds) to wait for another process's lock on the state database.

    Args:
        environ: where ``HFDL_DB_BUSY_TIMEOUT`` (seconds, ``0`` to 3600) is read; tests set
            it short. Absent or not a number in range: 60 s.

    Returns:
        The timeout in milliseconds.
    """
    text = environ.get(BUSY_TIMEOUT_ENV, "").strip()
    try:
        seconds = float(text) if text else DEFAULT_BUSY_TIMEOUT_SECONDS
    except ValueError:
        seconds = DEFAULT_BUSY_TIMEOUT_SECONDS
    if not 0 <= seconds <= 3600:
        seconds = DEFAULT_BUSY_TIMEOUT_SECONDS
    return int(seconds * 1000)


BUSY_TIMEOUT_MS = busy_timeout_ms()
DB_FILE_MODE = 0o600
STATE_DIR_MODE = 0o700

_BEGIN_OPTION = "hfdl_begin"


class Database:
    """An open state database: the engine, the schema revision and transaction helpers.

    Args:
        where: the SQLite file (a ``Path``, a path string or a ``sqlite:///`` URL), or a
            PostgreSQL database (a ``postgresql+psycopg://`` URL); see
            :func:`hfdl.database_url.database_target`. SQLite: missing parent directories
            are created (mode 0700) and a missing file is created with mode 0600 before
            SQLite opens it, so the database is never readable by other users, not even for
            an instant. PostgreSQL: the database must exist; an empty one is initialised.
        read_only: open an existing database for reading only (``hfdl run --dry-run``):
            nothing is created, migrated or written (on SQLite not even the ``-wal``/``-shm``
            files, see :func:`read_only_uri`); a write raises ``StoreError``.
        host_id: the host this process writes as (the ``host_id`` setting): recorded with
            every attempt and model state change; default ``socket.gethostname()``.

    Raises:
        StoreError: the directory or file cannot be created, the database cannot be reached
            or is not a readable hfdl database (corrupt or foreign), WAL mode cannot be
            enabled, the schema is newer than this hfdl knows, or a migration fails. The
            message names the database (a URL without its password). Read-only: the file is
            missing or its schema is not this hfdl's.
        DatabaseBusy: another process held a lock past the busy timeout.
    """

    def __init__(
        self,
        where: Path | str | DatabaseTarget,
        *,
        read_only: bool = False,
        host_id: str | None = None,
    ) -> None:
        self.target = database_target(where)
        self.host_id = host_id or socket.gethostname()
        self.location = self.target.display
        self.read_only = read_only
        self._write_lock = threading.Lock()
        if self.target.path is not None and not read_only:
            self._create_file(self.target.path)
        self._engine = self._create_engine()
        try:
            if read_only:
                self.schema_revision = self._check_schema_revision()
            else:
                if self.is_sqlite:
                    self._enable_wal()
                self.schema_revision = self._migrate()
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def path(self) -> Path:
        """The SQLite file.

        Raises:
            StoreError: the database is on a server, not in a file.
        """
        if self.target.path is None:
            raise StoreError(f"the state database {self.location} is not a file")
        return self.target.path

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is a SQLite file (else PostgreSQL)."""
        return self.target.path is not None

    # -- opening -------------------------------------------------------------------------

    def _create_file(self, path: Path) -> None:
        try:
            path.parent.mkdir(mode=STATE_DIR_MODE, parents=True, exist_ok=True)
            # O_CREAT with 0600 before SQLite ever sees the path: SQLite would create the
            # file with the umask's mode (often 0644), and its -wal/-shm files copy the mode.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, DB_FILE_MODE)
            os.close(fd)
        except OSError as error:
            raise store_error(self.location, "create", error) from None

    def _create_engine(self) -> Engine:
        if self.target.path is None:
            return self._create_server_engine()
        path = self.target.path
        # URL.create takes the file name verbatim; a URL string would misparse '?' or '%'.
        url = URL.create("sqlite+pysqlite", database=str(path))
        if self.read_only:
            uri = read_only_uri(path)
            engine = create_engine(
                url,
                creator=lambda: sqlite3.connect(
                    uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
                ),
            )
        else:
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

    def _create_server_engine(self) -> Engine:
        """PostgreSQL: waits for another transaction's lock at most the busy timeout
        (``lock_timeout``, then :class:`DatabaseBusy`), like SQLite's ``busy_timeout``."""
        engine = create_engine(
            make_url(str(self.target.url)),
            pool_pre_ping=True,
            connect_args={
                "options": f"-c lock_timeout={BUSY_TIMEOUT_MS} -c timezone=UTC",
                "connect_timeout": 30,
            },
        )
        if self.read_only:
            return engine.execution_options(postgresql_readonly=True)
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
            raise database_error(self.location, "open", error) from None
        mode = str(row[0]).lower() if row else "unknown"
        if mode != "wal":
            raise StoreError(
                f"cannot enable WAL journal mode on the state database {self.location}"
                f" (SQLite reports {mode!r})",
                hint="keep the state database on a local file system",
            )

    def _check_schema_revision(self) -> str:
        """The schema revision of a database opened read-only, which cannot be migrated."""
        with self._read("open") as connection:
            state = migrate.schema_state(connection)
        current = state.revision
        if not state.up_to_date:
            raise StoreError(
                f"the state database {self.location} has schema revision {current} and this"
                f" hfdl reads revision {schema.HEAD_REVISION}; a read-only look cannot migrate it",
                hint="run hfdl once without --dry-run to migrate it, or use a matching hfdl",
            )
        return schema.HEAD_REVISION

    def _migrate(self) -> str:
        """Bring the schema up to date; return the resulting revision."""
        try:
            with self._engine.connect() as connection:
                state = migrate.schema_state(connection)
        except exc.DBAPIError as error:
            if not self.is_sqlite:
                raise database_error(self.location, "open", error) from None
            # A new file, or an error the migration's write transaction will report.
            state = migrate.SchemaState(None, legacy=False)
        if state.up_to_date:
            # Up to date (the usual case): no write lock is needed, so opening the database
            # never waits for another process that is writing it.
            return schema.HEAD_REVISION
        if migrate.is_newer(state.revision):
            raise migrate.newer_schema_error(self.location, state.revision)
        try:
            with self._write("migrate") as connection:
                migrate.take_migration_lock(connection)
                return migrate.upgrade(connection, self.location)
        except exc.SQLAlchemyError as error:
            raise database_error(self.location, "migrate", error) from None

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
            raise database_error(self.location, action, error) from None

    @contextmanager
    def _read(self, action: str = "read") -> Iterator[Connection]:
        """A connection whose statements share one consistent snapshot; rolled back at exit.

        ``action`` names the operation in error messages ("cannot read the state database").
        """
        with self._translate_errors(action), self._engine.connect() as connection:
            if not self.is_sqlite:
                # READ COMMITTED takes a snapshot per statement; one for all of them.
                connection.execution_options(isolation_level="REPEATABLE READ")
            yield connection

    @contextmanager
    def _write(self, action: str = "write") -> Iterator[Connection]:
        """A write transaction, committed at exit (rolled back on error): ``BEGIN IMMEDIATE``
        on SQLite; on PostgreSQL a ``READ COMMITTED`` one (row locks order the writers).

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

    def _upsert(self, table: Table) -> Any:
        """An INSERT into ``table`` of this backend's dialect, which offers
        ``on_conflict_do_update`` (SQLite's and PostgreSQL's take the same arguments)."""
        if self.is_sqlite:
            return sqlite.insert(table)
        return postgresql.insert(table)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Close every pooled connection. The object must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()


def read_only_uri(path: Path) -> str:
    """The ``file:`` URI that reads an existing database without creating any file.

    ``mode=ro`` alone still creates a WAL database's ``-wal`` and ``-shm`` files (and leaves
    them behind). When both exist, another process has the database open: ``mode=ro`` uses
    them as they are and sees its latest commits. Otherwise no connection has it open, and
    ``immutable=1`` reads the main file as it is, creating nothing (a ``-wal`` left alone by a
    crashed writer is not read: the next real run recovers it).
    """
    quoted = urllib.parse.quote(str(path))
    wal, shm = (Path(f"{path}{suffix}") for suffix in ("-wal", "-shm"))
    if wal.exists() and shm.exists():
        return f"file:{quoted}?mode=ro"
    return f"file:{quoted}?mode=ro&immutable=1"


def database_error(location: str, action: str, error: BaseException) -> HfdlError:
    """The error to raise for a failed database operation.

    Args:
        location: the database as messages name it (a path, or a URL without password).
        action: the verb for the message ("read", "write", "open", "migrate").
        error: the underlying exception.

    Returns:
        :class:`DatabaseBusy` (exit 75, temporary) when another process held the lock past
        the busy timeout, else the ``StoreError`` of :func:`hfdl.store.db_errors.store_error`.
    """
    return store_error(location, action, error, busy_timeout_seconds=BUSY_TIMEOUT_MS / 1000)
