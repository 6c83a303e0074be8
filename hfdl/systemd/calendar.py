"""Every rendering of a schedule's "when", when systemd will next fire it, and the other
durations written into the units (lock wait, restart rate limit).

:func:`on_calendar` turns a schedule into the ``OnCalendar=`` expression of its timer,
:func:`timer_summary` into its timer's description, :func:`describe_when` into the words
``hfdl schedule list`` and ``show`` print.
:func:`next_elapse` asks ``systemd-analyze calendar`` when an expression next elapses, so
the time hfdl shows is the one systemd computes (time zones, daylight saving changes and
all), not a re-implementation of it. It needs no running systemd manager.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hfdl.errors import SystemdError
from hfdl.schedule import WEEKDAYS

if TYPE_CHECKING:
    from hfdl.config import Settings
    from hfdl.schedule import Schedule
    from hfdl.store.rows import ScheduleRow

SYSTEMD_ANALYZE = "systemd-analyze"
# systemd-analyze answers in milliseconds; this only bounds a hung or broken binary.
_TIMEOUT_SECONDS = 10.0
# "Next elapse: Mon 2026-11-30 02:00:00 CET", "Iter. #2: ...", "(in UTC): Mon ... UTC".
_ELAPSE_LINE = re.compile(
    r"^\s*(?P<label>Next elapse|Iter\. #\d+|\(in UTC\)):\s*"
    r"(?:never|\S+ (?P<moment>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}))"
)


def on_calendar(schedule: Schedule) -> str:
    """Return the ``OnCalendar=`` expression of a schedule, in the machine's local time.

    Args:
        schedule: the schedule (valid by construction: ``time`` is ``HH:MM``, ``day`` is
            ``Mon``..``Sun`` for a weekly one).

    Returns:
        ``*-*-* HH:MM:00`` for a daily schedule, ``Fri *-*-* HH:MM:00`` for a weekly one.
    """
    if schedule.type == "weekly":
        return f"{schedule.day} *-*-* {schedule.time}:00"
    return f"*-*-* {schedule.time}:00"


def timer_summary(schedule: Schedule) -> str:
    """The timer's ``Description=`` ending: ``daily at 02:00`` / ``weekly on Fri at 14:00``."""
    if schedule.type == "weekly":
        return f"weekly on {schedule.day} at {schedule.time}"
    return f"daily at {schedule.time}"


def describe_when(schedule: Schedule) -> str:
    """``daily 02:00`` / ``weekly Fri (4) 14:00``: the day's number (Monday = 0) is how the
    command line accepts it."""
    if schedule.type == "weekly" and schedule.day in WEEKDAYS:
        return f"weekly {schedule.day} ({WEEKDAYS.index(schedule.day)}) {schedule.time}"
    return f"{schedule.type} {schedule.time}"


def next_elapse(expression: str, now: datetime | None = None) -> datetime | None:
    """Return when a calendar expression next elapses after ``now``, as systemd computes it.

    Args:
        expression: an ``OnCalendar=`` expression, e.g. ``"Fri *-*-* 14:00:00"``.
        now: the time to count from (default: the current time). A naive datetime is
            read as local time.

    Returns:
        The next elapse as an aware UTC datetime; ``None`` when the expression never
        elapses again, or when ``systemd-analyze`` is not installed.

    Raises:
        SystemdError: ``systemd-analyze`` refused the expression, failed or hung.
    """
    elapses = upcoming_elapses(expression, count=1, now=now)
    if elapses is None or not elapses:
        return None
    return elapses[0]


