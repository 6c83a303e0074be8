"""sessions.process_start: which process instance ran a session.

Revision ID: 0002
Revises: 0001

"<boot id>/<start time in clock ticks>" of the run's process, so that a report can tell the
run from a later process that reuses its pid. NULL for older sessions. Version 2 of the
migrations hfdl used before Alembic.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("process_start", sa.Text))
