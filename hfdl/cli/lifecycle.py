"""``hfdl start`` and ``hfdl stop``: hand the schedules to systemd, or take them back."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from hfdl.cli.app import app
from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption


def _print_report(report_dict: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report_dict, indent=2) + "\n")
        return
    from hfdl.cli.render import print_table

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
        sys.stderr.write(f"hfdl: note: {note}\n")


@app.command("start")
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
        from hfdl.cli.foreground import serve_foreground

        serve_foreground(settings)
        return
    from hfdl.services.lifecycle import sync_units

    report = sync_units(settings, app_context.scope(), start=True)
    _print_report(report.to_dict(), json_output)


@app.command("stop")
def stop_command(context: typer.Context, json_output: JsonOption = False) -> None:
    """Stop and disable hfdl's timers (and a running download); schedules are kept.

    A stopped run records its session as interrupted and keeps its partial files (the next
    run resumes them); this command says which units, sessions and models it stopped.
    """
    from hfdl.services.lifecycle import stop

    app_context: AppContext = context.obj
    report = stop(app_context.settings(), app_context.scope())
    if json_output:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        return
    for timer in report.disabled:
        sys.stderr.write(f"hfdl: stopped and disabled {timer}\n")
    for run in report.stopped:
        sys.stderr.write(f"hfdl: stopped {run.describe()}\n")
    if report.disabled and not report.stopped:
        sys.stderr.write("hfdl: no run was working\n")
    for note in report.notes:
        sys.stderr.write(f"hfdl: note: {note}\n")
