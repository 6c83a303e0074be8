"""``hfdl status``: timers from systemd, sessions and models from the DB, disk use.

One top-level command: :mod:`hfdl.cli.app` registers :func:`status_command` as ``status``.
"""

from __future__ import annotations

import typer

from hfdl.cli.context import AppContext
from hfdl.cli.options import FleetOption, JsonOption
from hfdl.cli.output import print_json, print_lines, print_table, print_text


def status_command(
    context: typer.Context, json_output: JsonOption = False, fleet: FleetOption = False
) -> None:
    """Show timers (next run, last result), the running session, model counts and disk use."""
    app_context: AppContext = context.obj
    if fleet:
        _fleet_status(app_context, json_output)
        return
    from hfdl.services.status import collect_status

    document = collect_status(app_context.settings(), app_context.scope())
    if json_output:
        print_json(document)
        return
    from hfdl.cli.status_text import render_status

    print_text(render_status(document))


def _fleet_status(app_context: AppContext, json_output: bool) -> None:
    """``--fleet``: one row per host sharing the state database."""
    from hfdl.services.fleet import collect_fleet

    document = collect_fleet(app_context.settings())
    if json_output:
        print_json(document)
        return
    from hfdl.cli.fleet_text import fleet_notes, fleet_table

    if document["hosts"]:
        print_table(*fleet_table(document))
    print_lines(fleet_notes(document))
