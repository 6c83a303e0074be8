"""The state database's schema and its Alembic history, on SQLite and a real PostgreSQL.

A database made by the migration runner hfdl had before Alembic is built here from a frozen
copy of its SQL (:data:`LEGACY_SQL`, never to be edited), filled with rows in every table,
then opened by today's ``Store``: every row must survive and the schema must equal the one a
fresh database gets.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from hfdl.errors import StoreError
from hfdl.store import Store, migrate, schema
from hfdl.store.reader import StateReader
from hfdl.store.schema import HEAD_REVISION, LEGACY_VERSIONS
from hfdl.store.tables import metadata as table_metadata
from tests.postgres import run_sql

HOST = socket.gethostname()
# A revision after the shipped head, for the tests that extend the history.
NEXT_REVISION = f"{int(HEAD_REVISION) + 1:04d}"

# The SQL of the migrations before Alembic (hfdl/store/migrations.py, versions 1 and 2),
# frozen: the databases in the field were made by exactly this.
LEGACY_SQL = {
    1: """
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    removed INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
    description TEXT NOT NULL DEFAULT '',
    size_estimate TEXT,
    size_estimate_bytes INTEGER,
    priority TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('high', 'medium', 'low')),
    tags TEXT NOT NULL DEFAULT '[]',
    revision TEXT NOT NULL DEFAULT 'main',
    allow_patterns TEXT,
    ignore_patterns TEXT,
    catalog_index INTEGER,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'downloading', 'completed', 'failed')),
    commit_sha TEXT,
    bytes_on_disk INTEGER,
    last_success_at TEXT,
    last_checked_at TEXT,
    last_error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX models_status ON models (status);
CREATE TABLE schedules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL CHECK (type IN ('daily', 'weekly')),
    time TEXT NOT NULL,
    day TEXT,
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    max_concurrent_downloads INTEGER NOT NULL DEFAULT 1 CHECK (max_concurrent_downloads >= 1),
    tags TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'timer')),
    schedule_name TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
    models_total INTEGER NOT NULL DEFAULT 0,
    models_completed INTEGER NOT NULL DEFAULT 0,
    models_failed INTEGER NOT NULL DEFAULT 0,
    models_skipped INTEGER NOT NULL DEFAULT 0,
    bytes_downloaded INTEGER NOT NULL DEFAULT 0,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    invocation_id TEXT,
    error TEXT
);
CREATE INDEX sessions_status ON sessions (status);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    model_name TEXT NOT NULL REFERENCES models (name),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'completed', 'failed', 'skipped', 'interrupted')),
    bytes_downloaded INTEGER NOT NULL DEFAULT 0,
    bytes_total INTEGER,
    retries INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    commit_sha TEXT,
    duration_seconds REAL,
    progress_updated_at TEXT
);
CREATE INDEX attempts_session ON attempts (session_id);
CREATE INDEX attempts_model ON attempts (model_name, id);
CREATE INDEX attempts_status ON attempts (status, id);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    model_name TEXT NOT NULL REFERENCES models (name),
    commit_sha TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    etag TEXT NOT NULL,
    blob_name TEXT NOT NULL,
    is_lfs INTEGER NOT NULL CHECK (is_lfs IN (0, 1)),
    verified_at TEXT NOT NULL,
    UNIQUE (model_name, commit_sha, path)
);
INSERT INTO schema_version VALUES (1, 'initial schema', '2026-11-01T00:00:00.000000Z');
""",
    2: """
ALTER TABLE sessions ADD COLUMN process_start TEXT;
INSERT INTO schema_version VALUES (2, 'sessions.process_start', '2026-11-15T00:00:00.000000Z');
""",
}

T = "2026-11-20T10:00:00.000000Z"
# One row or more in every table, as an old hfdl left them (a 5 GiB model: above 2**31).
LEGACY_ROWS = {
    "models": [
        (1, "org/a", 1, 0, "first", "5GB", 5_000_000_000, "high", '["nlp"]', "main", '["*.json"]',
         None, 0, "completed", "a" * 40, 5_368_709_120, T, T, None, 1, T, T),
        (2, "org/b", 0, 1, "", None, None, "low", "[]", "v1", None, '["*.bin"]', None, "failed",
         None, None, None, T, "boom", 3, T, T),
    ],
    "schedules": [(1, "nightly", "weekly", "03:30", "Sat", 1, 1, 4, '["nlp"]', T, T)],
    "sessions": [
        (1, "timer", "nightly", T, T, "completed", 2, 1, 1, 0, 5_368_709_120, HOST, 4242, "inv",
         None),
    ],
    "attempts": [
        (1, 1, "org/a", T, T, "completed", 5_368_709_120, 5_368_709_120, 0, None, "a" * 40, 12.5,
         T),
        (2, 1, "org/b", T, T, "failed", 0, None, 3, "boom", None, 0.25, None),
    ],
    "files": [(1, "org/a", "a" * 40, "model.safetensors", 5_368_709_120, "etag", "b" * 64, 1, T)],
}  # fmt: skip


def make_legacy_database(path: Path, version: int, *, with_rows: bool = True) -> None:
    """A SQLite database as the old migration runner left it at ``version``, with rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as raw:
        for step in range(1, version + 1):
            raw.executescript(LEGACY_SQL[step])
        for table, rows in LEGACY_ROWS.items() if with_rows else ():
            columns = ", ".join(legacy_columns(table))
            for row in rows:
                marks = ", ".join("?" * len(row))
                raw.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)
    raw.close()


