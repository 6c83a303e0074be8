"""The shapes ``hfdl models list/show`` return, and the checks of what a person typed.

Pure data and pure functions, no I/O except ``stat``/``readlink`` in :func:`file_state`:
:mod:`hfdl.services.models.manage` does the reading and writing. Importing this module is cheap
(no SQLAlchemy, no ``huggingface_hub``), which ``hfdl models list`` relies on.

The JSON shape of a model (``models list --json``, and the top of ``models show --json``)
uses the field names of the state database's ``ModelRow.to_dict()``; it is part of hfdl's
interface and changes only by adding fields:

``name, enabled, status, priority, tags, revision, commit_sha, bytes_on_disk, size_estimate,
last_success_at, last_checked_at, last_error, attempts, description, allow_patterns,
ignore_patterns``
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from hfdl.catalog import (
    PRIORITIES,
    STATUSES,
    Catalog,
    CatalogModel,
    validate_catalog_document,
)
from hfdl.catalog.validate import did_you_mean
from hfdl.errors import InvalidModelInput, ModelNotFound, Problem, UnsafePath
from hfdl.hub.cache import RepoCache
from hfdl.hub.cache import is_commit_sha as is_commit_sha  # re-exported for the CLI's tables
from hfdl.store.rows import AttemptRow, FileRecord, ModelRow
from hfdl.store.rows import iso_utc as iso_utc  # re-exported for the CLI's tables

# The order of the fields in JSON output; see the module docstring.
SUMMARY_FIELDS = (
    "name",
    "enabled",
    "status",
    "priority",
    "tags",
    "revision",
    "commit_sha",
    "bytes_on_disk",
    "size_estimate",
    "last_success_at",
    "last_checked_at",
    "last_error",
    "attempts",
    "description",
    "allow_patterns",
    "ignore_patterns",
)

# What file_state() says about a recorded file, from cheap checks (no hashing).
FILE_PRESENT = "present"  # blob of the recorded size, linked from the snapshot
FILE_MISSING = "missing"  # no blob
FILE_WRONG_SIZE = "wrong-size"  # a blob, but not of the recorded size
FILE_NOT_LINKED = "not-linked"  # the blob is fine, the snapshot entry is missing or elsewhere
# The record names a path outside the model's cache folder (a hostile server's metadata
# recorded by an older hfdl): shown, never looked at; ``models verify --repair`` drops it.
FILE_UNSAFE = "unsafe-path"


@dataclass(frozen=True)
class ModelSummary:
    """A model as ``models list`` shows it: catalog fields merged with its download state.

    ``status`` is the database's (which wins over the file's); for a model the database has
    not seen yet, the status the next sync will give it. State fields are ``None`` (``0``
    for ``attempts``) when nothing was recorded.
    """

    name: str
    enabled: bool
    status: str
    priority: str
    tags: tuple[str, ...]
    revision: str
    commit_sha: str | None
    bytes_on_disk: int | None
    size_estimate: str | None
    last_success_at: datetime | None
    last_checked_at: datetime | None
    last_error: str | None
    attempts: int
    description: str
    allow_patterns: tuple[str, ...] | None
    ignore_patterns: tuple[str, ...] | None

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON types, fields in :data:`SUMMARY_FIELDS` order."""
        # Written out rather than looping over dataclasses.fields(): ten thousand of these
        # are rendered by `models list --json`, within its one-second budget.
        return {
            "name": self.name,
            "enabled": self.enabled,
            "status": self.status,
            "priority": self.priority,
            "tags": list(self.tags),
            "revision": self.revision,
            "commit_sha": self.commit_sha,
            "bytes_on_disk": self.bytes_on_disk,
            "size_estimate": self.size_estimate,
            "last_success_at": iso_utc(self.last_success_at),
            "last_checked_at": iso_utc(self.last_checked_at),
            "last_error": self.last_error,
            "attempts": self.attempts,
            "description": self.description,
            "allow_patterns": None if self.allow_patterns is None else list(self.allow_patterns),
            "ignore_patterns": None if self.ignore_patterns is None else list(self.ignore_patterns),
        }


