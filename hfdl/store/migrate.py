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
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Connection, MetaData, Table, column, func, inspect, select, table
from sqlalchemy.schema import DropTable
from sqlalchemy.sql.expression import ColumnClause

from hfdl.errors import StoreError
from hfdl.store import schema

if TYPE_CHECKING:
    from alembic.config import Config

# pg_advisory_xact_lock's key for schema migrations ("hfdl" in ASCII); later fleet locks
# must pick other keys.
ADVISORY_LOCK_KEY = 0x6866646C
VERSION_TABLE = "alembic_version"
LEGACY_VERSION_TABLE = "schema_version"


def alembic_config() -> Config:
    """A new Alembic configuration of the shipped history (``script_location`` only); new
    each time, since :func:`upgrade` hands it its connection."""
    # Alembic is imported only when a migration is due: opening an up-to-date database (every
    # command, most of the time) must not pay for it.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("hfdl.store") / "schema"))
    # Revision files are modules mypy checks: their names must be identifiers.
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    return config


def known_revisions() -> frozenset[str]:
    """Every revision of the shipped history."""
    from alembic.script import ScriptDirectory

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
    inspector = inspect(connection)
    legacy = inspector.has_table(LEGACY_VERSION_TABLE)
    if inspector.has_table(VERSION_TABLE):
        version_num: ColumnClause[str] = column("version_num")
        revision = connection.scalar(select(version_num).select_from(table(VERSION_TABLE)))
        return SchemaState(revision, legacy=legacy)
    if legacy:
        legacy_version: ColumnClause[int] = column("version")
        version = (
            connection.scalar(
                select(func.max(legacy_version)).select_from(table(LEGACY_VERSION_TABLE))
            )
            or 0
        )
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
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    try:
        if state.legacy:
            # A database of the migrations before Alembic: record where it stands, then let
            # the history take it from there. The old table goes: one version record only.
            if not inspect(connection).has_table(VERSION_TABLE):
                command.stamp(config, str(state.revision))
            connection.execute(DropTable(Table(LEGACY_VERSION_TABLE, MetaData())))
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
