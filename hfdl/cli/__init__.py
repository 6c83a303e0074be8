"""The command line: thin commands over ``hfdl.services``, and hfdl's single exit point."""

from __future__ import annotations

import os
import sys
import traceback
from typing import NoReturn


def _report(error: BaseException) -> None:
    from hfdl.cli.output import print_error, print_message
    from hfdl.errors import HfdlError
    from hfdl.services.invocation import stderr_is_journal

    # Under systemd stderr is the journal: the sd-daemon "<3>" prefix files these lines at
    # PRIORITY=3 (err) instead of info, so `journalctl -p err` finds them.
    prefix = "<3>" if stderr_is_journal(sys.stderr) else ""
    if isinstance(error, HfdlError):
        print_error(error.message, hint=error.hint, prefix=prefix)
    elif isinstance(error, OSError):
        print_error(str(error), prefix=prefix)
    else:
        print_message(f"internal error: {type(error).__name__}: {error}", prefix=prefix)
        print_message(
            "hint: run again with --debug (or HFDL_DEBUG=1) for a traceback, and report it",
            prefix=prefix,
        )


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI and exit with the code of the one error table (``hfdl.errors``).

    Every error raised by a command ends here: a message (and hint) on stderr, the class's
    sysexits code, and a traceback only with ``--debug`` or ``HFDL_DEBUG=1``.
    """
    import click

    # Typer (>= 0.29) raises the errors of its own vendored copy of Click, which are not
    # click's classes: both kinds are usage errors (exit 2), exits and aborts.
    from typer.exceptions import Abort as TyperAbort
    from typer.exceptions import Exit as TyperExit
    from typer.exceptions import TyperException

    from hfdl.cli.app import app
    from hfdl.cli.output import print_error, print_message
    from hfdl.errors import exit_code_for

    arguments = sys.argv[1:] if argv is None else argv
    debug = os.environ.get("HFDL_DEBUG", "") not in ("", "0") or "--debug" in arguments
    try:
        result = app(args=arguments, prog_name="hfdl", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except (click.exceptions.Exit, TyperExit) as exit_request:
        code = exit_request.exit_code
    except (click.exceptions.Abort, TyperAbort):
        print_message("aborted")
        code = 130
    except click.ClickException as usage_error:
        usage_error.show(file=sys.stderr)
        code = usage_error.exit_code
    except TyperException as usage_error:
        show = getattr(usage_error, "show", None)
        if callable(show):
            show(file=sys.stderr)
        else:
            print_error(usage_error.message)
        code = usage_error.exit_code
    except BaseException as error:
        if isinstance(error, SystemExit):
            raise
        if debug:
            traceback.print_exc(file=sys.stderr)
        _report(error)
        code = exit_code_for(error)
    sys.stdout.flush()
    # Skip the interpreter's final full garbage collection (tens of ms over SQLAlchemy's
    # objects, to free memory the OS reclaims anyway); objects are still released normally.
    from hfdl.services.invocation import skip_final_collection_at_exit

    skip_final_collection_at_exit()
    sys.exit(code)
