"""``hfdl status``: timers from systemd, sessions and models from the DB, disk use.

One top-level command: :mod:`hfdl.cli.app` registers :func:`status_command` as ``status``.
"""

from __future__ import annotations

import typer

from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption
from hfdl.cli.output import print_json, print_text


def status_command(context: typer.Context, json_output: JsonOption = False) -> None:
    """Show timers (next run, last result), the running session, model counts and disk use."""
    from hfdl.services.status import collect_status

    app_context: AppContext = context.obj
    document = collect_status(app_context.settings(), app_context.scope())
    if json_output:
        print_json(document)
        return
    from hfdl.cli.status_text import render_status

    print_text(render_status(document))
