"""Logging set-up: plain lines on stderr (the journal adds its own timestamps).

Messages go to stderr, data to stdout. Under systemd (``JOURNAL_STREAM`` set) lines carry no
timestamp, since journald records one; in a terminal or a file they do.
"""

from __future__ import annotations

import logging
import os
import sys

LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}


def configure_logging(level_name: str, *, verbose: int = 0, quiet: bool = False) -> None:
    """Send hfdl's log records to stderr at the configured level.

    Args:
        level_name: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR`` (from the config).
        verbose: ``--verbose`` given (lowers the level to DEBUG).
        quiet: ``--quiet`` given (raises the level to WARNING).
    """
    level = LEVELS.get(level_name.upper(), logging.INFO)
    if verbose:
        level = logging.DEBUG
    elif quiet:
        level = max(level, logging.WARNING)
    root = logging.getLogger("hfdl")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S")
        )
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    # The library logs every retry itself; hfdl logs its own retries with context.
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR if not verbose else logging.DEBUG)
