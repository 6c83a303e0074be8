"""Named download schedules in the state database.

The store writes :class:`~hfdl.schedule.Schedule` values, which are valid by construction
(:func:`hfdl.schedule.parse_schedule` made them), so nothing is checked again here except
what only the database can tell: whether a name is taken.

Errors: :class:`~hfdl.errors.DuplicateSchedule` (name taken),
:class:`~hfdl.errors.ScheduleNotFound` (no such id or name); both exit 65.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from hfdl.errors import ScheduleNotFound
from hfdl.schedule import CONCURRENT_DOWNLOADS_KEY, Schedule, schedule_name_taken
from hfdl.store.db import Database
from hfdl.store.rows import UNCHANGED, ScheduleRow, Unchanged, external_name
from hfdl.store.tables import schedules, utc_now

# Each column under its ScheduleRow field's name (the concurrency column is named otherwise).
_SCHEDULE_ROW_COLUMNS = [
    schedules.c[external_name(field)].label(field.name) for field in dataclasses.fields(ScheduleRow)
]


def _unknown_schedule(id_or_name: int | str) -> ScheduleNotFound:
    return ScheduleNotFound(
        f"no schedule {id_or_name!r}", hint="'hfdl schedule list' shows the schedules"
    )


def _schedule_columns(schedule: Schedule) -> dict[str, Any]:
    """A Schedule's fields as the ``schedules`` table's column values."""
    return {
        "name": schedule.name,
        "type": schedule.type,
        "time": schedule.time,
        "day": schedule.day,
        CONCURRENT_DOWNLOADS_KEY: schedule.concurrent_downloads,
        "tags": schedule.tags,
    }


class SchedulesMixin(Database):
    """Schedule create/read/update/delete. Mixed into :class:`hfdl.store.Store`."""

    def create_schedule(
        self, schedule: Schedule, *, enabled: bool = True, active: bool = False
    ) -> ScheduleRow:
        """Store a new schedule.

        Args:
            schedule: what and when (see :func:`hfdl.schedule.parse_schedule`).
            enabled: whether its timer should run.
            active: whether it is the active schedule (see :meth:`activate_only`).

        Returns:
            The stored schedule.

        Raises:
            DuplicateSchedule: the name is taken.
        """
        now = utc_now()
        values = _schedule_columns(schedule) | {
            "enabled": enabled,
            "active": active,
            "created_at": now,
            "updated_at": now,
        }
        with self._write() as connection:
            if _find_by_name(connection, schedule.name) is not None:
                raise schedule_name_taken(schedule.name)
            schedule_id = connection.execute(
                schedules.insert().values(values).returning(schedules.c.id)
            ).scalar_one()
            row = _get(connection, schedule_id)
        assert row is not None
        return row

    def list_schedules(self) -> list[ScheduleRow]:
        """Return every schedule, sorted by name."""
        with self._read() as connection:
            query = select(*_SCHEDULE_ROW_COLUMNS).order_by(schedules.c.name)
            return [ScheduleRow(**row._mapping) for row in connection.execute(query)]

    def get_schedule(self, id_or_name: int | str) -> ScheduleRow | None:
        """Return a schedule by id (an int) or name, or ``None``.

        A string of digits that is nobody's name is tried as an id, so command-line
        arguments can be passed through unchanged.
        """
        with self._read() as connection:
            return _find(connection, id_or_name)

    def update_schedule(
        self,
        id_or_name: int | str,
        *,
        schedule: Schedule | Unchanged = UNCHANGED,
        enabled: bool | Unchanged = UNCHANGED,
        active: bool | Unchanged = UNCHANGED,
    ) -> ScheduleRow:
        """Change a schedule's definition or state; what is not given keeps its value.

        Args:
            id_or_name: the schedule, as for :meth:`get_schedule`.
            schedule: its new definition, whole (it may rename the schedule).
            enabled: whether its timer should run.
            active: whether it is the active schedule.

        Returns:
            The schedule as stored afterwards.

        Raises:
            ScheduleNotFound: no such schedule.
            DuplicateSchedule: the new name is taken.
        """
        changes: dict[str, Any] = {}
        if not isinstance(schedule, Unchanged):
            changes |= _schedule_columns(schedule)
        if not isinstance(enabled, Unchanged):
            changes["enabled"] = enabled
        if not isinstance(active, Unchanged):
            changes["active"] = active
        with self._write() as connection:
            current = _find(connection, id_or_name)
            if current is None:
                raise _unknown_schedule(id_or_name)
            new_name = changes.get("name", current.name)
            if new_name != current.name and _find_by_name(connection, new_name) is not None:
                raise schedule_name_taken(new_name)
            connection.execute(
                update(schedules)
                .where(schedules.c.id == current.id)
                .values(changes | {"updated_at": utc_now()})
            )
            row = _get(connection, current.id)
        assert row is not None
        return row

    def activate_only(self, id_or_name: int | str) -> list[ScheduleRow]:
        """Make one schedule the only enabled and active one, in one transaction.

        The chosen schedule becomes ``enabled`` and ``active``; every other schedule becomes
        neither. Schedules already in the wanted state are not touched (their
        ``updated_at`` stays).

        Returns:
            Every schedule afterwards, sorted by name.

        Raises:
            ScheduleNotFound: no such schedule.
        """
        now = utc_now()
        with self._write() as connection:
            chosen = _find(connection, id_or_name)
            if chosen is None:
                raise _unknown_schedule(id_or_name)
            connection.execute(
                update(schedules)
                .where(
                    schedules.c.id != chosen.id,
                    (schedules.c.enabled.is_(True)) | (schedules.c.active.is_(True)),
                )
                .values(enabled=False, active=False, updated_at=now)
            )
            if not (chosen.enabled and chosen.active):
                connection.execute(
                    update(schedules)
                    .where(schedules.c.id == chosen.id)
                    .values(enabled=True, active=True, updated_at=now)
                )
            query = select(*_SCHEDULE_ROW_COLUMNS).order_by(schedules.c.name)
            return [ScheduleRow(**row._mapping) for row in connection.execute(query)]

    def delete_schedule(self, id_or_name: int | str) -> ScheduleRow:
        """Delete a schedule (sessions it started keep its name in their history).

        Returns:
            The deleted schedule.

        Raises:
            ScheduleNotFound: no such schedule.
        """
        with self._write() as connection:
            current = _find(connection, id_or_name)
            if current is None:
                raise _unknown_schedule(id_or_name)
            connection.execute(delete(schedules).where(schedules.c.id == current.id))
        return current


def _get(connection: Connection, schedule_id: int) -> ScheduleRow | None:
    query = select(*_SCHEDULE_ROW_COLUMNS).where(schedules.c.id == schedule_id)
    row = connection.execute(query).first()
    return None if row is None else ScheduleRow(**row._mapping)


def _find_by_name(connection: Connection, name: str) -> ScheduleRow | None:
    query = select(*_SCHEDULE_ROW_COLUMNS).where(schedules.c.name == name)
    row = connection.execute(query).first()
    return None if row is None else ScheduleRow(**row._mapping)


def _find(connection: Connection, id_or_name: int | str) -> ScheduleRow | None:
    if isinstance(id_or_name, int):
        # bool is an int to Python, but True is nobody's id.
        return None if isinstance(id_or_name, bool) else _get(connection, id_or_name)
    row = _find_by_name(connection, id_or_name)
    if row is not None:
        return row
    if isinstance(id_or_name, str) and id_or_name.isdecimal():
        return _get(connection, int(id_or_name))
    return None
