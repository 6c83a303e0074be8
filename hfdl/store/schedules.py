"""Named download schedules in the state database.

Invalid, duplicate or unknown schedules raise :class:`hfdl.errors.UsageError`: schedules
are created and changed from the command line, and errors.py has no schedule-specific class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from hfdl.errors import UsageError
from hfdl.store.db import Database
from hfdl.store.rows import SCHEDULE_TYPES, UNCHANGED, WEEKDAYS, ScheduleRow, Unchanged
from hfdl.store.tables import schedules, utc_now

_SCHEDULE_ROW_COLUMNS = [schedules.c[field] for field in ScheduleRow.__dataclass_fields__]

# Schedule names become part of systemd unit names (hfdl-<name>.timer), so keep to the
# characters unit names allow without escaping.
_SCHEDULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_TIME = re.compile(r"(?P<hour>\d{1,2}):(?P<minute>\d{2})")
MAX_CONCURRENT_DOWNLOADS = 64

_DAY_BY_SPELLING = {
    spelling: day
    for day, full in zip(
        WEEKDAYS,
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        strict=True,
    )
    for spelling in (day.lower(), full)
}


def normalize_schedule_name(name: object) -> str:
    """Return ``name`` if it is a valid schedule name.

    Raises:
        UsageError: it is not 1-64 letters, digits, '-' or '_' starting with a letter or digit.
    """
    if not isinstance(name, str) or not _SCHEDULE_NAME.fullmatch(name):
        raise UsageError(
            f"invalid schedule name {name!r}: use 1-64 letters, digits, '-' or '_',"
            " starting with a letter or digit"
        )
    return name


def normalize_time(time: object) -> str:
    """Return ``time`` as zero-padded ``HH:MM`` (24-hour clock).

    Raises:
        UsageError: not ``H:MM``/``HH:MM`` with hour 0-23 and minute 0-59.
    """
    match = _TIME.fullmatch(time) if isinstance(time, str) else None
    if match is None or int(match["hour"]) > 23 or int(match["minute"]) > 59:
        raise UsageError(f"invalid time {time!r}: use HH:MM on a 24-hour clock, e.g. 03:30")
    return f"{int(match['hour']):02d}:{match['minute']}"


def normalize_day(day: object) -> str:
    """Return a weekday as systemd writes it (``Mon`` ... ``Sun``).

    Accepts any letter case and full names (``monday``).

    Raises:
        UsageError: not a weekday.
    """
    canonical = _DAY_BY_SPELLING.get(day.lower()) if isinstance(day, str) else None
    if canonical is None:
        raise UsageError(f"invalid day {day!r}: use one of {', '.join(WEEKDAYS)}")
    return canonical


def _check_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalize a complete set of schedule fields (returns a new dict)."""
    checked = dict(values)
    checked["name"] = normalize_schedule_name(values["name"])
    if values["type"] not in SCHEDULE_TYPES:
        raise UsageError(
            f"invalid schedule type {values['type']!r}: use {' or '.join(SCHEDULE_TYPES)}"
        )
    checked["time"] = normalize_time(values["time"])
    if values["type"] == "weekly":
        if values["day"] is None:
            raise UsageError("a weekly schedule needs a day (Mon ... Sun)")
        checked["day"] = normalize_day(values["day"])
    elif values["day"] is not None:
        raise UsageError("a daily schedule runs every day; do not give a day")
    concurrency = values["max_concurrent_downloads"]
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENT_DOWNLOADS
    ):
        raise UsageError(
            f"invalid max_concurrent_downloads {concurrency!r}:"
            f" use a whole number from 1 to {MAX_CONCURRENT_DOWNLOADS}"
        )
    tags = tuple(values["tags"])
    if any(not isinstance(tag, str) or not tag.strip() for tag in tags):
        raise UsageError("schedule tags must be non-empty strings")
    checked["tags"] = tuple(dict.fromkeys(tags))  # drop repeats, keep order
    checked["enabled"] = bool(values["enabled"])
    checked["active"] = bool(values["active"])
    return checked


def _unknown_schedule(id_or_name: int | str) -> UsageError:
    return UsageError(
        f"no schedule {id_or_name!r}", hint="'hfdl schedule list' shows the schedules"
    )


def _duplicate_schedule(name: str) -> UsageError:
    return UsageError(
        f"a schedule named {name!r} already exists",
        hint="choose another name, or update or delete the existing schedule",
    )


class SchedulesMixin(Database):
    """Schedule create/read/update/delete. Mixed into :class:`hfdl.store.Store`."""

    def create_schedule(
        self,
        name: str,
        schedule_type: str,
        time: str,
        *,
        day: str | None = None,
        enabled: bool = True,
        active: bool = False,
        max_concurrent_downloads: int = 1,
        tags: Iterable[str] = (),
    ) -> ScheduleRow:
        """Create a schedule.

        Args:
            name: unique name, 1-64 letters, digits, '-' or '_' (used in unit names).
            schedule_type: ``daily`` or ``weekly``.
            time: ``HH:MM``, 24-hour clock.
            day: for weekly schedules, ``Mon`` ... ``Sun`` (any case, full names accepted);
                must be ``None`` for daily ones.
            enabled: whether the schedule should run.
            active: whether its systemd timer is installed and started.
            max_concurrent_downloads: 1-64 models downloaded at once.
            tags: only models with any of these tags run (empty: all models).

        Returns:
            The stored schedule.

        Raises:
            UsageError: a field is invalid or the name is taken.
        """
        fields = _check_fields(
            {
                "name": name,
                "type": schedule_type,
                "time": time,
                "day": day,
                "enabled": enabled,
                "active": active,
                "max_concurrent_downloads": max_concurrent_downloads,
                "tags": tags,
            }
        )
        now = utc_now()
        with self._write() as connection:
            if _find(connection, fields["name"]) is not None:
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
        day: str | Unchanged | None = UNCHANGED,
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
            UsageError: no such schedule, a field is invalid, or the new name is taken.
        """
        changes = {
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
        with self._write() as connection:
            current = _find(connection, id_or_name)
            if current is None:
                raise _unknown_schedule(id_or_name)
            merged = {key: getattr(current, key) for key in _FIELD_NAMES}
            merged |= changes
            if changes.get("type") == "daily" and "day" not in changes:
                merged["day"] = None
            fields = _check_fields(merged)
            if fields["name"] != current.name and _find(connection, fields["name"]) is not None:
                raise _duplicate_schedule(fields["name"])
            connection.execute(
                update(schedules)
                .where(schedules.c.id == current.id)
                .values(fields | {"updated_at": utc_now()})
            )
            row = _get(connection, current.id)
        assert row is not None
        return row

    def delete_schedule(self, id_or_name: int | str) -> ScheduleRow:
        """Delete a schedule (sessions it started keep its name in their history).

        Returns:
            The deleted schedule.

        Raises:
            UsageError: no such schedule.
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


def _find(connection: Connection, id_or_name: int | str) -> ScheduleRow | None:
    if isinstance(id_or_name, int) and not isinstance(id_or_name, bool):
        return _get(connection, id_or_name)
    query = select(*_SCHEDULE_ROW_COLUMNS).where(schedules.c.name == id_or_name)
    row = connection.execute(query).first()
    if row is not None:
        return ScheduleRow(**row._mapping)
    if isinstance(id_or_name, str) and id_or_name.isdecimal():
        return _get(connection, int(id_or_name))
    return None
