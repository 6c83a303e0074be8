"""hfdl.paths: the default locations hfdl computes from the environment.

How they become the settings' defaults is in ``tests/unit/config/test_loader.py``; that they
agree with huggingface_hub itself is checked in a subprocess in ``tests/e2e/test_config.py``.
"""

from __future__ import annotations

from pathlib import Path

from hfdl import paths
from tests.config_files import USER


def test_relative_xdg_variables_are_ignored(environ: dict[str, str], home: Path) -> None:
    # The XDG Base Directory specification says relative values are invalid.
    environ.update(XDG_STATE_HOME="relative/state", XDG_CONFIG_HOME="relative/conf")

    assert paths.default_state_directory(environ, USER) == home / ".local" / "state" / "hfdl"
    assert paths.default_config_file(environ, USER) == home / ".config" / "hfdl" / "config.yaml"
