"""Verifying what is on disk against what was recorded at download time, and repairing it.

Each file of a model's recorded commit (``Store.files_for``) is checked in the cache: its blob
exists, has the recorded size and hashes to the recorded digest (sha256 for LFS files, the git
blob sha1 otherwise), and the snapshot entry points at it. Everything needed is in the state
database, so verification works offline. With ``repair``, only the files found bad are fetched
again (by their recorded commit and path: no API request), verified while streaming, linked,
and recorded anew.

:func:`verify_models` is the engine (``hfdl run`` can call it while holding the run lock);
:func:`verify` is what ``hfdl models verify`` calls: it opens the database and, to repair,
takes the run lock. The report types and observers are in :mod:`hfdl.services.verify.report`
and importable from here.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hfdl.engine.lock import RunLock
from hfdl.errors import Cancelled, HfdlError, ModelNotFound, UnsafePath
from hfdl.hub.cache import RepoCache
from hfdl.hub.hashing import hash_file, hasher_for
from hfdl.services.models.views import is_linked
from hfdl.services.verify.repair import Repairer
from hfdl.services.verify.report import (
    CORRUPT,
    MISSING,
    NEEDS_FETCH,
    NOT_LINKED,
    UNSAFE,
    WRONG_SIZE,
    FileCheck,
    LogVerifyObserver,
    ModelCheck,
    NullVerifyObserver,
    VerifyObserver,
    VerifyReport,
)
from hfdl.store.rows import FileRecord, ModelRow

if TYPE_CHECKING:
    from hfdl.config import Settings
    from hfdl.engine.retry import RetryPolicy
    from hfdl.hub.client import HubClient
    from hfdl.store import Store

__all__ = [
    "FileCheck",
    "LogVerifyObserver",
    "ModelCheck",
    "NullVerifyObserver",
    "VerifyObserver",
    "VerifyReport",
    "blob_problem",
    "file_digest",
    "inspect_file",
    "verify",
    "verify_models",
]


def file_digest(path: str, size: int, is_lfs: bool) -> str:
    """Hash a blob the way the Hub names it: sha256 (LFS) or git blob sha1 (other files).

    Args:
        path: the blob.
        size: its size (part of the git blob header); this many bytes are hashed.
        is_lfs: which digest.

    Returns:
        The hex digest.

    Raises:
        OSError: the file cannot be read.
    """
    hasher = hasher_for(size, is_lfs)
    hash_file(Path(path), size, hasher)
    return str(hasher.hexdigest())


def blob_problem(repo_cache: RepoCache, record: FileRecord) -> str | None:
    """Check a recorded file's blob: ``missing``, ``wrong-size``, ``corrupt`` or ``None``.

    ``unsafe-path`` when the record's blob name is not a path inside the model's ``blobs/``
    (:meth:`RepoCache.contained`): then nothing is read.
    """
    try:
        blob = repo_cache.blob_path(record.blob_name)
    except UnsafePath:
        return UNSAFE
    try:
        size = blob.stat().st_size
    except OSError:
        return MISSING
    if size != record.size:
        return WRONG_SIZE
    try:
        digest = file_digest(str(blob), record.size, record.is_lfs)
    except OSError:
        return MISSING  # vanished or unreadable between stat and read: not usable either way
    return CORRUPT if digest != record.etag else None


def inspect_file(repo_cache: RepoCache, record: FileRecord) -> str | None:
    """Check one recorded file in the cache; return its problem, or ``None`` when good."""
    problem = blob_problem(repo_cache, record)
    return _link_problem(repo_cache, record) if problem is None else problem


def _link_problem(repo_cache: RepoCache, record: FileRecord) -> str | None:
    """``not-linked``, ``unsafe-path`` or ``None`` for a recorded file's snapshot entry."""
    try:
        return None if is_linked(repo_cache, record) else NOT_LINKED
    except UnsafePath:
        return UNSAFE


