"""``hfdl cleanup``: remove from the Hugging Face cache what hfdl downloaded and no longer needs.

Four kinds of things go, and nothing else:

1. **Superseded revisions** of models still in the catalog: snapshots hfdl downloaded that the
   model no longer wants and that are older than ``settings.cleanup_age_days`` of
   ``models.json``.
2. **Removed models**: every revision hfdl downloaded of a model the database marks removed
   (``hfdl run`` marks a model removed when it disappears from ``models.json``). No age
   applies: taking a model out of the catalog is the request to drop it.
3. **Orphaned partial downloads** (``blobs/*.incomplete``) of the repositories hfdl manages:
   those of removed models, of models whose download completed (nothing is left to resume),
   and those nobody has written for ``cleanup_age_days``. A partial of an unfinished download
   is kept, so that the next run resumes it instead of starting again.
4. **Files the patterns no longer select** (after ``allow_patterns``/``ignore_patterns`` were
   narrowed): their entries in the wanted commit's snapshot, and blobs hfdl recorded that
   no snapshot links any more (:mod:`hfdl.services.cleanup.files`). No age applies.

Safety rules, in the order they are checked:

* Only repositories the database knows are looked at, and within them only revisions hfdl
  recorded files for (``Store.files_for``): in a cache shared with other users and tools,
  their models, and other revisions of the same models, stay.
* A revision the catalog still wants is never removed: the snapshot of the model's
  ``commit_sha`` in the database, and whatever ``refs/<revision>`` points at, for the revision
  the database and the current catalog name (they differ until a run syncs an edited file).
* A model that is back in ``models.json`` counts as managed even when the database still
  marks it removed; a model the catalog no longer lists but the database does not yet mark
  removed keeps its wanted revision until a run has synced the catalog. Cleanup itself never
  syncs, so that ``--dry-run`` changes nothing at all.
* A model still in the catalog always keeps at least its newest snapshot.
* A partial download whose ``huggingface_hub`` lock is held by another process is in use.

**Age** of a revision is the time since its snapshot directory was last modified: when hfdl
created it or linked a file into it. The database's attempts are not used because they are a
bounded history (and absent for revisions downloaded before hfdl recorded them), while the
snapshot directory is never touched again once a newer revision is downloaded. So
``cleanup_age_days`` counts from when a revision was downloaded, not from when it was
superseded: it keeps every revision downloaded in the last N days. The age of a partial
download is the time since its file was last written.

Deletions go through ``huggingface_hub``'s cache API (``scan_cache_dir``, then
``HFCacheInfo.delete_revisions(...).execute()``), which removes snapshots and refs before the
blobs they point to and keeps blobs that a remaining revision still uses. The caller must
hold the run lock (:func:`run_cleanup` takes it) so that no download writes meanwhile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hfdl.errors import UnsafePath
from hfdl.hub.cache import INCOMPLETE_SUFFIX, PARTS_SIDECAR_SUFFIX, RepoCache, repo_folder_name
from hfdl.services.cleanup.report import (
    REASON_FOREIGN,
    REASON_IN_USE,
    REASON_MODEL_COMPLETE,
    REASON_MODEL_REMOVED,
    REASON_NEWEST,
    REASON_RESUMABLE,
    REASON_SUPERSEDED,
    REASON_WANTED,
    CleanupReport,
    KeptItem,
    RemovedItem,
)
from hfdl.services.cleanup.safety import (
    attribute_bytes,
    lock_held,
    only_recorded,
    remove_empty_directories,
)

if TYPE_CHECKING:
    from huggingface_hub import CachedRepoInfo, CachedRevisionInfo, HFCacheInfo

    from hfdl.catalog import Catalog, CatalogModel
    from hfdl.config import Settings
    from hfdl.store import ModelRow, Store

SECONDS_PER_DAY = 86400.0

__all__ = ["CleanupReport", "KeptItem", "RemovedItem", "cleanup", "run_cleanup"]


def run_cleanup(settings: Settings, *, dry_run: bool, now: datetime | None = None) -> CleanupReport:
    """``hfdl cleanup``: take the run lock without waiting, then clean up.

    Args:
        settings: the effective configuration.
        dry_run: report what would be removed; remove nothing and write nothing.
        now: the time ages are measured at (default: now; timezone-aware).

    Returns:
        The report.

    Raises:
        LockedError: a run holds the lock (exit 75); nothing was looked at.
        CatalogNotFound, CatalogError: the catalog cannot be read (it gives the age limit).
        StoreError: the database cannot be opened.
        OSError: the cache cannot be scanned (permissions).
    """
    from hfdl.catalog import load_catalog
    from hfdl.engine.lock import RunLock
    from hfdl.errors import LockedError

    catalog = load_catalog(settings.models_file)
    lock = RunLock(settings.state_directory)
    try:
        lock.acquire()
    except LockedError as error:
        raise LockedError(
            error.message,
            hint="run cleanup when the run has finished: it never works while a run may be "
            "writing to the cache",
        ) from error
    try:
        if not settings.database_exists():
            # No database: hfdl has downloaded nothing here. Opening it would create it.
            return _empty_report(settings, catalog, dry_run)
        from hfdl.store import Store

        with Store(settings.database, host_id=settings.host_id) as store:
            return cleanup(settings, catalog, store, dry_run=dry_run, now=now)
    finally:
        lock.release()


def _empty_report(settings: Settings, catalog: Catalog, dry_run: bool) -> CleanupReport:
    return CleanupReport(
        dry_run=dry_run,
        cache_dir=settings.download_directory,
        cleanup_age_days=catalog.settings.cleanup_age_days,
    )


def cleanup(
    settings: Settings,
    catalog: Catalog,
    store: Store,
    *,
    dry_run: bool,
    now: datetime | None = None,
) -> CleanupReport:
    """Remove superseded revisions, removed models and orphaned partials (see the module doc).

    The caller must hold the run lock: ``hfdl run`` calls this at its end when
    ``settings.auto_cleanup`` is on; :func:`run_cleanup` takes the lock for ``hfdl cleanup``.

    Args:
        settings: the effective configuration (``download_directory``).
        catalog: the current catalog (``cleanup_age_days``, and the models it still wants).
        store: the state database: which models hfdl manages, their wanted commit, and which
            revisions hfdl downloaded.
        dry_run: report only; remove nothing and write nothing.
        now: the time ages are measured at (default: now; timezone-aware).

    Returns:
        The report. A removed model whose wanted commit was removed is set back to
        ``pending`` with no commit (not in a dry run), so re-adding it downloads it again.

    Raises:
        OSError: the cache directory cannot be scanned.
    """
    moment = (now or datetime.now(UTC)).timestamp()
    report = _empty_report(settings, catalog, dry_run)
    rows = store.list_models(include_removed=True)
    if not rows or not settings.download_directory.is_dir():
        return report
    from huggingface_hub import scan_cache_dir

    try:
        cache_info = scan_cache_dir(settings.download_directory)
    except OSError as error:
        # In a shared cache, one unreadable folder of another user stops the whole scan.
        raise OSError(f"cannot scan the cache {settings.download_directory}: {error}") from error
    assert cache_info.cache_dir is not None  # scan_cache_dir always records it
    report.cache_dir = cache_info.cache_dir
    scanned = {repo.repo_id: repo for repo in cache_info.repos if repo.repo_type == "model"}
    for row in rows:
        catalog_model = catalog.get(row.name)
        cleaner = _ModelCleaner(
            report=report,
            store=store,
            row=row,
            catalog_model=catalog_model,
            repo_cache=RepoCache(cache_info.cache_dir, row.name),
            removed=row.removed and catalog_model is None,
            moment=moment,
        )
        cleaner.clean_partials()
        repo = scanned.get(row.name)
        if repo is not None:
            cleaner.clean_revisions(cache_info, repo)
            cleaner.clean_unwanted_files()
        elif cleaner.repo_cache.storage.exists():
            folder = repo_folder_name(row.name)
            for warning in cache_info.warnings:
                if folder in str(warning):
                    report.warnings.append(f"{row.name}: revisions left alone: {warning}")
        if cleaner.removed and not dry_run:
            remove_empty_directories(cleaner.repo_cache.storage)
        elif not dry_run and row.commit_sha is not None:
            # Keep `models list`/`status` equal to what the folder now holds.
            on_disk = cleaner.repo_cache.bytes_on_disk()
            if on_disk != row.bytes_on_disk:
                store.set_bytes_on_disk(row.name, on_disk)
    return report


@dataclass
class _ModelCleaner:
    """Cleans one model's repository; appends what it does to ``report``."""

    report: CleanupReport
    store: Store
    row: ModelRow
    catalog_model: CatalogModel | None
    repo_cache: RepoCache
    removed: bool
    moment: float
    # Set by clean_revisions: the snapshots removed (or that a dry run would remove), and the
    # real paths of the blobs removed with them.
    doomed_snapshots: set[Path] = dataclasses.field(default_factory=set)
    going_blobs: set[str] = dataclasses.field(default_factory=set)

    def age_days(self, path: Path) -> float:
        """Days since ``path`` (not what it links to) was last modified; 0 when it is gone."""
        try:
            return max(0.0, (self.moment - path.lstat().st_mtime) / SECONDS_PER_DAY)
        except FileNotFoundError:
            return 0.0

    def _keep(self, commit_sha: str | None, path: Path, reason: str) -> None:
        self.report.kept.append(KeptItem(self.row.name, commit_sha, path, reason))

    def clean_partials(self) -> None:
        """Remove the model's orphaned ``*.incomplete`` files; keep resumable ones."""
        try:
            partials = sorted(self.repo_cache.blobs.glob(f"*{INCOMPLETE_SUFFIX}"))
        except OSError:
            return
        limit = self.report.cleanup_age_days
        for path in partials:
            try:
                age = self.age_days(path)
                size = path.lstat().st_size
            except OSError:
                continue  # gone meanwhile
            if self.removed:
                reason = REASON_MODEL_REMOVED
            elif self.row.status == "completed":
                reason = REASON_MODEL_COMPLETE
            elif age >= limit:
                reason = f"not written for {limit} days or more"
            else:
                self._keep(None, path, REASON_RESUMABLE)
                continue
            etag = path.name.removesuffix(INCOMPLETE_SUFFIX)
            try:
                # Only hex-named partials (what hfdl writes), inside the model's folders.
                lock_path = self.repo_cache.lock_path(etag)
                self.repo_cache.contained(path)
            except UnsafePath as error:
                self.report.warnings.append(f"{path.name} left alone: {error}")
                continue
            if lock_held(lock_path):
                self._keep(None, path, REASON_IN_USE)
                continue
            if not self.report.dry_run:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                except OSError as error:
                    self.report.warnings.append(f"cannot remove {path}: {error.strerror}")
                    continue
                # A ranged transfer's progress record is worthless without its partial.
                sidecar = path.with_name(path.name + PARTS_SIDECAR_SUFFIX)
                with contextlib.suppress(OSError, UnsafePath):
                    self.repo_cache.contained(sidecar).unlink(missing_ok=True)
            self.report.removed.append(RemovedItem(self.row.name, None, path, reason, age, size))

    def wanted_commits(self) -> set[str]:
        """The commits the catalog still wants for this model (empty for a removed model)."""
        if self.removed:
            return set()
        wanted = {self.row.commit_sha} if self.row.commit_sha else set()
        revisions = {self.row.revision}
        if self.catalog_model is not None:
            revisions.add(self.catalog_model.revision)
        for revision in revisions:
            commit = self.repo_cache.read_ref(revision)
            if commit is not None:
                wanted.add(commit)
        return wanted

    def clean_revisions(self, cache_info: HFCacheInfo, repo: CachedRepoInfo) -> None:
        """Remove the model's unwanted revisions through ``huggingface_hub``'s cache API."""
        wanted = self.wanted_commits()
        limit = self.report.cleanup_age_days
        doomed: list[tuple[CachedRevisionInfo, float]] = []
        # Newest first, so that "keep the newest snapshot" below is the first one.
        by_age = sorted(
            ((revision, self.age_days(revision.snapshot_path)) for revision in repo.revisions),
            key=lambda pair: (pair[1], pair[0].commit_hash),
        )
        for revision, age in by_age:
            sha, path = revision.commit_hash, revision.snapshot_path
            if sha in wanted:
                self._keep(sha, path, REASON_WANTED)
            elif not self.store.files_for(self.row.name, sha):
                self._keep(sha, path, REASON_FOREIGN)
            elif not self.removed and age < limit:
                self._keep(sha, path, f"downloaded less than {limit} days ago")
            else:
                doomed.append((revision, age))
        if not self.removed and doomed and len(doomed) == len(repo.revisions):
            newest, _ = doomed.pop(0)
            self._keep(newest.commit_hash, newest.snapshot_path, REASON_NEWEST)
        if not doomed:
            return
        # A scan restricted to this repository: delete_revisions() matches commits across
        # every repository it is given, and another repository may hold the same commit.
        only_this_repo = dataclasses.replace(cache_info, repos=frozenset({repo}))
        commits = [revision.commit_hash for revision, _ in doomed]
        strategy = only_this_repo.delete_revisions(*commits)
        try:
            strategy = only_recorded(strategy, repo, set(commits), self.repo_cache, self.store)
        except UnsafePath as error:
            self.report.warnings.append(f"{self.row.name}: revisions left alone: {error}")
            return
        going = set(strategy.blobs)
        if repo.repo_path in strategy.repos:
            going |= {file.blob_path for revision in repo.revisions for file in revision.files}
        freed_sizes = attribute_bytes([revision for revision, _ in doomed], going)
        self.doomed_snapshots = {revision.snapshot_path for revision, _ in doomed}
        self.going_blobs = {os.path.realpath(blob) for blob in going}
        if not self.report.dry_run:
            strategy.execute()
        reason = REASON_MODEL_REMOVED if self.removed else REASON_SUPERSEDED
        removed_commits: set[str] = set()
        for revision, age in sorted(doomed, key=lambda pair: -pair[1]):
            if not self.report.dry_run and revision.snapshot_path.exists():
                self.report.warnings.append(
                    f"cannot remove {revision.snapshot_path} (see the log for why)"
                )
                continue
            removed_commits.add(revision.commit_hash)
            self.report.removed.append(
                RemovedItem(
                    self.row.name,
                    revision.commit_hash,
                    revision.snapshot_path,
                    reason,
                    age,
                    freed_sizes[revision.commit_hash],
                )
            )
        if self.removed and not self.report.dry_run and self.row.commit_sha in removed_commits:
            # Its files are gone: if it comes back to the catalog, download it again.
            self.store.set_model_status(self.row.name, "pending", commit_sha=None, bytes_on_disk=0)

    def clean_unwanted_files(self) -> None:
        """Unlink the entries the patterns no longer select; free blobs nothing links."""
        from hfdl.services.cleanup.files import clean_unwanted_files

        clean_unwanted_files(self)
