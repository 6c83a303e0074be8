"""Where a throw-away hfdl installation keeps its files, shared by the tests and the benchmark.

:class:`InstallLayout` names the paths under one root (config, catalog, HF cache, state DB)
and writes the part of the YAML configuration that points hfdl at them and at the test Hub;
``tests.workspace.Workspace`` and ``bench.fixtures.HfdlInstall`` add their own settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class InstallLayout:
    """The files of one hfdl installation under ``root``, talking to the Hub at ``endpoint``."""

    root: Path
    endpoint: str

    @property
    def config_path(self) -> Path:
        """The YAML configuration file."""
        return self.root / "config.yaml"

    @property
    def models_path(self) -> Path:
        """The catalog."""
        return self.root / "models.json"

    @property
    def cache_dir(self) -> Path:
        """The HF hub cache hfdl downloads into."""
        return self.root / "hub"

    @property
    def state_dir(self) -> Path:
        """Lock file, logs and state DB."""
        return self.root / "state"

    @property
    def db_path(self) -> Path:
        """The SQLite state DB."""
        return self.state_dir / "hfdl.db"

    def write_config_file(self, settings: Mapping[str, Any]) -> None:
        """Write ``config.yaml``: this layout's paths and endpoint, then ``settings``.

        Args:
            settings: further configuration keys; they win over the layout's.
        """
        document: dict[str, Any] = {
            "download_directory": str(self.cache_dir),
            "state_directory": str(self.state_dir),
            "db_path": str(self.db_path),
            "models_file": str(self.models_path),
            "endpoint": self.endpoint,
            "log_level": "INFO",
            **settings,
        }
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(document, sort_keys=False))
