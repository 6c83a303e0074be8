"""Cleanup of single files: what a model's narrowed patterns no longer select, and orphan blobs.

Part of ``hfdl cleanup`` (:mod:`hfdl.services.cleanup.clean` calls :func:`clean_unwanted_files` for
each managed model, after its superseded revisions). After a model's ``allow_patterns`` /
``ignore_patterns`` were narrowed (``hfdl models update --include ...``, or an edit of
``models.json``), the snapshot of its commit still links the files no longer wanted, and their
blobs take space: ``models list`` and ``status`` count them (they report what the model's
folder holds), and cleanup is what removes them:

* an entry of the model's commit that hfdl recorded (``Store.files_for``) and that the
  catalog's current patterns do not select is unlinked, and its record dropped (so that
  ``models verify`` and ``models show`` stop expecting it);
* a blob hfdl recorded for the model (at any commit) that no snapshot links any more is
  deleted. Blobs hfdl did not record (another tool's) stay, linked or not.

No age applies: narrowing the patterns is the request to drop those files.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from hfdl.errors import UnsafePath
from hfdl.services.cleanup.report import (
    KIND_BLOB,
    KIND_FILE,
    REASON_UNLINKED,
    REASON_UNSELECTED,
    RemovedItem,
)

if TYPE_CHECKING:
    from hfdl.hub.cache import RepoCache
    from hfdl.services.cleanup.clean import _ModelCleaner
    from hfdl.store import FileRecord


def clean_unwanted_files(cleaner: _ModelCleaner) -> None:
    """Unlink the unselected entries of one model's commit, then free its orphan blobs.

    Args:
        cleaner: the model's cleaner, after ``clean_revisions`` (whose ``doomed_snapshots``
            and ``going_blobs`` say what that step removes, so a dry run counts each byte
            once and reports what the real run frees). Items go to ``cleaner.report``.
    """
    report, store, repo_cache, name = (
        cleaner.report,
        cleaner.store,
        cleaner.repo_cache,
        cleaner.row.name,
    )
    unlinking: dict[Path, FileRecord] = {}
    for record in unselected_records(cleaner):
        try:
            pointer = repo_cache.pointer_path(record.commit_sha, record.path)
        except UnsafePath as error:
            report.warnings.append(f"{name}: {record.path} left alone: {error}")
            continue
        if pointer.is_symlink() and not _links_to(pointer, repo_cache, record):
            report.warnings.append(f"{pointer} left alone: it does not link to hfdl's blob")
            continue
        unlinking[pointer] = record
    linked = linked_blobs(repo_cache, cleaner.doomed_snapshots, set(unlinking))
    # A blob a wanted commit still records as selected stays even when nothing links it (a
    # snapshot damaged by hand): the next run links it again instead of downloading it.
    dropped = {(record.commit_sha, record.path) for record in unlinking.values()}
    protected = {
        record.blob_name
        for commit in cleaner.wanted_commits()
        for record in store.files_for(name, commit)
        if (record.commit_sha, record.path) not in dropped
    }
    freed: dict[str, int] = {}  # real path of each blob that goes -> its size
    for blob_name in sorted(store.recorded_blob_names(name) - protected):
        try:
            blob = repo_cache.blob_path(blob_name)
            if not blob.is_file() or blob.is_symlink():
                continue
            size = blob.lstat().st_size
        except (UnsafePath, OSError):
            continue
        real = os.path.realpath(blob)
        if real not in linked and real not in cleaner.going_blobs:
            freed[real] = size
    orphans = dict(freed)  # the blobs not attributed to an unlinked entry below
    for pointer, record in unlinking.items():
        age = cleaner.age_days(pointer) if pointer.is_symlink() else 0.0
        if not report.dry_run:
            with contextlib.suppress(FileNotFoundError):
                pointer.unlink()
            store.forget_files(name, record.commit_sha, [record.path])
        blob_real = os.path.realpath(repo_cache.blobs / record.blob_name)
        report.removed.append(
            RemovedItem(
                name,
                record.commit_sha,
                pointer,
                REASON_UNSELECTED,
                age,
                orphans.pop(blob_real, 0),  # its blob goes with it unless something links it
                kind=KIND_FILE,
            )
        )
    for real, size in sorted(freed.items()):
        path = Path(real)
        age = cleaner.age_days(path)
        if not report.dry_run:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as error:
                report.warnings.append(f"cannot remove {path}: {error.strerror}")
                continue
        if real in orphans:  # else reported with the entry that linked it
            report.removed.append(
                RemovedItem(name, None, path, REASON_UNLINKED, age, size, kind=KIND_BLOB)
            )


def unselected_records(cleaner: _ModelCleaner) -> list[FileRecord]:
    """The files recorded for the model's commit that the catalog's patterns do not select.

    Empty for a removed model, a model the catalog does not list, one without a commit, and
    one without patterns (every file is wanted).
    """
    model, row = cleaner.catalog_model, cleaner.row
    if cleaner.removed or model is None or row.commit_sha is None:
        return []
    if not model.allow_patterns and not model.ignore_patterns:
        return []
    from huggingface_hub.utils import filter_repo_objects  # the rule snapshot_download uses

    records = cleaner.store.files_for(row.name, row.commit_sha)
    selected = {
        record.path
        for record in filter_repo_objects(
            records,
            allow_patterns=list(model.allow_patterns) if model.allow_patterns else None,
            ignore_patterns=list(model.ignore_patterns) if model.ignore_patterns else None,
            key=lambda record: record.path,
        )
    }
    return [record for record in records if record.path not in selected]


def _links_to(pointer: Path, repo_cache: RepoCache, record: FileRecord) -> bool:
    """Whether a snapshot entry resolves to the blob recorded for it."""
    return os.path.realpath(pointer) == os.path.realpath(repo_cache.blobs / record.blob_name)


def linked_blobs(repo_cache: RepoCache, skip_dirs: set[Path], skip_entries: set[Path]) -> set[str]:
    """Real paths of the files the repository's snapshots link to (or hold).

    Args:
        repo_cache: the repository.
        skip_dirs: snapshot folders being removed; what they link does not count.
        skip_entries: entries being unlinked; what they link does not count.
    """
    linked: set[str] = set()
    for directory, subdirectories, names in os.walk(repo_cache.storage / "snapshots"):
        subdirectories[:] = [
            name for name in subdirectories if Path(directory, name) not in skip_dirs
        ]
        for entry_name in names:
            entry = Path(directory, entry_name)
            if entry not in skip_entries:
                linked.add(os.path.realpath(entry))
    return linked
