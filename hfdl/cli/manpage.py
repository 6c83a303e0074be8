"""The ``hfdl(1)`` man page, generated from the Typer app so it cannot drift from the CLI.

``python -m hfdl.cli.manpage`` prints the page in roff (the ``man`` macro package);
``--output FILE`` writes it atomically. The Debian package build runs it to ship
``/usr/share/man/man1/hfdl.1.gz``. Commands are found by :func:`hfdl.cli.reference.walk`,
the same walk that writes the README's command reference, so both list the same commands.
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hfdl import __version__
from hfdl.cli.reference import argument_name, arguments_of, options_of, root_command, walk

# Files the system-wide (Debian package) installation uses, for the FILES section.
_FILES = (
    ("/etc/hfdl/config.yaml", "System configuration, read when hfdl runs as root."),
    ("/etc/hfdl/models.json", "The model catalog named by the configuration's models_file."),
    ("/etc/hfdl/hf_token", "Optional Hub token, handed to the service as a systemd credential."),
    ("/etc/default/hfdl", "Environment overrides (HF_ENDPOINT, HFDL_*) for hfdl and its runs."),
    ("/var/lib/hfdl", "State: the database of runs and downloads, the run lock, the log file."),
    ("/var/cache/huggingface/hub", "Default download directory (Hugging Face hub cache layout)."),
    ("/etc/systemd/system/hfdl-*", "Units written by hfdl start --system (removed on purge)."),
)

# Environment variables worth knowing without reading the configuration reference.
_ENVIRONMENT = (
    ("HFDL_CONFIG_PATH", "Configuration file to read when --config is not given."),
    ("HF_ENDPOINT", "Base URL of the Hugging Face Hub or a mirror (endpoint setting)."),
    ("HF_TOKEN", "Hub token for runs started by hand; never written to a file by hfdl."),
    ("HFDL_DEBUG", "When 1, print a traceback on errors (as --debug)."),
    ("HFDL_LOG_TARGET", "Where log records go: auto (default), journal or stderr."),
)

# The sysexits(3) codes hfdl exits with (hfdl.errors is the one table they come from).
_EXIT_STATUS = (
    ("0", "Success."),
    ("1", "A run finished but at least one model failed for good."),
    ("2", "Usage error."),
    ("65, 66", "Bad data (untrusted metadata, an invalid catalog), catalog missing."),
    ("69", "systemd or another needed service is unavailable."),
    ("70", "Internal error (a bug): run with --debug and report it."),
    ("73, 74", "Cannot write (disk full, not writable), input/output error."),
    ("75", "Temporary failure (Hub unavailable, lock or database busy): try again later."),
    ("78", "Configuration error."),
)


def escape(text: str) -> str:
    """Make text safe inside a roff paragraph.

    Backslashes become ``\\e``, hyphens become ``\\-`` (so options copy and search as
    ASCII), and a line starting with ``.`` or ``'`` is guarded with ``\\&`` so that it is
    not read as a request.

    Args:
        text: plain text, possibly several lines.

    Returns:
        The escaped text.
    """
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    lines = ["\\&" + line if line.startswith((".", "'")) else line for line in escaped.splitlines()]
    return "\n".join(lines)


def _paragraphs(help_text: str) -> list[str]:
    """Help text as roff paragraphs: Click's blank-line-separated blocks, lines re-joined
    (the pager re-wraps them to the reader's terminal)."""
    blocks = [block for block in help_text.strip().split("\n\n") if block.strip()]
    return [escape(" ".join(line.strip() for line in block.splitlines())) for block in blocks]


def _option_term(parameter: Any) -> str:
    """The bold option names and italic value of one option (``--config, -c CONFIG``)."""
    names = ", ".join(
        f"\\fB{escape(name)}\\fR" for name in [*parameter.opts, *parameter.secondary_opts]
    )
    if getattr(parameter, "is_flag", False) or getattr(parameter, "count", False):
        return names
    value = str(getattr(parameter, "metavar", None) or parameter.name).upper()
    return f"{names} \\fI{escape(value)}\\fR"


def _definition_list(entries: list[tuple[str, str]]) -> list[str]:
    """Tagged paragraphs (``.TP``): a term line, then its already escaped description."""
    lines: list[str] = []
    for term, description in entries:
        lines += [".TP", term, description]
    return lines


def _command_section(path: tuple[str, ...], command: Any) -> list[str]:
    """One ``.SS`` subsection: usage, description, arguments and options of a command."""
    arguments = " ".join(argument_name(parameter) for parameter in arguments_of(command))
    usage = " ".join(path) + (f" [OPTIONS] {arguments}" if arguments else " [OPTIONS]")
    lines = [f'.SS "{escape(" ".join(path))}"', f"\\fB{escape(usage)}\\fR"]
    for paragraph in _paragraphs(command.help or command.short_help or ""):
        lines += [".PP", paragraph]
    entries = [
        (
            f"\\fI{escape(argument_name(parameter))}\\fR",
            escape(getattr(parameter, "help", "") or ""),
        )
        for parameter in arguments_of(command)
    ]
    entries += [
        (_option_term(parameter), escape((parameter.help or "").replace("\n", " ")))
        for parameter in options_of(command)
    ]
    return lines + _definition_list(entries)


def _page_date(environ: Mapping[str, str]) -> str:
    """The page's date: ``SOURCE_DATE_EPOCH`` when set (reproducible package builds), else
    today (UTC)."""
    epoch = environ.get("SOURCE_DATE_EPOCH")
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)
        if epoch and epoch.isdigit()
        else datetime.datetime.now(tz=datetime.UTC)
    )
    return moment.strftime("%Y-%m-%d")


