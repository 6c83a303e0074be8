"""The benchmark's world: the project's test Hub server, random-byte repos, an hfdl install.

Everything lives in one temporary directory on the same filesystem: the server's blobs, each
contender's output, hfdl's config, catalog and state DB.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.hubserver import Blob, FileContent, HubServer, RepoBuilder
from tests.layout import InstallLayout

BIN_DIR = Path(sys.executable).parent
# Another hfdl source tree to measure instead of this one (``--hfdl-src``, for before/after
# comparisons): put first on the PYTHONPATH of the hfdl contenders.
HFDL_SOURCE: list[Path] = []
# Kinds of reference contender not to run (``--skip hf,curl``: quick A/B runs of hfdl alone).
SKIP: set[str] = set()
HFDL = str(BIN_DIR / "hfdl")
HF = str(BIN_DIR / "hf")
REPO_ROOT = Path(__file__).resolve().parent.parent

# Variables that would point a child at a real token, cache, endpoint or systemd.
_UNSET_PREFIXES = ("HFDL_", "HF_DOWNLOADER_", "HF_", "HUGGING_FACE_", "INVOCATION_ID")
_UNSET_NAMES = ("JOURNAL_STREAM", "NOTIFY_SOCKET", "TRANSFORMERS_OFFLINE")


class BenchRepos(RepoBuilder):
    """A RepoBuilder that also accepts an existing :class:`Blob` as a file's content.

    Repos made of the same blobs share them on disk (content-addressed), so the benchmark can
    serve the same bytes as 8 one-file repos to hfdl and as one 8-file repo to ``hf``.
    """

    def add_content(self, content: FileContent | Blob) -> Blob:
        """Return ``content`` itself when it is a blob, else store it as RepoBuilder does."""
        if isinstance(content, Blob):
            return content
        return super().add_content(content)


@dataclass(frozen=True)
class RemoteFileRef:
    """One served file: where to ask for it and what it is."""

    repo_id: str
    path: str
    blob: Blob

    @property
    def size(self) -> int:
        """Bytes in the file."""
        return self.blob.size


@dataclass
class BenchRepo:
    """A repo created for the benchmark, with its files."""

    repo_id: str
    commit: str
    files: list[RemoteFileRef]

    @property
    def size(self) -> int:
        """Bytes in all its files."""
        return sum(remote.size for remote in self.files)


class BenchHub:
    """The test Hub server over :class:`BenchRepos`, started in a temp dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repos = BenchRepos(root / "server")
        self.server = HubServer(repos=self.repos, record_requests=True)

    def __enter__(self) -> BenchHub:
        self.server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        """The Hub origin's URL (``HF_ENDPOINT``)."""
        return self.server.url

    def create(self, repo_id: str, files: Mapping[str, FileContent | Blob]) -> BenchRepo:
        """Create a repo (random bytes for an ``int`` content) and return it."""
        commit = self.server.create_repo(repo_id, files)  # type: ignore[arg-type]
        refs = [
            RemoteFileRef(repo_id, path, self.server.file_entry(repo_id, path).blob)
            for path in files
        ]
        return BenchRepo(repo_id, commit, refs)

    def resolve_url(self, remote: RemoteFileRef) -> str:
        """The ``/resolve/main/...`` URL of a file (curl follows its redirect, as hf does)."""
        return self.server.resolve_url(remote.repo_id, remote.path)

    def quiesce(self, timeout: float = 10.0) -> None:
        """Wait until no request is in flight (a killed client's response counts its bytes when
        the server notices, which must not land in the next run's counters)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(record.end_time is not None for record in self.server.requests):
                return
            time.sleep(0.01)

    def reset_counters(self) -> None:
        """Forget the request log and zero the byte counter (after in-flight requests end)."""
        self.quiesce()
        self.server.clear_requests()

    def counters(self) -> tuple[int, int]:
        """``(body bytes sent, requests)`` since the last reset, on both origins."""
        self.quiesce()
        return self.server.bytes_sent, len(self.server.requests)


def child_environment(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for a contender: no token, its own ``HF_HOME``, no telemetry."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_UNSET_PREFIXES) and key not in _UNSET_NAMES
    }
    env.update(
        {
            "HF_HOME": str(home),
            "HF_HUB_DISABLE_UPDATE_CHECK": "1",
            # Also stops huggingface_hub from asking huggingface.co to build its user agent.
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "XDG_CONFIG_HOME": str(home / "xdg-config"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class HfdlInstall(InstallLayout):
    """hfdl's own config, catalog, cache and state DB under ``root``."""

    concurrent_downloads: int = 4
    overrides: dict[str, Any] = field(default_factory=dict)

    def write(self, models: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]) -> None:
        """Write the config and the catalog."""
        self.write_config_file(
            {
                "max_retries": 3,
                "timeout_seconds": 3600,
                "stall_timeout_seconds": 30,
                "concurrent_downloads": self.concurrent_downloads,
                **self.overrides,
            }
        )
        catalog = {"models": [{"enabled": True, **model} for model in models]}
        catalog["settings"] = dict(settings)  # type: ignore[assignment]
        self.models_path.write_text(json.dumps(catalog, indent=1) + "\n")

    def reset(self) -> None:
        """Forget everything downloaded: cache and state (the next run starts from scratch)."""
        remove_tree(self.cache_dir)
        remove_tree(self.state_dir)

    def argv(self, *arguments: str) -> list[str]:
        """``hfdl --config <config> ARGUMENTS`` through the installed console script."""
        return [HFDL, "--config", str(self.config_path), *arguments]

    def env(self) -> dict[str, str]:
        """hfdl's environment (the endpoint comes from the config)."""
        extra = {"PYTHONPATH": str(HFDL_SOURCE[0])} if HFDL_SOURCE else None
        return child_environment(self.root / "hf-home", extra)


def remove_tree(path: Path) -> None:
    """Delete a directory tree if it exists, then flush dirty pages of other files.

    Deleting drops the dirty pages of what the previous run wrote, and ``os.sync`` writes out
    anything else, so no run pays for its predecessor's writeback.
    """
    shutil.rmtree(path, ignore_errors=True)


def settle() -> None:
    """Write back dirty pages so the next run starts with a quiet disk."""
    os.sync()
