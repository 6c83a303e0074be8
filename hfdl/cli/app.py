"""The Typer application: global options and command registration. Commands stay thin."""

from __future__ import annotations

import typer

from hfdl import __version__
from hfdl.cli.context import AppContext
from hfdl.cli.options import ConfigOption, DebugOption, QuietOption, ScopeOption, VerboseOption

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


def _register() -> None:
    # Imported here, after `app` exists, because each command module decorates `app`.
    from hfdl.cli import cleanup as _cleanup  # noqa: F401
    from hfdl.cli import config as _config  # noqa: F401
    from hfdl.cli import lifecycle as _lifecycle  # noqa: F401
    from hfdl.cli import logs as _logs  # noqa: F401
    from hfdl.cli import models as _models  # noqa: F401
    from hfdl.cli import run as _run  # noqa: F401
    from hfdl.cli import schedule as _schedule  # noqa: F401
    from hfdl.cli import status as _status  # noqa: F401


_register()
