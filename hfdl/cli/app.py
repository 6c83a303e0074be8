"""The Typer application: the global options, and every command registered in one place.

Assembled like huggingface_hub's ``hf`` CLI: each command module builds its own Typer group
(``config_app``, ``models_app``) or exposes its command function (``run_command``), and never
imports this module; this module imports them and registers them. Imports go one way
(``app`` -> command modules), so there is no import cycle, and the order of the commands in
``hfdl --help`` and in the README's reference is the order of the registrations below.

To add a command: write ``foo_command`` (or a ``foo_app`` group) in ``hfdl/cli/foo.py``,
import it here and register it with ``app.command("foo")(foo_command)`` or
``app.add_typer(foo_app, name="foo")``.
"""

from __future__ import annotations

import typer

from hfdl import __version__
from hfdl.cli.cleanup import cleanup_command
from hfdl.cli.config import config_app
from hfdl.cli.context import AppContext
from hfdl.cli.lifecycle import start_command, stop_command, uninstall_command
from hfdl.cli.logs import logs_command
from hfdl.cli.models import models_app
from hfdl.cli.options import ConfigOption, DebugOption, QuietOption, ScopeOption, VerboseOption
from hfdl.cli.run import run_command
from hfdl.cli.schedule import schedule_app
from hfdl.cli.status import status_command

app = typer.Typer(
    name="hfdl",
    help="hfdl: scheduled, verified Hugging Face model downloads, run by systemd.",
    no_args_is_help=False,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hfdl {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def main_options(
    context: typer.Context,
    config: ConfigOption = None,
    user_scope: ScopeOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
    debug: DebugOption = False,
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """hfdl: scheduled, verified Hugging Face model downloads, run by systemd."""
    if context.invoked_subcommand is None and not context.resilient_parsing:
        # `hfdl` (or `hfdl --config X`) with no command: show the help, not an error.
        typer.echo(context.get_help())
        raise typer.Exit(0)
    context.obj = AppContext(
        config_path=config, user_scope=user_scope, verbose=verbose, quiet=quiet, debug=debug
    )


# Top-level commands first (Typer lists them before the groups), in --help's order.
app.command("cleanup")(cleanup_command)
app.command("start")(start_command)
app.command("stop")(stop_command)
app.command("uninstall")(uninstall_command)
app.command("logs")(logs_command)
app.command("run")(run_command)
app.command("status")(status_command)

# Command groups.
app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")
app.add_typer(schedule_app, name="schedule")
