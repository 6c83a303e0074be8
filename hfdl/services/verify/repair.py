"""Repairing a file ``models verify --repair`` found bad: delete its blob, fetch it again.

Used by :mod:`hfdl.services.verify.check`. The Hub client is created on first need, so verifying
alone stays offline.
"""

from __future__ import annotations

import os
import stat
import time
from typing import TYPE_CHECKING

from hfdl.errors import UnsafePath

if TYPE_CHECKING:
    from hfdl.config import Settings
    from hfdl.engine.retry import RetryPolicy
    from hfdl.hub.cache import RepoCache
    from hfdl.hub.client import HubClient
    from hfdl.store.rows import FileRecord


class Repairer:
    """Fetches bad blobs again through the Hub client (created on first need)."""

    def __init__(
        self, settings: Settings, client: HubClient | None, policy: RetryPolicy | None
    ) -> None:
        self.settings = settings
        self._client = client
        self._policy = policy

    def _tools(self) -> tuple[HubClient, RetryPolicy]:
        # Imported only when something must be fetched: checking alone stays offline.
        from hfdl.engine.retry import RetryPolicy
        from hfdl.hub.client import HubClient

        if self._client is None:
            from hfdl.token import read_token

            self._client = HubClient(
                self.settings.endpoint,
                read_token(),
                request_timeout=float(self.settings.stall_timeout_seconds),
            )
        if self._policy is None:
            self._policy = RetryPolicy(max_retries=self.settings.max_retries)
        return self._client, self._policy

    def fetch(self, repo_cache: RepoCache, commit_sha: str, record: FileRecord) -> int:
        """Delete the bad blob, fetch and verify it again; return the bytes transferred."""
        from hfdl.engine.retry import call_with_retries
        from hfdl.hub.client import RemoteFile
        from hfdl.hub.parts import RangedSettings
        from hfdl.hub.transfer import fetch_blob

        client, policy = self._tools()
        remote_file = RemoteFile(
            path=record.path,
            size=record.size,
            blob_id="" if record.is_lfs else record.etag,
            sha256=record.etag if record.is_lfs else None,
        )
        # fetch_blob keeps a blob of the right size as it is, so the bad one must go first.
        # Only ever the blob hfdl recorded, by a hex name, inside this model's blobs/ (the
        # path is checked not to leave it, symlinks included), and only a file or a link:
        # unlink acts on a symlink itself, never on what it points at.
        delete_recorded_blob(repo_cache, record)

        def progress(_nbytes: int) -> None:
            policy.check_stop()

        def attempt() -> int:
            result = fetch_blob(
                url=client.file_url(repo_cache.repo_id, commit_sha, record.path),
                headers=client.headers(),
                repo_cache=repo_cache,
                remote_file=remote_file,
                repo_id=repo_cache.repo_id,
                commit_sha=commit_sha,
                progress=progress,
                stall_timeout=float(self.settings.stall_timeout_seconds),
                deadline=time.monotonic() + self.settings.timeout_seconds,
                ranged=RangedSettings.from_settings(self.settings),
            )
            return result.transferred

        return call_with_retries(attempt, policy)


def delete_recorded_blob(repo_cache: RepoCache, record: FileRecord) -> None:
    """Delete the blob of a recorded file (absent is fine).

    Raises:
        UnsafePath: the blob's path is not inside the model's ``blobs/`` (nothing deleted),
            or it is not a regular file or a symlink.
    """
    blob = repo_cache.contained(repo_cache.blob_path(record.blob_name))
    try:
        mode = os.lstat(blob).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise UnsafePath(f"refusing to delete {blob}: not a regular file")
    blob.unlink(missing_ok=True)