def _rows_to_verify(store: Store, names: Iterable[str] | None) -> list[ModelRow]:
    """The models to verify: those named (all must exist), or every downloaded one."""
    if names is None:
        return [row for row in store.list_models() if row.commit_sha is not None]
    rows: list[ModelRow] = []
    unknown: list[str] = []
    for name in dict.fromkeys(names):  # each once, in the order given
        row = store.get_model(name)
        if row is None:
            unknown.append(name)
        else:
            rows.append(row)
    if unknown:
        raise ModelNotFound(
            "not in the state database (never synced or downloaded): " + ", ".join(unknown),
            hint="'hfdl models list' shows the catalog's models",
        )
    return rows


def verify_models(
    settings: Settings,
    store: Store,
    names: Iterable[str] | None = None,
    repair: bool = False,
    observer: VerifyObserver | None = None,
    *,
    client: HubClient | None = None,
    policy: RetryPolicy | None = None,
) -> VerifyReport:
    """Re-hash the files of downloaded models and, optionally, repair the bad ones.

    The caller must hold the run lock when ``repair`` is true (``hfdl run`` does; the CLI
    takes it through :func:`verify`), so that no download writes the same blobs meanwhile.

    For each model, the files recorded for its commit are checked (see the module
    docstring). Good files get a fresh ``verified_at``. With ``repair``, a bad blob is
    deleted, fetched again by commit and path, verified while streaming, linked and recorded;
    a snapshot entry that is merely missing is linked again. A model left with bad files
    after a repair is set ``pending`` with the reason in ``last_error``, so that the next run
    fetches what is missing.

    Args:
        settings: download directory, endpoint, timeouts and retries.
        store: the state database.
        names: the models to verify (each must be in the database), or ``None`` for every
            model of the catalog with a download recorded.
        repair: fetch bad files again.
        observer: told about each model and file (default: nothing is reported).
        client: the Hub client to repair with (default: one for ``settings.endpoint`` and
            the token found by :func:`hfdl.token.read_token`).
        policy: the retry policy for repairs (default: ``settings.max_retries``); its stop
            event, when set, stops verification (``Cancelled``).

    Returns:
        The report; ``report.ok`` is false when bad files remain.

    Raises:
        ModelNotFound: a name is not in the database (nothing is checked).
        Cancelled: the policy's stop event was set.
        StoreError: the database cannot be read or written.
    """
    observer = observer or NullVerifyObserver()
    rows = _rows_to_verify(store, names)
    repairer = Repairer(settings, client, policy) if repair else None
    checks = []
    for row in rows:
        if policy is not None:
            policy.check_stop()
        check = _verify_model(settings, store, row, repairer, observer)
        observer.model_finished(check)
        checks.append(check)
    return VerifyReport(models=tuple(checks))


def _verify_model(
    settings: Settings,
    store: Store,
    row: ModelRow,
    repairer: Repairer | None,
    observer: VerifyObserver,
) -> ModelCheck:
    """Verify (and with a repairer, repair) one model's files; record what is good."""
    commit = row.commit_sha
    if commit is None:
        return ModelCheck(row.name, None, skipped="nothing downloaded yet")
    records = store.files_for(row.name, commit)
    if not records:
        return ModelCheck(row.name, commit, skipped=f"no files recorded for commit {commit[:12]}")
    repo_cache = RepoCache(settings.download_directory, row.name)
    observer.model_started(row.name, len(records), sum(record.size for record in records))
    # Everything is inspected before anything is repaired, so that the report says what was
    # found. Files with the same content share one blob: it is hashed (and fetched) once.
    blob_problems: dict[tuple[str, int, str, bool], str | None] = {}
    found: list[tuple[FileRecord, str | None]] = []
    hashed = 0
    for record in records:
        if _link_problem(repo_cache, record) == UNSAFE:
            # Its snapshot entry would leave the cache: neither hashed, fetched nor linked.
            found.append((record, UNSAFE))
            continue
        key = (record.blob_name, record.size, record.etag, record.is_lfs)
        if key not in blob_problems:
            blob_problems[key] = blob_problem(repo_cache, record)
            hashed += record.size if blob_problems[key] in (None, CORRUPT) else 0
        problem = blob_problems[key]
        if problem is None:
            problem = _link_problem(repo_cache, record)
        found.append((record, problem))
    checks: list[FileCheck] = []
    fetched = 0
    fetch_errors: dict[str, str | None] = {}  # etag -> why fetching failed (None: fetched)
    for record, problem in found:
        check = FileCheck(record.path, record.size, record.etag, record.is_lfs, problem)
        if problem is None:
            _record(store, row.name, record)
        elif repairer is not None:
            check, transferred = _repair(store, repairer, repo_cache, check, record, fetch_errors)
            fetched += transferred
        observer.file_checked(row.name, check)
        checks.append(check)
    result = ModelCheck(row.name, commit, tuple(checks), None, hashed, fetched)
    if repairer is not None and result.bad:
        described = ", ".join(f"{check.path} ({check.problem})" for check in result.bad[:3])
        store.set_model_status(
            row.name,
            "pending",
            last_error=f"verification: {len(result.bad)} bad file(s) not repaired: {described}",
        )
    return result


