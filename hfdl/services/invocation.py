"""What one invocation of hfdl needs before and after its use case, for the CLI.

The settings (with logging configured from them), the systemd scope to talk to, access to
the Hub (the configured endpoint and the token), and how the process ends: the CLI gets them
here instead of importing the config, logs, systemd, token and engine modules itself.

Every command imports this module, ``hfdl --help`` included: it imports nothing at module
level beyond the standard library, and each function imports what it needs when called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    # Re-exported for the CLI's annotations (``X as X`` marks an intended re-export).
    from hfdl.config import Settings as Settings


def load_settings_and_logging(
    config_path: Path | None, *, verbose: bool, quiet: bool, log_file: bool
) -> Settings:
    """Load the effective settings and configure hfdl's logging from them.

    Args:
        config_path: the file given with ``--config`` (``None``: the default search).
        verbose: log debug details to stderr (``--verbose``).
        quiet: log only warnings and errors (``--quiet``).
        log_file: also append records to ``<state_directory>/hfdl.log`` when logging goes
            to stderr; ``hfdl run --dry-run`` passes ``False``, as it writes nothing.

    Returns:
        The settings.

    Raises:
        ConfigError, ConfigFileNotFound: the configuration is invalid or missing.
    """
    import logging

    from hfdl.config import load_settings
    from hfdl.logs.setup import configure_logging

    settings = load_settings(config_path)
    target = configure_logging(
        settings.log_level,
        verbose=verbose,
        quiet=quiet,
        state_directory=settings.state_directory if log_file else None,
    )
    logging.getLogger("hfdl").debug(
        "configuration %s; logging at DEBUG to %s%s",
        config_path or "found by the default search",
        target,
        "" if log_file or target == "journal" else " (no log file)",
    )
    return settings


def scope_name(user_scope: bool | None) -> str:
    """The systemd scope to talk to: ``user`` or ``system`` as asked (``--user``/``--system``),
    else ``system`` for root and ``user`` for anyone else. Services take this name.

    Args:
        user_scope: ``True`` for ``--user``, ``False`` for ``--system``, ``None`` if neither.
    """
    if user_scope is not None:
        return "user" if user_scope else "system"
    return "system" if os.geteuid() == 0 else "user"


def use_configured_endpoint(settings: Settings) -> None:
    """Point ``huggingface_hub`` at the configured Hub, before anything imports it.

    ``huggingface_hub`` reads ``HF_ENDPOINT`` once, when imported: its own calls (its
    user-agent probe, its defaults) must go to the configured endpoint too, never to another Hub.
    """
    os.environ["HF_ENDPOINT"] = settings.endpoint


def read_hub_token() -> str | None:
    """The Hugging Face token, or ``None`` for anonymous access.

    Raises:
        ConfigError: a token file exists but cannot be read.
    """
    from hfdl.token import read_token

    return read_token()


def prepare_hub_access(settings: Settings) -> str | None:
    """Prepare to talk to the Hub: set the endpoint, then read the token.

    Returns:
        The token, or ``None`` for anonymous access.

    Raises:
        ConfigError: a token file exists but cannot be read.
    """
    use_configured_endpoint(settings)
    return read_hub_token()


def stderr_is_journal(stream: TextIO) -> bool:
    """Whether ``stream`` (stderr) is connected to the journal, as under systemd."""
    from hfdl.logs.journald import stream_is_journal

    return stream_is_journal(stream)


def skip_final_collection_at_exit() -> None:
    """Skip the interpreter's last full garbage collection at exit (see
    :mod:`hfdl.engine.process_exit`); objects are still released normally."""
    from hfdl.engine.process_exit import skip_final_collection_at_exit as skip_collection

    skip_collection()


def exit_by_signal_at_exit(signum: int) -> None:
    """End the process, at exit, by the signal ``signum`` instead of an exit code.

    For a run stopped by SIGTERM or SIGINT (see :mod:`hfdl.engine.process_exit`).
    """
    from hfdl.engine.process_exit import exit_by_signal_at_exit as exit_by_signal

    exit_by_signal(signum)
