"""Fleet: the host of every attempt and model state, session heartbeats, blob leases.

Revision ID: 0003
Revises: 0002

* ``attempts.host`` and ``models.host``: the host id (``host_id`` setting) that made the
  attempt, or last changed the model's state. ``sessions.host`` exists since 0001. NULL for
  rows written before this revision.
* ``sessions.heartbeat_at``: seconds since the epoch, by the database's clock, when the run
  last said it was alive. A running session of another host whose heartbeat is old is shown
  (and recovered) as interrupted: its pid cannot be checked from here.
* ``blob_leases``: which process is downloading a blob into a cache shared by several hosts
  (``shared_cache``). ``expires_at`` is by the database's clock too, so hosts with skewed
  clocks agree; a holder renews it while it downloads, and another host takes over a lease
  whose holder died once it has expired.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("host", sa.Text))
    op.add_column("models", sa.Column("host", sa.Text))
    op.add_column("sessions", sa.Column("heartbeat_at", sa.Float))
    op.create_index("sessions_host", "sessions", ["host"])
    op.create_table(
        "blob_leases",
        sa.Column("blob_key", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("session_id", sa.Integer),
        sa.Column("acquired_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
