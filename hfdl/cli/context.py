"""What the global options leave for the commands: the config path, verbosity, output mode."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hfdl.services.invocation import Settings


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
        """``user`` or ``system``: from ``--user/--system``, else system for root.

        Services that talk to systemd take this name.
        """
        from hfdl.services.invocation import scope_name

        return scope_name(self.user_scope)

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
            from hfdl.services.invocation import load_settings_and_logging

            self._settings = load_settings_and_logging(
                self.config_path, verbose=self.verbose, quiet=self.quiet, log_file=log_file
            )
        return self._settings
