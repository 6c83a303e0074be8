"""Everything the CLI prints: data on stdout (JSON, tables, text), messages on stderr.

Data and messages stay apart so that ``hfdl ... --json | jq`` always reads a clean
document: stdout carries only the data asked for; notes, warnings and errors go to stderr,
each line prefixed with ``hfdl:`` so that it is clear who said it in a script's output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

PROGRAM = "hfdl"

# -- data, on stdout -------------------------------------------------------------------------


def print_json(document: Any) -> None:
    """Print one JSON document, indented by two spaces, then a newline."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def print_json_list(documents: Iterable[Any]) -> None:
    """Print a JSON list with one compact object per line (``[]`` when empty).

    For long lists: each object is encoded by the C encoder (10,000 models in well under a
    second), where ``indent=2`` falls back to the pure-Python encoder for the whole document.
    """
    lines = ",\n".join(json.dumps(document) for document in documents)
    sys.stdout.write(f"[\n{lines}\n]\n" if lines else "[]\n")


def print_json_line(document: Any) -> None:
    """Print one compact JSON object on one line (JSON Lines); non-ASCII text is kept."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")


def print_text(text: str) -> None:
    """Print text on stdout as it is (the caller ends it with a newline)."""
    sys.stdout.write(text)


def print_lines(lines: Iterable[str]) -> None:
    """Print each line on stdout, followed by a newline."""
    sys.stdout.write("".join(f"{line}\n" for line in lines))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print an aligned plain-text table on stdout: a header line, then one line per row.

    Args:
        headers: the column titles.
        rows: the cells of each row, as many as ``headers``; ``None`` prints as nothing.
    """
    text_rows = [[("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in text_rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = ["  ".join(header.ljust(widths[i]) for i, header in enumerate(headers)).rstrip()]
    for row in text_rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def flush() -> None:
    """Send what is buffered on stdout now (output followed live, e.g. through a pipe)."""
    sys.stdout.flush()


# -- messages, on stderr ---------------------------------------------------------------------


def print_message(message: str, *, prefix: str = "") -> None:
    """Print ``hfdl: MESSAGE`` on stderr.

    Args:
        message: one line, without the program name.
        prefix: written before the program name: the sd-daemon priority ``<3>`` when stderr
            is the journal (see :func:`print_error`).
    """
    sys.stderr.write(f"{prefix}{PROGRAM}: {message}\n")


def print_note(message: str) -> None:
    """Print ``hfdl: note: MESSAGE`` on stderr: something worth knowing, not a problem."""
    print_message(f"note: {message}")


def print_warning(message: str) -> None:
    """Print ``hfdl: warning: MESSAGE`` on stderr: a problem that did not stop the command."""
    print_message(f"warning: {message}")


def print_error(message: str, *, hint: str | None = None, prefix: str = "") -> None:
    """Print ``hfdl: error: MESSAGE`` on stderr, and ``hfdl: hint: HINT`` when there is one.

    Args:
        message: what went wrong.
        hint: what to do about it, if known.
        prefix: ``<3>`` when stderr is the journal, so that these lines are filed at
            PRIORITY=3 (err) and ``journalctl -p err`` finds them; else nothing.
    """
    print_message(f"error: {message}", prefix=prefix)
    if hint:
        print_message(f"hint: {hint}", prefix=prefix)