def _repair(
    store: Store,
    repairer: Repairer,
    repo_cache: RepoCache,
    check: FileCheck,
    record: FileRecord,
    fetch_errors: dict[str, str | None],
) -> tuple[FileCheck, int]:
    """Repair one bad file: fetch its blob (once per blob), link it, record it.

    Returns:
        The file's check with ``repaired`` or ``error`` set, and the bytes transferred.

    Raises:
        Cancelled: the run was asked to stop.
    """
    if check.problem == UNSAFE:
        # A record hfdl cannot trust to name a path in the cache: touch nothing for it.
        unsafe = "not repaired: its path is not inside the model's cache folder"
        return dataclasses.replace(check, error=unsafe), 0
    transferred = 0
    try:
        if check.problem in NEEDS_FETCH and record.etag not in fetch_errors:
            transferred = repairer.fetch(repo_cache, record.commit_sha, record)
            fetch_errors[record.etag] = None
        error = fetch_errors.get(record.etag)
        if error is None:
            repo_cache.link(record.commit_sha, record.path, record.etag)
            _record(store, repo_cache.repo_id, record)
    except Cancelled:
        raise
    except (HfdlError, OSError) as failure:
        error = str(failure)
        fetch_errors[record.etag] = error
    return dataclasses.replace(check, repaired=error is None, error=error), transferred


def _record(store: Store, name: str, record: FileRecord) -> None:
    """Record the file as verified now (same content, fresh ``verified_at``)."""
    store.record_file(
        name,
        record.commit_sha,
        record.path,
        record.size,
        record.etag,
        record.blob_name,
        record.is_lfs,
    )


def verify(
    settings: Settings,
    names: Iterable[str] | None = None,
    *,
    repair: bool = False,
    observer: VerifyObserver | None = None,
) -> VerifyReport:
    """``hfdl models verify``: open the database and verify; take the run lock to repair.

    Args:
        settings: the effective configuration.
        names: the models to verify, or ``None`` for every downloaded model.
        repair: fetch bad files again.
        observer: told about each model and file.

    Returns:
        The report.

    Raises:
        ModelNotFound: a name is not in the database.
        LockedError: ``repair`` while a run is working (exit 75).
        StoreError: the database cannot be opened.
    """
    from hfdl.store import Store

    if not settings.database_exists():
        # Nothing was ever downloaded: do not create a database just to say so.
        if names:
            raise ModelNotFound(
                f"no state database at {settings.database_display}: nothing was downloaded yet",
                hint="run 'hfdl run' first",
            )
        return VerifyReport(models=())
    lock = RunLock(settings.state_directory) if repair else contextlib.nullcontext()
    with lock, Store(settings.database, host_id=settings.host_id) as store:
        return verify_models(settings, store, names, repair, observer)
