"""``hfdl logs``: hfdl's log records from the journal (and ``hfdl.log``), filtered.

One top-level command: :mod:`hfdl.cli.app` registers :func:`logs_command` as ``logs``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import typer

from hfdl.cli.context import AppContext
from hfdl.cli.output import flush, print_json_line, print_lines, print_note

if TYPE_CHECKING:
    from hfdl.services.logs import LogReading, LogRecord


def logs_command(
    context: typer.Context,
    tail: Annotated[
        int | None,
        typer.Option(
            "--tail", "-n", min=0, help="Show only the last N records.", show_default=False
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep showing new records as they come (Ctrl-C to stop)."
        ),
    ] = False,
    session: Annotated[
        int | None,
        typer.Option("--session", min=1, help="Only this session's records.", show_default=False),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Only this model's records.", show_default=False),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            "-S",
            help='Only records since TIME, as journalctl takes it: "1h ago", '
            '"2026-11-29 01:00", today, yesterday.',
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per line: time, level, message, session_id, model, event, bytes.",
        ),
    ] = False,
) -> int:
    """Show hfdl's log records: from the journal under systemd, else from hfdl.log.

    Records of runs started by hand (kept in <state_directory>/hfdl.log) are merged in by
    time. Where no journald runs, only that file is read, and a note on stderr says so.
    """
    from hfdl.services.logs import follow_records, log_query, read_records

    app_context: AppContext = context.obj
    settings = app_context.settings()
    query = log_query(tail=tail, session_id=session, model=model, since=since)
    try:
        if not follow:
            reading = read_records(settings, query)
            _print_notes(reading)
            _print_records(reading.records, as_json=json_output)
            return 0
        reading, more = follow_records(settings, query)
        _print_notes(reading)
        _print_records(reading.records, as_json=json_output)
        for record in more:
            _print_records([record], as_json=json_output)
    except KeyboardInterrupt:
        return 0  # the way to end --follow
    except BrokenPipeError:
        # The reader (`| head`) has gone: stop quietly, and keep the final flush from failing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def _print_notes(reading: LogReading) -> None:
    for note in reading.notes:
        print_note(note)


def format_record(record: LogRecord) -> str:
    """One plain line: ``2026-11-29 02:00:01 INFO [session 3] org/model: done ...``."""
    parts = [record.time.strftime("%Y-%m-%d %H:%M:%S"), record.level]
    if record.session_id is not None:
        parts.append(f"[session {record.session_id}]")
    if record.model is not None:
        parts.append(f"{record.model}:")
    parts.append(record.message)
    return " ".join(parts)


def _print_records(records: Iterable[LogRecord], *, as_json: bool) -> None:
    """Write records on stdout, flushed at once (``--follow`` output goes to pipes too)."""
    for record in records:
        if as_json:
            print_json_line(record.to_dict())
        else:
            print_lines([format_record(record)])
    flush()
