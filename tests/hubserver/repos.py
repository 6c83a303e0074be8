"""Content-addressed, git-like repositories on disk, built at test time.

A :class:`RepoBuilder` owns a directory of blobs (one file per distinct content, named by its
sha256) and an in-memory graph of repos, commits, branches and tags on top of them. It knows
nothing about HTTP: :class:`tests.hubserver.HubServer` serves what it holds.

Two kinds of file live in a commit, as on the Hub:

* regular git files: their ETag and tree ``oid`` are the git blob sha1 of the content;
* LFS files: their ETag is the sha256 of the content, their tree ``oid`` is the git blob sha1
  of the LFS *pointer* file, and the Hub serves them through a CDN redirect.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from types import MappingProxyType

#: Files matching these globs are stored with LFS whatever their size (as `.gitattributes` does).
DEFAULT_LFS_PATTERNS: tuple[str, ...] = (
    "*.safetensors",
    "*.bin",
    "*.pt",
    "*.pth",
    "*.gguf",
    "*.h5",
)
#: Files of this size or larger are stored with LFS (the Hub refuses larger plain git files).
DEFAULT_LFS_THRESHOLD = 10 * 1024 * 1024

_COMMIT_RE = re.compile(r"[0-9a-f]{40}")
_SHORT_COMMIT_RE = re.compile(r"[0-9a-f]{7,39}")
_REPO_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
_CHUNK = 1024 * 1024

FileContent = bytes | str | int
"""What a file of a commit is made of: its bytes, a text (UTF-8) or a size of random bytes."""


@dataclass(frozen=True)
class Blob:
    """One distinct content, stored once on disk.

    Attributes:
        sha256: hex sha256 of the content (also the file name under ``blobs/``).
        git_sha1: hex git blob id of the content (sha1 of ``b"blob <size>\\0" + content``).
        size: content length in bytes.
        path: where the content is on disk.
    """

    sha256: str
    git_sha1: str
    size: int
    path: Path

    def read(self) -> bytes:
        """Return the whole content (meant for small files and assertions in tests)."""
        return self.path.read_bytes()


@dataclass(frozen=True)
class FileEntry:
    """A file at a path in a commit: a blob, stored either as a plain git file or with LFS.

    Attributes:
        path: path in the repo, ``/``-separated.
        blob: the content.
        lfs: whether the file is stored with LFS.
        oid: the git object id the tree lists (content blob id, or pointer blob id for LFS).
        pointer_size: size of the LFS pointer file (0 for plain git files).
    """

    path: str
    blob: Blob
    lfs: bool
    oid: str
    pointer_size: int

    @property
    def size(self) -> int:
        """The real size of the file (the LFS object size for LFS files)."""
        return self.blob.size

    @property
    def etag(self) -> str:
        """The unquoted ETag the Hub reports: sha256 for LFS files, git blob sha1 otherwise."""
        return self.blob.sha256 if self.lfs else self.blob.git_sha1

    @classmethod
    def make(cls, path: str, blob: Blob, lfs: bool) -> FileEntry:
        """Build the entry of ``blob`` at ``path``; for LFS, derive the pointer's oid and size."""
        if not lfs:
            return cls(path=path, blob=blob, lfs=False, oid=blob.git_sha1, pointer_size=0)
        pointer = (
            "version https://git-lfs.github.com/spec/v1\n"
            f"oid sha256:{blob.sha256}\nsize {blob.size}\n"
        ).encode()
        return cls(
            path=path, blob=blob, lfs=True, oid=git_blob_sha1(pointer), pointer_size=len(pointer)
        )


@dataclass(frozen=True)
class TreeEntry:
    """One row of a tree listing: a file (with its entry) or a directory (with a tree oid)."""

    path: str
    oid: str
    file: FileEntry | None = None

    @property
    def is_dir(self) -> bool:
        """Whether the row is a directory."""
        return self.file is None