def legacy_columns(table: str) -> list[str]:
    """The columns of ``table`` in version 1 (sessions.process_start came in version 2, the
    fleet columns in revision 0003)."""
    later = {
        "sessions": {"process_start", "heartbeat_at"},
        "attempts": {"host"},
        "models": {"host"},
    }.get(table, set())
    columns = [column.name for column in table_metadata.tables[table].columns]
    return [column for column in columns if column not in later]


def table_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as raw:
        columns = ", ".join(legacy_columns(table))
        rows = raw.execute(f"SELECT {columns} FROM {table} ORDER BY id").fetchall()
    raw.close()
    return rows


def schema_of(url: str) -> dict[str, Any]:
    """Everything SQLAlchemy's inspector says about the tables, comparable between databases."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        schema: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            schema[table] = {
                "columns": [
                    (
                        column["name"],
                        str(column["type"]),
                        column["nullable"],
                        None if column["default"] is None else str(column["default"]),
                    )
                    for column in inspector.get_columns(table)
                ],
                "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
                "foreign_keys": sorted(
                    (tuple(key["constrained_columns"]), key["referred_table"])
                    for key in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                    for index in inspector.get_indexes(table)
                ),
                "unique": sorted(
                    tuple(constraint["column_names"])
                    for constraint in inspector.get_unique_constraints(table)
                ),
                "checks": sorted(
                    " ".join(check["sqltext"].split())
                    for check in inspector.get_check_constraints(table)
                ),
            }
        return schema
    finally:
        engine.dispose()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "hfdl.db"


# -- the history -------------------------------------------------------------------------------


def test_head_revision_and_legacy_map_match_the_alembic_history() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [HEAD_REVISION]
    history = [revision.revision for revision in script.walk_revisions("base", "heads")]
    assert history[::-1] == sorted(history)  # one linear history, oldest first
    assert set(LEGACY_VERSIONS.values()) <= set(history)
    assert LEGACY_VERSIONS[max(LEGACY_VERSIONS)] == "0002"


def test_fresh_schema_matches_the_table_definitions(database_url: str) -> None:
    with Store(database_url) as store:
        assert store.schema_revision == HEAD_REVISION
    schema = schema_of(database_url)
    assert set(schema) == {*table_metadata.tables, "alembic_version"}
    for table in table_metadata.sorted_tables:
        columns = [column[0] for column in schema[table.name]["columns"]]
        assert columns == [column.name for column in table.columns], table.name
        assert not [column for column in columns if "token" in column or "password" in column]
    assert run_sql(database_url, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_postgresql_types_hold_large_sizes_and_booleans(postgres_url: str) -> None:
    with Store(postgres_url):
        pass
    types = {
        (table, column[0]): column[1]
        for table, facts in schema_of(postgres_url).items()
        for column in facts["columns"]
    }
    assert types["models", "bytes_on_disk"] == "BIGINT"
    assert types["files", "size"] == "BIGINT"
    assert types["models", "enabled"] == "BOOLEAN"
    assert types["attempts", "duration_seconds"] == "DOUBLE PRECISION"


# -- databases of the migrations before Alembic ------------------------------------------------


@pytest.mark.parametrize("version", sorted(LEGACY_SQL))
def test_legacy_sqlite_database_upgrades_with_every_row(
    db_path: Path, tmp_path: Path, version: int
) -> None:
    make_legacy_database(db_path, version)
    before = {table: table_rows(db_path, table) for table in LEGACY_ROWS}
    assert all(before.values())

    with Store(db_path) as store:
        assert store.schema_revision == HEAD_REVISION
        model = store.get_model("org/a")
        assert model is not None and model.bytes_on_disk == 5_368_709_120
        assert model.tags == ("nlp",) and model.enabled and not model.removed

    assert {table: table_rows(db_path, table) for table in LEGACY_ROWS} == before
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    assert schema_of(f"sqlite:///{db_path}") == schema_of(f"sqlite:///{fresh}")
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
        starts = raw.execute("SELECT process_start FROM sessions").fetchall()
    raw.close()
    assert starts == [(None,)]


def test_legacy_database_read_by_a_report_is_upgraded_first(db_path: Path) -> None:
    make_legacy_database(db_path, 1)
    with StateReader(db_path, host=HOST) as reader:
        assert reader.list_schedules()[0].name == "nightly"
        assert reader.latest_session() is not None
    with sqlite3.connect(db_path) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    raw.close()
    assert "schema_version" not in tables and "alembic_version" in tables


def test_legacy_database_of_an_unknown_newer_version_is_refused(db_path: Path) -> None:
    make_legacy_database(db_path, 2, with_rows=False)
    with sqlite3.connect(db_path) as raw:
        raw.execute("INSERT INTO schema_version VALUES (3, 'future', ?)", (T,))
    raw.close()
    with pytest.raises(StoreError, match="newer than this hfdl"):
        Store(db_path)
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT max(version) FROM schema_version").fetchone() == (3,)
    raw.close()


# -- migrating ---------------------------------------------------------------------------------


@pytest.fixture
def history_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Add a revision 0003 (its ``upgrade`` body given as source) to a copy of the history."""
    location = tmp_path / "schema"
    shutil.copytree(
        Path(migrate.__file__).parent / "schema",
        location,
        ignore=shutil.ignore_patterns("__pycache__"),
    )

    def add(body: str) -> None:
        (location / "versions" / f"v{NEXT_REVISION}_test.py").write_text(
            "import sqlalchemy as sa\nfrom alembic import op\n"
            f"revision = '{NEXT_REVISION}'\ndown_revision = '{HEAD_REVISION}'\n"
            "branch_labels = None\n"
            "depends_on = None\n\n\ndef upgrade():\n" + textwrap.indent(body, "    ")
        )
        config = migrate.alembic_config()
        config.set_main_option("script_location", str(location))
        monkeypatch.setattr(migrate, "alembic_config", lambda: config)
        monkeypatch.setattr(schema, "HEAD_REVISION", NEXT_REVISION)

    yield add


