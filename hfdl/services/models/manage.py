"""The catalog's models as people edit them: add, update, remove.

``models.json`` says what should be downloaded; the state database says what happened. The
reading side (list, show, validate) is :mod:`hfdl.services.models.queries`. The editing
functions validate everything first, then write
the catalog (atomically, through :mod:`hfdl.catalog`), then bring the database in line with
:meth:`~hfdl.store.Store.sync_catalog`, the same step ``hfdl run`` starts with. So a refused
edit changes neither file, and a database that could not be updated is repaired by the next
sync.

Nothing here imports ``huggingface_hub``; only :func:`check_on_hub` (``models add --check``)
loads the Hub client, when it is called. This module is the import surface of the ``models``
editing commands: the Hub check lives in :mod:`hfdl.services.models.hub_check`, removal in
:mod:`hfdl.services.models.remove`, the returned shapes in :mod:`hfdl.services.models.views`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hfdl.catalog import STATUSES, Catalog, CatalogModel, load_catalog
from hfdl.catalog import add_model as catalog_add
from hfdl.catalog import update_model as catalog_update
from hfdl.catalog.model import MODEL_KEYS
from hfdl.errors import InvalidModelInput, Problem, StoreError, UsageError
from hfdl.services.models.hub_check import HubCheck, check_on_hub, hub_notes
from hfdl.services.models.remove import RemoveResult, remove_model
from hfdl.services.models.views import (
    FileState,
    ModelDetails,
    ModelFilters,
    ModelSummary,
    entry_problems,
    require_entry,
)
from hfdl.sizes import format_size

if TYPE_CHECKING:
    from hfdl.config import Settings
    from hfdl.store import Store

__all__ = [
    "EditResult",
    "FileState",
    "HubCheck",
    "ModelDetails",
    "ModelFilters",
    "ModelSummary",
    "RemoveResult",
    "add_model",
    "check_on_hub",
    "remove_model",
    "update_model",
]

# Statuses a person may set by hand; "downloading" belongs to a running download.
SETTABLE_STATUSES = tuple(status for status in STATUSES if status != "downloading")
# Catalog keys whose change means other files are wanted: the next run must look again.
REFETCH_KEYS = ("revision", "allow_patterns", "ignore_patterns")


@dataclass(frozen=True)
class EditResult:
    """What ``models add``/``models update`` changed.

    ``action`` is ``added``, ``updated`` or ``unchanged`` (every value was already so);
    ``status`` the status set in the database (by ``--status``, or ``pending`` after a
    change of revision or patterns), else ``None``. ``notes`` are things the user should
    know (a gated repository).
    """

    name: str
    action: str
    catalog_path: Path
    entry: dict[str, Any]
    hub: HubCheck | None = None
    status: str | None = None
    notes: tuple[str, ...] = ()


# -- editing -------------------------------------------------------------------------------


def _find(catalog: Catalog, name: str) -> CatalogModel | None:
    """The entry called ``name``, compared case-insensitively as the Hub compares repo ids."""
    folded = name.casefold()
    return next((model for model in catalog.models if model.name.casefold() == folded), None)


def _check_entry(entry: Mapping[str, Any], what: str) -> None:
    """Raise InvalidModelInput with every problem of ``entry`` (titled ``what``), if any."""
    problems = entry_problems(entry)
    if problems:
        raise InvalidModelInput(problems, what=what)


def add_model(
    settings: Settings,
    entry: Mapping[str, Any],
    *,
    update_existing: bool = False,
    check: bool = False,
    token: str | None = None,
) -> EditResult:
    """Append a model to the catalog and the database.

    Args:
        settings: the effective configuration.
        entry: the ``models[]`` keys to write, ``name`` first; ``enabled`` defaults to true.
            Keys keep the order given.
        update_existing: when the name is taken, change that entry instead (the keys given
            replace its values; the others stay).
        check: first ask the Hub that the repository and revision exist, and fill in
            ``size_estimate`` (when not given) with the size of the files the patterns select.
        token: the Hub token for ``check`` (``None``: anonymous).

    Returns:
        What was written.

    Raises:
        InvalidModelInput: a value breaks the catalog's rules, or the patterns select no file.
        DuplicateModel: the name (case-insensitively) is taken and ``update_existing`` is off.
        CatalogNotFound, CatalogError: the catalog is missing or invalid; nothing is written.
        HubError: from ``check``: repository or revision not found, gated, Hub unavailable.
        StoreError: the catalog was written but the database could not be updated.
    """
    name = entry.get("name")
    catalog = load_catalog(settings.models_file)
    existing = _find(catalog, name) if isinstance(name, str) else None
    if existing is not None and update_existing:
        changes = {key: value for key, value in entry.items() if key != "name"}
        if not changes and not check:
            # "Make sure it is listed": it is, and nothing else was asked for.
            return EditResult(
                name=existing.name,
                action="unchanged",
                catalog_path=catalog.path,
                entry=dict(catalog.raw["models"][existing.index]),
            )
        return update_model(settings, existing.name, changes, check=check, token=token)
    new_entry = {"name": name, "enabled": True} | {
        key: value for key, value in entry.items() if value is not None
    }
    _check_entry(new_entry, f"invalid model entry {name!r}")
    hub = None
    if check:
        hub = check_on_hub(settings, new_entry, token)
        new_entry.setdefault("size_estimate", format_size(hub.bytes))
    # add_model refuses a duplicate name (DuplicateModel) before writing anything.
    written = catalog_add(settings.models_file, new_entry)
    _sync_database(settings, written, str(name))
    return EditResult(
        name=str(name),
        action="added",
        catalog_path=written.path,
        entry=new_entry,
        hub=hub,
        notes=hub_notes(settings, hub),
    )


def update_model(
    settings: Settings,
    name: str,
    changes: Mapping[str, Any],
    *,
    status: str | None = None,
    check: bool = False,
    token: str | None = None,
) -> EditResult:
    """Change a catalog entry, and its state in the database.

    Args:
        settings: the effective configuration.
        name: the entry's exact name.
        changes: catalog key -> new value; ``None`` removes the key (its default applies).
        status: set the model's status in the database (``pending``, ``completed`` or
            ``failed``; the database's status wins over the file's). ``pending`` makes the
            next run look at a completed model again. Only the status changes.
        check: ask the Hub about the changed entry, as :func:`add_model` does.
        token: the Hub token for ``check``.

    Returns:
        What was written. A change of revision or patterns of a completed model sets it
        ``pending`` (unless ``status`` says otherwise), so that the next run fetches it.

    Raises:
        UsageError: nothing to change.
        InvalidModelInput: a value breaks the catalog's rules, or ``status`` is unknown.
        ModelNotFound: no entry is called ``name``.
        CatalogNotFound, CatalogError: the catalog is missing or invalid; nothing is written.
        HubError: from ``check``.
        StoreError: the catalog was written but the database could not be updated.
    """
    if not changes and status is None and not check:
        raise UsageError("nothing to change: give at least one option", hint="see --help")
    if status is not None and status not in SETTABLE_STATUSES:
        message = f"must be one of {', '.join(SETTABLE_STATUSES)}"
        if status == "downloading":
            message += " ('downloading' is set by a run while it downloads)"
        raise InvalidModelInput([Problem("", "status", message)], what="invalid status")
    catalog = load_catalog(settings.models_file)
    model = require_entry(catalog, name)
    current = dict(catalog.raw["models"][model.index])
    merged = {**current, **changes}
    merged = {key: value for key, value in merged.items() if value is not None}
    _check_entry(merged, f"invalid change of {name!r}")
    hub = None
    if check:
        hub = check_on_hub(settings, merged, token)
        if "size_estimate" not in changes:
            merged["size_estimate"] = format_size(hub.bytes)
    # In the catalog's key order, so that keys new to the entry are appended in that order.
    keys = [*MODEL_KEYS, *(key for key in {**current, **merged} if key not in MODEL_KEYS)]
    final_changes = {key: merged.get(key) for key in keys if current.get(key) != merged.get(key)}
    written = (
        catalog_update(settings.models_file, name, final_changes) if final_changes else catalog
    )
    refetch = any(key in final_changes for key in REFETCH_KEYS)
    set_status = _sync_database(settings, written, name, status=status, refetch=refetch)
    return EditResult(
        name=name,
        action="updated" if final_changes else "unchanged",
        catalog_path=written.path,
        entry=dict(written.raw["models"][model.index]),
        hub=hub,
        status=set_status,
        notes=hub_notes(settings, hub),
    )


def _sync_database(
    settings: Settings,
    catalog: Catalog,
    name: str,
    *,
    status: str | None = None,
    refetch: bool = False,
) -> str | None:
    """Bring the database in line with the catalog just written.

    Returns:
        The status set for ``name`` (``status``, or ``pending`` for a completed model whose
        revision or patterns changed), or ``None`` when it was left as it was.

    Raises:
        StoreError: saying that the catalog change is saved and the next run syncs it.
    """
    from hfdl.store import Store

    try:
        with Store(settings.database, host_id=settings.host_id) as store:
            store.sync_catalog(catalog)
            row = store.get_model(name)
            if row is None:
                return None
            if status is not None:
                _set_status_only(store, name, status)
                return status
            if refetch and row.status == "completed":
                # The next run selects pending models; a completed one would wait for its
                # periodic check before the new revision or patterns were looked at.
                store.set_model_status(name, "pending")
                return "pending"
            return None
    except StoreError as error:
        raise StoreError(
            f"the catalog {catalog.path} is saved, but the state database was not updated:"
            f" {error.message}",
            hint="the next 'hfdl run' brings the database in line with the catalog",
        ) from error


def _set_status_only(store: Store, name: str, status: str) -> None:
    """Set the status, keeping the fields ``set_model_status`` would otherwise default.

    Marking a model completed by hand is not a download: it must not invent a success time
    or a check; marking it failed must not count an attempt.
    """
    row = store.get_model(name)
    if row is None:
        return
    store.set_model_status(
        name,
        status,
        last_success_at=row.last_success_at,
        last_checked_at=row.last_checked_at,
        last_error=row.last_error,
        attempts=row.attempts,
    )
