"""The rules a download schedule must follow, checked before anything is written.

They live in the store package, next to the table, so that every way into the database
applies the same ones: :func:`check_schedule_fields` returns every problem at once
(``hfdl.services.schedules`` calls it before opening anything, to report all mistakes
together; ``hfdl.systemd.units`` before rendering) and the store calls it again before each
write. This module does not import SQLAlchemy.

Schedule names and tags end up in systemd unit names and unit files, so their rules are
deliberately narrow: no character there can need quoting or start a new line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from hfdl.errors import Problem
from hfdl.store.rows import SCHEDULE_TYPES, WEEKDAYS

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
