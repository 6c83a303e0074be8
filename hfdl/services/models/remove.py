"""``hfdl models remove``: take a model out of the catalog and, with ``--purge``, off the disk."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hfdl.catalog import Catalog, load_catalog
from hfdl.catalog import remove_model as catalog_remove
from hfdl.errors import StoreError
from hfdl.hub.cache import RepoCache
from hfdl.services.models.views import require_entry

if TYPE_CHECKING:
    from hfdl.config import Settings


@dataclass(frozen=True)
class RemoveResult:
    """What ``models remove`` did. ``bytes_freed`` is 0 unless files were purged."""

    name: str
    catalog_path: Path
    purged: bool
    bytes_freed: int
    cache_path: Path
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON types (``models remove --json``)."""
        return {
            "name": self.name,
            "catalog_path": str(self.catalog_path),
            "purged": self.purged,
            "bytes_freed": self.bytes_freed,
            "cache_path": str(self.cache_path),
            "notes": list(self.notes),
        }


def remove_model(settings: Settings, name: str, *, purge: bool = False) -> RemoveResult:
    """Remove a model from the catalog; its history stays in the database.

    With ``purge``, also delete its folder from the cache (``refs``, ``snapshots``,
    ``blobs``, partial downloads), but only when hfdl manages it, i.e. the database has
    recorded hfdl downloading it (a commit on disk, or an attempt): a folder that
    ``huggingface_hub`` or another tool put in the same cache is left alone. Every
    repository has a folder of its own and the catalog forbids two entries for one
    repository, so no other entry's files are touched. Purging takes the run lock, so that
    no run is writing into the folder meanwhile.

    Args:
        settings: the effective configuration.
        name: the entry's exact name.
        purge: delete the downloaded files too.

    Returns:
        What was removed and how many bytes were freed.

    Raises:
        ModelNotFound: no entry is called ``name``.
        CatalogNotFound, CatalogError: the catalog is missing or invalid; nothing is written.
        LockedError: ``purge`` while a run is working (exit 75); nothing is written.
        StoreError: the catalog was written but the database could not be updated.
        OSError: the folder could not be deleted (completely).
    """
    from hfdl.engine.lock import RunLock

    catalog = load_catalog(settings.models_file)
    require_entry(catalog, name)
    repo_cache = RepoCache(settings.download_directory, name)
    lock = RunLock(settings.state_directory) if purge else contextlib.nullcontext()
    with lock:
        written = catalog_remove(settings.models_file, name)
        managed = _forget(settings, written, name, purged=purge)
        notes: list[str] = []
        bytes_freed = 0
        purged = False
        if purge and not managed:
            notes.append(
                f"the state database has no record of hfdl downloading {name}: its cache"
                " folder, if any, is left alone"
            )
        elif purge and repo_cache.storage.is_symlink():
            notes.append(f"{repo_cache.storage} is a symbolic link: left alone")
        elif purge and repo_cache.storage.is_dir():
            # Through RepoCache.contained, as every deletion in the cache; rmtree removes the
            # symlinks inside the folder, never what they point at.
            bytes_freed = _delete_tree(repo_cache.contained(repo_cache.storage))
            locks = repo_cache.contained(repo_cache.locks)
            if not locks.is_symlink():
                shutil.rmtree(locks, ignore_errors=True)
            purged = True
        elif purge:
            notes.append(f"nothing to purge: {repo_cache.storage} does not exist")
    return RemoveResult(
        name=name,
        catalog_path=written.path,
        purged=purged,
        bytes_freed=bytes_freed,
        cache_path=repo_cache.storage,
        notes=tuple(notes),
    )


def _forget(settings: Settings, catalog: Catalog, name: str, *, purged: bool) -> bool:
    """Sync the removal into the database; return whether hfdl downloaded the model.

    Every catalog entry enters the database at the first sync, downloaded or not, so knowing
    the name is not enough: hfdl manages the folder only if it recorded a download (a commit
    on disk) or at least one attempt (which may have left partial files). When the files are
    about to be purged, the model's state says so (pending, no commit, nothing on disk): if
    it is listed again later, the next run downloads it at once instead of trusting a
    snapshot that is gone.
    """
    from hfdl.store import Store

    try:
        with Store(settings.database, host_id=settings.host_id) as store:
            row = store.get_model(name)
            managed = row is not None and (
                row.commit_sha is not None or bool(store.attempts_for_model(name, limit=1))
            )
            store.sync_catalog(catalog)
            if managed and purged:
                store.set_model_status(name, "pending", commit_sha=None, bytes_on_disk=None)
            return managed
    except StoreError as error:
        raise StoreError(
            f"{name} is removed from the catalog {catalog.path}, but the state database was"
            f" not updated (and no file was purged): {error.message}",
            hint="the next 'hfdl run' marks it removed; purge its cache folder by hand",
        ) from error


def _delete_tree(folder: Path) -> int:
    """Delete ``folder`` and return the bytes its regular files took (symlinks not followed)."""
    total = 0
    for directory, _subdirectories, file_names in os.walk(folder):
        for file_name in file_names:
            with contextlib.suppress(OSError):
                status = os.lstat(os.path.join(directory, file_name))
                if not os.path.islink(os.path.join(directory, file_name)):
                    total += status.st_size
    shutil.rmtree(folder)
    return total
