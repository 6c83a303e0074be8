"""Time specifications as systemd.time(7) and ``journalctl --since`` accept them.

``parse_since("1h ago")``, ``"today"``, ``"2026-11-29 01:00"``, ``"-2d"``: used by
``hfdl logs --since``. Standard library only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hfdl.errors import UsageError

_UNIT_SECONDS = {
    "us": 1e-6,
    "usec": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "msec": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 604800.0,
    "week": 604800.0,
    "weeks": 604800.0,
    "M": 2629800.0,  # 30.44 days, as systemd counts a month
    "month": 2629800.0,
    "months": 2629800.0,
    "y": 31557600.0,  # 365.25 days
    "year": 31557600.0,
    "years": 31557600.0,
}
_SPAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-zμ]+)")
_WEEKDAY = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s+", re.IGNORECASE
)  # systemd accepts and ignores a leading weekday
_TIME_ONLY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")


def _parse_span(text: str) -> float | None:
    """Seconds in a systemd time span such as ``1h 30min`` or ``2days``; None if not one."""
    position = 0
    total = 0.0
    text = text.strip()
    if not text:
        return None
    for match in _SPAN_PART.finditer(text):
        if text[position : match.start()].strip():
            return None
        unit = match.group(2)
        # Exact first: "M" is a month, "m" a minute; then "MIN", "Hours" and the like.
        seconds = _UNIT_SECONDS.get(unit) or _UNIT_SECONDS.get(unit.lower())
        if seconds is None:
            return None
        total += float(match.group(1)) * seconds
        position = match.end()
    if text[position:].strip() or position == 0:
        return None
    return total


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """Parse a ``--since`` value as journalctl does (systemd.time(7)).

    Accepted: ``now``, ``today``, ``yesterday``, ``tomorrow``; ``1h ago``, ``-2d``, ``+5min``,
    ``1h 30min ago``; ``2026-11-29``, ``2026-11-29 01:00``, ``2026-11-29 01:00:05``,
    ``2026-11-29T01:00:05+01:00`` (a leading weekday, and a trailing ``UTC`` or ``Z``, are
    allowed); ``01:00`` (today); ``@1795917055`` (seconds since the epoch).

    Args:
        text: the value as typed.
        now: the current time (``None``: the clock); aware.

    Returns:
        An aware datetime (local time zone unless the text named another).

    Raises:
        UsageError: the text is none of these.
    """
    current = (now or datetime.now(UTC)).astimezone()
    value = text.strip()
    lowered = value.lower()
    midnight = current.replace(hour=0, minute=0, second=0, microsecond=0)
    keywords = {
        "now": current,
        "today": midnight,
        "yesterday": midnight - timedelta(days=1),
        "tomorrow": midnight + timedelta(days=1),
    }
    if lowered in keywords:
        return keywords[lowered]
    if value.startswith("@"):
        try:
            return datetime.fromtimestamp(float(value[1:]), tz=UTC).astimezone()
        except (ValueError, OverflowError, OSError):
            pass
    elif lowered.endswith(" ago") or value.startswith(("-", "+")):
        sign = 1.0 if value.startswith("+") else -1.0
        span = _parse_span(value[:-4] if lowered.endswith(" ago") else value[1:])
        if span is not None:
            return current + timedelta(seconds=sign * span)
    else:
        moment = _parse_absolute(_WEEKDAY.sub("", value), current)
        if moment is not None:
            return moment
    raise UsageError(
        f"--since: cannot understand {text!r}",
        hint='use a date and time ("2026-11-29 01:00"), a time span ("1h ago", "-30min"), '
        "or today, yesterday, now",
    )


def _parse_absolute(value: str, current: datetime) -> datetime | None:
    """An absolute date/time (see :func:`parse_since`), or None when ``value`` is not one."""
    utc = False
    for suffix in (" UTC", " utc", "Z"):
        if value.endswith(suffix):
            value, utc = value[: -len(suffix)].rstrip(), True
            break
    clock = _TIME_ONLY.match(value)
    if clock:
        hour, minute, second, fraction = clock.groups()
        base = current.astimezone(UTC) if utc else current
        try:
            return base.replace(
                hour=int(hour),
                minute=int(minute),
                second=int(second or 0),
                microsecond=int((fraction or "0").ljust(6, "0")),
            ).astimezone()
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # Naive means local time, as journalctl reads it, unless it said UTC.
        parsed = parsed.replace(tzinfo=UTC) if utc else parsed.astimezone()
    return parsed.astimezone()


# -- the journal --------------------------------------------------------------------------
