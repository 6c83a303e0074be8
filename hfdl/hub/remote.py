"""What the Hub says a repository revision holds: plain data, no ``huggingface_hub`` import.

Planning, selection and the engine pass these around; only ``hfdl.hub.client`` builds them
from the library's answers, so a run with nothing to ask the Hub never imports the library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """One file of a repository at a commit, as the Hub describes it.

    ``sha256`` is set for LFS files (their ETag); ``blob_id`` is the git blob sha1 (the ETag
    of regular files; ``""`` for an LFS file whose pointer id is unknown). ``etag`` is what
    names the blob in the HF cache: ``hfdl.hub.client`` builds a ``RemoteFile`` only from
    validated values (from the listing, or from a HEAD on a thin mirror), so ``etag`` is
    always 40 or 64 lowercase hex, never empty (an empty one would name ``blobs/`` itself).
    """

    path: str
    size: int
    blob_id: str
    sha256: str | None

    @property
    def is_lfs(self) -> bool:
        """Whether the file is stored in LFS (its ETag is a sha256)."""
        return self.sha256 is not None

    @property
    def etag(self) -> str:
        """The blob's name in ``blobs/``: sha256 for LFS files, git blob sha1 otherwise."""
        return self.sha256 if self.sha256 is not None else self.blob_id


@dataclass(frozen=True)
class RemoteRevision:
    """A repository revision resolved to a commit, with its files (when listed).

    ``head_requests`` counts the HEADs a thin listing cost (one per file it named only).
    """

    repo_id: str
    revision: str
    commit_sha: str
    files: tuple[RemoteFile, ...]
    gated: bool = False
    head_requests: int = 0
