"""``hfdl logs``: hfdl's log records from the journal (and ``hfdl.log``), filtered.

Where records come from is :mod:`hfdl.logs.reader`'s business; this use case turns the
command's filters into a query and names the log file of the effective settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

# Re-exported for the CLI, which renders them (``X as X`` marks an intended re-export).
from hfdl.logs.reader import LogQuery as LogQuery
from hfdl.logs.reader import LogReading as LogReading
from hfdl.logs.reader import LogRecord as LogRecord
from hfdl.logs.reader import follow_logs, read_logs
from hfdl.logs.setup import log_file_path
from hfdl.logs.timespec import parse_since

if TYPE_CHECKING:
    from hfdl.config import Settings


def log_query(
    *, tail: int | None, session_id: int | None, model: str | None, since: str | None
) -> LogQuery:
    """The filters of ``hfdl logs`` as a query.

    Args:
        tail: only the last N matching records (``None``: all).
        session_id: only this session's records.
        model: only this model's records.
        since: only records since this time, as journalctl takes it (``1h ago``, ``today``).

    Raises:
        UsageError: ``since`` is not a time journalctl would understand.
    """
    return LogQuery(
        tail=tail,
        session_id=session_id,
        model=model,
        since=parse_since(since) if since is not None else None,
    )


def read_records(settings: Settings, query: LogQuery) -> LogReading:
    """Read the matching records: the journal's (when there is one) and the log file's.

    Returns:
        The records, oldest first, and notes for the user (where they came from, or not).

    Raises:
        OSError: the log file exists but cannot be read.
    """
    return read_logs(query, log_file_path(settings.state_directory))


def follow_records(settings: Settings, query: LogQuery) -> tuple[LogReading, Iterator[LogRecord]]:
    """Read the last matching records, then keep returning new ones as they are written.

    Returns:
        What is there now, and an endless iterator of what follows.

    Raises:
        OSError: the log file exists but cannot be read.
    """
    return follow_logs(query, log_file_path(settings.state_directory))
