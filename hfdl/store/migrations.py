"""Ordered schema migrations of the state database.

Each :class:`Migration` takes the database from ``version - 1`` to ``version``. At open,
:class:`hfdl.store.Store` applies every migration newer than the database's version, in
order, inside one ``BEGIN IMMEDIATE`` transaction, recording each in ``schema_version``; if
any step fails, nothing is applied. A released migration must never be edited: add a new one
to the end of :data:`MIGRATIONS` and update :mod:`hfdl.store.tables` to match.

Migrations are plain SQL so that they stay frozen even when the table definitions move on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only for annotations: hfdl.store.reader reads LATEST_VERSION without loading SQLAlchemy.
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Migration:
    """One schema step: ``apply(connection)`` runs inside the open transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def run_statements(connection: Connection, script: str) -> None:
    """Execute ``;``-separated SQL statements (no ``;`` inside literals, by convention)."""
    for statement in script.split(";"):
        if statement.strip():
            connection.exec_driver_sql(statement)


_INITIAL_SCHEMA = """
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
)
"""


def _initial_schema(connection: Connection) -> None:
    run_statements(connection, _INITIAL_SCHEMA)


def _session_process_start(connection: Connection) -> None:
    # Which process instance ran a session (boot id and start time), so that a report can
    # tell the run from a later process that reuses its pid. NULL for older sessions.
    run_statements(connection, "ALTER TABLE sessions ADD COLUMN process_start TEXT")


MIGRATIONS: list[Migration] = [
    Migration(1, "initial schema", _initial_schema),
    Migration(2, "sessions.process_start", _session_process_start),
]

# The schema version a database has once every migration is applied.
LATEST_VERSION = max(migration.version for migration in MIGRATIONS)
