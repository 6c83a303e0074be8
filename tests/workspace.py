"""A throw-away hfdl installation for tests: config, catalog, cache and DB in ``tmp_path``.

``hfdl`` runs as a real subprocess (``python -m hfdl``), as systemd would run it, so exit codes,
signals (SIGKILL mid-file), the run lock and stdout/stderr are the real ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.hubserver import HubServer
from tests.layout import InstallLayout

REPO_ROOT = Path(__file__).resolve().parent.parent

# Runs a test twice, against the plain HTTP Hub and the HTTPS one (issue 11): for the core
# download scenarios only, so that the suite does not double in time.
OVER_HTTP_AND_HTTPS = pytest.mark.parametrize("hub", ["http", "https"], indirect=True)


@dataclass
class Workspace(InstallLayout):
    """Paths and helpers of one test's hfdl installation."""

    config_overrides: dict[str, Any] = field(default_factory=dict)
    # The CA an HTTPS test Hub's certificate is signed by (None: a plain HTTP Hub).
    ca_file: Path | None = None

    def write_config(self, **overrides: Any) -> None:
        """Write the YAML config (fast retries and timeouts suitable for tests)."""
        self.config_overrides.update(overrides)
        test_settings = {
            "max_retries": 4,
            "timeout_seconds": 120,
            "stall_timeout_seconds": 5,
            "concurrent_downloads": 2,
        }
        self.write_config_file(test_settings | self.config_overrides)

    def write_catalog(
        self, models: Sequence[Mapping[str, Any]], settings: Mapping[str, Any] | None = None
    ) -> None:
        """Write ``models.json`` with these entries (``enabled`` defaults to true)."""
        entries = [{"enabled": True, **model} for model in models]
        document: dict[str, Any] = {"models": entries}
        if settings is not None:
            document["settings"] = dict(settings)
        self.models_path.write_text(json.dumps(document, indent=2) + "\n")

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of an hfdl process: no token, no real HF home, no systemd."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("HFDL_", "HF_DOWNLOADER_", "INVOCATION_ID", "JOURNAL_STREAM"))
            and key not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT")
        }
        # User units go to $XDG_CONFIG_HOME/systemd/user: never the real home's.
        env["XDG_CONFIG_HOME"] = str(self.root / "xdg-config")
        env["HF_HUB_DISABLE_TELEMETRY"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        if self.ca_file is not None:
            # Trust the test CA the way a user trusts a private mirror's (docs/https.md).
            env["SSL_CERT_FILE"] = str(self.ca_file)
        if extra:
            env.update(extra)
        return env

    def command(self, *arguments: str) -> list[str]:
        """The argv of ``hfdl --config <this config> ARGUMENTS``."""
        return [sys.executable, "-m", "hfdl", "--config", str(self.config_path), *arguments]

    def hfdl(
        self, *arguments: str, env: Mapping[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run hfdl to completion and return its exit code and output."""
        return subprocess.run(
            self.command(*arguments),
            cwd=self.root,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn(self, *arguments: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """Start hfdl in the background (to kill it, or to race it)."""
        return subprocess.Popen(
            self.command(*arguments),
            cwd=self.root,
            env=self.environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read the state DB with plain sqlite3 (what another tool would see)."""
        connection = sqlite3.connect(self.db_path)
        connection.row_factory = sqlite3.Row
        try:
            return list(connection.execute(sql, parameters))
        finally:
            connection.close()

    def model_row(self, name: str) -> sqlite3.Row:
        """The DB row of a model."""
        rows = self.query("SELECT * FROM models WHERE name = ?", (name,))
        assert rows, f"no DB row for {name}"
        return rows[0]

    def snapshot_file(self, repo_id: str, commit_sha: str, path: str) -> Path:
        """Where a file of a commit lives in the cache."""
        folder = "models--" + repo_id.replace("/", "--")
        return self.cache_dir / folder / "snapshots" / commit_sha / path

    def repo_dir(self, repo_id: str) -> Path:
        """The repository's folder in the cache."""
        return self.cache_dir / ("models--" + repo_id.replace("/", "--"))


def sha256_of(path: Path) -> str:
    """The sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.02) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def workspace(tmp_path: Path, hub: HubServer) -> Iterator[Workspace]:
    """A fresh hfdl installation pointed at the test Hub server."""
    space = Workspace(root=tmp_path, endpoint=hub.url, ca_file=hub.tls.ca_file if hub.tls else None)
    space.write_config()
    yield space
