"""Plain, frozen records returned by :class:`hfdl.store.Store`.

They are detached copies of database rows (never live ORM objects), safe to keep, share
between threads and render as JSON with ``to_dict()``. This module does not import
SQLAlchemy, so code that only renders rows stays cheap to import.

All timestamps are timezone-aware UTC ``datetime`` objects; ``to_dict()`` renders them as
ISO 8601 strings ending in ``Z`` (``'2026-11-29T01:02:03Z'``).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hfdl.schedule import CONCURRENT_DOWNLOADS_KEY, Schedule
from hfdl.schedule import WEEKDAYS as WEEKDAYS  # its home is hfdl.schedule; still found here

MODEL_STATUSES = ("pending", "downloading", "completed", "failed")
SESSION_TRIGGERS = ("manual", "timer")
SESSION_STATUSES = ("running", "completed", "failed", "interrupted")
ATTEMPT_STATUSES = ("running", "completed", "failed", "skipped", "interrupted")
# Field metadata key: the name a record field has outside Python (see external_name()).
EXTERNAL_NAME = "external_name"


def iso_utc(moment: datetime | None) -> str | None:
    """Render an aware datetime as ``'2026-11-29T01:02:03Z'`` (``None`` stays ``None``)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    return value


def external_name(field: dataclasses.Field[Any]) -> str:
    """The name of a record field outside Python: its database column and its JSON key.

    Args:
        field: a field of one of these records.

    Returns:
        The field's name, unless its metadata gives another under :data:`EXTERNAL_NAME`.
    """
    name: str = field.metadata.get(EXTERNAL_NAME, field.name)
    return name


class _Record:
    """Mixin giving frozen dataclasses a JSON-ready ``to_dict()``."""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON types: timestamps as ISO strings, tuples as lists.

        Keys are the fields' external names (:func:`external_name`), in field order.
        """
        return {
            external_name(field): _json_value(getattr(self, field.name))
            for field in dataclasses.fields(self)  # type: ignore[arg-type]
        }


@dataclass(frozen=True)
class ModelRow(_Record):
    """A model's catalog fields (as last synced) and its download state.

    ``removed`` is true when the model is no longer in the catalog (its history is kept).
    ``commit_sha`` is the commit whose files are on disk; ``attempts`` counts consecutive
    failed attempts (reset by a success).
    """

    name: str
    enabled: bool
    removed: bool
    description: str
    size_estimate: str | None
    size_estimate_bytes: int | None
    priority: str
    tags: tuple[str, ...]
    revision: str
    allow_patterns: tuple[str, ...] | None
    ignore_patterns: tuple[str, ...] | None
    catalog_index: int | None
    status: str
    commit_sha: str | None
    bytes_on_disk: int | None
    last_success_at: datetime | None
    last_checked_at: datetime | None
    last_error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    # The host id that last changed the state (None for rows older than schema 0003).
    host: str | None = None


@dataclass(frozen=True)
class SessionRow(_Record):
    """One run of ``hfdl run`` (manual or started by a systemd timer).

    The ``models_*`` counts and ``bytes_downloaded`` are computed from the session's
    attempts when it finishes (zero while it runs).
    """

    id: int
    trigger: str
    schedule_name: str | None
    started_at: datetime
    ended_at: datetime | None
    status: str
    models_total: int
    models_completed: int
    models_failed: int
    models_skipped: int
    bytes_downloaded: int
    host: str
    pid: int
    invocation_id: str | None
    error: str | None


@dataclass(frozen=True)
class AttemptRow(_Record):
    """One try at downloading one model within a session."""

    id: int
    session_id: int
    model_name: str
    started_at: datetime
    ended_at: datetime | None
    status: str
    bytes_downloaded: int
    bytes_total: int | None
    retries: int
    error: str | None
    commit_sha: str | None
    duration_seconds: float | None
    progress_updated_at: datetime | None


@dataclass(frozen=True)
class ScheduleRow(_Record):
    """A named download schedule as stored: its :class:`~hfdl.schedule.Schedule` fields,
    flattened, plus its id, state and timestamps.

    ``type``, ``time``, ``day``, ``concurrent_downloads`` and ``tags`` mean what they mean
    in a Schedule. ``enabled`` is what the user asked for; ``active`` marks the active
    schedule (chosen with ``schedule set-active``, or the ``default`` one ``hfdl start``
    created). The concurrency's column and JSON key are ``max_concurrent_downloads``, as
    they always were.
    """

    id: int
    name: str
    type: str
    time: str
    day: str | None
    enabled: bool
    active: bool
    concurrent_downloads: int = dataclasses.field(
        metadata={EXTERNAL_NAME: CONCURRENT_DOWNLOADS_KEY}
    )
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def definition(self) -> Schedule:
        """The stored fields as a :class:`~hfdl.schedule.Schedule`.

        The store writes only Schedule values, but the database file can be changed behind
        its back, and these fields go into unit file names and contents: building the
        Schedule checks them.

        Raises:
            InvalidSchedule: the stored fields are not a valid schedule.
        """
        return Schedule(
            name=self.name,
            type=self.type,
            time=self.time,
            day=self.day,
            concurrent_downloads=self.concurrent_downloads,
            tags=self.tags,
        )


@dataclass(frozen=True)
class FileRecord(_Record):
    """A file downloaded and verified for a model at a commit.

    ``etag`` is the file's hash as the Hub reports it: the SHA-256 of the content for LFS
    files (``is_lfs``), the git blob SHA-1 otherwise. ``blob_name`` is the name of the blob
    in the cache's ``blobs/`` directory. ``path`` is relative to the repository root.
    """

    model_name: str
    commit_sha: str
    path: str
    size: int
    etag: str
    blob_name: str
    is_lfs: bool
    verified_at: datetime


@dataclass(frozen=True)
class SyncReport(_Record):
    """What :meth:`Store.sync_catalog` changed, as model names in catalog order.

    ``added`` includes models re-added after removal; ``updated`` models whose catalog
    fields changed; ``removed`` models newly missing from the catalog; ``unchanged`` the
    rest of the catalog (a mere change of position in the file counts as unchanged).
    """

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]


class ModelState(NamedTuple):
    """A model's download state: the part of a :class:`ModelRow` a listing needs.

    Same names and meaning as the :class:`ModelRow` fields.
    """

    status: str
    commit_sha: str | None
    bytes_on_disk: int | None
    last_success_at: datetime | None
    last_checked_at: datetime | None
    last_error: str | None
    attempts: int


def stored_timestamp(text: str | None) -> datetime | None:
    """Read a timestamp as the state database stores it (``'2026-11-29T01:02:03.000000Z'``).

    ``fromisoformat`` reads the ``Z`` as UTC since Python 3.11 and is some 30 times faster than
    the ``strptime`` of the SQLAlchemy column type.
    """
    return None if text is None else datetime.fromisoformat(text)


class Unchanged(enum.Enum):
    """Type of :data:`UNCHANGED`, the default of "leave this field as it is" parameters."""

    UNCHANGED = "unchanged"


# A distinct default for update methods, because ``None`` is a meaningful new value there
# (it clears a field such as ``last_error``).
UNCHANGED = Unchanged.UNCHANGED
