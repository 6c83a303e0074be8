"""Bringing the state database's schema up to date with Alembic, driven from code.

The history lives in :mod:`hfdl.store.schema` (``env.py`` and ``versions/``, shipped inside
the package); no ``alembic.ini`` is read. :func:`upgrade` runs every pending revision inside
the caller's one transaction, so a failed step leaves the database as it was. The caller holds
the migration lock: ``BEGIN IMMEDIATE`` on SQLite, :data:`ADVISORY_LOCK_KEY` on PostgreSQL
(:func:`take_migration_lock`), so several hosts starting at once migrate one after the other.

A database made before Alembic has a ``schema_version`` table instead of ``alembic_version``:
:func:`upgrade` stamps the revision that reproduces its version, drops that table, and carries
on from there, rows untouched.
"""

from __future__ import annotations

from importlib import resources
from typing import NamedTuple

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, Table, func, inspect, select

from hfdl.errors import StoreError
from hfdl.store import schema

# pg_advisory_xact_lock's key for schema migrations ("hfdl" in ASCII); later fleet locks
# must pick other keys.
ADVISORY_LOCK_KEY = 0x6866646C
VERSION_TABLE = "alembic_version"
LEGACY_VERSION_TABLE = "schema_version"


def alembic_config() -> Config:
    """A new Alembic configuration of the shipped history (``script_location`` only); new
    each time, since :func:`upgrade` hands it its connection."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("hfdl.store") / "schema"))
    # Revision files are modules mypy checks: their names must be identifiers.
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    return config


def known_revisions() -> frozenset[str]:
    """Every revision of the shipped history."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(revision.revision for revision in script.walk_revisions())


class SchemaState(NamedTuple):
    """Where a database's schema stands.

    Attributes:
        revision: its Alembic revision; for a legacy database the revision its
            ``schema_version`` corresponds to (``"legacy:<n>"`` when that version is unknown);
            ``None`` for an empty database.
        legacy: it still has the ``schema_version`` table of the runner before Alembic.
    """

    revision: str | None
    legacy: bool

    @property
    def up_to_date(self) -> bool:
        """Whether nothing is left to do: Alembic's record says :data:`HEAD_REVISION`."""
        return self.revision == schema.HEAD_REVISION and not self.legacy


def schema_state(connection: Connection) -> SchemaState:
    """Read where the database's schema stands (see :class:`SchemaState`).

    Raises:
        sqlalchemy.exc.DBAPIError: the database cannot be read.
    """
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables:
        version_table = Table(VERSION_TABLE, MetaData(), autoload_with=connection)
        revision = connection.scalar(select(version_table.c.version_num))
        return SchemaState(revision, legacy=LEGACY_VERSION_TABLE in tables)
    if LEGACY_VERSION_TABLE in tables:
        legacy = Table(LEGACY_VERSION_TABLE, MetaData(), autoload_with=connection)
        version = connection.scalar(select(func.max(legacy.c.version))) or 0
        revision = schema.LEGACY_VERSIONS.get(int(version), f"legacy:{version}")
        return SchemaState(revision, legacy=True)
    return SchemaState(None, legacy=False)


def is_newer(revision: str | None) -> bool:
    """Whether ``revision`` is not part of this hfdl's history (a newer hfdl made it)."""
    return revision is not None and revision not in known_revisions()


def take_migration_lock(connection: Connection) -> None:
    """On PostgreSQL, wait for the migration lock of this transaction (released at its end).

    SQLite needs none: the caller's ``BEGIN IMMEDIATE`` already excludes every other writer.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))


def upgrade(connection: Connection, location: str) -> str:
    """Apply every pending revision on ``connection``, inside its open transaction.

    Args:
        connection: in a transaction holding the migration lock; committed by the caller.
        location: the database as messages name it (a path, or a URL without password).

    Returns:
        The revision the database has now (:data:`HEAD_REVISION`).

    Raises:
        StoreError: the schema is newer than this hfdl knows.
        sqlalchemy.exc.SQLAlchemyError: a statement failed (the caller rolls back).
    """
    state = schema_state(connection)
    if is_newer(state.revision):
        raise newer_schema_error(location, state.revision)
    config = alembic_config()
    config.attributes["connection"] = connection
    try:
        if state.legacy:
            # A database of the migrations before Alembic: record where it stands, then let
            # the history take it from there. The old table goes: one version record only.
            if VERSION_TABLE not in inspect(connection).get_table_names():
                command.stamp(config, str(state.revision))
            Table(LEGACY_VERSION_TABLE, MetaData()).drop(connection)
        command.upgrade(config, "head")
    finally:
        config.attributes.pop("connection", None)
    return str(schema_state(connection).revision)


def newer_schema_error(location: str, revision: str | None) -> StoreError:
    """The error for a database whose schema a newer hfdl made."""
    return StoreError(
        f"the state database {location} has schema revision {revision},"
        f" newer than this hfdl understands ({schema.HEAD_REVISION})",
        hint="upgrade hfdl, or point it at another state database",
    )
