"""Kept for :mod:`hfdl.cli.schedule` and :mod:`hfdl.cli.lifecycle`, which still import
``print_table`` from here; everything the CLI prints is in :mod:`hfdl.cli.output`.

PENDING (issue 12): delete this module once those two import from ``hfdl.cli.output``.
"""

from __future__ import annotations

from hfdl.cli.output import print_table as print_table
