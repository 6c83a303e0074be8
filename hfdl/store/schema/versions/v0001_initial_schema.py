"""Initial schema: models, schedules, sessions, attempts, files.

Revision ID: 0001
Revises: (none)

Reproduces version 1 of the migrations hfdl used before Alembic, column for column, so that a
SQLite database made by them and one made by this revision are the same (tests/e2e/
test_schema.py compares them). The types are chosen per backend: SQLite keeps the old
``INTEGER`` 0/1 booleans with their CHECKs and ``REAL``; PostgreSQL gets ``BOOLEAN``,
``BIGINT`` byte counts and ``DOUBLE PRECISION``. Timestamps are ISO 8601 text on both.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies, not hfdl.store.tables: a released revision must never change.
_BYTES = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BOOLEAN = sa.Boolean().with_variant(sa.Integer(), "sqlite")
_SECONDS = sa.Float().with_variant(sa.REAL(), "sqlite")


def _primary_key() -> sa.Column[Any]:
    # nullable=True keeps SQLite's "id INTEGER PRIMARY KEY" as the old migration wrote it (a
    # primary key is never NULL anyway); PostgreSQL makes it a SERIAL.
    return sa.Column("id", sa.Integer, primary_key=True, nullable=True)


def _flag(name: str, default: bool | None = None) -> tuple[sa.Column[Any], list[sa.Constraint]]:
    """A boolean column, and the 0/1 CHECK it needs on SQLite only."""
    server_default = None if default is None else (sa.true() if default else sa.false())
    column: sa.Column[Any] = sa.Column(
        name, _BOOLEAN, nullable=False, server_default=server_default
    )
    if op.get_bind().dialect.name == "sqlite":
        return column, [sa.CheckConstraint(f"{name} IN (0, 1)")]
    return column, []


def _flags(*declarations: tuple[str, bool | None]) -> list[Any]:
    columns: list[Any] = []
    checks: list[Any] = []
    for name, default in declarations:
        column, constraints = _flag(name, default)
        columns.append(column)
        checks.extend(constraints)
    return [*columns, *checks]


def upgrade() -> None:
    op.create_table(
        "models",
        _primary_key(),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        *_flags(("enabled", None), ("removed", False)),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("size_estimate", sa.Text),
        sa.Column("size_estimate_bytes", _BYTES),
        sa.Column("priority", sa.Text, nullable=False, server_default="medium"),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("revision", sa.Text, nullable=False, server_default="main"),
        sa.Column("allow_patterns", sa.Text),
        sa.Column("ignore_patterns", sa.Text),
        sa.Column("catalog_index", sa.Integer),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("commit_sha", sa.Text),
        sa.Column("bytes_on_disk", _BYTES),
        sa.Column("last_success_at", sa.Text),
        sa.Column("last_checked_at", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.CheckConstraint("priority IN ('high', 'medium', 'low')"),
        sa.CheckConstraint("status IN ('pending', 'downloading', 'completed', 'failed')"),
        sa.CheckConstraint("attempts >= 0"),
    )
    op.create_index("models_status", "models", ["status"])

    op.create_table(
        "schedules",
        _primary_key(),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("day", sa.Text),
        *_flags(("enabled", True), ("active", False)),
        sa.Column(
            "max_concurrent_downloads", sa.Integer, nullable=False, server_default=sa.text("1")
        ),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.CheckConstraint("type IN ('daily', 'weekly')"),
        sa.CheckConstraint("max_concurrent_downloads >= 1"),
    )

    op.create_table(
        "sessions",
        _primary_key(),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("schedule_name", sa.Text),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("ended_at", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="running"),
        sa.Column("models_total", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("models_completed", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("models_failed", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("models_skipped", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("bytes_downloaded", _BYTES, nullable=False, server_default=sa.text("0")),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("invocation_id", sa.Text),
        sa.Column("error", sa.Text),
        sa.CheckConstraint("trigger IN ('manual', 'timer')"),
        sa.CheckConstraint("status IN ('running', 'completed', 'failed', 'interrupted')"),
    )
    op.create_index("sessions_status", "sessions", ["status"])

    op.create_table(
        "attempts",
        _primary_key(),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("model_name", sa.Text, sa.ForeignKey("models.name"), nullable=False),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("ended_at", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="running"),
        sa.Column("bytes_downloaded", _BYTES, nullable=False, server_default=sa.text("0")),
        sa.Column("bytes_total", _BYTES),
        sa.Column("retries", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("error", sa.Text),
        sa.Column("commit_sha", sa.Text),
        sa.Column("duration_seconds", _SECONDS),
        sa.Column("progress_updated_at", sa.Text),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'skipped', 'interrupted')"
        ),
    )
    op.create_index("attempts_session", "attempts", ["session_id"])
    op.create_index("attempts_model", "attempts", ["model_name", "id"])
    op.create_index("attempts_status", "attempts", ["status", "id"])

    op.create_table(
        "files",
        _primary_key(),
        sa.Column("model_name", sa.Text, sa.ForeignKey("models.name"), nullable=False),
        sa.Column("commit_sha", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", _BYTES, nullable=False),
        sa.Column("etag", sa.Text, nullable=False),
        sa.Column("blob_name", sa.Text, nullable=False),
        *_flags(("is_lfs", None)),
        sa.Column("verified_at", sa.Text, nullable=False),
        sa.CheckConstraint("size >= 0"),
        sa.UniqueConstraint("model_name", "commit_sha", "path"),
    )
