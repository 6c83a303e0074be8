"""Skipping a test because this machine lacks something, without letting CI pass by skipping.

A developer's machine may lack root, ``unshare``, systemd or Debian's packaging tools; such tests
skip with the reason there. CI (``CI=true``, which ``.ci/run`` exports) installs all of them, so
a test that would skip there fails instead: a tier CI must run for real (systemd, the Hub
server, packaging) can never go green by being skipped.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def on_ci() -> bool:
    """Whether this is a CI run, where every tier must run rather than be skipped."""
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip the current test because ``what`` cannot run here; on CI, fail it instead.

    Args:
        what: the thing missing, e.g. ``the systemd tier`` or ``this test``.
        reason: why, e.g. ``needs dpkg-deb``.

    Raises:
        pytest.skip.Exception, pytest.fail.Exception: always.
    """
    if on_ci():
        pytest.fail(f"CI=true but {what} cannot run: {reason}", pytrace=False)
    pytest.skip(f"{what} unavailable: {reason}")


def missing_tools(*tools: str) -> list[str]:
    """The commands (names or absolute paths) among ``tools`` that are not installed."""
    return [tool for tool in tools if shutil.which(tool) is None]


def require_tools(*tools: str) -> None:
    """Skip (on CI: fail) the current test unless every one of ``tools`` is installed."""
    missing = missing_tools(*tools)
    if missing:
        unavailable("this test", f"needs {', '.join(missing)}")


def require_root_with_unshare() -> None:
    """Skip (on CI: fail) unless this is root with ``unshare`` (private mount namespaces)."""
    if os.geteuid() != 0:
        unavailable("this test", "needs root, for a private mount namespace")
    require_tools("unshare", "mount")


def requires_tools(*tools: str) -> pytest.MarkDecorator:
    """A marker: skip where one of ``tools`` is missing, except on CI, where the test runs
    (and fails on the missing tool, as it should)."""
    missing = missing_tools(*tools)
    return pytest.mark.skipif(
        bool(missing) and not on_ci(), reason=f"needs {', '.join(missing)} (not installed)"
    )


def requires_root_with_unshare() -> pytest.MarkDecorator:
    """A marker: skip unless root with ``unshare``, except on CI (which runs as root)."""
    lacking = os.geteuid() != 0 or bool(missing_tools("unshare", "mount"))
    return pytest.mark.skipif(
        lacking and not on_ci(), reason="needs root and unshare(1) for a private mount namespace"
    )