def render(environ: Mapping[str, str] | None = None) -> str:
    """The whole man page, in roff.

    Args:
        environ: where ``SOURCE_DATE_EPOCH`` is read from (``None``: this process's).

    Returns:
        The page text, ending with a newline.
    """
    commands = list(walk(root_command()))
    (_, root), subcommands = commands[0], commands[1:]
    date = _page_date(os.environ if environ is None else environ)
    lines = [
        '.\\" Generated by python -m hfdl.cli.manpage from the CLI itself; do not edit.',
        f'.TH HFDL 1 "{date}" "hfdl {__version__}" "User Commands"',
        ".SH NAME",
        "hfdl \\- scheduled, verified Hugging Face model downloads, run by systemd",
        ".SH SYNOPSIS",
        "\\fBhfdl\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]",
        ".SH DESCRIPTION",
    ]
    for paragraph in _paragraphs(root.help or ""):
        lines += [".PP", paragraph]
    lines += [
        ".PP",
        "hfdl keeps a catalog of Hugging Face models and downloads them into a Hugging Face",
        "hub cache on schedules that run as systemd timers. Every file is verified.",
        ".SH OPTIONS",
        *_definition_list(
            [
                (_option_term(parameter), escape((parameter.help or "").replace("\n", " ")))
                for parameter in options_of(root)
            ]
        ),
        ".SH COMMANDS",
    ]
    for path, command in subcommands:
        lines += _command_section(path, command)
    lines += [
        ".SH FILES",
        *_definition_list([(f"\\fI{escape(f)}\\fR", escape(d)) for f, d in _FILES]),
    ]
    lines += [
        ".SH ENVIRONMENT",
        *_definition_list([(f"\\fB{escape(n)}\\fR", escape(d)) for n, d in _ENVIRONMENT]),
        ".PP",
        escape(
            "Every setting of the configuration file also has an HFDL_* variable that overrides"
            " it: see /usr/share/doc/hfdl/configuration.md.gz. hfdl config show names where"
            " each value came from."
        ),
        ".SH EXIT STATUS",
        *_definition_list([(escape(code), escape(d)) for code, d in _EXIT_STATUS]),
        ".SH SEE ALSO",
        "\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1), \\fBsystemd.timer\\fR(5), "
        "\\fBsystemd.exec\\fR(5)",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Print the page, or write it with ``--output FILE``.

    Args:
        argv: the command-line arguments after the program name.

    Returns:
        The exit status: 0, or 2 for unknown arguments.
    """
    page = render()
    if not argv:
        sys.stdout.write(page)
        return 0
    if len(argv) == 2 and argv[0] == "--output":
        # Atomic (a temporary file renamed into place) without hfdl.fileio, which the CLI
        # layer does not import: a build interrupted halfway leaves no half-written page.
        target = Path(argv[1])
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, target)
        return 0
    sys.stderr.write("usage: python -m hfdl.cli.manpage [--output FILE]\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