class Commit:
    """An immutable snapshot of a repo: a mapping path -> :class:`FileEntry`, plus metadata.

    The directory structure (for the ``/tree`` API) is derived once at construction.
    """

    def __init__(
        self,
        sha: str,
        files: Mapping[str, FileEntry],
        parent: str | None,
        message: str,
        date: datetime,
    ) -> None:
        self.sha = sha
        self.files: Mapping[str, FileEntry] = MappingProxyType(dict(files))
        self.parent = parent
        self.message = message
        self.date = date
        self.children: dict[str, list[TreeEntry]] = _build_tree(self.files)
        # Every row below the root, sorted by path: the recursive listing of the root.
        self.all_entries: list[TreeEntry] = sorted(
            (entry for rows in self.children.values() for entry in rows), key=lambda e: e.path
        )

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` ("" for the root) is a directory of this commit."""
        return path in self.children

    def listing(self, path: str, recursive: bool) -> list[TreeEntry]:
        """Return the rows under directory ``path`` ("" = root), sorted by path.

        Raises:
            KeyError: ``path`` is not a directory of this commit.
        """
        if not recursive:
            return self.children[path]
        if path == "":
            return self.all_entries
        if path not in self.children:
            raise KeyError(path)
        prefix = path + "/"
        return [entry for entry in self.all_entries if entry.path.startswith(prefix)]


@dataclass
class Repo:
    """A repo: its visibility, refs and commits. Mutate visibility fields freely in tests.

    Attributes:
        gated: ``False``, ``"auto"`` or ``"manual"`` (what the Hub's API reports).
    """

    repo_id: str
    repo_type: str
    private: bool
    gated: bool | str
    lfs_threshold: int
    lfs_patterns: tuple[str, ...]
    created_at: datetime
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        """Resolve a branch, tag, ``refs/heads/x``, ``refs/tags/x``, full or short sha to a commit.

        Returns:
            The commit, or ``None`` if the revision does not exist.
        """
        for name, refs in (
            (revision, self.branches),
            (revision, self.tags),
            (revision.removeprefix("refs/heads/"), self.branches),
            (revision.removeprefix("refs/tags/"), self.tags),
        ):
            if name in refs:
                return self.commits[refs[name]]
        if _COMMIT_RE.fullmatch(revision):
            return self.commits.get(revision)
        if _SHORT_COMMIT_RE.fullmatch(revision):
            matches = [sha for sha in self.commits if sha.startswith(revision)]
            if len(matches) == 1:
                return self.commits[matches[0]]
        return None

    def is_lfs(self, path: str, size: int) -> bool:
        """Whether a file at ``path`` of ``size`` bytes is stored with LFS in this repo."""
        name = path.rsplit("/", 1)[-1]
        return size >= self.lfs_threshold or any(fnmatch(name, pat) for pat in self.lfs_patterns)


def git_blob_sha1(data: bytes) -> str:
    """Return the git blob id of ``data``: sha1 of ``b"blob <len>\\0" + data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class RepoBuilder:
    """Builds repos whose file contents live as content-addressed blobs under ``root_dir``.

    Thread-safe: mutations hold a lock; readers (the HTTP server) only look up immutable
    :class:`Commit` objects and dict entries.

    Args:
        root_dir: directory for blobs (``root_dir/blobs``) and temp files (``root_dir/tmp``).
        lfs_threshold: default size from which files are LFS.
        lfs_patterns: default globs (on the file name) that make a file LFS whatever its size.
    """

    def __init__(
        self,
        root_dir: Path,
        *,
        lfs_threshold: int = DEFAULT_LFS_THRESHOLD,
        lfs_patterns: Sequence[str] = DEFAULT_LFS_PATTERNS,
    ) -> None:
        self.root_dir = Path(root_dir)
        self.blob_dir = self.root_dir / "blobs"
        self.tmp_dir = self.root_dir / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.lfs_threshold = lfs_threshold
        self.lfs_patterns = tuple(lfs_patterns)
        self._repos: dict[tuple[str, str], Repo] = {}
        self._blobs: dict[str, Blob] = {}
        self._lock = threading.RLock()

    # -- blobs --------------------------------------------------------------------------

    def add_bytes(self, data: bytes) -> Blob:
        """Store ``data`` (deduplicated by sha256) and return its blob."""
        sha256 = hashlib.sha256(data).hexdigest()
        with self._lock:
            if sha256 in self._blobs:
                return self._blobs[sha256]
            path = self.blob_dir / sha256
            tmp = self.tmp_dir / uuid.uuid4().hex
            tmp.write_bytes(data)
            os.replace(tmp, path)
            blob = Blob(sha256, git_blob_sha1(data), len(data), path)
            self._blobs[sha256] = blob
            return blob

    def add_random(self, size: int) -> Blob:
        """Stream ``size`` pseudo-random bytes to disk, hashing on the way; return the blob.

        Each MiB is one random MiB (drawn once per file from ``os.urandom``) stamped with a
        per-file nonce and the chunk index, so contents are unique per file and per MiB,
        incompressible, and generated at memory speed instead of ``os.urandom`` speed (which
        matters for the GiB-sized files of a benchmark).

        Raises:
            ValueError: ``size`` is negative.
        """
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        block = os.urandom(min(size, _CHUNK))
        nonce = os.urandom(16)
        sha256 = hashlib.sha256()
        sha1 = hashlib.sha1(b"blob %d\0" % size)
        tmp = self.tmp_dir / uuid.uuid4().hex
        with tmp.open("wb") as out:
            remaining, index = size, 0
            while remaining > 0:
                n = min(remaining, _CHUNK)
                stamp = struct.pack(">16sQ", nonce, index)
                chunk = (stamp + block[len(stamp) :])[:n] if n >= len(stamp) else block[:n]
                out.write(chunk)
                sha256.update(chunk)
                sha1.update(chunk)
                remaining -= n
                index += 1
        digest = sha256.hexdigest()
        with self._lock:
            if digest in self._blobs:
                tmp.unlink()
                return self._blobs[digest]
            path = self.blob_dir / digest
            os.replace(tmp, path)
            blob = Blob(digest, sha1.hexdigest(), size, path)
            self._blobs[digest] = blob
            return blob

    def add_content(self, content: FileContent) -> Blob:
        """Store bytes, a UTF-8 text, or (for an int) that many random bytes; return the blob.

        Raises:
            TypeError: ``content`` is of another type.
        """
        if isinstance(content, bool):
            raise TypeError("file content must be bytes, str or int, not bool")
        if isinstance(content, int):
            return self.add_random(content)
        if isinstance(content, str):
            return self.add_bytes(content.encode())
        if isinstance(content, bytes | bytearray | memoryview):
            return self.add_bytes(bytes(content))
        raise TypeError(f"file content must be bytes, str or int, not {type(content).__name__}")

    def blob(self, sha256: str) -> Blob | None:
        """Return the blob of that sha256, or ``None``."""
        return self._blobs.get(sha256)

    # -- repos --------------------------------------------------------------------------

    def find_repo(self, repo_id: str, repo_type: str = "model") -> Repo | None:
        """Return the repo, or ``None`` if it does not exist."""
        return self._repos.get((repo_type, repo_id))

    def get_repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        """Return the repo.

        Raises:
            KeyError: no such repo.
        """
        repo = self.find_repo(repo_id, repo_type)
        if repo is None:
            raise KeyError(f"no {repo_type} repo {repo_id!r}")
        return repo

    def repos(self) -> list[Repo]:
        """Return every repo."""
        return list(self._repos.values())

    def create_repo(
        self,
        repo_id: str,
        files: Mapping[str, FileContent],
        *,
        repo_type: str = "model",
        lfs_threshold: int | None = None,
        lfs_patterns: Sequence[str] | None = None,
        gated: bool | str = False,
        private: bool = False,
        branch: str = "main",
        message: str = "Initial commit",
    ) -> str:
        """Create a repo whose first commit on ``branch`` holds ``files``.

        Args:
            repo_id: ``name`` or ``org/name``.
            files: path -> bytes, text, or an int (that many random bytes, streamed to disk).
            repo_type: ``model``, ``dataset`` or ``space``.
            lfs_threshold: files this large or larger are LFS (default: the builder's).
            lfs_patterns: globs on the file name that are always LFS (default: the builder's).
            gated: ``False``, ``True`` (= ``"auto"``), ``"auto"`` or ``"manual"``.
            private: private repos answer RepoNotFound unless the token is accepted.
            branch: name of the first branch.
            message: commit message.

        Returns:
            The 40-hex sha of the first commit.

        Raises:
            ValueError: invalid repo id or type, or the repo already exists.
        """
        if not _REPO_ID_RE.fullmatch(repo_id) or "--" in repo_id:
            raise ValueError(f"invalid repo id {repo_id!r}")
        if repo_type not in ("model", "dataset", "space"):
            raise ValueError(f"invalid repo type {repo_type!r}")
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise ValueError(f"{repo_type} repo {repo_id!r} already exists")
            repo = Repo(
                repo_id=repo_id,
                repo_type=repo_type,
                private=private,
                gated="auto" if gated is True else gated,
                lfs_threshold=self.lfs_threshold if lfs_threshold is None else lfs_threshold,
                lfs_patterns=self.lfs_patterns if lfs_patterns is None else tuple(lfs_patterns),
                created_at=datetime.now(UTC),
                default_branch=branch,
            )
            self._repos[(repo_type, repo_id)] = repo
        try:
            return self._commit(repo, None, files, (), branch, message)
        except BaseException:
            with self._lock:
                del self._repos[(repo_type, repo_id)]
            raise

    def commit(
        self,
        repo_id: str,
        files_changed: Mapping[str, FileContent] | None = None,
        deleted: Iterable[str] = (),
        branch: str = "main",
        *,
        repo_type: str = "model",
        message: str = "Update files",
    ) -> str:
        """Add a commit on ``branch``: unchanged files keep their blob.

        Args:
            repo_id: an existing repo.
            files_changed: path -> new content (added or replaced).
            deleted: paths to remove.
            branch: an existing branch; it moves to the new commit.
            repo_type: the repo's type.
            message: commit message.

        Returns:
            The sha of the new commit.

        Raises:
            KeyError: unknown repo, branch or deleted path.
        """
        repo = self.get_repo(repo_id, repo_type)
        if branch not in repo.branches:
            raise KeyError(f"no branch {branch!r} in {repo_id!r}")
        return self._commit(
            repo, repo.branches[branch], files_changed or {}, deleted, branch, message
        )

    def _commit(
        self,
        repo: Repo,
        parent: str | None,
        changes: Mapping[str, FileContent],
        deleted: Iterable[str],
        branch: str,
        message: str,
    ) -> str:
        """Store contents (outside the lock: may be large), then add the commit, move the branch."""
        new_entries: dict[str, FileEntry] = {}
        for path, content in changes.items():
            _check_path(path)
            blob = self.add_content(content)
            new_entries[path] = FileEntry.make(path, blob, repo.is_lfs(path, blob.size))
        with self._lock:
            files = dict(repo.commits[parent].files) if parent else {}
            for path in deleted:
                del files[path]
            files.update(new_entries)
            date = datetime.now(UTC)
            digest = hashlib.sha1(
                "\n".join(
                    [parent or "", message, date.isoformat(), uuid.uuid4().hex]
                    + [f"{p} {e.oid}" for p, e in sorted(files.items())]
                ).encode()
            ).hexdigest()
            repo.commits[digest] = Commit(digest, files, parent, message, date)
            repo.branches[branch] = digest
            return digest

    def create_branch(
        self,
        repo_id: str,
        branch: str,
        revision: str = "main",
        *,
        repo_type: str = "model",
        overwrite: bool = False,
    ) -> str:
        """Create (or with ``overwrite``, move) ``branch`` at ``revision``.

        Branches named ``refs/pr/N`` are listed as pull requests by the refs API.

        Returns:
            The sha the branch points to.

        Raises:
            KeyError: unknown repo or revision.
            ValueError: the branch exists and ``overwrite`` is false.
        """
        return self._set_ref(repo_id, repo_type, "branches", branch, revision, overwrite)

    def create_tag(
        self,
        repo_id: str,
        tag: str,
        revision: str = "main",
        *,
        repo_type: str = "model",
        overwrite: bool = False,
    ) -> str:
        """Create (or with ``overwrite``, move) ``tag`` at ``revision`` (a sha, branch or tag).

        Returns:
            The sha the tag points to.

        Raises:
            KeyError: unknown repo or revision.
            ValueError: the tag exists and ``overwrite`` is false.
        """
        return self._set_ref(repo_id, repo_type, "tags", tag, revision, overwrite)

    def _set_ref(
        self, repo_id: str, repo_type: str, kind: str, name: str, revision: str, overwrite: bool
    ) -> str:
        repo = self.get_repo(repo_id, repo_type)
        with self._lock:
            refs: dict[str, str] = getattr(repo, kind)
            if name in refs and not overwrite:
                raise ValueError(f"{'tag' if kind == 'tags' else 'branch'} {name!r} already exists")
            commit = repo.resolve(revision)
            if commit is None:
                raise KeyError(f"no revision {revision!r} in {repo_id!r}")
            refs[name] = commit.sha
            return commit.sha

    def delete_ref(self, repo_id: str, name: str, *, repo_type: str = "model") -> None:
        """Delete a branch or tag named ``name``.

        Raises:
            KeyError: unknown repo or ref.
        """
        repo = self.get_repo(repo_id, repo_type)
        with self._lock:
            if name in repo.branches:
                del repo.branches[name]
            else:
                del repo.tags[name]

    def file_entry(
        self, repo_id: str, path: str, revision: str = "main", *, repo_type: str = "model"
    ) -> FileEntry:
        """Return the entry of ``path`` at ``revision``.

        Raises:
            KeyError: unknown repo, revision or path.
        """
        commit = self.get_repo(repo_id, repo_type).resolve(revision)
        if commit is None:
            raise KeyError(f"no revision {revision!r} in {repo_id!r}")
        return commit.files[path]

    def file_bytes(
        self, repo_id: str, path: str, revision: str = "main", *, repo_type: str = "model"
    ) -> bytes:
        """Return the content of ``path`` at ``revision`` (for assertions).

        Raises:
            KeyError: unknown repo, revision or path.
        """
        return self.file_entry(repo_id, path, revision, repo_type=repo_type).blob.read()


def _check_path(path: str) -> None:
    """Raise ValueError for paths git and the Hub would refuse."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid file path {path!r}")


def _build_tree(files: Mapping[str, FileEntry]) -> dict[str, list[TreeEntry]]:
    """Map each directory ("" = root) to its sorted direct children, with git-like tree oids."""
    subdirs: dict[str, set[str]] = {"": set()}
    direct_files: dict[str, list[FileEntry]] = {}
    for path, entry in files.items():
        parent = path.rpartition("/")[0]
        direct_files.setdefault(parent, []).append(entry)
        # Link every ancestor directory to its own parent, up to one already linked.
        while parent:
            grand = parent.rpartition("/")[0]
            siblings = subdirs.setdefault(grand, set())
            if parent in siblings:
                break
            siblings.add(parent)
            subdirs.setdefault(parent, set())
            parent = grand
    oids: dict[str, str] = {}
    children: dict[str, list[TreeEntry]] = {}
    # Deepest directories first, so that a tree's oid can hash its subtrees' oids.
    for directory in sorted(subdirs, key=lambda d: d.count("/") + (d != ""), reverse=True):
        rows = [TreeEntry(f.path, f.oid, f) for f in direct_files.get(directory, [])]
        rows += [TreeEntry(sub, oids[sub]) for sub in subdirs[directory]]
        rows.sort(key=lambda e: e.path)
        children[directory] = rows
        oids[directory] = hashlib.sha1(
            "".join(f"{'tree' if r.is_dir else 'blob'} {r.oid} {r.path}\n" for r in rows).encode()
        ).hexdigest()
    return children