def initial_status(catalog_status: str | None) -> str:
    """The status a first sync gives a model (as ``Store.sync_catalog`` does).

    The file's status if it is one, except ``downloading`` (nothing is downloading a model
    the database has never seen); ``pending`` otherwise.
    """
    if catalog_status in STATUSES and catalog_status != "downloading":
        return catalog_status
    return "pending"


class DownloadState(Protocol):
    """A model's state in the database: a ``ModelRow``, or the lighter ``ModelState``."""

    @property
    def status(self) -> str: ...
    @property
    def commit_sha(self) -> str | None: ...
    @property
    def bytes_on_disk(self) -> int | None: ...
    @property
    def last_success_at(self) -> datetime | None: ...
    @property
    def last_checked_at(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def attempts(self) -> int: ...


def summary_from_catalog(model: CatalogModel, state: DownloadState | None) -> ModelSummary:
    """Merge a catalog entry (its current fields) with its state in the database, if any."""
    if state is None:
        return ModelSummary(
            name=model.name,
            enabled=model.enabled,
            status=initial_status(model.status),
            priority=model.priority,
            tags=model.tags,
            revision=model.revision,
            commit_sha=None,
            bytes_on_disk=None,
            size_estimate=model.size_estimate,
            last_success_at=None,
            last_checked_at=None,
            last_error=None,
            attempts=0,
            description=model.description,
            allow_patterns=model.allow_patterns,
            ignore_patterns=model.ignore_patterns,
        )
    return ModelSummary(
        name=model.name,
        enabled=model.enabled,
        status=state.status,
        priority=model.priority,
        tags=model.tags,
        revision=model.revision,
        commit_sha=state.commit_sha,
        bytes_on_disk=state.bytes_on_disk,
        size_estimate=model.size_estimate,
        last_success_at=state.last_success_at,
        last_checked_at=state.last_checked_at,
        last_error=state.last_error,
        attempts=state.attempts,
        description=model.description,
        allow_patterns=model.allow_patterns,
        ignore_patterns=model.ignore_patterns,
    )


def summary_from_row(row: ModelRow) -> ModelSummary:
    """A summary from the database alone (a model removed from the catalog)."""
    return ModelSummary(
        name=row.name,
        enabled=row.enabled,
        status=row.status,
        priority=row.priority,
        tags=row.tags,
        revision=row.revision,
        commit_sha=row.commit_sha,
        bytes_on_disk=row.bytes_on_disk,
        size_estimate=row.size_estimate,
        last_success_at=row.last_success_at,
        last_checked_at=row.last_checked_at,
        last_error=row.last_error,
        attempts=row.attempts,
        description=row.description,
        allow_patterns=row.allow_patterns,
        ignore_patterns=row.ignore_patterns,
    )


@dataclass(frozen=True)
class ModelFilters:
    """Which models ``models list`` keeps; ``None`` means "any"."""

    status: str | None = None
    tag: str | None = None
    priority: str | None = None
    enabled: bool | None = None

    def matches(self, summary: ModelSummary) -> bool:
        """Whether ``summary`` passes every filter given."""
        return (
            (self.status is None or summary.status == self.status)
            and (self.priority is None or summary.priority == self.priority)
            and (self.enabled is None or summary.enabled == self.enabled)
            and (self.tag is None or self.tag in summary.tags)
        )


def check_filters(filters: ModelFilters) -> None:
    """Refuse filter values no model can have (a typo would otherwise list nothing).

    Raises:
        InvalidModelInput: with every problem.
    """
    problems = []
    if filters.status is not None and filters.status not in STATUSES:
        problems.append(Problem("", "status", "must be one of " + ", ".join(STATUSES)))
    if filters.priority is not None and filters.priority not in PRIORITIES:
        problems.append(Problem("", "priority", "must be one of " + ", ".join(PRIORITIES)))
    if problems:
        raise InvalidModelInput(problems, what="invalid model filter")


def require_entry(catalog: Catalog, name: str) -> CatalogModel:
    """The catalog entry called exactly ``name``.

    Raises:
        ModelNotFound: there is none; the message suggests the closest name.
    """
    model = catalog.get(name)
    if model is None:
        raise ModelNotFound(
            f"model {name!r} is not in the catalog {catalog.path}"
            + did_you_mean(name, catalog.names()),
            hint="'hfdl models list' shows the catalog's models",
        )
    return model


def entry_problems(entry: Mapping[str, Any]) -> list[Problem]:
    """Check one ``models[]`` entry with the catalog's own rules.

    Problems are named by the entry's keys (``priority``, ``allow_patterns[0]``), not by a
    position in the file, because the entry is not in a file yet.

    Args:
        entry: the entry as it would be written.

    Returns:
        Every problem (empty when the entry is valid).
    """
    problems = validate_catalog_document({"models": [dict(entry)]}, "")
    return [
        Problem("", problem.path.removeprefix("models[0]").lstrip("."), problem.message)
        for problem in problems
    ]


@dataclass(frozen=True)
class FileState:
    """A file recorded for a model's commit, and what the cache holds for it now."""

    record: FileRecord
    state: str

    def to_dict(self) -> dict[str, Any]:
        """The file record's fields (as in the database) plus ``state``."""
        return self.record.to_dict() | {"state": self.state}


def file_state(repo_cache: RepoCache, record: FileRecord) -> FileState:
    """Look (without hashing) whether a recorded file is in the cache as recorded.

    Returns:
        ``present``, ``missing``, ``wrong-size``, ``not-linked`` or ``unsafe-path``.
    """
    try:
        blob = repo_cache.blob_path(record.blob_name)
        repo_cache.pointer_path(record.commit_sha, record.path)
    except UnsafePath:
        return FileState(record, FILE_UNSAFE)
    try:
        size = blob.stat().st_size
    except OSError:
        return FileState(record, FILE_MISSING)
    if size != record.size:
        return FileState(record, FILE_WRONG_SIZE)
    if not is_linked(repo_cache, record):
        return FileState(record, FILE_NOT_LINKED)
    return FileState(record, FILE_PRESENT)


def is_linked(repo_cache: RepoCache, record: FileRecord) -> bool:
    """Whether the snapshot entry of a recorded file points at its blob."""
    pointer = repo_cache.pointer_path(record.commit_sha, record.path)
    try:
        target = os.readlink(pointer)
    except OSError:
        return False
    resolved = Path(os.path.normpath(pointer.parent / target))
    return resolved == Path(os.path.normpath(repo_cache.blob_path(record.blob_name)))


@dataclass(frozen=True)
class ModelDetails:
    """Everything ``models show`` knows about one model.

    ``catalog_entry`` is the entry exactly as in ``models.json`` (``None`` once removed from
    the catalog); ``files`` are the files recorded for the commit on disk; ``attempts`` the
    latest attempts, newest first.
    """

    summary: ModelSummary
    in_catalog: bool
    removed: bool
    catalog_entry: dict[str, Any] | None
    cache_path: Path
    files: tuple[FileState, ...]
    attempts: tuple[AttemptRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """The summary's fields, then ``in_catalog``, ``removed``, ``catalog_entry``,
        ``cache_path``, ``files`` and ``attempts``."""
        return self.summary.to_dict() | {
            "in_catalog": self.in_catalog,
            "removed": self.removed,
            "catalog_entry": self.catalog_entry,
            "cache_path": str(self.cache_path),
            "files": [file.to_dict() for file in self.files],
            "attempts": [attempt.to_dict() for attempt in self.attempts],
        }
