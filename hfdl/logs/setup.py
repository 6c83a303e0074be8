"""Logging set-up: the journal under systemd; otherwise stderr plus hfdl's own log file.

Where records go (``HFDL_LOG_TARGET``, default ``auto``):

* ``auto`` — under systemd (stderr is the service's journal stream, or ``INVOCATION_ID`` is set
  and stderr is not a terminal; see :func:`hfdl.logs.journald.running_under_systemd`) and with
  journald reachable: the journal only, with structured fields (``hfdl.logs.journald``). Sending to
  stderr as well would store every record twice, since stderr goes to the journal there.
  Anywhere else (a shell, a container, cron): plain lines on stderr and JSON lines appended to
  ``<state_directory>/hfdl.log``, so ``hfdl logs`` has something to read.
* ``journal`` — the journal, even from a shell; when journald is not reachable, the same as
  ``stderr`` (with one warning).
* ``stderr`` — stderr and the log file, even under systemd.

Messages go to stderr, data to stdout. Lines on stderr carry a timestamp, except when stderr
is the journal (journald records its own).

The log file is ``hfdl.log`` in the state directory, mode 0640, rotated at 10 MiB with three
old files kept (``hfdl.log.1`` .. ``hfdl.log.3``). Each line is one JSON object with ``time``
(ISO 8601 with offset), ``level``, ``message`` and, when the record has them, ``session_id``,
``model``, ``event``, ``bytes``: the names ``hfdl logs --json`` prints.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import logging.handlers
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from hfdl.errors import ConfigError, Problem
from hfdl.logs.journald import (
    JournalHandler,
    journal_module_available,
    journald_reachable,
    running_under_systemd,
    stream_is_journal,
)

LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}
LOG_TARGET_ENV = "HFDL_LOG_TARGET"
LOG_TARGETS = ("auto", "journal", "stderr")
LOG_FILE_NAME = "hfdl.log"
LOG_FILE_MAX_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 3
LOG_FILE_MODE = 0o640

# Log record attribute -> key in a log file line (and in `hfdl logs --json`).
FILE_FIELDS = {
    "hfdl_session_id": "session_id",
    "hfdl_model": "model",
    "hfdl_event": "event",
    "hfdl_bytes": "bytes",
}


def log_file_path(state_directory: Path) -> Path:
    """hfdl's own log file in ``state_directory``."""
    return state_directory / LOG_FILE_NAME


def requested_target(environ: Mapping[str, str] | None = None) -> str:
    """The log target asked for in ``HFDL_LOG_TARGET`` (``auto`` when unset or empty).

    Raises:
        ConfigError: the variable has another value.
    """
    value = (os.environ if environ is None else environ).get(LOG_TARGET_ENV, "").strip().lower()
    if not value:
        return "auto"
    if value not in LOG_TARGETS:
        raise ConfigError(
            [Problem("<env>", LOG_TARGET_ENV, f"must be one of {', '.join(LOG_TARGETS)}")],
            hint=f"unset {LOG_TARGET_ENV}, or set it to auto, journal or stderr",
        )
    return value


def choose_target(
    requested: str, stream: TextIO, environ: Mapping[str, str] | None = None
) -> tuple[str, str | None]:
    """Decide where records go: ``journal`` or ``stderr`` (which includes the log file).

    Args:
        requested: ``auto``, ``journal`` or ``stderr`` (from :func:`requested_target`).
        stream: the stream that stands for stderr.
        environ: the environment (``None``: this process's).

    Returns:
        The target, and a warning to log when ``journal`` was asked for but cannot be used.
    """
    if requested == "stderr":
        return "stderr", None
    if requested == "auto" and not running_under_systemd(stream, environ):
        return "stderr", None
    if journald_reachable() and journal_module_available():
        return "journal", None
    if requested == "journal":
        return "stderr", "journald is not reachable; logging to stderr and the log file instead"
    return "stderr", None


