"""Alembic's environment for the state database, run by :mod:`hfdl.store.migrate`.

hfdl passes the open connection, already inside the transaction that holds the migration lock
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), in
``config.attributes["connection"]``; every revision then runs in that one transaction. A
developer trying the history by hand (docs/fleet.md) has none: one is opened from the
configuration's ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hfdl.store.tables import metadata


def run_migrations() -> None:
    """Run the requested Alembic command on hfdl's connection (or a developer's URL)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set the configuration's sqlalchemy.url to the database to migrate")
    engine = create_engine(url)
    with engine.connect() as developer_connection:
        context.configure(connection=developer_connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
