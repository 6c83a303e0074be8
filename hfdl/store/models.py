"""Model state in the state database: catalog sync, status changes, downloaded files."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, bindparam, func, select, update
from sqlalchemy.engine import Connection

from hfdl.errors import ModelNotFound
from hfdl.store.db import Database
from hfdl.store.rows import (
    MODEL_STATUSES,
    UNCHANGED,
    ModelRow,
    SyncReport,
    Unchanged,
)
from hfdl.store.tables import models, utc_now

# pg_advisory_xact_lock's key for catalog syncs (hfdl.store.migrate's is 0x6866646C, "hfdl").
CATALOG_SYNC_LOCK_KEY = 0x6866646D

if TYPE_CHECKING:
    from hfdl.catalog.model import Catalog, CatalogModel

# Columns copied from the catalog on every sync (catalog_index is handled apart: a change of
# position alone does not count as "updated").
CATALOG_COLUMNS = (
    "enabled",
    "description",
    "size_estimate",
    "size_estimate_bytes",
    "priority",
    "tags",
    "revision",
    "allow_patterns",
    "ignore_patterns",
)

_MODEL_ROW_COLUMNS = [models.c[field] for field in ModelRow.__dataclass_fields__]


def _bind(column: Column[Any]) -> Any:
    """An executemany parameter for ``column``, typed so its TypeDecorator applies."""
    return bindparam(f"p_{column.name}", type_=column.type)


def _catalog_values(model: CatalogModel) -> dict[str, Any]:
    return {
        "enabled": model.enabled,
        "description": model.description,
        "size_estimate": model.size_estimate,
        "size_estimate_bytes": model.size_estimate_bytes,
        "priority": model.priority,
        "tags": tuple(model.tags),
        "revision": model.revision,
        "allow_patterns": model.allow_patterns,
        "ignore_patterns": model.ignore_patterns,
    }


def _model_not_found(name: str) -> ModelNotFound:
    return ModelNotFound(
        f"model {name!r} is not in the state database",
        hint="models enter the state database when the catalog is synced; check the name",
    )


class ModelsMixin(Database):
    """Catalog sync and per-model state. Mixed into :class:`hfdl.store.Store`."""

    def sync_catalog(self, catalog: Catalog) -> SyncReport:
        """Make the ``models`` table reflect the catalog, in one transaction.

        * a model the database has never seen is inserted, with the catalog's ``status``
          if it gives one (``downloading`` becomes ``pending``: nothing is downloading it),
          else ``pending``;
        * a known model gets the catalog's current fields (enabled, description, sizes,
          priority, tags, revision, patterns, position); its download state, including
          ``status``, is kept: the database's status wins over the file's;
        * a model no longer in the catalog is marked ``removed`` (its history is kept);
          listing it again in the catalog clears ``removed`` and reports it as added.

        Args:
            catalog: a validated catalog.

        Returns:
            The names added, updated, removed and unchanged.

        Raises:
            StoreError: the database cannot be written.
        """
        now = utc_now()
        select_existing = select(
            models.c.name, models.c.removed, models.c.catalog_index, *_catalog_columns()
        )
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        inserts: list[dict[str, Any]] = []
        rewrites: list[dict[str, Any]] = []
        with self._write() as connection:
            if not self.is_sqlite:
                # Hosts sharing the database sync the same catalog when their timers fire
                # together: one at a time, or two would insert the same new model (a unique
                # violation). SQLite's write transaction is exclusive already.
                connection.execute(select(func.pg_advisory_xact_lock(CATALOG_SYNC_LOCK_KEY)))
            existing = {row.name: row._mapping for row in connection.execute(select_existing)}
            in_catalog: set[str] = set()
            for model in catalog.models:
                in_catalog.add(model.name)
                values = _catalog_values(model)
                row = existing.get(model.name)
                if row is None:
                    inserts.append(_new_model_row(model, values, now))
                    added.append(model.name)
                    continue
                fields_changed = any(row[key] != value for key, value in values.items())
                if row["removed"]:
                    added.append(model.name)
                elif fields_changed:
                    updated.append(model.name)
                else:
                    unchanged.append(model.name)
                if row["removed"] or fields_changed or row["catalog_index"] != model.index:
                    rewrites.append(
                        {f"p_{key}": value for key, value in values.items()}
                        | {"p_name": model.name, "p_catalog_index": model.index}
                    )
            removed = [
                name
                for name, row in existing.items()
                if not row["removed"] and name not in in_catalog
            ]
            if inserts:
                connection.execute(models.insert(), inserts)
            if rewrites:
                connection.execute(_rewrite_statement(now), rewrites)
            if removed:
                connection.execute(
                    update(models)
                    .where(models.c.name == bindparam("p_name"))
                    .values(removed=True, updated_at=now),
                    [{"p_name": name} for name in removed],
                )
        return SyncReport(
            added=tuple(added),
            updated=tuple(updated),
            # Removed names are not in the catalog; keep their old catalog order.
            removed=tuple(
                sorted(removed, key=lambda name: (existing[name]["catalog_index"] or 0, name))
            ),
            unchanged=tuple(unchanged),
        )

    def get_model(self, name: str) -> ModelRow | None:
        """Return the model called ``name`` (removed ones included), or ``None``."""
        with self._read() as connection:
            return _get_model(connection, name)

    def list_models(
        self,
        *,
        include_removed: bool = False,
        status: str | None = None,
        tag: str | None = None,
        priority: str | None = None,
        enabled: bool | None = None,
    ) -> list[ModelRow]:
        """List models in catalog order (removed ones last, when included).

        Args:
            include_removed: also list models no longer in the catalog.
            status, priority, enabled: keep only models with this value.
            tag: keep only models carrying this tag.

        Returns:
            The matching models.
        """
        query = select(*_MODEL_ROW_COLUMNS).order_by(
            models.c.removed,
            models.c.catalog_index.is_(None),
            models.c.catalog_index,
            models.c.name,
        )
        if not include_removed:
            query = query.where(models.c.removed.is_(False))
        if status is not None:
            query = query.where(models.c.status == status)
        if priority is not None:
            query = query.where(models.c.priority == priority)
        if enabled is not None:
            query = query.where(models.c.enabled.is_(enabled))
        with self._read() as connection:
            rows = [ModelRow(**row._mapping) for row in connection.execute(query)]
        if tag is not None:
            # Tags are a JSON list; filtering the decoded tuples keeps the SQL portable and is
            # fast enough for catalogs of thousands of models.
            rows = [row for row in rows if tag in row.tags]
        return rows

    def set_model_status(
        self,
        name: str,
        status: str,
        *,
        commit_sha: str | Unchanged | None = UNCHANGED,
        bytes_on_disk: int | Unchanged | None = UNCHANGED,
        last_success_at: datetime | Unchanged | None = UNCHANGED,
        last_checked_at: datetime | Unchanged | None = UNCHANGED,
        last_error: str | Unchanged | None = UNCHANGED,
        attempts: int | Unchanged = UNCHANGED,
    ) -> ModelRow:
        """Set a model's status and, optionally, other state fields.

        Fields left at ``UNCHANGED`` keep their value, except for these defaults:
        ``completed`` resets ``attempts`` to 0, clears ``last_error`` and sets
        ``last_success_at`` and ``last_checked_at`` to now; ``failed`` adds one to
        ``attempts`` (atomically, in SQL) and sets ``last_checked_at`` to now. Pass a value
        (``None`` clears a field) to override. ``host`` becomes this store's ``host_id``.

        Args:
            name: the model.
            status: ``pending``, ``downloading``, ``completed`` or ``failed``.
            commit_sha ... attempts: new values of the model's state fields; timestamps
                must be timezone-aware.

        Returns:
            The model as stored afterwards.

        Raises:
            ValueError: ``status`` is not one of the four.
            ModelNotFound: the database has no such model.
        """
        if status not in MODEL_STATUSES:
            raise ValueError(f"model status must be one of {', '.join(MODEL_STATUSES)}: {status!r}")
        now = utc_now()
        values: dict[str, Any] = {"status": status, "updated_at": now, "host": self.host_id}
        if status == "completed":
            values |= {"attempts": 0, "last_error": None, "last_success_at": now}
            values["last_checked_at"] = now
        elif status == "failed":
            values |= {"attempts": models.c.attempts + 1, "last_checked_at": now}
        explicit = {
            "commit_sha": commit_sha,
            "bytes_on_disk": bytes_on_disk,
            "last_success_at": last_success_at,
            "last_checked_at": last_checked_at,
            "last_error": last_error,
            "attempts": attempts,
        }
        values |= {key: value for key, value in explicit.items() if value is not UNCHANGED}
        with self._write() as connection:
            result = connection.execute(update(models).where(models.c.name == name).values(values))
            if result.rowcount == 0:
                raise _model_not_found(name)
            row = _get_model(connection, name)
        assert row is not None  # updated just above, in the same transaction
        return row

    def set_bytes_on_disk(self, model_name: str, bytes_on_disk: int) -> None:
        """Record what a model's cache folder holds now (after cleanup removed some of it).

        Raises:
            ModelNotFound: the database has no such model.
        """
        statement = (
            update(models)
            .where(models.c.name == model_name)
            .values(bytes_on_disk=bytes_on_disk, updated_at=utc_now(), host=self.host_id)
        )
        with self._write() as connection:
            if connection.execute(statement).rowcount == 0:
                raise _model_not_found(model_name)


def _catalog_columns() -> list[Column[Any]]:
    return [models.c[key] for key in CATALOG_COLUMNS]


def _new_model_row(model: CatalogModel, values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    status = model.status if model.status in MODEL_STATUSES else "pending"
    if status == "downloading":
        status = "pending"
    return {
        "name": model.name,
        **values,
        "removed": False,
        "catalog_index": model.index,
        "status": status,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _rewrite_statement(now: datetime) -> Any:
    """UPDATE of every catalog column of one model (by name), for executemany."""
    assignments: dict[str, Any] = {key: _bind(models.c[key]) for key in CATALOG_COLUMNS}
    assignments["catalog_index"] = _bind(models.c.catalog_index)
    return (
        update(models)
        .where(models.c.name == bindparam("p_name"))
        .values(**assignments, removed=False, updated_at=now)
    )


def _get_model(connection: Connection, name: str) -> ModelRow | None:
    row = connection.execute(select(*_MODEL_ROW_COLUMNS).where(models.c.name == name)).first()
    return None if row is None else ModelRow(**row._mapping)


def require_model(connection: Connection, name: str) -> None:
    """Raise ModelNotFound unless the database has a model called ``name``."""
    if connection.scalar(select(models.c.id).where(models.c.name == name)) is None:
        raise _model_not_found(name)
