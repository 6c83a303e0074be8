"""A real PostgreSQL server for the tests, started once per session (fixtures ``postgres``,
``postgres_url`` and ``database_url``).

Debian's ``postgresql`` package provides the binaries (``/usr/lib/postgresql/15/bin``). The
server refuses to run as root, so ``initdb`` and ``pg_ctl`` run as the unprivileged ``nobody``
(through ``runuser``) on a data directory and a socket directory inside a temporary directory
owned by that user. It listens on 127.0.0.1 on a free port with ``trust`` authentication for
the superuser ``hfdl_test`` (and SCRAM for one role, :data:`PASSWORD_ROLE`, for the tests of
where a password is kept); each test gets a database of its own (``postgres_url``), so tests
stay independent. ``initdb`` and the start take about a second once per session.

Where PostgreSQL or root is missing the tests that need it skip; with ``CI=true`` they fail
(:mod:`tests.tiers`).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.tiers import unavailable

BIN_DIRECTORY = Path(os.environ.get("HFDL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "hfdl_test"
# The account the server runs as: postgres refuses root, and nobody exists everywhere.
SERVER_ACCOUNT = "nobody"
# A password that must never show up anywhere hfdl writes (the secret-leak tests use it).
PASSWORD = "s3cret-pg-Passw0rd"
# The one role the server asks a password of (PASSWORD); see start_server().
PASSWORD_ROLE = "hfdl_password"


@dataclass
class PostgresServer:
    """A running test server.

    Attributes:
        port: its TCP port on 127.0.0.1.
        directory: the temporary directory holding its data and socket directories.
        started_in: seconds ``initdb`` plus ``pg_ctl start`` took.
    """

    port: int
    directory: Path
    started_in: float
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """A SQLAlchemy URL (driver psycopg) of ``database``; ``password`` is accepted by the
        trust authentication and only there to test that it never leaks."""
        credentials = SUPERUSER if password is None else f"{SUPERUSER}:{password}"
        return f"postgresql+psycopg://{credentials}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create an empty database of a new name and return that name."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._names)}"
        conninfo = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def create_password_role(self, database: str) -> None:
        """Let :data:`PASSWORD_ROLE` (password :data:`PASSWORD`) own ``database``: a role
        that, unlike the others, must authenticate."""
        self.query(
            "postgres",
            f"DO $$ BEGIN CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}';"
            " EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        )
        self.query("postgres", f'ALTER DATABASE "{database}" OWNER TO {PASSWORD_ROLE}')
        self.query(database, f"GRANT ALL ON SCHEMA public TO {PASSWORD_ROLE}")

    def query(self, database: str, sql: str) -> list[tuple[object, ...]]:
        """Run ``sql`` in ``database`` (autocommit) and return its rows (``[]`` if none)."""
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"
        with psycopg.connect(conninfo, autocommit=True) as connection:
            cursor = connection.execute(sql)
            return list(cursor.fetchall()) if cursor.description else []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_account(*command: str | Path) -> list[str]:
    args = [str(part) for part in command]
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", SERVER_ACCOUNT, "--", *args]


def start_server() -> tuple[PostgresServer, Path]:
    """Initialise and start a server in a new temporary directory.

    Returns:
        The server and its data directory (for :func:`stop_server`).

    Raises:
        subprocess.CalledProcessError: ``initdb`` or ``pg_ctl`` failed (its output attached).
    """
    began = time.monotonic()
    directory = Path(tempfile.mkdtemp(prefix="hfdl-tests-pg-"))
    data, sockets = directory / "data", directory / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_ACCOUNT)
        for path in (directory, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    subprocess.run(
        _as_server_account(
            BIN_DIRECTORY / "initdb",
            "-D",
            data,
            "--auth=trust",
            "-U",
            SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ),
        check=True,
        capture_output=True,
        text=True,
        cwd=directory,
    )
    # Everyone is trusted except PASSWORD_ROLE, which must give its password (SCRAM): the
    # tests of where a password is kept (docs/fleet.md) need a server that asks for one.
    # Written into the existing file, which keeps the server account as its owner.
    (data / "pg_hba.conf").write_text(
        f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
        "host all all 127.0.0.1/32 trust\n"
        "local all all trust\n"
    )
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off"
    subprocess.run(
        _as_server_account(
            BIN_DIRECTORY / "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-l",
            directory / "log",
            "-w",
            "start",
        ),
        check=True,
        capture_output=True,
        text=True,
        cwd=directory,
    )
    return PostgresServer(port, directory, time.monotonic() - began), data


def stop_server(server: PostgresServer, data: Path) -> None:
    """Stop the server (immediate mode) and delete its directory."""
    subprocess.run(
        _as_server_account(BIN_DIRECTORY / "pg_ctl", "-D", data, "-m", "immediate", "stop"),
        check=False,
        capture_output=True,
    )
    shutil.rmtree(server.directory, ignore_errors=True)


def _missing() -> str | None:
    """Why the server cannot run here, or ``None``."""
    if not (BIN_DIRECTORY / "pg_ctl").exists():
        return f"needs PostgreSQL 15 in {BIN_DIRECTORY} (apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "needs runuser(1) to run PostgreSQL as an unprivileged user"
    return None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (skipped where it cannot run; on CI: failed)."""
    reason = _missing()
    if reason is not None:
        unavailable("PostgreSQL", reason)
    try:
        server, data = start_server()
    except subprocess.CalledProcessError as error:
        pytest.fail(f"PostgreSQL did not start: {error.stdout}{error.stderr}", pytrace=False)
    try:
        yield server
    finally:
        stop_server(server, data)


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """The SQLAlchemy URL of a new, empty database for this test alone."""
    return postgres.url(postgres.create_database())


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test once per database backend: ``sqlite``, then ``postgresql``."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store of this test lives, for the ``backend`` parameter: a SQLite URL of a file
    in ``tmp_path``, or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'hfdl.db'}"
    return str(request.getfixturevalue("postgres_url"))


def run_sql(where: str | Path, sql: str, **parameters: object) -> list[tuple[Any, ...]]:
    """Run one statement on a state database of either backend, outside hfdl, and commit.

    Args:
        where: a SQLite file or a database URL (``Store.target`` gives one of them).
        sql: the statement, with ``:name`` placeholders.
        parameters: their values.

    Returns:
        The rows, ``[]`` for a statement that returns none.
    """
    from sqlalchemy import create_engine, text

    from hfdl.database_url import database_target

    target = database_target(where)
    url = f"sqlite:///{target.path}" if target.path is not None else str(target.url)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql), parameters)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()
