"""Downloading one planned model: fetch the missing blobs, link the snapshot, record it all."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hfdl.config import Settings
from hfdl.engine.cache_writes import cache_writes
from hfdl.engine.coordinate import BlobLeases
from hfdl.engine.events import ModelOutcome, RunObserver, fields, logger
from hfdl.engine.plan import ModelPlan
from hfdl.engine.progress import FileProgress, ModelProgress, RetryCounter, SiblingFailed
from hfdl.engine.retry import RetryPolicy, is_retryable, is_temporary
from hfdl.errors import AttemptTimeout, Cancelled, HfdlError
from hfdl.hub.cache import RepoCache
from hfdl.hub.remote import RemoteFile
from hfdl.store import Store

if TYPE_CHECKING:
    from hfdl.hub.client import HubClient


class ModelDownloader:
    """Downloads planned models into the cache and records attempts; thread-safe per model.

    Args:
        settings: the effective configuration.
        client: the Hub client, or a function returning it (called at the first download, so
            that recording plans that move no bytes never loads ``huggingface_hub``).
        store: the state DB.
        session_id: the session attempts belong to.
        observer: receives events.
        policy: the retry policy.
        leases: the blob leases of a cache several hosts share (``shared_cache``); ``None``:
            the cache is this host's, file locks do.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        client: HubClient | Callable[[], HubClient],
        store: Store,
        session_id: int,
        observer: RunObserver,
        policy: RetryPolicy,
        leases: BlobLeases | None = None,
    ) -> None:
        self.leases = leases
        self.settings = settings
        self._client = client
        self.store = store
        self.session_id = session_id
        self.observer = observer
        self.policy = policy

    @property
    def client(self) -> HubClient:
        """The Hub client."""
        if callable(self._client):
            self._client = self._client()
        return self._client

    def record_without_transfer(self, plan: ModelPlan) -> ModelOutcome:
        """Record a plan that moves no bytes: up to date, refused by admission, or a Hub error.

        Returns:
            The model's outcome.
        """
        now = now_utc()
        commit = plan.revision.commit_sha if plan.revision else None
        if plan.action == "up-to-date":
            on_disk = RepoCache(self.settings.download_directory, plan.name).bytes_on_disk()
            self.store.set_model_status(
                plan.name, "completed", last_checked_at=now, bytes_on_disk=on_disk
            )
            return ModelOutcome(
                name=plan.name, status="up-to-date", commit_sha=commit, retries=plan.retries
            )
        error = plan.error or HfdlError("unknown planning error")
        status = "skipped" if plan.action == "skip" else "failed"
        attempt_id = self.store.start_attempt(self.session_id, plan.name, plan.bytes_total)
        self.store.finish_attempt(
            attempt_id,
            status,
            bytes_downloaded=0,
            retries=plan.retries,
            error=str(error),
            commit_sha=commit,
        )
        self._mark_failed(plan.name, str(error))
        return ModelOutcome(
            name=plan.name,
            status=status,
            commit_sha=commit,
            bytes_total=plan.bytes_total,
            retries=plan.retries,
            error=str(error),
            hint=error.hint,
            # A Hub that stayed unavailable through planning's retries: a later run may work.
            temporary=status == "failed" and is_temporary(error),
        )

    def download(self, plan: ModelPlan) -> ModelOutcome:
        """Fetch a model's missing files, verify them, and publish its snapshot.

        Returns:
            The outcome (``completed``, or ``failed`` with the reason). A ``Cancelled`` run
            records the attempt as interrupted and puts the model back to pending.

        Raises:
            Cancelled: the run was told to stop; the partial file is kept.
        """
        assert plan.revision is not None
        started = time.monotonic()
        deadline = started + self.settings.timeout_seconds
        repo_cache = RepoCache(self.settings.download_directory, plan.name)
        commit = plan.revision.commit_sha
        attempt_id = self.store.start_attempt(self.session_id, plan.name, plan.bytes_total)
        self.store.set_model_status(plan.name, "downloading")
        progress = ModelProgress(
            name=plan.name,
            bytes_total=plan.bytes_total,
            store=self.store,
            attempt_id=attempt_id,
            observer=self.observer,
            stop=self.policy.stop,
        )
        missing = {remote_file.path for remote_file in plan.missing}
        progress.add_existing(sum(f.size for f in plan.files if f.path not in missing))
        self.observer.model_started(
            plan.name, plan.bytes_total, progress.bytes_done + plan.bytes_partial, len(plan.missing)
        )
        # Retries of this transfer; the plan's (its Hub API calls) are recorded with them.
        counter = RetryCounter()
        try:
            with cache_writes(self.settings.download_directory):
                self._fetch_files(plan, repo_cache, progress, deadline, counter)
                self._publish(plan, repo_cache)
        except Cancelled:
            progress.flush()
            self.store.finish_attempt(
                attempt_id,
                "interrupted",
                bytes_downloaded=progress.bytes_transferred,
                retries=plan.retries + counter.count,
                error="stopped by a signal",
                commit_sha=commit,
            )
            self.store.set_model_status(plan.name, "pending")
            raise
        except HfdlError as error:
            message = str(error)
            self.store.finish_attempt(
                attempt_id,
                "failed",
                bytes_downloaded=progress.bytes_transferred,
                retries=plan.retries + counter.count,
                error=message,
                commit_sha=commit,
            )
            self._mark_failed(plan.name, message)
            return ModelOutcome(
                name=plan.name,
                status="failed",
                commit_sha=commit,
                bytes_downloaded=progress.bytes_transferred,
                bytes_total=plan.bytes_total,
                retries=plan.retries + counter.count,
                duration_seconds=time.monotonic() - started,
                error=message,
                hint=error.hint,
                temporary=is_temporary(error),
            )
        progress.flush()
        self.store.finish_attempt(
            attempt_id,
            "completed",
            bytes_downloaded=progress.bytes_transferred,
            retries=plan.retries + counter.count,
            error=None,
            commit_sha=commit,
        )
        now = now_utc()
        self.store.set_model_status(
            plan.name,
            "completed",
            commit_sha=commit,
            # What the model's folder really holds (older revisions and files no longer
            # wanted included, until cleanup removes them), not just the wanted bytes.
            bytes_on_disk=repo_cache.bytes_on_disk(),
            last_success_at=now,
            last_checked_at=now,
            last_error=None,
            attempts=0,
        )
        return ModelOutcome(
            name=plan.name,
            status="completed",
            commit_sha=commit,
            bytes_downloaded=progress.bytes_transferred,
            bytes_total=plan.bytes_total,
            files_downloaded=len(plan.missing),
            retries=plan.retries + counter.count,
            duration_seconds=time.monotonic() - started,
        )

    def _fetch_files(
        self,
        plan: ModelPlan,
        repo_cache: RepoCache,
        progress: ModelProgress,
        deadline: float,
        counter: RetryCounter,
    ) -> None:
        """Fetch the plan's missing files, several at once.

        Up to ``max_connections`` files are in flight (largest first, so the longest transfer
        starts at once); each request takes a slot of the host's connection limiter, so the
        files and the parts of large ones share ``max_connections`` connections. The first
        file that fails for good stops the others where they are (their partial files stay)
        and its error is raised; a stop request raises ``Cancelled``.
        """
        largest_first = sorted(plan.missing, key=lambda remote_file: -remote_file.size)

        def fetch(remote_file: RemoteFile) -> None:
            if progress.sibling_failed.is_set():
                return  # queued behind a file that failed for good
            try:
                self._fetch_with_retries(plan, remote_file, repo_cache, progress, deadline, counter)
            except SiblingFailed:
                return
            except BaseException:
                progress.sibling_failed.set()
                raise

        workers = max(1, min(len(largest_first), self.settings.max_connections))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hfdl-file") as pool:
            futures = [pool.submit(fetch, remote_file) for remote_file in largest_first]
        errors = [error for future in futures if (error := future.exception()) is not None]
        if errors:
            # A stop request wins: the model goes back to pending rather than failed.
            raise next((e for e in errors if isinstance(e, Cancelled)), errors[0])

    def _fetch_with_retries(
        self,
        plan: ModelPlan,
        remote_file: RemoteFile,
        repo_cache: RepoCache,
        progress: ModelProgress,
        deadline: float,
        counter: RetryCounter,
    ) -> None:
        """Fetch one file, retrying retryable errors (counted in ``counter``)."""
        from hfdl.hub.parts import RangedSettings
        from hfdl.hub.transfer import fetch_blob  # the engine loads only when bytes move

        assert plan.revision is not None
        commit = plan.revision.commit_sha
        while True:
            file_progress = FileProgress(progress, f"{remote_file.path} of {plan.name}")
            try:
                with self._lease(plan.name, remote_file, repo_cache, deadline) as lease_lost:
                    if lease_lost is None:
                        # Another host published the blob while this run waited: it is only
                        # linked, no byte moved.
                        file_progress(remote_file.size)
                        return
                    file_progress.lease_lost = lease_lost
                    result = fetch_blob(
                        url=self.client.file_url(plan.name, commit, remote_file.path),
                        headers=self.client.headers(),
                        repo_cache=repo_cache,
                        remote_file=remote_file,
                        repo_id=plan.name,
                        commit_sha=commit,
                        progress=file_progress,
                        stall_timeout=float(self.settings.stall_timeout_seconds),
                        deadline=deadline,
                        ranged=RangedSettings.from_settings(self.settings),
                        # On a shared cache (NFS) file locks are unreliable and a dead host's
                        # can hang; the lease in the database stands in for them.
                        file_lock=self.leases is None,
                    )
                progress.transferred(result.transferred)
                return
            except HfdlError as error:
                # Bytes counted for a failed try are recounted from disk on the next one.
                progress.forget(file_progress.counted)
                if isinstance(error, AttemptTimeout) or not is_retryable(error):
                    raise
                retries = counter.take(self.policy.max_retries)
                if retries is None:
                    raise type(error)(
                        f"{error} (gave up after {counter.count} retries)", hint=error.hint
                    ) from error
                delay = self.policy.delay(retries, error)
                if time.monotonic() + delay > deadline:
                    raise AttemptTimeout(
                        f"{plan.name}: timeout_seconds={self.settings.timeout_seconds} would "
                        f"pass before the next retry; last error: {error}"
                    ) from error
                self.observer.model_retry(
                    plan.name, retries, self.policy.max_retries, str(error), delay
                )
                self.policy.sleep(delay)

    def _lease(
        self, name: str, remote_file: RemoteFile, repo_cache: RepoCache, deadline: float
    ) -> contextlib.AbstractContextManager[threading.Event | None]:
        """The blob's lease when the cache is shared (see :mod:`hfdl.engine.coordinate`);
        else nothing to hold (an event that is never set)."""
        if self.leases is None:
            return contextlib.nullcontext(threading.Event())

        def waiting(host: str) -> None:
            logger.info(
                "%s: %s is being downloaded by host %s; waiting for it",
                name,
                remote_file.path,
                host,
                extra=fields("lease-wait", session_id=self.session_id, model=name),
            )

        return self.leases.hold(repo_cache, remote_file, deadline=deadline, on_wait=waiting)

    def _publish(self, plan: ModelPlan, repo_cache: RepoCache) -> None:
        """Link every wanted file into the snapshot, point the ref at it, record the files."""
        assert plan.revision is not None
        commit = plan.revision.commit_sha
        for remote_file in plan.files:
            repo_cache.link(commit, remote_file.path, remote_file.etag)
            self.store.record_file(
                plan.name,
                commit,
                remote_file.path,
                remote_file.size,
                remote_file.etag,
                remote_file.etag,
                remote_file.is_lfs,
            )
        repo_cache.write_ref(plan.candidate.model.revision, commit)
        # Partials of files this revision no longer wants would otherwise sit there forever.
        repo_cache.sweep_partials({remote_file.etag for remote_file in plan.files})

    def _mark_failed(self, name: str, message: str) -> None:
        # The store counts the consecutive failure (attempts + 1) itself, atomically.
        self.store.set_model_status(name, "failed", last_error=message)


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
