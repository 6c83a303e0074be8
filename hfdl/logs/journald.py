"""journald: whether it is there, whether hfdl runs under systemd, and a handler writing to it.

Under systemd hfdl sends its log records to journald itself (``systemd.journal.sendv``), not as
lines on stderr, so every record carries structured fields that ``hfdl logs`` and
``journalctl`` can filter on:

* ``SYSLOG_IDENTIFIER=hfdl`` and ``PRIORITY`` (syslog levels: 7 debug, 6 info, 4 warning,
  3 error, 2 critical);
* ``HFDL_EVENT`` (``session-start``, ``start``, ``progress``, ``retry``, ``done``, ``failed``,
  ``session-end``, ``lock-wait`` when a run waited for another's lock, and ``waiting``
  when a Hub request has not answered within a second),
  ``HFDL_SESSION_ID``, ``HFDL_MODEL``, ``HFDL_BYTES``: taken from the log
  record's ``extra`` attributes ``hfdl_event``, ``hfdl_session_id``, ``hfdl_model``,
  ``hfdl_bytes`` (see ``hfdl.engine.events.fields``); a record without them has no such
  field;
* ``LOGGER``, ``CODE_FILE``, ``CODE_LINE``, ``CODE_FUNC``, ``THREAD_NAME``.

Nothing else of a record is sent: in particular not its arguments or arbitrary attributes,
so nothing reaches the journal that is not in the message or in these fields.

``systemd-python`` is imported only when a handler is created or the journal is read, so a
machine without it (or without journald) loses nothing but the journal.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

SYSLOG_IDENTIFIER = "hfdl"
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")

# Log record attribute (``extra=``) -> journal field.
RECORD_FIELDS = {
    "hfdl_session_id": "HFDL_SESSION_ID",
    "hfdl_model": "HFDL_MODEL",
    "hfdl_event": "HFDL_EVENT",
    "hfdl_bytes": "HFDL_BYTES",
}
EVENTS = (
    "session-start",
    "start",
    "progress",
    "retry",
    "done",
    "failed",
    "session-end",
    "lock-wait",
    "waiting",
)

# syslog(3) priorities, as journald stores them in PRIORITY.
LOG_CRIT = 2
LOG_ERR = 3
LOG_WARNING = 4
LOG_INFO = 6
LOG_DEBUG = 7
PRIORITY_NAMES = {
    0: "EMERG",
    1: "ALERT",
    2: "CRITICAL",
    3: "ERROR",
    4: "WARNING",
    5: "NOTICE",
    6: "INFO",
    7: "DEBUG",
}
PRIORITIES_BY_NAME = {name: priority for priority, name in PRIORITY_NAMES.items()}

Sender = Callable[[Sequence[str]], None]


def journald_reachable(socket_path: Path = JOURNAL_SOCKET) -> bool:
    """Whether a journald listens on ``socket_path`` (its native protocol socket).

    A socket file alone is not proof (journald may have died and left it), so this connects
    to it; a datagram ``connect`` is refused at once when nobody listens.

    Args:
        socket_path: the native socket (default ``/run/systemd/journal/socket``).

    Returns:
        True when a datagram could be addressed to a listening journald.
    """
    try:
        if not stat.S_ISSOCK(socket_path.stat().st_mode):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
            probe.connect(str(socket_path))
    except OSError:
        return False
    return True


def journal_module_available() -> bool:
    """Whether ``systemd-python`` (``systemd.journal``) can be imported."""
    try:
        from systemd import journal  # noqa: F401
    except ImportError:
        return False
    return True


def stream_is_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``stream`` is the journal stream systemd connected this service to.

    systemd sets ``JOURNAL_STREAM=<device>:<inode>`` for a service whose stdout or stderr goes
    to the journal; comparing it with the stream's own device and inode (what sd-daemon(3)
    recommends) ignores a variable inherited by a process whose output goes elsewhere, such
    as a shell in a terminal started by a user service.

    Args:
        stream: the stream hfdl would log to (``sys.stderr``).
        environ: the environment to read (``None``: this process's).
    """
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


