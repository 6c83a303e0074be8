"""Kept for :mod:`hfdl.cli.lifecycle`, which still imports ``serve_foreground`` from here; the
foreground scheduler's wiring is :func:`hfdl.services.foreground.serve_foreground`.

PENDING (issue 12): delete this module once ``hfdl start --foreground`` calls the service.
"""

from __future__ import annotations

from hfdl.services.foreground import serve_foreground as serve_foreground