class JsonLinesFormatter(logging.Formatter):
    """Formats a record as one JSON object (see the module docstring for the keys)."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record's JSON line (without the newline)."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        moment = datetime.fromtimestamp(record.created, tz=UTC).astimezone()
        line: dict[str, Any] = {
            "time": moment.isoformat(timespec="microseconds"),
            "level": record.levelname,
            "message": message,
        }
        for attribute, key in FILE_FIELDS.items():
            value = getattr(record, attribute, None)
            if value is not None:
                line[key] = value
        return json.dumps(line, ensure_ascii=False, default=str)


def _open_private(path: str, flags: int) -> int:
    """``os.open`` creating the file 0640 (not world-readable whatever the umask allows)."""
    descriptor = os.open(path, flags, LOG_FILE_MODE)
    with contextlib.suppress(OSError):  # a file someone else owns keeps its mode
        os.fchmod(descriptor, LOG_FILE_MODE)
    return descriptor


class LogFileHandler(logging.handlers.RotatingFileHandler):
    """Appends JSON lines to ``hfdl.log`` (0640, rotated by size), created on the first record.

    A file that cannot be written (read-only state directory, another user's installation)
    does not break the command: the handler warns once on stderr and drops further records.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(
            path,
            maxBytes=LOG_FILE_MAX_BYTES,
            backupCount=LOG_FILE_BACKUPS,
            encoding="utf-8",
            delay=True,
        )
        self.setFormatter(JsonLinesFormatter())
        self.disabled_reason: str | None = None

    def _open(self) -> io.TextIOWrapper:
        """Open the file for appending, creating it (and its directory) if needed."""
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return open(
            self.baseFilename,
            "a",
            encoding=self.encoding,
            errors=self.errors,
            opener=_open_private,
        )

    def emit(self, record: logging.LogRecord) -> None:
        """Append the record; on the first OSError, warn once and stop trying."""
        if self.disabled_reason is not None:
            return
        try:
            line = self.format(record) + "\n"
            if self.stream is None:
                self.stream = self._open()
            if self.shouldRollover(record):
                self.doRollover()  # closes the file; with delay=True it is not reopened
            stream = self.stream if self.stream is not None else self._open()
            self.stream = stream
            stream.write(line)
            stream.flush()
        except OSError as error:
            self.disabled_reason = str(error)
            sys.stderr.write(f"hfdl: warning: not writing the log file: {error}\n")
        except Exception:
            self.handleError(record)


def configure_logging(
    level_name: str,
    *,
    verbose: bool = False,
    quiet: bool = False,
    state_directory: Path | None = None,
    environ: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> str:
    """Send hfdl's log records to the journal, or to stderr and the log file.

    Args:
        level_name: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR`` (from the config).
        verbose: ``--verbose`` given (lowers the level to DEBUG).
        quiet: ``--quiet`` given (raises the level to WARNING).
        state_directory: where ``hfdl.log`` goes; ``None`` means no log file.
        environ: the environment (``None``: this process's); read for ``HFDL_LOG_TARGET``,
            ``JOURNAL_STREAM`` and ``INVOCATION_ID``.
        stream: the stream standing for stderr (``None``: ``sys.stderr``).

    Returns:
        The target chosen: ``journal`` or ``stderr``.

    Raises:
        ConfigError: ``HFDL_LOG_TARGET`` has an unknown value.
    """
    level = LEVELS.get(level_name.upper(), logging.INFO)
    if verbose:
        level = logging.DEBUG
    elif quiet:
        level = max(level, logging.WARNING)
    output = sys.stderr if stream is None else stream
    target, warning = choose_target(requested_target(environ), output, environ)

    root = logging.getLogger("hfdl")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    if target == "journal":
        root.addHandler(JournalHandler(fallback=output))
    else:
        console = logging.StreamHandler(output)
        if stream_is_journal(output, environ):
            console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        else:
            console.setFormatter(
                logging.Formatter(
                    "%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
                )
            )
        root.addHandler(console)
        if state_directory is not None:
            root.addHandler(LogFileHandler(log_file_path(state_directory)))
    root.setLevel(level)
    root.propagate = False
    # The library logs every retry itself; hfdl logs its own retries with context. At DEBUG
    # (-v, or log_level DEBUG) the library's own details are welcome too.
    logging.getLogger("huggingface_hub").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.ERROR
    )
    if warning is not None:
        root.warning(warning)
    return target


def parse_file_line(line: str) -> dict[str, Any] | None:
    """Read back one line of ``hfdl.log``.

    Args:
        line: one line as :class:`JsonLinesFormatter` wrote it.

    Returns:
        The JSON object (keys ``time``, ``level``, ``message`` and maybe ``session_id``,
        ``model``, ``event``, ``bytes``), or ``None`` for a blank, truncated or foreign line.
    """
    text = line.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("time"), str):
        return None
    if not isinstance(value.get("message"), str):
        return None
    return value
