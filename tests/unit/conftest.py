"""Fixtures of the unit tier: a private home and working directory, and a minimal environment.

Tests pass ``environ`` explicitly to the code under test instead of changing ``os.environ``,
so that the developer's own variables never leak in.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory inside tmp_path."""
    directory = tmp_path / "home"
    directory.mkdir()
    return directory


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory: no ./config/default.yaml to find."""
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


@pytest.fixture
def environ(home: Path) -> dict[str, str]:
    """A minimal environment: only HOME, pointing into tmp_path."""
    return {"HOME": str(home)}
