"""Reading and atomically writing ``models.json``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hfdl.catalog.model import (
    DEFAULT_CHECK_FREQUENCY,
    DEFAULT_CLEANUP_AGE_DAYS,
    DEFAULT_PRIORITY,
    DEFAULT_REVISION,
    Catalog,
    CatalogModel,
    CatalogSettings,
)
from hfdl.catalog.validate import validate_catalog_document
from hfdl.errors import CatalogError, CatalogNotFound, Problem
from hfdl.fileio import write_atomically
from hfdl.sizes import parse_size

DEFAULT_FILE_MODE = 0o644


class JsonObject(dict[str, Any]):
    """A parsed JSON object that remembers keys the text repeated.

    ``json.loads`` keeps the last of two equal keys without a word, which would hide a
    mistake such as a second ``"enabled"``; the validator reports ``duplicate_keys``.
    """

    duplicate_keys: tuple[str, ...] = ()


def _object_from_pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject()
    duplicates: list[str] = []
    for key, value in pairs:
        if key in obj and key not in duplicates:
            duplicates.append(key)
        obj[key] = value
    if duplicates:
        obj.duplicate_keys = tuple(duplicates)
    return obj


def parse_catalog_text(text: str, location: str) -> Any:
    """Parse catalog JSON text, keeping key order and noting repeated keys.

    Args:
        text: the file's contents.
        location: the file path, used in the error.

    Returns:
        The parsed document (objects are :class:`JsonObject`, a ``dict`` subclass).

    Raises:
        CatalogError: the text is not valid JSON; the problem gives line and column.
    """
    try:
        return json.loads(text, object_pairs_hook=_object_from_pairs)
    except json.JSONDecodeError as error:
        message = f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        raise CatalogError(
            [Problem(location, "", message)], hint="fix the JSON syntax at that position"
        ) from None
    except RecursionError:
        # Python's JSON decoder recurses once per level of nesting; a catalog is never more
        # than a few levels deep, so this is a broken or hostile file, not a bug of hfdl.
        raise CatalogError(
            [Problem(location, "", "JSON nested too deeply (arrays or objects inside each other)")],
            hint="a catalog is an object with a models list; check that this is models.json",
        ) from None


def read_catalog_document(path: Path) -> Any:
    """Read and parse ``path`` without validating it against the schema.

    Raises:
        CatalogNotFound: the file does not exist.
        CatalogError: it cannot be read, is not UTF-8, or is not valid JSON.
    """
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise CatalogNotFound(
            f"catalog file not found: {path}",
            hint="create it (see config/models.json for an example) or point the"
            " configuration's catalog path at an existing file",
        ) from None
    except OSError as error:
        raise CatalogError(
            [Problem(str(path), "", f"cannot read the file: {error.strerror}")]
        ) from None
    try:
        # utf-8-sig: editors on some systems put a byte order mark in front of JSON files.
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        message = f"not UTF-8 text (byte {error.start}: {error.reason})"
        raise CatalogError([Problem(str(path), "", message)]) from None
    return parse_catalog_text(text, str(path))


def catalog_from_document(data: Any, path: Path) -> Catalog:
    """Validate a parsed document and turn it into a :class:`Catalog`.

    Args:
        data: the parsed JSON document.
        path: the file it came from (recorded in the result and in problems).

    Returns:
        The catalog, with defaults filled in.

    Raises:
        CatalogError: with every problem found.
    """
    problems = validate_catalog_document(data, str(path))
    if problems:
        raise CatalogError(problems, hint=f"edit {path} and run 'hfdl models validate'")
    models = [_model_from_entry(index, entry) for index, entry in enumerate(data["models"])]
    settings_data = data.get("settings") or {}
    max_total_size = settings_data.get("max_total_size")
    settings = CatalogSettings(
        auto_cleanup=bool(settings_data.get("auto_cleanup") or False),
        cleanup_age_days=_or_default(
            settings_data.get("cleanup_age_days"), DEFAULT_CLEANUP_AGE_DAYS
        ),
        max_total_size_bytes=None if max_total_size is None else parse_size(max_total_size),
        max_total_size=max_total_size,
        check_frequency=settings_data.get("check_frequency") or DEFAULT_CHECK_FREQUENCY,
    )
    return Catalog(
        path=path,
        models=models,
        settings=settings,
        metadata=dict(data.get("metadata") or {}),
        raw=data,
    )


def _or_default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _patterns(value: list[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _model_from_entry(index: int, entry: dict[str, Any]) -> CatalogModel:
    size_estimate = entry.get("size_estimate")
    return CatalogModel(
        name=entry["name"],
        enabled=entry["enabled"],
        status=entry.get("status"),
        description=entry.get("description") or "",
        size_estimate=size_estimate,
        size_estimate_bytes=None if size_estimate is None else parse_size(size_estimate),
        priority=entry.get("priority") or DEFAULT_PRIORITY,
        tags=tuple(entry.get("tags") or ()),
        revision=entry.get("revision") or DEFAULT_REVISION,
        allow_patterns=_patterns(entry.get("allow_patterns")),
        ignore_patterns=_patterns(entry.get("ignore_patterns")),
        index=index,
    )


def load_catalog(path: Path) -> Catalog:
    """Read, parse and validate the catalog file.

    Args:
        path: the ``models.json`` file.

    Returns:
        The validated catalog.

    Raises:
        CatalogNotFound: the file does not exist.
        CatalogError: it cannot be read or parsed (JSON errors give line and column), or it
            breaks the schema; the error lists every problem, each with the file and a key
            path such as ``models[2].priority``.
    """
    return catalog_from_document(read_catalog_document(path), Path(path))


def utc_timestamp(moment: datetime | None = None) -> str:
    """Return ``moment`` (default: now) as ``'2026-11-29T01:02:03Z'``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_catalog_document(data: Any) -> str:
    """Serialise a document the way hfdl writes catalogs: 2-space indent, UTF-8, final newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _with_last_updated(data: Any, timestamp: str) -> Any:
    """Return a copy of ``data`` whose ``metadata.last_updated`` is ``timestamp``.

    Only the top level and ``metadata`` are copied, so the caller's document is not changed
    and every other key keeps its position. When ``data`` is not an object it is returned
    unchanged, for the validator to report.
    """
    if not isinstance(data, dict):
        return data
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return data
    updated_metadata = JsonObject(metadata or {})
    updated_metadata["last_updated"] = timestamp
    updated = JsonObject(data)
    updated["metadata"] = updated_metadata
    # Keep the record of repeated keys so that saving cannot silently "fix" them.
    updated_metadata.duplicate_keys = getattr(metadata, "duplicate_keys", ())
    updated.duplicate_keys = getattr(data, "duplicate_keys", ())
    return updated


def save_catalog_document(path: Path, data: Any) -> Catalog:
    """Validate ``data`` and write it to ``path`` atomically.

    ``metadata.last_updated`` is set to the current UTC time (``metadata`` is added at the
    end if missing). Key order is preserved. The write goes to a temporary file in the same
    directory, is fsync'ed, takes the old file's permission bits (0644 for a new file) and
    replaces ``path`` with ``os.replace``, so readers see either the old or the new catalog,
    never a half-written one. If ``path`` is a symbolic link, its target is replaced.

    Args:
        path: the catalog file.
        data: the whole document (a dict); it is not modified.

    Returns:
        The catalog as written.

    Raises:
        CatalogError: the resulting document is invalid (nothing is written) or the file
            cannot be written.
    """
    path = Path(path)
    document = _with_last_updated(data, utc_timestamp())
    catalog = catalog_from_document(document, path)
    _write_atomically(Path(os.path.realpath(path)), render_catalog_document(document))
    return catalog


def _write_atomically(target: Path, text: str) -> None:
    try:
        write_atomically(target, text, new_file_mode=DEFAULT_FILE_MODE)
    except OSError as error:
        raise CatalogError(
            [Problem(str(target), "", f"cannot write the file: {error.strerror or error}")]
        ) from None