def running_under_systemd(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether hfdl runs as (or in) a systemd service, so its logs belong in the journal.

    True when ``stream`` is the service's journal stream (``JOURNAL_STREAM`` matches), or when
    systemd started this process (``INVOCATION_ID`` set) and ``stream`` is not a terminal
    (``systemd-run --pty`` and shells under a user service keep terminal output).

    Args:
        stream: the stream hfdl would otherwise log to (``sys.stderr``).
        environ: the environment to read (``None``: this process's).
    """
    environment = os.environ if environ is None else environ
    if stream_is_journal(stream, environment):
        return True
    if not environment.get("INVOCATION_ID"):
        return False
    try:
        return not stream.isatty()
    except (OSError, ValueError, AttributeError):
        return True


def syslog_priority(level: int) -> int:
    """The syslog priority of a Python logging level (levels between round up)."""
    if level <= logging.DEBUG:
        return LOG_DEBUG
    if level <= logging.INFO:
        return LOG_INFO
    if level <= logging.WARNING:
        return LOG_WARNING
    if level <= logging.ERROR:
        return LOG_ERR
    return LOG_CRIT


def priority_name(priority: int | None) -> str:
    """The level name shown for a journal ``PRIORITY`` (``INFO`` when unknown)."""
    if priority is None:
        return "INFO"
    return PRIORITY_NAMES.get(priority, "INFO")


def record_fields(record: logging.LogRecord) -> dict[str, str]:
    """The ``HFDL_*`` journal fields of a log record: those of its ``hfdl_*`` attributes set.

    Args:
        record: a log record, possibly with ``extra=`` attributes ``hfdl_session_id``,
            ``hfdl_model``, ``hfdl_event``, ``hfdl_bytes``.

    Returns:
        Field name -> text value; attributes that are missing or ``None`` are left out.
    """
    found: dict[str, str] = {}
    for attribute, field_name in RECORD_FIELDS.items():
        value = getattr(record, attribute, None)
        if value is not None:
            found[field_name] = str(value)
    return found


def _send_to_journald(arguments: Sequence[str]) -> None:
    """Send one entry through systemd-python (``sd_journal_sendv``)."""
    from systemd import journal

    journal.sendv(*arguments)


class JournalHandler(logging.Handler):
    """A logging handler that writes each record to journald with hfdl's structured fields.

    Unlike ``systemd.journal.JournalHandler`` it sends only the fields listed in this module
    (not every attribute and argument of the record), with ``SYSLOG_IDENTIFIER=hfdl``.

    Args:
        level: the handler's level.
        identifier: ``SYSLOG_IDENTIFIER`` of every entry.
        sender: sends one entry given its ``FIELD=value`` strings (default: systemd-python);
            tests pass their own.
        fallback: where a record goes when journald refuses it (default ``sys.stderr``, which
            under systemd is itself the journal).

    Raises:
        ImportError: ``sender`` is not given and systemd-python is not installed.
    """

    def __init__(
        self,
        level: int = logging.NOTSET,
        *,
        identifier: str = SYSLOG_IDENTIFIER,
        sender: Sender | None = None,
        fallback: TextIO | None = None,
    ) -> None:
        super().__init__(level)
        if sender is None:
            from systemd import journal  # noqa: F401  (fail now, not at the first record)

            sender = _send_to_journald
        self.identifier = identifier
        self.sender = sender
        self.fallback = fallback

    def entry(self, record: logging.LogRecord) -> list[str]:
        """The ``FIELD=value`` strings of one record's journal entry."""
        message = self.format(record)
        fields: dict[str, Any] = {
            "MESSAGE": message,
            "PRIORITY": syslog_priority(record.levelno),
            "SYSLOG_IDENTIFIER": self.identifier,
            "LOGGER": record.name,
            "CODE_FILE": record.pathname,
            "CODE_LINE": record.lineno,
            "CODE_FUNC": record.funcName,
            "THREAD_NAME": record.threadName,
        }
        fields.update(record_fields(record))
        return [f"{name}={value}" for name, value in fields.items()]

    def emit(self, record: logging.LogRecord) -> None:
        """Send ``record`` to journald; if it refuses, write the line to the fallback stream."""
        try:
            arguments = self.entry(record)
        except Exception:
            self.handleError(record)
            return
        try:
            self.sender(arguments)
        except OSError:
            # journald went away mid-run: keep the record rather than lose it.
            stream = self.fallback if self.fallback is not None else sys.stderr
            try:
                stream.write(f"{record.levelname} {arguments[0].removeprefix('MESSAGE=')}\n")
                stream.flush()
            except (OSError, ValueError):
                pass
