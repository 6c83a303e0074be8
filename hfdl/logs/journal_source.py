"""hfdl's records in the journal, read in-process with systemd-python's ``journal.Reader``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hfdl.logs.journald import (
    SYSLOG_IDENTIFIER,
    journal_module_available,
    journald_reachable,
)
from hfdl.logs.records import LogQuery, LogRecord, field_integer, field_text


def journal_available() -> bool:
    """Whether there is a journal to read here: journald running and systemd-python present."""
    return journald_reachable() and journal_module_available()


def journal_entry_to_record(entry: dict[str, Any]) -> LogRecord:
    """Turn one systemd-python journal entry into a :class:`LogRecord`.

    Args:
        entry: as ``journal.Reader`` returns it (``__REALTIME_TIMESTAMP`` a datetime,
            ``PRIORITY`` an int, other fields text or bytes).
    """
    moment = entry.get("__REALTIME_TIMESTAMP")
    if not isinstance(moment, datetime):
        moment = datetime.now(UTC)
    priority = entry.get("PRIORITY")
    return LogRecord(
        time=moment.astimezone(),
        priority=priority if isinstance(priority, int) else (field_integer(priority) or 6),
        message=field_text(entry.get("MESSAGE")) or "",
        session_id=field_integer(entry.get("HFDL_SESSION_ID")),
        model=field_text(entry.get("HFDL_MODEL")),
        event=field_text(entry.get("HFDL_EVENT")),
        bytes=field_integer(entry.get("HFDL_BYTES")),
        source="journal",
    )


class JournalSource:
    """hfdl's entries in the journal, filtered by a query (systemd-python ``Reader``).

    Raises:
        ImportError: systemd-python is not installed.
    """

    def __init__(self, query: LogQuery) -> None:
        from systemd import journal

        self.query = query
        self.reader = journal.Reader()
        # Matches on different fields are ANDed by the journal itself.
        self.reader.add_match(SYSLOG_IDENTIFIER=SYSLOG_IDENTIFIER)
        if query.model is not None:
            self.reader.add_match(HFDL_MODEL=query.model)
        if query.session_id is not None:
            self.reader.add_match(HFDL_SESSION_ID=str(query.session_id))

    def close(self) -> None:
        """Release the journal files."""
        self.reader.close()

    def read(self) -> list[LogRecord]:
        """The matching records, oldest first; only the last ``tail`` when it is set.

        Leaves the reader at the newest entry, so :meth:`new_records` returns what comes next.
        """
        tail = self.query.tail
        if tail is not None:
            self.reader.seek_tail()
            newest_first: list[LogRecord] = []
            while len(newest_first) < tail:
                entry = self.reader.get_previous()
                if not entry:
                    break
                record = journal_entry_to_record(entry)
                if self.query.since is not None and record.time < self.query.since:
                    break
                newest_first.append(record)
            self.reader.seek_tail()
            self.reader.get_previous()  # seek_tail needs a step back before get_next works
            return list(reversed(newest_first))
        if self.query.since is not None:
            self.reader.seek_realtime(self.query.since.timestamp())
        else:
            self.reader.seek_head()
        records = [journal_entry_to_record(entry) for entry in self.reader]
        return [record for record in records if self.query.matches(record)]

    def new_records(self, timeout: float) -> list[LogRecord]:
        """Wait up to ``timeout`` seconds for entries after the last one read; return them."""
        self.reader.wait(timeout)
        return [
            record
            for record in (journal_entry_to_record(entry) for entry in self.reader)
            if self.query.matches(record)
        ]


# -- the log file -------------------------------------------------------------------------
