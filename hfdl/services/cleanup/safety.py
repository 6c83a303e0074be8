"""Building blocks of ``hfdl cleanup`` holding its safety rules (see :mod:`.clean`).

Each works on plain paths and records: what a deletion plan may contain (only what hfdl
recorded, inside the model's folder), whether a partial download is in use, how freed bytes are
attributed to revisions, and removing a removed model's empty folders.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING

from hfdl.errors import UnsafePath

if TYPE_CHECKING:
    from huggingface_hub import CachedRepoInfo, CachedRevisionInfo, DeleteCacheStrategy

    from hfdl.hub.cache import RepoCache
    from hfdl.store import Store


def attribute_bytes(revisions: list[CachedRevisionInfo], going: set[Path]) -> dict[str, int]:
    """Split the bytes of the blobs that go between the revisions removed, oldest first.

    A blob that lives inside a removed snapshot (a copy, not a symlink) goes with it.
    """
    counted: set[Path] = set()
    sizes: dict[str, int] = {}
    ordered = sorted(revisions, key=lambda revision: revision.snapshot_path.lstat().st_mtime)
    for revision in ordered:
        total = 0
        for file in revision.files:
            inside = revision.snapshot_path in file.blob_path.parents
            if file.blob_path in counted or not (inside or file.blob_path in going):
                continue
            counted.add(file.blob_path)
            total += file.size_on_disk
        sizes[revision.commit_hash] = total
    return sizes


def only_recorded(
    strategy: DeleteCacheStrategy,
    repo: CachedRepoInfo,
    commits: set[str],
    repo_cache: RepoCache,
    store: Store,
) -> DeleteCacheStrategy:
    """Narrow ``huggingface_hub``'s deletion plan to what hfdl recorded, inside the model's folder.

    The library deletes a whole repository folder when every revision goes (whatever else is
    in it), and every blob the removed snapshots link to. hfdl deletes only the snapshots and
    refs of the removed revisions and the blobs it recorded for them (``Store.files_for``),
    each path checked by :meth:`RepoCache.contained`.

    Raises:
        UnsafePath: a path of the plan is not inside the model's folder (nothing is deleted).
    """
    recorded: set[str] = set()
    for commit in commits:
        for record in store.files_for(repo_cache.repo_id, commit):
            with contextlib.suppress(UnsafePath):  # a bad record names no blob to delete
                recorded.add(os.path.realpath(repo_cache.blob_path(record.blob_name)))
    snapshots, refs, blobs = set(strategy.snapshots), set(strategy.refs), set(strategy.blobs)
    if strategy.repos:
        doomed = [revision for revision in repo.revisions if revision.commit_hash in commits]
        snapshots |= {revision.snapshot_path for revision in doomed}
        refs |= {repo.repo_path / "refs" / ref for revision in doomed for ref in revision.refs}
        blobs |= {file.blob_path for revision in doomed for file in revision.files}
    blobs = {blob for blob in blobs if os.path.realpath(blob) in recorded}
    for path in snapshots | refs:
        repo_cache.contained(path)
    for path in blobs:
        repo_cache.contained(path, follow=True)
    return dataclasses.replace(
        strategy,
        repos=frozenset(),
        snapshots=frozenset(snapshots),
        refs=frozenset(refs),
        blobs=frozenset(blobs),
    )


def lock_held(lock_path: Path) -> bool:
    """Whether another process holds the ``huggingface_hub`` (filelock) lock of a blob.

    Opened without ``O_CREAT``: cleanup creates no lock files. A lock file that cannot be
    opened belongs to someone else, so it counts as held.
    """
    try:
        descriptor = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return True
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)


def remove_empty_directories(storage: Path) -> None:
    """Remove a removed model's folder when nothing but empty directories is left in it."""
    if not storage.is_dir():
        return
    # Bottom-up, so that a folder is empty by the time its turn comes.
    for directory, _subdirectories, _files in os.walk(storage, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(directory)  # fails, as wanted, on anything not empty
