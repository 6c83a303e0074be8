"""Reading hfdl's logs back: from journald (``SYSLOG_IDENTIFIER=hfdl``) and from ``hfdl.log``.

Runs under systemd log to the journal; runs from a shell log to ``<state_directory>/hfdl.log``
(see ``hfdl.logs.setup``). ``hfdl logs`` shows both, merged by time, so a run started by hand on a
systemd machine is not missing. Where no journald runs (a container), only the file is read,
and :class:`LogReading` says so.

The journal is read in-process with systemd-python's ``journal.Reader`` (the journal files in
``/run/log/journal`` and ``/var/log/journal``), filtered by journal matches on
``SYSLOG_IDENTIFIER``, ``HFDL_MODEL`` and ``HFDL_SESSION_ID``. ``--since`` understands the
formats of systemd.time(7) that journalctl accepts (:func:`parse_since`).

This module must stay cheap to import: no ``huggingface_hub``.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from hfdl.logs.journal_source import JournalSource, journal_available
from hfdl.logs.journald import (
    PRIORITIES_BY_NAME,
)
from hfdl.logs.records import LogQuery, LogReading, LogRecord, field_integer, field_text
from hfdl.logs.setup import LOG_FILE_BACKUPS, parse_file_line

# With --follow and no --tail, show this many records first (as journalctl -f does).
FOLLOW_DEFAULT_TAIL = 10


def file_line_to_record(data: dict[str, Any]) -> LogRecord | None:
    """Turn one parsed ``hfdl.log`` line into a :class:`LogRecord` (None if unusable)."""
    try:
        moment = datetime.fromisoformat(data["time"])
    except (KeyError, TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    level = str(data.get("level", "INFO")).upper()
    return LogRecord(
        time=moment.astimezone(),
        priority=PRIORITIES_BY_NAME.get(level, 6),
        message=str(data.get("message", "")),
        session_id=field_integer(data.get("session_id")),
        model=field_text(data.get("model")),
        event=field_text(data.get("event")),
        bytes=field_integer(data.get("bytes")),
        source="file",
    )


def _records_in(lines: Iterable[str], query: LogQuery) -> list[LogRecord]:
    """The matching records among log file lines."""
    found = []
    for line in lines:
        data = parse_file_line(line)
        record = file_line_to_record(data) if data is not None else None
        if record is not None and query.matches(record):
            found.append(record)
    return found


def log_file_generations(log_file: Path) -> list[Path]:
    """The log file and its rotated predecessors that exist, oldest first."""
    candidates = [Path(f"{log_file}.{number}") for number in range(LOG_FILE_BACKUPS, 0, -1)]
    return [path for path in [*candidates, log_file] if path.is_file()]


class FileSource:
    """hfdl's records in ``hfdl.log`` (and its rotated files), filtered by a query."""

    def __init__(self, log_file: Path, query: LogQuery) -> None:
        self.log_file = log_file
        self.query = query
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._partial = ""

    def read(self) -> list[LogRecord]:
        """The matching records, oldest first (all of them: the caller applies ``tail``).

        Remembers where the current file ends, so :meth:`new_records` returns what follows.

        Raises:
            OSError: a file exists but cannot be read.
        """
        records: list[LogRecord] = []
        for path in log_file_generations(self.log_file):
            with open(path, encoding="utf-8", errors="replace") as handle:
                records.extend(_records_in(handle, self.query))
                if path == self.log_file:
                    self._offset = handle.tell()
                    status = os.fstat(handle.fileno())
                    self._identity = (status.st_dev, status.st_ino)
        return records

    def new_records(self) -> list[LogRecord]:
        """Records appended since the last call; follows the file across a rotation."""
        try:
            status = self.log_file.stat()
        except FileNotFoundError:
            return []
        if (status.st_dev, status.st_ino) != self._identity or status.st_size < self._offset:
            # Rotated (or truncated): the new file is read from its start.
            self._identity = (status.st_dev, status.st_ino)
            self._offset = 0
            self._partial = ""
        if status.st_size == self._offset:
            return []
        with open(self.log_file, encoding="utf-8", errors="replace") as handle:
            handle.seek(self._offset)
            text = self._partial + handle.read()
            self._offset = handle.tell()
        lines = text.split("\n")
        self._partial = lines.pop()  # a line still being written has no newline yet
        return _records_in(lines, self.query)


# -- reading and following ----------------------------------------------------------------


def _merge(*sources: list[LogRecord]) -> list[LogRecord]:
    """Merge lists that are each in time order into one list in time order."""
    return list(heapq.merge(*sources, key=lambda record: record.time))


def _last(records: list[LogRecord], tail: int | None) -> list[LogRecord]:
    if tail is None:
        return records
    return records[-tail:] if tail > 0 else []


def read_logs(query: LogQuery, log_file: Path, *, use_journal: bool | None = None) -> LogReading:
    """Read hfdl's records from the journal (when there is one) and the log file, merged.

    Args:
        query: the filters and ``tail``.
        log_file: ``<state_directory>/hfdl.log``.
        use_journal: read the journal; ``None`` means when :func:`journal_available`.

    Returns:
        The records, oldest first, and notes for the user.

    Raises:
        OSError: the log file exists but cannot be read.
    """
    reading, _journal, _file = _open_and_read(query, log_file, use_journal)
    if _journal is not None:
        _journal.close()
    return reading


def _open_and_read(
    query: LogQuery, log_file: Path, use_journal: bool | None
) -> tuple[LogReading, JournalSource | None, FileSource]:
    """Read everything once; hand back the open sources for following."""
    if use_journal is None:
        use_journal = journal_available()
    journal_source = JournalSource(query) if use_journal else None
    file_source = FileSource(log_file, query)
    notes: list[str] = []
    journal_records = journal_source.read() if journal_source is not None else []
    file_records = file_source.read()
    if journal_source is None:
        if log_file.is_file():
            notes.append(f"no journal here; reading {log_file}")
        else:
            notes.append(f"no journal here, and no log file at {log_file} yet")
    records = _last(_merge(journal_records, file_records), query.tail)
    reading = LogReading(records=records, journal=use_journal, log_file=log_file, notes=notes)
    return reading, journal_source, file_source


def follow_logs(
    query: LogQuery,
    log_file: Path,
    *,
    use_journal: bool | None = None,
    stop: threading.Event | None = None,
    interval: float = 0.5,
) -> tuple[LogReading, Iterator[LogRecord]]:
    """Read the last records, then keep returning new ones as they are written.

    Args:
        query: the filters; ``tail`` defaults to 10 here.
        log_file: ``<state_directory>/hfdl.log``.
        use_journal: read the journal; ``None`` means when :func:`journal_available`.
        stop: when set, the iterator ends (it is checked every ``interval`` seconds).
        interval: how long to wait for new records between checks.

    Returns:
        What is there now, and an endless iterator of what follows (ends only with ``stop``).

    Raises:
        OSError: the log file exists but cannot be read.
    """
    if query.tail is None:
        query = LogQuery(
            tail=FOLLOW_DEFAULT_TAIL,
            session_id=query.session_id,
            model=query.model,
            since=query.since,
        )
    reading, journal_source, file_source = _open_and_read(query, log_file, use_journal)

    def follow() -> Iterator[LogRecord]:
        try:
            while stop is None or not stop.is_set():
                if journal_source is not None:
                    fresh = journal_source.new_records(interval)
                else:
                    fresh = []
                    time.sleep(interval)
                with contextlib.suppress(OSError):
                    fresh = _merge(fresh, file_source.new_records())
                yield from fresh
        finally:
            if journal_source is not None:
                journal_source.close()

    return reading, follow()