def test_a_new_revision_upgrades_and_keeps_rows(database_url: str, history_with: Any) -> None:
    with Store(database_url) as store:
        run_sql(
            database_url,
            "INSERT INTO models (name, enabled, removed, description, priority, tags, revision,"
            " status, attempts, created_at, updated_at) VALUES ('org/a', :yes, :no, '',"
            " 'medium', '[]', 'main', 'completed', 0, :t, :t)",
            yes=True,
            no=False,
            t=T,
        )
    history_with(
        "op.add_column('models', sa.Column('note', sa.Text))\n"
        "op.execute(\"UPDATE models SET note = 'v3'\")\n"
    )
    with Store(database_url) as store:
        assert store.schema_revision == NEXT_REVISION
        model = store.get_model("org/a")
        assert model is not None and model.status == "completed"
    assert run_sql(database_url, "SELECT name, note FROM models") == [("org/a", "v3")]
    assert run_sql(database_url, "SELECT version_num FROM alembic_version") == [(NEXT_REVISION,)]


def test_a_failed_migration_applies_nothing(database_url: str, history_with: Any) -> None:
    Store(database_url).close()
    history_with(
        "op.create_table('extra', sa.Column('x', sa.Integer))\n"
        "op.execute('INSERT INTO no_such_table VALUES (1)')\n"
    )
    with pytest.raises(StoreError, match="cannot migrate the state database"):
        Store(database_url)
    assert run_sql(database_url, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]
    assert "extra" not in schema_of(database_url)


def test_a_database_newer_than_this_hfdl_is_refused(database_url: str) -> None:
    Store(database_url).close()
    run_sql(database_url, "UPDATE alembic_version SET version_num = 'f00d'")
    with pytest.raises(StoreError, match="schema revision f00d, newer than this hfdl"):
        Store(database_url)
    with pytest.raises(StoreError, match="newer than this hfdl"):
        StateReader(database_url)


def test_read_only_open_never_migrates(database_url: str) -> None:
    Store(database_url).close()
    run_sql(database_url, "UPDATE alembic_version SET version_num = '0001'")
    with pytest.raises(StoreError, match="a read-only look cannot migrate it"):
        Store(database_url, read_only=True)
    assert run_sql(database_url, "SELECT version_num FROM alembic_version") == [("0001",)]


def test_hosts_starting_at_once_migrate_one_after_the_other(postgres_url: str) -> None:
    """Several processes (here threads, each with its own engine) open an empty PostgreSQL
    database at the same moment: the advisory lock lets one migrate, the others find it done."""
    barrier = threading.Barrier(4)
    outcomes: list[object] = []

    def open_store() -> None:
        barrier.wait()
        try:
            with Store(postgres_url) as store:
                outcomes.append(store.schema_revision)
        except BaseException as error:  # reported below
            outcomes.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [HEAD_REVISION] * 4
    assert run_sql(postgres_url, "SELECT count(*) FROM alembic_version") == [(1,)]


def test_opening_an_up_to_date_database_does_not_load_alembic(db_path: Path) -> None:
    """Alembic is imported only when a migration is due: every command opens the store."""
    Store(db_path).close()
    code = (
        "import sys; from pathlib import Path; from hfdl.store import Store; "
        f"Store(Path({str(db_path)!r})).close(); print('alembic' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
