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

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hfdl.errors import UnsafePath
from hfdl.fileio import mode_for_new_file, write_atomically
from hfdl.hub.untrusted import is_hex_name, path_problem, shown

INCOMPLETE_SUFFIX = ".incomplete"
# The progress record of a ranged transfer, beside its partial file (hfdl.hub.parts).
PARTS_SIDECAR_SUFFIX = ".parts"
COMMIT_SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")


def is_commit_sha(revision: str) -> bool:
    """Whether ``revision`` is a full 40-hex commit sha (which needs no resolving)."""
    return bool(COMMIT_SHA_PATTERN.match(revision))


def _is_within(path: str, root: str) -> bool:
    """Whether the absolute, normalised ``path`` is ``root`` or below it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _blob_name(etag: str, repo_id: str) -> str:
    """Return ``etag`` when it can name a blob (40 or 64 lowercase hex); else raise."""
    if not is_hex_name(etag):
        raise UnsafePath(
            f"refusing to use {shown(etag)} as a blob name of {repo_id}: "
            "not 40 or 64 lowercase hex digits"
        )
    return etag


def repo_folder_name(repo_id: str) -> str:
    """Return the cache folder name of a model repository: ``models--org--name``."""
    return "--".join(["models", *repo_id.split("/")])


@dataclass(frozen=True)
class RepoCache:
    """Paths of one model repository inside an HF hub cache directory.

    Every path hfdl creates, links, locks or deletes for the repository comes from this class,
    and each goes through :meth:`contained`: it must resolve (following the symlinks already on
    disk) inside the repository's folder ``models--org--name/`` (lock files: inside
    ``.locks/models--org--name/``), or :class:`~hfdl.errors.UnsafePath` is raised and nothing
    is touched. Blob names must be 40 or 64 lowercase hex, commits 40 lowercase hex, file paths
    relative paths without ``.``/``..``/empty segments. This is the defence in depth behind the
    validation of the Hub's answers (:mod:`hfdl.hub.untrusted`).
    """

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

    def contained(self, path: Path, *, follow: bool = False) -> Path:
        """Return ``path`` when it is inside this repository's cache folders; else raise.

        The parent chain of ``path`` is resolved with ``os.path.realpath``, so a symlink
        already on disk (a ``snapshots/`` or ``blobs/`` pointing elsewhere) counts. With
        ``follow``, ``path`` itself is resolved too (for what hfdl opens, reads or writes
        through); without, its last component is taken as it is (for what hfdl replaces or
        unlinks, which acts on a symlink itself, not on its target). The root is
        ``models--org--name/`` (itself resolved: a repository folder the user moved to another
        disk and symlinked stays usable), or ``.locks/models--org--name/`` for paths under it.

        Args:
            path: the path hfdl is about to use.
            follow: resolve the last component too.

        Returns:
            ``path``, unchanged.

        Raises:
            UnsafePath: the path is not strictly inside the folder (or is one of the two
                folders themselves reached another way than by its own name).
        """
        path = Path(path)
        lexical = os.path.abspath(path)
        storage, locks = os.path.abspath(self.storage), os.path.abspath(self.locks)
        if lexical in (storage, locks) and ".." not in path.parts:
            return path  # the folder itself, named as such (``models remove --purge``)
        root = locks if _is_within(lexical, locks) else storage
        real_root = os.path.realpath(root)
        if path.name in ("", ".", ".."):
            real = None
        elif follow:
            real = os.path.realpath(path)
        else:
            real = os.path.join(os.path.realpath(path.parent), path.name)
        if real is None or real == real_root or not _is_within(real, real_root):
            raise UnsafePath(
                f"refusing to touch {shown(str(path))} for {self.repo_id}: it is not inside "
                f"{shown(real_root)}" + (f" (it resolves to {shown(real)})" if real else ""),
                hint="a symbolic link in the cache, or metadata from the server, points outside "
                "the model's cache folder; nothing was changed",
            )
        return path

    def blob_path(self, etag: str) -> Path:
        """The path of a complete, verified blob.

        Raises:
            UnsafePath: ``etag`` is not 40 or 64 lowercase hex, or the path leaves ``blobs/``.
        """
        return self.contained(self.blobs / _blob_name(etag, self.repo_id), follow=True)

    def incomplete_path(self, etag: str) -> Path:
        """The path of a blob's partial download (same name huggingface_hub uses).

        Raises:
            UnsafePath: as :meth:`blob_path`.
        """
        name = f"{_blob_name(etag, self.repo_id)}{INCOMPLETE_SUFFIX}"
        return self.contained(self.blobs / name, follow=True)

    def lock_path(self, etag: str) -> Path:
        """The lock file huggingface_hub takes while writing this blob.

        Raises:
            UnsafePath: ``etag`` is not hex, or the path leaves ``.locks/models--org--name/``.
        """
        return self.contained(self.locks / f"{_blob_name(etag, self.repo_id)}.lock", follow=True)

    def snapshot_dir(self, commit_sha: str) -> Path:
        """The folder of a commit's snapshot.

        Raises:
            UnsafePath: ``commit_sha`` is not 40 lowercase hex, or the folder leaves the
                repository's folder.
        """
        if not isinstance(commit_sha, str) or not is_commit_sha(commit_sha):
            raise UnsafePath(
                f"refusing to use {shown(commit_sha)} as a snapshot of {self.repo_id}: "
                "not a 40-hex commit sha"
            )
        return self.contained(self.storage / "snapshots" / commit_sha, follow=True)

    def pointer_path(self, commit_sha: str, path: str) -> Path:
        """The snapshot entry (symlink) of a repository file at a commit.

        Raises:
            UnsafePath: ``path`` is not a safe relative path, or the entry leaves the
                snapshot's folder.
        """
        problem = path_problem(path)
        if problem is not None:
            raise UnsafePath(
                f"refusing to use {shown(path)} as a file of {self.repo_id}: it {problem}"
            )
        return self.contained(self.snapshot_dir(commit_sha).joinpath(*path.split("/")))

    def ref_path(self, revision: str) -> Path:
        """The file holding the commit a branch or tag points to.

        Raises:
            UnsafePath: ``revision`` is not a safe relative name, or the file leaves the
                repository's folder.
        """
        problem = path_problem(revision)
        if problem is not None:
            raise UnsafePath(
                f"refusing to use {shown(revision)} as a revision of {self.repo_id}: it {problem}"
            )
        return self.contained(self.storage / "refs" / revision, follow=True)

    def read_ref(self, revision: str) -> str | None:
        """Return the commit the cache has recorded for ``revision``, or ``None``."""
        if is_commit_sha(revision):
            return revision
        try:
            value = self.ref_path(revision).read_text().strip()
        except (OSError, UnsafePath):
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
        # As huggingface_hub (which opens refs with the default 0666) and the blobs: the mode
        # follows the umask, so a service's UMask=0027 keeps the cache from other users.
        write_atomically(ref, commit_sha, new_file_mode=mode_for_new_file())

    def has_blob(self, etag: str, size: int) -> bool:
        """Whether a complete blob of the expected size is present (and safe to use)."""
        try:
            return self.blob_path(etag).stat().st_size == size
        except (OSError, UnsafePath):
            # An unsafe blob is never "present": fetching it raises the UnsafePath for real.
            return False

    def partial_size(self, etag: str) -> int:
        """Bytes already present in the blob's partial download (0 when none)."""
        try:
            return self.incomplete_path(etag).stat().st_size
        except (OSError, UnsafePath):
            return 0

    def link(self, commit_sha: str, path: str, etag: str) -> None:
        """Make ``snapshots/<commit>/<path>`` a relative symlink to ``blobs/<etag>``.

        The link is created under a temporary name and renamed over the final one, so a
        reader sees either the old entry or the new one, never a missing file. The entry, its
        folders and the link's target are all checked to stay inside the repository's folder
        (the target inside ``blobs/``) before anything is created.

        Raises:
            UnsafePath: the entry or its target would leave the repository's folder.
        """
        pointer = self.pointer_path(commit_sha, path)
        blob = self.blob_path(etag)
        target = os.path.relpath(blob, pointer.parent)
        self._check_target(pointer, target, blob)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        # Checked again now that the folders exist: a folder that appeared meanwhile as a
        # symlink must not carry the link elsewhere.
        self.contained(pointer)
        if pointer.is_symlink() and os.readlink(pointer) == target:
            return
        # A fixed-length temporary name: ``.<name>.<suffix>`` could pass NAME_MAX.
        digest = hashlib.sha1(pointer.name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        temporary = self.contained(pointer.with_name(f".hfdl-tmp-{os.getpid()}-{digest}"))
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        os.symlink(target, temporary)
        os.replace(temporary, pointer)

    def _check_target(self, pointer: Path, target: str, blob: Path) -> None:
        """Refuse a link whose target, read from where it lives, is not ``blob`` in ``blobs/``."""
        blobs = os.path.realpath(self.blobs)
        landed = os.path.realpath(os.path.join(os.path.realpath(pointer.parent), target))
        if landed != os.path.realpath(blob) or os.path.dirname(landed) != blobs:
            raise UnsafePath(
                f"refusing to link {shown(str(pointer))} of {self.repo_id} to {shown(target)}: "
                f"it would point at {shown(landed)}, not at a blob in {shown(blobs)}"
            )

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
        """Delete partial downloads whose blob is no longer wanted; return what was removed.

        Only ``<hex>.incomplete`` entries of ``blobs/`` are considered (what hfdl and
        ``huggingface_hub`` name them), with their ``.parts`` progress records (hfdl's ranged
        transfers), and each must be inside the repository's folder.
        """
        removed: list[Path] = []
        try:
            entries = list(self.contained(self.blobs, follow=True).iterdir())
        except (OSError, UnsafePath):
            return removed
        for entry in entries:
            # A ranged transfer's progress record goes with its partial file.
            name = entry.name.removesuffix(PARTS_SIDECAR_SUFFIX)
            if not name.endswith(INCOMPLETE_SUFFIX):
                continue
            etag = name[: -len(INCOMPLETE_SUFFIX)]
            if etag in wanted_etags or not is_hex_name(etag):
                continue
            try:
                self.contained(entry).unlink()
                removed.append(entry)
            except (OSError, UnsafePath):
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
