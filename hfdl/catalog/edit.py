"""Edits of single catalog entries, for ``hfdl models add/update/remove``.

Each helper reads the file, changes one entry of the parsed document and writes it back
with :func:`~hfdl.catalog.files.save_catalog_document`: other entries keep their content and
order, ``metadata.last_updated`` is refreshed, and an edit that would leave the catalog
invalid raises :class:`~hfdl.errors.CatalogError` and leaves the file untouched.

Two edits running at the same moment can lose one of them (last writer wins); the CLI runs
them one at a time from a person's shell, where that does not happen in practice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hfdl.catalog.files import JsonObject, read_catalog_document, save_catalog_document
from hfdl.catalog.model import Catalog
from hfdl.catalog.validate import did_you_mean
from hfdl.errors import CatalogError, DuplicateModel, ModelNotFound, Problem


def _models_list(path: Path, document: Any) -> list[Any]:
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise CatalogError(
            [Problem(str(path), "models", "the catalog has no 'models' list to edit")]
        )
    models: list[Any] = document["models"]
    return models


def _copy(obj: Any) -> JsonObject:
    """Shallow-copy a parsed object, keeping its record of repeated keys for the validator."""
    copied = JsonObject(obj)
    copied.duplicate_keys = getattr(obj, "duplicate_keys", ())
    return copied


def _names(models: list[Any]) -> list[str]:
    return [
        entry["name"]
        for entry in models
        if isinstance(entry, dict) and isinstance(entry.get("name"), str)
    ]


def _index_of(path: Path, models: list[Any], name: str) -> int:
    for index, entry in enumerate(models):
        if isinstance(entry, dict) and entry.get("name") == name:
            return index
    raise ModelNotFound(
        f"model {name!r} is not in the catalog {path}" + did_you_mean(name, _names(models)),
        hint="'hfdl models list' shows the catalog's models",
    )


def _check_not_present(path: Path, models: list[Any], name: object, *, skip: int = -1) -> None:
    if not isinstance(name, str):
        return  # the validator reports the bad name
    folded = name.casefold()
    for index, entry in enumerate(models):
        other = entry.get("name") if isinstance(entry, dict) else None
        if index != skip and isinstance(other, str) and other.casefold() == folded:
            raise DuplicateModel(
                f"model {other!r} is already in the catalog {path} (models[{index}])",
                hint="use 'hfdl models update' to change it",
            )


def add_model(path: Path, entry: dict[str, Any]) -> Catalog:
    """Append a model entry to the catalog file.

    Args:
        path: the catalog file (must exist and be valid).
        entry: the new ``models[]`` object, e.g. ``{"name": "org/model", "enabled": True}``;
            its key order is kept.

    Returns:
        The catalog as written.

    Raises:
        CatalogNotFound: the file does not exist.
        DuplicateModel: a model with that name (compared case-insensitively, as the Hub
            does) is already listed.
        CatalogError: the new entry or the resulting file is invalid; nothing is written.
    """
    document = read_catalog_document(path)
    models = _models_list(path, document)
    _check_not_present(path, models, entry.get("name"))
    updated = _copy(document)
    updated["models"] = [*models, dict(entry)]
    return save_catalog_document(path, updated)


def update_model(path: Path, name: str, changes: dict[str, Any]) -> Catalog:
    """Change keys of one model entry.

    Existing keys keep their position in the entry; new keys are appended. A value of
    ``None`` removes the key, so the default applies again (removing ``name`` or
    ``enabled`` is refused by validation, since they are required). Renaming (a ``name``
    change) is allowed when the new name is not taken.

    Args:
        path: the catalog file.
        name: the exact name of the entry to change.
        changes: key -> new value (or ``None`` to remove the key).

    Returns:
        The catalog as written.

    Raises:
        CatalogNotFound: the file does not exist.
        ModelNotFound: no entry is called ``name``.
        DuplicateModel: ``changes`` renames the model to a name already listed.
        CatalogError: the changed entry or the resulting file is invalid; nothing is written.
    """
    document = read_catalog_document(path)
    models = _models_list(path, document)
    index = _index_of(path, models, name)
    if "name" in changes:
        _check_not_present(path, models, changes["name"], skip=index)
    changed_entry = _copy(models[index])
    for key, value in changes.items():
        if value is None:
            changed_entry.pop(key, None)
        else:
            changed_entry[key] = value
    new_models = list(models)
    new_models[index] = changed_entry
    updated = _copy(document)
    updated["models"] = new_models
    return save_catalog_document(path, updated)


def remove_model(path: Path, name: str) -> Catalog:
    """Delete one model entry from the catalog file.

    Args:
        path: the catalog file.
        name: the exact name of the entry to delete.

    Returns:
        The catalog as written.

    Raises:
        CatalogNotFound: the file does not exist.
        ModelNotFound: no entry is called ``name``.
        CatalogError: the rest of the file is invalid; nothing is written.
    """
    document = read_catalog_document(path)
    models = _models_list(path, document)
    index = _index_of(path, models, name)
    updated = _copy(document)
    updated["models"] = models[:index] + models[index + 1 :]
    return save_catalog_document(path, updated)
