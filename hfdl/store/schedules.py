"""Named download schedules in the state database, and the rules a schedule must follow.

The rules live here, next to the table, so that every way into the database applies the same
ones: :func:`check_schedule_fields` returns every problem at once (``hfdl.services.schedules``
calls it before opening anything, to report all mistakes together) and the store calls it
again before each write, so invalid values can never be stored.

Schedule names and tags end up in systemd unit names and unit files, so their rules are
deliberately narrow: no character there can need quoting or start a new line.

Errors: :class:`~hfdl.errors.InvalidSchedule` (invalid fields),
:class:`~hfdl.errors.DuplicateSchedule` (name taken), :class:`~hfdl.errors.ScheduleNotFound`
(no such id or name); all exit 65.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from hfdl.errors import DuplicateSchedule, InvalidSchedule, Problem, ScheduleNotFound
from hfdl.store.db import Database
from hfdl.store.rows import SCHEDULE_TYPES, UNCHANGED, WEEKDAYS, ScheduleRow, Unchanged
from hfdl.store.tables import schedules, utc_now

_SCHEDULE_ROW_COLUMNS = [schedules.c[field] for field in ScheduleRow.__dataclass_fields__]

MAX_SCHEDULE_NAME_LENGTH = 32
# Schedule names become part of systemd unit names (hfdl-<name>.timer, hfdl-run@<name>
# .service): lowercase letters, digits and '-' need no escaping there, in a shell or in a
# unit file. ('_' is not allowed: `systemd-escape` users expect '-' as the separator.)
_SCHEDULE_NAME = re.compile(rf"[a-z0-9][a-z0-9-]{{0,{MAX_SCHEDULE_NAME_LENGTH - 1}}}")
_TIME = re.compile(r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})")
MAX_CONCURRENT_DOWNLOADS = 64
FULL_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Characters a tag may never contain, beyond whitespace and control characters: they would
# need quoting in a unit file or a shell ('=' '"' "'" '%' '\\' ';'), or split a
# --tags list (',').
_TAG_FORBIDDEN = frozenset("=\"'%\\;,")

# Every accepted spelling of a weekday, lowercased: "0".."6" (Monday = 0), "mon", "monday".
_DAY_BY_SPELLING: dict[str, str] = {}
for _number, (_short, _full) in enumerate(zip(WEEKDAYS, FULL_WEEKDAY_NAMES, strict=True)):
    _DAY_BY_SPELLING.update({str(_number): _short, _short.lower(): _short, _full: _short})


def schedule_name_problem(name: object) -> str | None:
    """Check a schedule name.

    Args:
        name: the proposed name.

    Returns:
        What is wrong with it, or ``None`` when it is valid: 1-32 lowercase letters, digits
        or '-', starting with a letter or digit, and not digits only (a number would be
        mistaken for a schedule id on the command line).
    """
    if not isinstance(name, str) or not _SCHEDULE_NAME.fullmatch(name):
        return (
            f"{name!r} is not a valid schedule name: use 1-{MAX_SCHEDULE_NAME_LENGTH} lowercase"
            " letters, digits or '-', starting with a letter or digit"
        )
    if name.isdecimal():
        return f"{name!r} is not a valid schedule name: digits only would read as a schedule id"
    return None


def normalize_time(time: object) -> str:
    """Return ``time`` as zero-padded ``HH:MM`` (24-hour clock).

    Raises:
        ValueError: not ``H:MM``/``HH:MM`` with hour 0-23 and minute 0-59.
    """
    match = _TIME.fullmatch(time) if isinstance(time, str) else None
    if match is None or int(match["hour"]) > 23 or int(match["minute"]) > 59:
        raise ValueError(
            f"{time!r} is not a time: use HH:MM on a 24-hour clock, 00:00 to 23:59, e.g. 03:30"
        )
    return f"{int(match['hour']):02d}:{match['minute']}"


def normalize_day(day: object) -> str:
    """Return a weekday as the database and systemd write it (``Mon`` ... ``Sun``).

    Args:
        day: 0-6 with Monday = 0 (an int or a string of one digit), or a name: ``mon`` ..
            ``sun`` or ``monday`` .. ``sunday``, in any letter case.

    Raises:
        ValueError: not a weekday.
    """
    if isinstance(day, int) and not isinstance(day, bool):
        day = str(day)
    canonical = _DAY_BY_SPELLING.get(day.lower()) if isinstance(day, str) else None
    if canonical is None:
        raise ValueError(
            f"{day!r} is not a day of the week: use 0-6 (Monday = 0) or mon, tue, wed, thu,"
            " fri, sat, sun (full names work too)"
        )
    return canonical


def tag_problems(tags: object) -> list[str]:
    """Check a schedule's tag filter.

    Tags follow the catalog's rules (non-empty, printable, no surrounding spaces, no
    repeats) and, because they appear on command lines and in unit files, contain no
    whitespace and none of ``= " ' % \\ ; ,``.

    Returns:
        What is wrong, one message per problem (empty when the tags are valid).
    """
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        return [f"must be a list of tags, not {type(tags).__name__}"]
    problems: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            problems.append(f"{tag!r}: a tag must be a non-empty string")
        elif any(character.isspace() or not character.isprintable() for character in tag):
            problems.append(
                f"{tag!r}: a tag must not contain spaces, newlines or control characters"
            )
        elif set(tag) & _TAG_FORBIDDEN:
            shown = " ".join(sorted(set(tag) & _TAG_FORBIDDEN))
            problems.append(f"{tag!r}: a tag must not contain {shown}")
        elif tag in seen:
            problems.append(f"duplicate tag {tag!r}")
        else:
            seen.add(tag)
    return problems


def check_schedule_fields(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Validate and normalize a complete set of schedule fields, finding every problem.

    Args:
        values: ``name``, ``type``, ``time``, ``day``, ``enabled``, ``active``,
            ``max_concurrent_downloads`` and ``tags``, as a caller gave them. ``day`` may be
            0-6 or a weekday name; ``time`` may omit the hour's leading zero.

    Returns:
        The normalized fields (``time`` as ``HH:MM``, ``day`` as ``Mon``..``Sun`` or
        ``None``, ``tags`` as a tuple) and the problems found; the fields are only meaningful
        when the list is empty. Each problem's ``path`` is the field's name.
    """
    checked = dict(values)
    problems: list[Problem] = []

    def report(field: str, message: str) -> None:
        problems.append(Problem("", field, message))

    name_problem = schedule_name_problem(values.get("name"))
    if name_problem:
        report("name", name_problem)
    schedule_type = values.get("type")
    if schedule_type not in SCHEDULE_TYPES:
        report(
            "type", f"{schedule_type!r} is not a schedule type: use {' or '.join(SCHEDULE_TYPES)}"
        )
    try:
        checked["time"] = normalize_time(values.get("time"))
    except ValueError as error:
        report("time", str(error))
    day = values.get("day")
    if schedule_type == "weekly":
        if day is None or day == "":
            report("day", "a weekly schedule needs a day: 0-6 (Monday = 0) or mon..sun")
        else:
            try:
                checked["day"] = normalize_day(day)
            except ValueError as error:
                report("day", str(error))
    elif schedule_type == "daily" and day is not None:
        report("day", "a daily schedule runs every day: give a day only with a weekly one")
    concurrency = values.get("max_concurrent_downloads")
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENT_DOWNLOADS
    ):
        report(
            "max_concurrent_downloads",
            f"{concurrency!r} is not allowed: use a whole number from 1 to"
            f" {MAX_CONCURRENT_DOWNLOADS}",
        )
    tags = values.get("tags", ())
    if isinstance(tags, Iterable) and not isinstance(tags, str):
        tags = tuple(tags)  # a generator could be read only once
    for message in tag_problems(tags):
        report("tags", message)
    if not problems:
        checked["tags"] = tuple(tags)
    checked["enabled"] = bool(values.get("enabled", True))
    checked["active"] = bool(values.get("active", False))
    return checked, problems


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