def upcoming_elapses(
    expression: str, *, count: int, now: datetime | None = None
) -> list[datetime] | None:
    """Return the next ``count`` elapses of a calendar expression (``--iterations``).

    Args:
        expression: an ``OnCalendar=`` expression.
        count: how many elapses to compute, at least 1.
        now: the time to count from (default: now); naive means local time.

    Returns:
        Aware UTC datetimes, earliest first; fewer than ``count`` (possibly none) when the
        expression stops elapsing. ``None`` when ``systemd-analyze`` is not installed.

    Raises:
        ValueError: ``count`` is less than 1.
        SystemdError: ``systemd-analyze`` refused the expression, failed or hung.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    command = [SYSTEMD_ANALYZE, "calendar", f"--iterations={count}"]
    if now is not None:
        command.append(f"--base-time=@{int(now.timestamp())}")
    # "--" so that an expression starting with '-' is never read as an option.
    command += ["--", expression]
    environment = dict(os.environ, SYSTEMD_COLORS="0", SYSTEMD_PAGER="cat")
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_SECONDS,
            env=environment,
            check=False,
        )
    except FileNotFoundError:
        return None
    except subprocess.TimeoutExpired as error:
        raise SystemdError(f"{SYSTEMD_ANALYZE} calendar did not answer in time") from error
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip() or f"exit {completed.returncode}"
        raise SystemdError(f"{SYSTEMD_ANALYZE} calendar {expression!r}: {detail}")
    return parse_calendar_output(completed.stdout)


def parse_calendar_output(text: str) -> list[datetime]:
    """Parse the elapses printed by ``systemd-analyze calendar``.

    systemd prints each elapse in local time and, when the local zone is not UTC, the same
    moment again on a ``(in UTC):`` line. The UTC line is used when present; without one
    the zone is UTC and the local line is already UTC. Time zone abbreviations (``CET``)
    are never interpreted: they are ambiguous.

    Args:
        text: the command's standard output.

    Returns:
        Aware UTC datetimes in output order (empty for ``Next elapse: never``).
    """
    elapses: list[datetime] = []
    for line in text.splitlines():
        match = _ELAPSE_LINE.match(line)
        if match is None or match["moment"] is None:
            continue
        moment = datetime.strptime(match["moment"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        if match["label"] == "(in UTC)":
            if elapses:
                elapses[-1] = moment  # the exact UTC form of the line before
        else:
            elapses.append(moment)
    return elapses


# The start rate limit window must stay shorter than the shortest schedule period (a day):
# restarts counted in it would otherwise refuse the next calendar run.
_MAX_START_LIMIT_INTERVAL_SECONDS = 23 * 3600


def lock_wait_seconds(settings: Settings) -> int:
    """How long a scheduled run waits for the run lock (``run --wait-timeout``).

    Half of ``TimeoutStartSec=``: a run that gets the lock late keeps at least half of the
    time systemd gives it for its own downloads.

    Args:
        settings: the effective settings (``service.timeout_start_seconds``).

    Returns:
        Whole seconds, at least 1.
    """
    return max(1, int(settings.service.timeout_start_seconds) // 2)


def start_limit_interval_seconds(settings: Settings) -> int:
    """The unit's ``StartLimitIntervalSec=``: long enough to hold one series of restarts.

    Twice the restarts' own delays (each failing run also takes some time), capped below a
    day so that restarts counted in it never refuse the next calendar run.

    Args:
        settings: the effective settings (``service.retry_attempts``, ``retry_delay_seconds``).

    Returns:
        Whole seconds.
    """
    service = settings.service
    series = 2 * (int(service.retry_attempts) + 1) * int(service.retry_delay_seconds)
    return min(series, _MAX_START_LIMIT_INTERVAL_SECONDS)


# -- without systemd (``hfdl start --foreground``) --------------------------------------------


def weekday_number(day: str | int) -> int:
    """A schedule's day as 0-6 (Monday = 0), from ``5``, ``"5"``, ``"fri"`` or ``"friday"``."""
    text = str(day).strip().lower()
    if text.isdigit():
        return int(text) % 7
    return [weekday.lower() for weekday in WEEKDAYS].index(text[:3])


def next_fire(schedule: ScheduleRow, now: datetime) -> datetime:
    """The next local time at or after ``now`` when ``schedule`` fires.

    Args:
        schedule: a daily or weekly schedule (``day`` 0 = Monday).
        now: a timezone-aware local time.

    Returns:
        The next firing time (strictly after ``now``).
    """
    hour, minute = (int(part) for part in schedule.time.split(":"))
    candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if schedule.type == "weekly" and schedule.day is not None:
        weekday = weekday_number(schedule.day)
        candidate += timedelta(days=(weekday - candidate.weekday()) % 7)
        if candidate <= now:
            candidate += timedelta(days=7)
    elif candidate <= now:
        candidate += timedelta(days=1)
    return candidate
