"""The state database's schema history: an Alembic environment shipped inside the package.

``env.py`` and ``versions/`` are read by :mod:`hfdl.store.migrate`, which drives Alembic from
code (no ``alembic.ini`` at run time). One linear history serves SQLite and PostgreSQL.

This module itself imports neither SQLAlchemy nor Alembic: the fast report path
(:mod:`hfdl.store.reader`) reads :data:`HEAD_REVISION` from here.

Adding a migration: copy the newest file of ``versions/`` to the next number, set
``revision``/``down_revision``, write ``upgrade()`` with ``op`` calls that work on both
backends, update :mod:`hfdl.store.tables` and :data:`HEAD_REVISION`; ``tests/e2e/test_schema.py``
checks that the three agree. A released revision is never edited.
"""

from __future__ import annotations

# The revision a database has once every migration is applied.
HEAD_REVISION = "0003"

# Databases made before Alembic recorded their version in a ``schema_version`` table: the
# revision that reproduces each of those versions.
LEGACY_VERSIONS = {1: "0001", 2: "0002"}
