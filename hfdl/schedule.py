"""A download schedule's definition: the one :class:`Schedule` value, and its rules.

A schedule says when timer-driven runs happen (``daily`` or ``weekly``, at ``HH:MM`` local
time, on a weekday for weekly ones) and what they download (``concurrent_downloads`` models
at once, only models carrying one of ``tags``). Raw input, from the command line or from the
configuration's ``default_schedule``, becomes a :class:`Schedule` through
:func:`parse_schedule`, which reports every problem at once
(:class:`~hfdl.errors.InvalidSchedule`, exit 65). The store writes Schedule values and the
systemd layer renders them without checking them again.

This is a leaf module (it imports only :mod:`hfdl.errors`) because the store, the systemd
layer and the services all need the value and none of them may import another for it.

Schedule names and tags end up in systemd unit names and unit files, so their rules are
deliberately narrow: no character there can need quoting or start a new line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from hfdl.errors import DuplicateSchedule, InvalidSchedule, Problem

SCHEDULE_TYPES = ("daily", "weekly")
# How schedules store and systemd writes a weekday; Monday is day 0 on the command line.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FULL_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_SCHEDULE_NAME_LENGTH = 32
MAX_CONCURRENT_DOWNLOADS = 64
# The name of the concurrency field in problems, the database column and JSON documents:
# users and scripts know it by this name, so it stays although the code says
# "concurrent_downloads".
CONCURRENT_DOWNLOADS_KEY = "max_concurrent_downloads"

# Schedule names become part of systemd unit names (hfdl-<name>.timer, hfdl-run@<name>
# .service): lowercase letters, digits and '-' need no escaping there, in a shell or in a
# unit file. ('_' is not allowed: `systemd-escape` users expect '-' as the separator.)
_SCHEDULE_NAME = re.compile(rf"[a-z0-9][a-z0-9-]{{0,{MAX_SCHEDULE_NAME_LENGTH - 1}}}")
_LOOSE_TIME = re.compile(r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})")
_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
# Characters a tag may never contain, beyond whitespace and control characters: they would
# need quoting in a unit file or a shell ('=' '"' "'" '%' '\\' ';'), or split a
# --tags list (',').
_TAG_FORBIDDEN = frozenset("=\"'%\\;,")

# Every accepted spelling of a weekday, lowercased: "0".."6" (Monday = 0), "mon", "monday".
_DAY_BY_SPELLING: dict[str, str] = {}
for _number, (_short, _full) in enumerate(zip(WEEKDAYS, FULL_WEEKDAY_NAMES, strict=True)):
    _DAY_BY_SPELLING.update({str(_number): _short, _short.lower(): _short, _full: _short})


@dataclass(frozen=True)
class Schedule:
    """When a schedule runs and what it downloads, in canonical form.

    ``type`` is ``daily`` or ``weekly``; ``time`` is ``HH:MM`` (24-hour clock, the machine's
    local time, as systemd's ``OnCalendar=`` reads it); ``day`` is ``Mon`` ... ``Sun`` for a
    weekly schedule and ``None`` for a daily one; ``concurrent_downloads`` is 1 to
    :data:`MAX_CONCURRENT_DOWNLOADS`; ``tags`` limits runs to models carrying any of them
    (empty: every model).

    Make one from user input with :func:`parse_schedule`, which accepts the looser
    spellings (``7:05``, ``fri``, ``4``). Constructing one directly checks that the fields
    are already canonical, so a Schedule that exists is valid: that is what lets the store
    and the unit renderer take it without checking it again.

    Raises:
        InvalidSchedule: a field is not valid or not in canonical form; every problem is
            listed.
    """

    name: str
    type: str
    time: str
    day: str | None
    concurrent_downloads: int
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise InvalidSchedule(problems)


def parse_schedule(
    *,
    name: str,
    schedule_type: str,
    time: str,
    day: str | int | None,
    concurrent_downloads: int,
    tags: Iterable[str] = (),
) -> Schedule:
    """Turn a schedule as a user wrote it into a :class:`Schedule`, finding every problem.

    Args:
        name: 1-32 lowercase letters, digits or '-', starting with a letter or digit, not
            digits only.
        schedule_type: ``daily`` or ``weekly``.
        time: ``HH:MM`` or ``H:MM``, 00:00 to 23:59, local time.
        day: weekly only (required there, refused for daily): 0-6 with Monday = 0 (an int or
            a digit), or ``mon``..``sun`` / ``monday``..``sunday`` in any letter case.
        concurrent_downloads: models downloaded at once, 1 to 64.
        tags: the tag filter (empty: every model).

    Returns:
        The schedule, with ``time`` as ``HH:MM`` and ``day`` as ``Mon``..``Sun`` or ``None``.

    Raises:
        InvalidSchedule: one or more fields are invalid; every problem is listed, in the
            order name, type, time, day, concurrency, tags.
    """
    # Read once (it may be a generator). A string is passed on whole, for the check to
    # report, rather than split into one-letter tags.
    tag_tuple = cast("tuple[str, ...]", tags) if isinstance(tags, str) else tuple(tags)
    # Only the spellings are converted here; whatever cannot be read is passed on unchanged
    # and the Schedule's own check reports it, so that every rule is written once.
    return Schedule(
        name=name,
        type=schedule_type,
        time=_canonical_time(time),
        day=_canonical_day(day),
        concurrent_downloads=concurrent_downloads,
        tags=tag_tuple,
    )


def schedule_name_taken(name: str) -> DuplicateSchedule:
    """The error for a schedule name that is already in use (raised by the caller).

    Args:
        name: the name asked for.

    Returns:
        A :class:`~hfdl.errors.DuplicateSchedule` (exit 65) saying so, with a hint.
    """
    return DuplicateSchedule(
        f"a schedule named {name!r} already exists",
        hint="choose another name, or change or delete the existing schedule",
    )


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
    match = _LOOSE_TIME.fullmatch(time) if isinstance(time, str) else None
    if match is None or int(match["hour"]) > 23 or int(match["minute"]) > 59:
        raise ValueError(_not_a_time(time))
    return f"{int(match['hour']):02d}:{match['minute']}"


def normalize_day(day: object) -> str:
    """Return a weekday as schedules store it and systemd writes it (``Mon`` ... ``Sun``).

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
        raise ValueError(_not_a_day(day))
    return canonical


def tag_problems(tags: object) -> list[str]:
    """Check a schedule's tag filter.

    Tags follow the catalog's rules (non-empty, printable, no surrounding spaces, no
    repeats) and, because they appear on command lines and in unit files, contain no
    whitespace and none of ``= " ' % \\ ; ,``.

    Args:
        tags: the tags, any iterable of them but a string.

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


def _canonical_time(time: str) -> str:
    """``7:05`` as ``07:05``; anything unreadable as written (the check reports it)."""
    try:
        return normalize_time(time)
    except ValueError:
        return time


def _canonical_day(day: str | int | None) -> str | None:
    """``4``, ``"4"``, ``fri`` or ``FRIDAY`` as ``Fri``; anything unreadable as text, as
    written (the check reports it)."""
    if day is None or day == "":
        return day  # "needs a day" for a weekly schedule, not "not a day"
    try:
        return normalize_day(day)
    except ValueError:
        return str(day) if isinstance(day, int) else day


def _not_a_time(time: object) -> str:
    return f"{time!r} is not a time: use HH:MM on a 24-hour clock, 00:00 to 23:59, e.g. 03:30"


def _not_a_day(day: object) -> str:
    return (
        f"{day!r} is not a day of the week: use 0-6 (Monday = 0) or mon, tue, wed, thu,"
        " fri, sat, sun (full names work too)"
    )


def _problems(schedule: Schedule) -> list[Problem]:
    """Every way a schedule's fields are not valid and canonical; each problem's ``path``
    is the field's name as users know it."""
    problems: list[Problem] = []

    def report(field: str, message: str) -> None:
        problems.append(Problem("", field, message))

    name_problem = schedule_name_problem(schedule.name)
    if name_problem:
        report("name", name_problem)
    if schedule.type not in SCHEDULE_TYPES:
        report(
            "type", f"{schedule.type!r} is not a schedule type: use {' or '.join(SCHEDULE_TYPES)}"
        )
    if not isinstance(schedule.time, str) or not _TIME.fullmatch(schedule.time):
        report("time", _not_a_time(schedule.time))
    day_problem = _day_problem(schedule.type, schedule.day)
    if day_problem:
        report("day", day_problem)
    concurrency = schedule.concurrent_downloads
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENT_DOWNLOADS
    ):
        report(
            CONCURRENT_DOWNLOADS_KEY,
            f"{concurrency!r} is not allowed: use a whole number from 1 to"
            f" {MAX_CONCURRENT_DOWNLOADS}",
        )
    tags_messages = tag_problems(schedule.tags)
    if not tags_messages and not isinstance(schedule.tags, tuple):
        # A list would make the frozen value mutable after all.
        tags_messages = [f"must be a tuple of tags, not {type(schedule.tags).__name__}"]
    for message in tags_messages:
        report("tags", message)
    return problems


def _day_problem(schedule_type: str, day: object) -> str | None:
    """What is wrong with ``day`` for a schedule of this type, or ``None``."""
    if schedule_type == "weekly":
        if day is None or day == "":
            return "a weekly schedule needs a day: 0-6 (Monday = 0) or mon..sun"
        if day not in WEEKDAYS:
            return _not_a_day(day)
    elif schedule_type == "daily" and day is not None:
        return "a daily schedule runs every day: give a day only with a weekly one"
    return None
