"""What the global options leave for the commands: the config path, verbosity, output mode."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hfdl.config import Settings


@dataclass
class AppContext:
    """Global options of one invocation; settings are loaded on first use, not at start-up.

    Loading lazily keeps ``hfdl --help`` fast and lets a command that needs no settings work
    even when the configuration is broken.
    """

    config_path: Path | None = None
    user_scope: bool | None = None
    verbose: bool = False
    quiet: bool = False
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    def scope(self) -> str:
        """``user`` or ``system``: from ``--user/--system``, else system for root."""
        if self.user_scope is not None:
            return "user" if self.user_scope else "system"
        import os

        return "system" if os.geteuid() == 0 else "user"

    def settings(self, *, log_file: bool = True) -> Settings:
        """Load (once) and return the effective settings; configure logging from them.

        Args:
            log_file: also append records to ``<state_directory>/hfdl.log`` when logging
                goes to stderr. ``hfdl run --dry-run`` passes ``False``: it writes nothing.
                Only the first call configures logging.

        Raises:
            ConfigError, ConfigFileNotFound: the configuration is invalid or missing.
        """
        if self._settings is None:
            import logging

            from hfdl.config import load_settings
            from hfdl.logs.setup import configure_logging

            self._settings = load_settings(self.config_path)
            target = configure_logging(
                self._settings.log_level,
                verbose=self.verbose,
                quiet=self.quiet,
                state_directory=self._settings.state_directory if log_file else None,
            )
            logging.getLogger("hfdl").debug(
                "configuration %s; logging at DEBUG to %s%s",
                self.config_path or "found by the default search",
                target,
                "" if log_file or target == "journal" else " (no log file)",
            )
        return self._settings
