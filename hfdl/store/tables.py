"""SQLAlchemy Core descriptions of the state database's tables (the latest schema).

The tables are *created* by the Alembic revisions in :mod:`hfdl.store.schema`, never by
``metadata.create_all``: a revision is frozen once released, while these definitions always
describe the newest schema. ``tests/e2e/test_schema.py`` checks that the two agree. The same
statements run on SQLite and PostgreSQL (SQLAlchemy Core; no dialect-specific SQL).

Storage conventions:

* timestamps are TEXT in UTC, ``'2026-11-29T01:02:03.000000Z'`` (fixed width, so text order
  is time order); Python sees timezone-aware ``datetime`` objects (:class:`UtcDateTime`).
* lists of strings (tags, glob patterns) are JSON TEXT; Python sees tuples (:class:`JsonTuple`).
* booleans are INTEGER 0/1 on SQLite, BOOLEAN on PostgreSQL; byte counts BIGINT there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes stored as fixed-width ISO 8601 text ending in ``Z``.

    Naive datetimes are refused: a time without a zone cannot be compared with the others.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the state database stores UTC times")
        return value.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return datetime.strptime(value, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)


class JsonTuple(TypeDecorator[tuple[str, ...]]):
    """A tuple of strings stored as a JSON array; ``None`` is SQL NULL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(list(value), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[str, ...] | None:
        if value is None:
            return None
        return tuple(json.loads(value))


metadata = MetaData()

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    Column("removed", Boolean, nullable=False),
    Column("description", Text, nullable=False),
    Column("size_estimate", Text),
    Column("size_estimate_bytes", Integer),
    Column("priority", Text, nullable=False),
    Column("tags", JsonTuple, nullable=False),
    Column("revision", Text, nullable=False),
    Column("allow_patterns", JsonTuple),
    Column("ignore_patterns", JsonTuple),
    Column("catalog_index", Integer),
    Column("status", Text, nullable=False),
    Column("commit_sha", Text),
    Column("bytes_on_disk", Integer),
    Column("last_success_at", UtcDateTime),
    Column("last_checked_at", UtcDateTime),
    Column("last_error", Text),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The host id that last changed the model's state (NULL before revision 0003).
    Column("host", Text),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("type", Text, nullable=False),
    Column("time", Text, nullable=False),
    Column("day", Text),
    Column("enabled", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("max_concurrent_downloads", Integer, nullable=False),
    Column("tags", JsonTuple, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("trigger", Text, nullable=False),
    Column("schedule_name", Text),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("status", Text, nullable=False),
    Column("models_total", Integer, nullable=False),
    Column("models_completed", Integer, nullable=False),
    Column("models_failed", Integer, nullable=False),
    Column("models_skipped", Integer, nullable=False),
    Column("bytes_downloaded", Integer, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("invocation_id", Text),
    Column("error", Text),
    # "<boot id>/<start time in clock ticks>" of the run's process (hfdl.store.reader).
    Column("process_start", Text),
    # Seconds since the epoch by the database's clock: when the run last said it was alive.
    Column("heartbeat_at", Float),
    Index("sessions_host", "host"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False),
    Column("model_name", Text, ForeignKey("models.name"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("status", Text, nullable=False),
    Column("bytes_downloaded", Integer, nullable=False),
    Column("bytes_total", Integer),
    Column("retries", Integer, nullable=False),
    Column("error", Text),
    Column("commit_sha", Text),
    Column("duration_seconds", Float),
    Column("progress_updated_at", UtcDateTime),
    # The host id that made the attempt (NULL before revision 0003).
    Column("host", Text),
)

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_name", Text, ForeignKey("models.name"), nullable=False),
    Column("commit_sha", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("etag", Text, nullable=False),
    Column("blob_name", Text, nullable=False),
    Column("is_lfs", Boolean, nullable=False),
    Column("verified_at", UtcDateTime, nullable=False),
    UniqueConstraint("model_name", "commit_sha", "path"),
)

# Who is downloading a blob into a cache several hosts share (hfdl.store.leases). Times are
# seconds since the epoch by the database's clock.
blob_leases = Table(
    "blob_leases",
    metadata,
    Column("blob_key", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("session_id", Integer),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
