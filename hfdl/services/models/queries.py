"""The catalog's models as people look at them: list, show, validate.

``models.json`` says what should be downloaded; the state database says what happened. These
functions merge the two in memory and write nothing, not even a new database. A model of a
run that is gone (killed, power lost) reads as ``pending``, as the next run will record it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING

from hfdl.catalog import Catalog, load_catalog
from hfdl.catalog.validate import did_you_mean
from hfdl.errors import ModelNotFound
from hfdl.hub.cache import RepoCache
from hfdl.services.models.views import (
    ModelDetails,
    ModelFilters,
    ModelSummary,
    check_filters,
    file_state,
    summary_from_catalog,
    summary_from_row,
)

if TYPE_CHECKING:
    from hfdl.config import Settings
    from hfdl.store import Store
    from hfdl.store.rows import ModelState

__all__ = [
    "ModelDetails",
    "ModelFilters",
    "ModelSummary",
    "list_models",
    "show_model",
    "validate_catalog",
]


@contextlib.contextmanager
def _existing_store(settings: Settings) -> Iterator[Store | None]:
    """Open the state database if it exists; yield ``None`` otherwise (never create it)."""
    if not settings.database_exists():
        yield None
        return
    from hfdl.store import Store

    store = Store(settings.database, host_id=settings.host_id)
    try:
        yield store
    finally:
        store.close()


def list_models(settings: Settings, filters: ModelFilters | None = None) -> list[ModelSummary]:
    """The catalog's models, in file order, each with its download state.

    Catalog fields come from ``models.json`` as it is now; the state (status, commit, size on
    disk, last success and error) from the database. A model the database has not seen yet
    shows the status the next sync would give it. Nothing is written.

    Args:
        settings: the effective configuration (catalog and database paths).
        filters: keep only matching models (status, tag, priority, enabled).

    Returns:
        The matching models.

    Raises:
        InvalidModelInput: a filter value is not a known status or priority.
        CatalogNotFound, CatalogError: the catalog is missing, unreadable or invalid.
        StoreError: the database exists but cannot be read.
    """
    filters = filters or ModelFilters()
    check_filters(filters)
    catalog = load_catalog(settings.models_file)
    states: dict[str, ModelState] = {}
    if settings.database_exists():
        # The light reader, not the Store: listing must not pay for importing SQLAlchemy.
        from hfdl.services.state import open_reader

        # The run lock tells a live run from a killed one (its models then read pending).
        with open_reader(settings) as reader:
            states = reader.model_states()
    summaries = (summary_from_catalog(model, states.get(model.name)) for model in catalog.models)
    return [summary for summary in summaries if filters.matches(summary)]


def _status_as_seen(settings: Settings, name: str, recorded: str) -> str:
    """A model's status as ``models list`` shows it: ``pending`` when its run is gone."""
    from hfdl.services.state import open_reader

    with open_reader(settings) as reader:
        state = reader.model_states().get(name)
    return recorded if state is None else state.status


def show_model(settings: Settings, name: str, *, attempts: int = 20) -> ModelDetails:
    """Everything known about one model: catalog entry, state, files, attempts.

    A model removed from the catalog is still shown from the database (its history is kept).
    Files are those recorded for the commit on disk, each with whether its blob is present
    with the recorded size and linked from the snapshot (no hashing: ``verify`` does that).

    Args:
        settings: the effective configuration.
        name: the model's exact name.
        attempts: how many of the latest attempts to include.

    Returns:
        The details.

    Raises:
        ModelNotFound: neither the catalog nor the database knows the name.
        CatalogNotFound, CatalogError: the catalog is missing or invalid.
        StoreError: the database exists but cannot be read.
    """
    catalog = load_catalog(settings.models_file)
    model = catalog.get(name)
    repo_cache = RepoCache(settings.download_directory, name)
    with _existing_store(settings) as store:
        row = store.get_model(name) if store is not None else None
        if model is None and row is None:
            raise ModelNotFound(
                f"model {name!r} is not in the catalog {catalog.path} nor in the state database"
                + did_you_mean(name, catalog.names()),
                hint="'hfdl models list' shows the catalog's models",
            )
        records = []
        history = []
        if store is not None and row is not None:
            if row.commit_sha is not None:
                records = store.files_for(name, row.commit_sha)
            history = store.attempts_for_model(name, attempts)
    if row is not None and row.status == "downloading":
        row = dataclasses.replace(row, status=_status_as_seen(settings, name, row.status))
    if model is not None:
        summary = summary_from_catalog(model, row)
    else:
        assert row is not None  # checked above: one of the two knows the model
        summary = summary_from_row(row)
    return ModelDetails(
        summary=summary,
        in_catalog=model is not None,
        removed=model is None,
        catalog_entry=dict(catalog.raw["models"][model.index]) if model is not None else None,
        cache_path=repo_cache.storage,
        files=tuple(file_state(repo_cache, record) for record in records),
        attempts=tuple(history),
    )


def validate_catalog(settings: Settings) -> Catalog:
    """Read and validate the catalog.

    Returns:
        The catalog.

    Raises:
        CatalogNotFound, CatalogError: with every problem and its location.
    """
    return load_catalog(settings.models_file)
