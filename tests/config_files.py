"""Helpers of the configuration tests, shared by the unit tier and ``tests/e2e/test_config.py``.

They write real configuration files and load settings with an explicit environment and user
id, so that neither the developer's environment nor running the suite as root changes what a
test sees.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from hfdl.config import Settings, load_settings
from hfdl.errors import ConfigError

REPOSITORY = Path(__file__).resolve().parent.parent
USER = 1000  # an ordinary user id, so that defaults are the per-user ones


def write_config(directory: Path, text: str, name: str = "config.yaml") -> Path:
    """Write ``text`` (dedented) to ``directory/name``, creating the directory.

    Returns:
        The path of the file written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(
    environ: Mapping[str, str],
    cwd: Path,
    config_path: Path | None = None,
    euid: int = USER,
) -> Settings:
    """Load the settings as user ``euid`` in ``cwd``, seeing only the variables in ``environ``.

    Raises:
        ConfigError, ConfigFileNotFound: as :func:`hfdl.config.load_settings` does.
    """
    return load_settings(config_path, environ=environ, cwd=cwd, euid=euid)


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    """The problems a ``ConfigError`` carries, each as the line a user sees."""
    return [str(problem) for problem in error.value.problems]


def flatten(data: Mapping[str, object], prefix: str = "") -> set[str]:
    """The dotted keys of the leaves of nested mappings: ``{"a": {"b": 1}}`` gives ``{"a.b"}``."""
    keys: set[str] = set()
    for key, value in data.items():
        if isinstance(value, Mapping):
            keys |= flatten(value, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


# -- fixtures (registered for every test by tests/conftest.py) ----------------------------------


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
