"""Option types shared by the commands (Annotated, as the `hf` CLI does), defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML configuration file (default: $HFDL_CONFIG_PATH, ./config/default.yaml, "
        "then $XDG_CONFIG_HOME/hfdl/config.yaml or /etc/hfdl/config.yaml as root).",
        show_default=False,
        dir_okay=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the result as one JSON document on stdout.")
]
FleetOption = Annotated[
    bool,
    typer.Option(
        "--fleet",
        help="One row per host sharing the state database: its last and running session, "
        "failures and when it was last seen.",
    ),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log debug details to stderr.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Log only warnings and errors.")]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Show a traceback on errors (also HFDL_DEBUG=1).")
]
ScheduleOption = Annotated[
    str | None,
    typer.Option(
        "--schedule",
        help="The schedule that fired this run: applies its tag filter and concurrency.",
        show_default=False,
    ),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", "-t", help="Only models with this tag (repeatable).", show_default=False),
]
ModelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model", "-m", help="Only this model, enabled or not (repeatable).", show_default=False
    ),
]
ScopeOption = Annotated[
    bool | None,
    typer.Option(
        "--user/--system",
        help="Install and control user units (systemctl --user) or system units "
        "(/etc/systemd/system). Default: system when run as root, user otherwise.",
        show_default=False,
    ),
]
