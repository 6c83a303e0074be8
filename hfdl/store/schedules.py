"""Named download schedules in the state database.

The rules a schedule must follow are in :mod:`hfdl.store.schedule_rules`; the store applies
them again before each write, so invalid values can never be stored.

Errors: :class:`~hfdl.errors.InvalidSchedule` (invalid fields),
:class:`~hfdl.errors.DuplicateSchedule` (name taken), :class:`~hfdl.errors.ScheduleNotFound`
(no such id or name); all exit 65.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from hfdl.errors import DuplicateSchedule, InvalidSchedule, ScheduleNotFound
from hfdl.store.db import Database
from hfdl.store.rows import UNCHANGED, ScheduleRow, Unchanged
from hfdl.store.schedule_rules import check_schedule_fields
from hfdl.store.tables import schedules, utc_now

_SCHEDULE_ROW_COLUMNS = [schedules.c[field] for field in ScheduleRow.__dataclass_fields__]


def _checked_or_raise(values: Mapping[str, Any]) -> dict[str, Any]:
    checked, problems = check_schedule_fields(values)
    if problems:
        raise InvalidSchedule(problems)
    return checked


def _unknown_schedule(id_or_name: int | str) -> ScheduleNotFound:
    return ScheduleNotFound(
        f"no schedule {id_or_name!r}", hint="'hfdl schedule list' shows the schedules"
    )


def _duplicate_schedule(name: str) -> DuplicateSchedule:
    return DuplicateSchedule(
        f"a schedule named {name!r} already exists",
        hint="choose another name, or change or delete the existing schedule",
    )


class SchedulesMixin(Database):
    """Schedule create/read/update/delete. Mixed into :class:`hfdl.store.Store`."""

    def create_schedule(
        self,
        name: str,
        schedule_type: str,
        time: str,
        *,
        day: str | int | None = None,
        enabled: bool = True,
        active: bool = False,
        max_concurrent_downloads: int = 1,
        tags: Iterable[str] = (),
    ) -> ScheduleRow:
        """Create a schedule.

        Args:
            name: unique name, 1-32 lowercase letters, digits or '-' (used in unit names).
            schedule_type: ``daily`` or ``weekly``.
            time: ``HH:MM``, 24-hour clock.
            day: for weekly schedules, 0-6 (Monday = 0) or ``Mon`` ... ``Sun`` (any case,
                full names accepted); must be ``None`` for daily ones.
            enabled: whether the schedule should run.
            active: whether it is the active schedule (see ``activate_only``).
            max_concurrent_downloads: 1-64 models downloaded at once.
            tags: only models with any of these tags run (empty: all models).

        Returns:
            The stored schedule.

        Raises:
            InvalidSchedule: fields are invalid (every problem is listed).
            DuplicateSchedule: the name is taken.
        """
        fields = _checked_or_raise(
            {
                "name": name,
                "type": schedule_type,
                "time": time,
                "day": day,
                "enabled": enabled,
                "active": active,
                "max_concurrent_downloads": max_concurrent_downloads,
                "tags": tuple(tags),
            }
        )
        now = utc_now()
        with self._write() as connection:
            if _find_by_name(connection, fields["name"]) is not None:
                raise _duplicate_schedule(fields["name"])
            schedule_id = connection.execute(
                schedules.insert()
                .values(fields | {"created_at": now, "updated_at": now})
                .returning(schedules.c.id)
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
        name: str | Unchanged = UNCHANGED,
        schedule_type: str | Unchanged = UNCHANGED,
        time: str | Unchanged = UNCHANGED,
        day: str | int | Unchanged | None = UNCHANGED,
        enabled: bool | Unchanged = UNCHANGED,
        active: bool | Unchanged = UNCHANGED,
        max_concurrent_downloads: int | Unchanged = UNCHANGED,
        tags: Iterable[str] | Unchanged = UNCHANGED,
    ) -> ScheduleRow:
        """Change some fields of a schedule; the others keep their values.

        Changing ``schedule_type`` to ``daily`` without giving ``day`` clears the day.

        Args:
            id_or_name: the schedule, as for :meth:`get_schedule`.
            name ... tags: new values, as for :meth:`create_schedule`.

        Returns:
            The schedule as stored afterwards.

        Raises:
            ScheduleNotFound: no such schedule.
            InvalidSchedule: a field is invalid.
            DuplicateSchedule: the new name is taken.
        """
        changes: dict[str, Any] = {
            "name": name,
            "type": schedule_type,
            "time": time,
            "day": day,
            "enabled": enabled,
            "active": active,
            "max_concurrent_downloads": max_concurrent_downloads,
            "tags": tags,
        }
        changes = {key: value for key, value in changes.items() if value is not UNCHANGED}
        if "tags" in changes:
            changes["tags"] = tuple(changes["tags"])
        with self._write() as connection:
            current = _find(connection, id_or_name)
            if current is None:
                raise _unknown_schedule(id_or_name)
            merged = {key: getattr(current, key) for key in _FIELD_NAMES}
            merged |= changes
            if changes.get("type") == "daily" and "day" not in changes:
                merged["day"] = None
            fields = _checked_or_raise(merged)
            renamed = fields["name"] != current.name
            if renamed and _find_by_name(connection, fields["name"]) is not None:
                raise _duplicate_schedule(fields["name"])
            connection.execute(
                update(schedules)
                .where(schedules.c.id == current.id)
                .values(fields | {"updated_at": utc_now()})
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


_FIELD_NAMES = frozenset(
    ("name", "type", "time", "day", "enabled", "active", "max_concurrent_downloads", "tags")
)


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
