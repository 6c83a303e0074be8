"""The standard Hugging Face cache layout, as ``huggingface_hub`` reads it.

    <cache>/models--org--name/blobs/<etag>                 file contents (content-addressed)
    <cache>/models--org--name/blobs/<etag>.incomplete      a partial download (resumable)
    <cache>/models--org--name/snapshots/<commit>/<path>    relative symlink to ../../blobs/<etag>
    <cache>/models--org--name/refs/<revision>              the commit a branch or tag points to

Only verified blobs are ever renamed into ``blobs/`` and linked from ``snapshots/``, so a loader
reading the cache never sees a partial or corrupt file. This module needs no network and does
not import ``huggingface_hub``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hfdl.fileio import write_atomically

INCOMPLETE_SUFFIX = ".incomplete"
COMMIT_SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")


def is_commit_sha(revision: str) -> bool:
    """Whether ``revision`` is a full 40-hex commit sha (which needs no resolving)."""
    return bool(COMMIT_SHA_PATTERN.match(revision))


def repo_folder_name(repo_id: str) -> str:
    """Return the cache folder name of a model repository: ``models--org--name``."""
    return "--".join(["models", *repo_id.split("/")])


@dataclass(frozen=True)
class RepoCache:
    """Paths of one model repository inside an HF hub cache directory."""

    cache_dir: Path
    repo_id: str

    @property
    def storage(self) -> Path:
        """The repository's folder: ``<cache>/models--org--name``."""
        return self.cache_dir / repo_folder_name(self.repo_id)

    @property
    def blobs(self) -> Path:
        """The folder of content-addressed blobs."""
        return self.storage / "blobs"

    @property
    def locks(self) -> Path:
        """The folder huggingface_hub keeps its per-blob lock files in."""
        return self.cache_dir / ".locks" / repo_folder_name(self.repo_id)

    def blob_path(self, etag: str) -> Path:
        """The path of a complete, verified blob."""
        return self.blobs / etag

    def incomplete_path(self, etag: str) -> Path:
        """The path of a blob's partial download (same name huggingface_hub uses)."""
        return self.blobs / f"{etag}{INCOMPLETE_SUFFIX}"

    def lock_path(self, etag: str) -> Path:
        """The lock file huggingface_hub takes while writing this blob."""
        return self.locks / f"{etag}.lock"

    def snapshot_dir(self, commit_sha: str) -> Path:
        """The folder of a commit's snapshot."""
        return self.storage / "snapshots" / commit_sha

    def pointer_path(self, commit_sha: str, path: str) -> Path:
        """The snapshot entry (symlink) of a repository file at a commit."""
        return self.snapshot_dir(commit_sha).joinpath(*path.split("/"))

    def ref_path(self, revision: str) -> Path:
        """The file holding the commit a branch or tag points to."""
        return self.storage / "refs" / revision

    def read_ref(self, revision: str) -> str | None:
        """Return the commit the cache has recorded for ``revision``, or ``None``."""
        if is_commit_sha(revision):
            return revision
        try:
            value = self.ref_path(revision).read_text().strip()
        except OSError:
            return None
        return value if is_commit_sha(value) else None

    def write_ref(self, revision: str, commit_sha: str) -> None:
        """Record that ``revision`` points at ``commit_sha`` (atomically; skipped for shas)."""
        if is_commit_sha(revision):
            return
        ref = self.ref_path(revision)
        ref.parent.mkdir(parents=True, exist_ok=True)
        if ref.exists() and ref.read_text().strip() == commit_sha:
            return
        write_atomically(ref, commit_sha)

    def has_blob(self, etag: str, size: int) -> bool:
        """Whether a complete blob of the expected size is present."""
        try:
            return self.blob_path(etag).stat().st_size == size
        except OSError:
            return False

    def partial_size(self, etag: str) -> int:
        """Bytes already present in the blob's partial download (0 when none)."""
        try:
            return self.incomplete_path(etag).stat().st_size
        except OSError:
            return 0

    def link(self, commit_sha: str, path: str, etag: str) -> None:
        """Make ``snapshots/<commit>/<path>`` a relative symlink to ``blobs/<etag>``.

        The link is created under a temporary name and renamed over the final one, so a
        reader sees either the old entry or the new one, never a missing file.
        """
        pointer = self.pointer_path(commit_sha, path)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath(self.blob_path(etag), pointer.parent)
        if pointer.is_symlink() and os.readlink(pointer) == target:
            return
        temporary = pointer.with_name(f".{pointer.name}.hfdl-tmp-{os.getpid()}")
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        os.symlink(target, temporary)
        os.replace(temporary, pointer)

    def snapshot_complete(self, commit_sha: str, files: Iterable[tuple[str, str, int]]) -> bool:
        """Whether every ``(path, etag, size)`` is linked at ``commit_sha`` to a full blob."""
        for path, etag, size in files:
            pointer = self.pointer_path(commit_sha, path)
            if not pointer.is_symlink() or not self.has_blob(etag, size):
                return False
            if pointer.resolve() != self.blob_path(etag).resolve():
                return False
        return True

    def sweep_partials(self, wanted_etags: set[str]) -> list[Path]:
        """Delete partial downloads whose blob is no longer wanted; return what was removed."""
        removed: list[Path] = []
        try:
            entries = list(self.blobs.iterdir())
        except OSError:
            return removed
        for entry in entries:
            if not entry.name.endswith(INCOMPLETE_SUFFIX):
                continue
            etag = entry.name[: -len(INCOMPLETE_SUFFIX)]
            if etag in wanted_etags:
                continue
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                continue
        return removed

    def bytes_on_disk(self) -> int:
        """Total size of the repository's complete blobs (what it costs on disk)."""
        total = 0
        try:
            entries = list(self.blobs.iterdir())
        except OSError:
            return 0
        for entry in entries:
            if entry.name.endswith(INCOMPLETE_SUFFIX):
                continue
            try:
                total += entry.stat().st_size
            except OSError:
                continue
        return total
