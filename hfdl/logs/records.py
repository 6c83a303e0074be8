"""What ``hfdl logs`` reads: one record, a query, and a reading (records plus where from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hfdl.logs.journald import (
    priority_name,
)


@dataclass(frozen=True)
class LogRecord:
    """One log record of hfdl, from the journal or the log file.

    ``time`` is timezone-aware (local time); ``priority`` is the syslog priority (6 = info).
    """

    time: datetime
    priority: int
    message: str
    session_id: int | None = None
    model: str | None = None
    event: str | None = None
    bytes: int | None = None
    source: str = "journal"

    @property
    def level(self) -> str:
        """The level name: ``DEBUG``, ``INFO``, ``NOTICE``, ``WARNING``, ``ERROR``, ..."""
        return priority_name(self.priority)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``hfdl logs --json``: the journal fields, lower-cased, unprefixed."""
        return {
            "time": self.time.isoformat(timespec="microseconds"),
            "level": self.level,
            "message": self.message,
            "session_id": self.session_id,
            "model": self.model,
            "event": self.event,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class LogQuery:
    """Which records to show.

    Attributes:
        tail: only the last N matching records (``None``: all).
        session_id: only this session's records.
        model: only this model's records.
        since: only records at or after this moment.
    """

    tail: int | None = None
    session_id: int | None = None
    model: str | None = None
    since: datetime | None = None

    def matches(self, record: LogRecord) -> bool:
        """Whether ``record`` passes the filters (the journal applies them itself)."""
        if self.session_id is not None and record.session_id != self.session_id:
            return False
        if self.model is not None and record.model != self.model:
            return False
        return self.since is None or record.time >= self.since


@dataclass
class LogReading:
    """What :func:`read_logs` found.

    Attributes:
        records: matching records, oldest first.
        journal: whether the journal was read (``False``: no journald here).
        log_file: the log file looked at.
        notes: things to tell the user on stderr (where records came from, or not).
    """

    records: list[LogRecord]
    journal: bool
    log_file: Path
    notes: list[str] = field(default_factory=list)


def field_text(value: Any) -> str | None:
    """A journal field as text (systemd-python leaves invalid UTF-8 as bytes)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def field_integer(value: Any) -> int | None:
    """A numeric field as int, or None when absent or not a number."""
    text = field_text(value)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None
