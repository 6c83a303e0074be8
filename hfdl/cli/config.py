"""``hfdl config ...``: show, set, reset, validate and export the configuration.

Thin: parse, call :mod:`hfdl.services.configure` / :mod:`hfdl.services.config_check`,
render. Data goes to stdout, messages to stderr. ``set`` and ``reset`` never load the
settings first, so that they can repair a file that no longer loads.

This module builds the ``config`` group (:data:`config_app`); :mod:`hfdl.cli.app` adds it.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption
from hfdl.cli.output import (
    print_error,
    print_json,
    print_lines,
    print_message,
    print_note,
    print_table,
    print_text,
)

if TYPE_CHECKING:
    from hfdl.services.config_show import ConfigView

config_app = typer.Typer(
    name="config",
    help="Show, change, reset, validate and export the configuration.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class ExportFormat(enum.StrEnum):
    """The formats of ``config export``."""

    json = "json"
    yaml = "yaml"


@config_app.command("show")
def show_command(
    context: typer.Context,
    json_output: JsonOption = False,
    yaml_output: Annotated[
        bool,
        typer.Option("--yaml", help="Print the values as YAML, each with its source as a comment."),
    ] = False,
) -> None:
    """Show the effective configuration and where every value comes from.

    A source is "default", the configuration file's path, or "env:NAME" for an environment
    variable. The Hugging Face token is shown only masked, with where it was found.
    """
    from hfdl.errors import UsageError
    from hfdl.services.config_show import show_config

    if json_output and yaml_output:
        raise UsageError("--json and --yaml cannot be used together")
    app_context: AppContext = context.obj
    view = show_config(app_context.settings())
    if json_output:
        print_json(view.to_dict())
    elif yaml_output:
        print_text(_render_yaml(view))
    else:
        _print_table(view)


def _token_line(view: ConfigView) -> str:
    if view.token_error is not None:
        return f"token: cannot be read: {view.token_error}"
    if view.token_source is None:
        return "token: none (anonymous access)"
    return f"token: {view.token_masked} (from {view.token_source})"


def _print_table(view: ConfigView) -> None:
    where = view.config_file or "none (defaults and environment only)"
    print_lines([f"configuration file: {where}"])
    rows = [(shown.key, _plain_value(shown.value), shown.source) for shown in view.settings]
    print_table(["KEY", "VALUE", "SOURCE"], rows)
    print_lines([_token_line(view)])


def _plain_value(value: object) -> str:
    """A value as YAML spells it: ``true``, ``null``, text unquoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _render_yaml(view: ConfigView) -> str:
    from hfdl.services.configure import yaml_scalar

    lines = [
        f"# hfdl configuration as loaded from {view.config_file or 'defaults and environment'}",
        f"# {_token_line(view)}",
    ]
    open_section = ""
    for shown in view.settings:
        section, _, name = shown.key.rpartition(".")
        if section and section != open_section:
            lines.append(f"{section}:")
        open_section = section
        indent = "  " if section else ""
        lines.append(f"{indent}{name}: {yaml_scalar(shown.value)}  # {shown.source}")
    return "\n".join(lines) + "\n"


@config_app.command(
    "set",
    context_settings={"ignore_unknown_options": True},  # so that `service.nice -5` works
)
def set_command(
    context: typer.Context,
    assignments: Annotated[
        list[str],
        typer.Argument(
            metavar="KEY VALUE [KEY VALUE]...",
            help="Dotted keys and their new values, e.g. default_schedule.time 22:30. "
            "Several pairs change the file once (default_schedule.type weekly "
            "default_schedule.day sun). 'null' clears a setting with a computed default.",
            show_default=False,
        ),
    ],
) -> None:
    """Change settings in the configuration file, validated first, written atomically.

    The file is the one hfdl loads; without one, the per-user file (or /etc/hfdl/config.yaml
    as root) is created. Comments and layout are kept. An unknown key or invalid value
    changes nothing (exit 78).
    """
    from hfdl.errors import UsageError
    from hfdl.services.configure import set_values, target_config_file, yaml_scalar

    if len(assignments) % 2:
        raise UsageError(
            f"expected KEY VALUE pairs, got {len(assignments)} arguments",
            hint="for example: hfdl config set default_schedule.time 22:30",
        )
    pairs = list(zip(assignments[::2], assignments[1::2], strict=True))
    app_context: AppContext = context.obj
    path = target_config_file(app_context.config_path)
    result = set_values(path, pairs)
    verb = "created" if result.created else "updated"
    print_message(f"{verb} {result.path}")
    for change in result.changes:
        old = yaml_scalar(change.old) if change.was_set else "(not set)"
        print_message(f"{change.key}: {old} -> {yaml_scalar(change.new)}")
        if change.overridden_by:
            print_note(f"{change.overridden_by} is set and still overrides {change.key}")
    if not result.comments_kept:
        print_note(
            "the file's comments could not be kept; it was rewritten as clean YAML "
            "with each setting's description as a comment"
        )


@config_app.command("reset")
def reset_command(
    context: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> int:
    """Restore the default configuration, keeping the old file as a timestamped backup.

    Without --yes, asks on a terminal and refuses (exit 2) when there is none to ask on.
    """
    from hfdl.errors import UsageError
    from hfdl.services.configure import reset_config, target_config_file

    app_context: AppContext = context.obj
    path = target_config_file(app_context.config_path)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                f"not resetting {path} without confirmation, and there is no terminal to ask on",
                hint="add --yes to reset without asking",
            )
        if not typer.confirm(f"Reset {path} to the defaults (the old file is kept)?"):
            print_message("nothing was changed")
            return 1
    result = reset_config(path)
    if result.backup is not None:
        print_message(f"the old configuration is kept as {result.backup}")
    print_message(f"wrote the defaults to {result.path}")
    return 0


@config_app.command("validate")
def validate_command(context: typer.Context, json_output: JsonOption = False) -> int:
    """Check the configuration, the catalog, the schedules and the directories.

    Every problem is printed with its location. Exit status 0 when all is well, 78 otherwise.
    """
    from hfdl.errors import EX_CONFIG
    from hfdl.services.config_check import validate_everything

    app_context: AppContext = context.obj
    report = validate_everything(app_context.config_path)
    if json_output:
        print_json(report.to_dict())
    else:
        lines = [f"checked {note}" for note in report.notes]
        lines.extend(f"problem: [{finding.check}] {finding.problem}" for finding in report.problems)
        lines.append("valid" if report.valid else f"{len(report.problems)} problem(s) found")
        print_lines(lines)
    if report.valid:
        return 0
    print_error(f"{len(report.problems)} problem(s) found")
    return EX_CONFIG


@config_app.command("export")
def export_command(
    context: typer.Context,
    export_format: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", help="json, or yaml with every setting described."),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (atomically) instead of stdout.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the effective configuration (file and environment applied), without the token.

    The output loads back as a configuration file giving the same settings.
    """
    from hfdl.services.configure import export_text, write_export

    app_context: AppContext = context.obj
    text = export_text(app_context.settings(), export_format.value)
    if output is None:
        print_text(text)
        return
    write_export(output, text)
    print_message(f"wrote {output}")
