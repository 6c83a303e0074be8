"""``hfdl start``, ``hfdl stop`` and ``hfdl uninstall``: hand the schedules to systemd, take
them back, or remove everything hfdl installed in systemd."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption
from hfdl.cli.output import print_json, print_message, print_note, print_table

if TYPE_CHECKING:
    from hfdl.services.stopped_runs import StoppedRun


def _print_report(report_dict: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(report_dict)
        return
    timers = report_dict.get("timers", [])
    if timers:
        print_table(
            ["SCHEDULE", "TIMER", "ENABLED", "NEXT RUN (UTC)"],
            [
                (
                    t["schedule"],
                    t["timer"],
                    "yes" if t["enabled"] else "no",
                    t["next_elapse"] or "-",
                )
                for t in timers
            ],
        )
    for note in report_dict.get("notes", []):
        print_note(note)


def start_command(
    context: typer.Context,
    foreground: Annotated[
        bool,
        typer.Option(
            "--foreground",
            help="For hosts without systemd: stay in the foreground and run each schedule "
            "at its times; stops on SIGTERM/SIGINT or `hfdl stop`.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Install the enabled schedules as systemd timers and enable them; print next runs."""
    app_context: AppContext = context.obj
    settings = app_context.settings()
    if foreground:
        from hfdl.services.foreground import serve_foreground

        serve_foreground(settings)
        return
    from hfdl.services.lifecycle import sync_units

    report = sync_units(settings, app_context.scope(), start=True)
    _print_report(report.to_dict(), json_output)


def _print_stopped(disabled: Sequence[str], stopped: Sequence[StoppedRun]) -> None:
    """What ``stop`` and ``uninstall`` stopped: the timers, then the runs."""
    for timer in disabled:
        print_message(f"stopped and disabled {timer}")
    for run in stopped:
        print_message(f"stopped {run.describe()}")


def stop_command(context: typer.Context, json_output: JsonOption = False) -> None:
    """Stop and disable hfdl's timers (and a running download); schedules are kept.

    A stopped run records its session as interrupted and keeps its partial files (the next
    run resumes them); this command says which units, sessions and models it stopped.
    """
    from hfdl.services.lifecycle import stop

    app_context: AppContext = context.obj
    report = stop(app_context.settings(), app_context.scope())
    if json_output:
        print_json(report.to_dict())
        return
    _print_stopped(report.disabled, report.stopped)
    if report.disabled and not report.stopped:
        print_message("no run was working")
    for note in report.notes:
        print_note(note)


def uninstall_command(context: typer.Context, json_output: JsonOption = False) -> None:
    """Stop hfdl and remove every unit, link and timer stamp it installed in this scope.

    Only files hfdl generated (they carry its marker line) are removed; a file named like
    hfdl's without it is reported and kept. The database, configuration, catalog and
    downloads are kept: `hfdl start` installs the units again. A repeat does nothing.
    """
    from hfdl.services.lifecycle import uninstall

    app_context: AppContext = context.obj
    report = uninstall(app_context.settings(), app_context.scope())
    if json_output:
        print_json(report.to_dict())
        return
    _print_stopped(report.disabled, report.stopped)
    for path in report.removed:
        print_message(f"removed {path}")
    for note in report.notes:
        print_note(note)
    if report.did_something:
        kept = ", ".join(f"{what} {path}" for what, path in report.kept_data.items() if path)
        print_note(f"kept hfdl's data: {kept}; `hfdl start` installs the units again")
