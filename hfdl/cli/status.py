"""``hfdl status``: timers from systemd, sessions and models from the DB, disk use."""

from __future__ import annotations

import json
import sys

import typer

from hfdl.cli.app import app
from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption


@app.command("status")
def status_command(context: typer.Context, json_output: JsonOption = False) -> None:
    """Show timers (next run, last result), the running session, model counts and disk use."""
    from hfdl.services.status import collect_status
    from hfdl.systemd.manager import Scope

    app_context: AppContext = context.obj
    document = collect_status(app_context.settings(), Scope(app_context.scope()))
    if json_output:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    from hfdl.cli.status_text import render_status

    sys.stdout.write(render_status(document))
