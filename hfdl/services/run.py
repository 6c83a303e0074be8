"""``hfdl run``: one oneshot pass over the catalog. Lock, sync, plan, admit, download, record.

Layering: this module is the only one that ties the catalog, the store and the Hub together.
It never prints and never exits: it reports through a ``RunObserver`` and returns a
``RunResult`` (or raises an ``HfdlError``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hfdl.catalog import Catalog, load_catalog
from hfdl.config import Settings
from hfdl.engine.coordinate import BlobLeases
from hfdl.engine.download import ModelDownloader, now_utc
from hfdl.engine.events import ModelOutcome, RunObserver, RunResult, fields
from hfdl.engine.lock import RunLock
from hfdl.engine.plan import ModelPlan, admit, describe_plan, plan_model
from hfdl.engine.process_exit import skip_final_collection_at_exit
from hfdl.engine.retry import HubCalls, RetryPolicy
from hfdl.engine.select import Candidate, select_candidates
from hfdl.errors import Cancelled
from hfdl.hub.cache import RepoCache
from hfdl.services.heartbeat import Heartbeat
from hfdl.services.run_chores import after_downloads, only_temporary_failures
from hfdl.store import Store

if TYPE_CHECKING:
    from hfdl.hub.client import HubClient

# Models planned at once: each plan is one or two small API requests, mostly waiting.
PLAN_WORKERS = 8

logger = logging.getLogger("hfdl.run")


@dataclass(frozen=True)
class RunOptions:
    """What to run.

    Args:
        schedule_name: the schedule that fired this run (applies its tag filter and
            concurrency), or ``None`` for a manual run of everything pending.
        tags: only models with one of these tags.
        model_names: only these models.
        concurrent_downloads: models downloaded at once; overrides the schedule's and the
            settings' ``concurrent_downloads``.
        dry_run: plan and report, download nothing, record nothing.
        wait_for_lock: wait for a running ``hfdl run`` instead of failing with exit 75.
        wait_timeout: with ``wait_for_lock``, give up (exit 75) after this many seconds.
        force_check: ask the Hub about every completed model, due or not.
        trigger: ``manual`` or ``timer``.
    """

    schedule_name: str | None = None
    tags: frozenset[str] | None = None
    model_names: frozenset[str] | None = None
    concurrent_downloads: int | None = None
    dry_run: bool = False
    wait_for_lock: bool = False
    force_check: bool = False
    trigger: str = "manual"
    wait_timeout: float | None = None


class Runner:
    """Runs one session. Build it, then call ``run()`` once.

    Args:
        settings: the effective configuration.
        observer: receives progress events.
        token: the Hub token or ``None`` (never stored or logged).
        stop: set it (from a signal handler) to stop after the current chunk; partial files
            are kept for the next run.
        retry_base_delay: the first backoff, in seconds (tests and benchmarks lower it).
    """

    def __init__(
        self,
        settings: Settings,
        observer: RunObserver,
        *,
        token: str | None,
        stop: threading.Event | None = None,
        retry_base_delay: float = 1.0,
    ) -> None:
        self.settings = settings
        self.observer = observer
        self.stop = stop or threading.Event()
        self._token = token
        self._client: HubClient | None = None
        self._client_lock = threading.Lock()
        self.lock: RunLock | None = None
        # Every outcome reported so far: what an interrupted run's summary counts.
        self.finished: list[ModelOutcome] = []
        self.policy = RetryPolicy(
            max_retries=settings.max_retries, base_delay=retry_base_delay, stop=self.stop
        )

    @property
    def client(self) -> HubClient:
        """The Hub client, made on first use: a run with nothing to ask the Hub never loads
        ``huggingface_hub``."""
        with self._client_lock:
            if self._client is None:
                from hfdl.hub.client import HubClient

                self._client = HubClient(
                    self.settings.endpoint,
                    self._token,
                    request_timeout=float(self.settings.stall_timeout_seconds),
                )
            return self._client

    def plan(
        self,
        catalog: Catalog,
        store: Store | None,
        options: RunOptions,
        changed: frozenset[str] = frozenset(),
        *,
        session_id: int | None = None,
        on_selected: Callable[[list[str]], None] | None = None,
    ) -> list[ModelPlan]:
        """Select the candidates and ask the Hub what each needs; admit what fits on disk.

        Args:
            catalog: the catalog.
            store: the state DB (read only here), or ``None`` when there is none yet (a dry
                run before the first run): every model is then new.
            options: what to run.
            changed: models whose catalog entry changed in this run's sync (a new revision
                or patterns must be fetched now, not at the next periodic check).
            session_id: the session, named in the lines logged while planning.
            on_selected: told the selected models' names (in order) before the first Hub
                request, so the session's first line comes before any wait.

        Returns:
            The plans in download order; each carries the retries its Hub calls needed.
        """
        tags = options.tags
        rows = {row.name: row for row in store.list_models(include_removed=False)} if store else {}
        candidates = select_candidates(
            catalog.models,
            rows,
            check_frequency=catalog.settings.check_frequency,
            now=now_utc(),
            tags=tags,
            names=options.model_names,
            force_check=options.force_check,
            changed=changed,
            # A fleet with caches of their own shares one model row: another host's
            # "completed" says nothing of this host's disk.
            this_host=None if self.settings.shared_cache else self.settings.host_id,
        )
        cache_dir = self.settings.download_directory

        def verified(model_name: str, commit_sha: str) -> bool:
            records = store.files_for(model_name, commit_sha) if store else []
            if not records:
                return False
            repo_cache = RepoCache(cache_dir, model_name)
            return repo_cache.snapshot_complete(
                commit_sha, ((record.path, record.etag, record.size) for record in records)
            )

        if on_selected is not None:
            on_selected([candidate.model.name for candidate in candidates])
        if not candidates:
            return []
        client = self.client

        def plan_one(candidate: Candidate) -> ModelPlan:
            calls = HubCalls(
                candidate.model.name,
                endpoint=self.settings.endpoint,
                policy=self.policy,
                on_retry=self.observer.model_retry,
                session_id=session_id,
            )
            plan = plan_model(
                candidate, client, cache_dir, snapshot_is_verified=verified, call=calls
            )
            plan.retries = calls.retries
            return plan

        # The Hub requests of different models overlap; plans keep the candidates' order.
        workers = min(PLAN_WORKERS, len(candidates))
        if workers == 1:
            plans = [plan_one(candidate) for candidate in candidates]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hfdl-plan") as pool:
                plans = list(pool.map(plan_one, candidates))
        admit(
            plans,
            cache_dir=cache_dir,
            max_total_size=catalog.settings.max_total_size_bytes,
            managed_names=catalog.names(),
        )
        for plan in plans:
            logger.debug("%s", describe_plan(plan))
        return plans

    def dry_run(self, options: RunOptions) -> list[ModelPlan]:
        """Plan without downloading, locking or recording a session.

        Returns:
            The plans, in download order, with sizes and admission decisions.
        """
        catalog = load_catalog(self.settings.models_file)
        # A dry run writes nothing: no database is created, an existing one is only read.
        if not self.settings.database_exists():
            return self.plan(catalog, None, options)
        store = Store(self.settings.database, read_only=True, host_id=self.settings.host_id)
        try:
            return self.plan(catalog, store, options)
        finally:
            store.close()

    def run(self, options: RunOptions) -> RunResult:
        """Run the session: lock, recover, sync, plan, download, record.

        Returns:
            The result; ``status`` is ``completed``, ``failed`` or ``interrupted``.

        Raises:
            LockedError: another run holds the lock (exit 75).
            ConfigError, CatalogError, CatalogNotFound, StoreError: before anything starts.
        """
        started = time.monotonic()
        skip_final_collection_at_exit()
        catalog = load_catalog(self.settings.models_file)
        lock = RunLock(
            self.settings.state_directory,
            wait=options.wait_for_lock,
            wait_timeout=options.wait_timeout,
            stop=self.stop,
        )
        self.lock = lock
        with lock:
            store = Store(self.settings.database, host_id=self.settings.host_id)
            try:
                return self._run_locked(catalog, store, options, started)
            finally:
                store.close()

    def _run_locked(
        self, catalog: Catalog, store: Store, options: RunOptions, started: float
    ) -> RunResult:
        # We hold this host's run lock, so any session of this host still "running" belongs to
        # a process that died; other hosts' sessions are recovered once their heartbeat is stale.
        store.recover_interrupted(all_running=True, lease_seconds=self.settings.lease_seconds)
        sync = store.sync_catalog(catalog)
        options = self._apply_schedule(store, options)
        session_id = store.start_session(
            trigger=options.trigger,
            schedule_name=options.schedule_name,
            host=self.settings.host_id,
            pid=os.getpid(),
            invocation_id=os.environ.get("INVOCATION_ID"),
        )
        self._record_lock_wait(session_id)
        with Heartbeat(store, session_id, self.settings.lease_seconds):
            return self._run_session(catalog, store, options, started, session_id, sync.updated)

    def _run_session(
        self,
        catalog: Catalog,
        store: Store,
        options: RunOptions,
        started: float,
        session_id: int,
        changed: Sequence[str],
    ) -> RunResult:
        """Plan, download, verify and finish the started session (its heartbeat beating)."""
        try:
            plans = self.plan(
                catalog,
                store,
                options,
                changed=frozenset(changed),
                session_id=session_id,
                on_selected=lambda names: self.observer.run_started(session_id, names),
            )
            outcomes = self._execute(store, session_id, plans, options)
        except Cancelled:
            store.finish_session(session_id, "interrupted", error="stopped by a signal")
            # The session's end is reported (journal, STATUS=) as for a completed run.
            finished = tuple(self.finished)
            self.observer.run_finished(
                RunResult(
                    session_id=session_id,
                    status="interrupted",
                    outcomes=finished,
                    bytes_downloaded=sum(outcome.bytes_downloaded for outcome in finished),
                    duration_seconds=time.monotonic() - started,
                )
            )
            raise
        except BaseException as error:
            store.finish_session(session_id, "failed", error=str(error))
            raise
        cancelled = self.stop.is_set()
        download_failed = any(outcome.status in ("failed", "skipped") for outcome in outcomes)
        verified = cancelled or after_downloads(
            self.settings, catalog, store, outcomes, client=lambda: self.client, policy=self.policy
        )
        failed = download_failed or not verified
        status = "interrupted" if cancelled else ("failed" if failed else "completed")
        store.finish_session(
            session_id, status, error=None if verified else "verification found bad files"
        )
        result = RunResult(
            session_id=session_id,
            status=status,
            outcomes=tuple(outcomes),
            bytes_downloaded=sum(outcome.bytes_downloaded for outcome in outcomes),
            duration_seconds=time.monotonic() - started,
            temporary_failure=only_temporary_failures(outcomes),
        )
        self.observer.run_finished(result)
        return result

    def _record_lock_wait(self, session_id: int) -> None:
        """Write the session into the lock file (for the messages of runs waiting behind this
        one) and, when this run had to wait for the lock, log how long with the session's id:
        the session starts when the lock is taken, and this record says what came before."""
        if self.lock is None:
            return
        self.lock.record_session(session_id)
        if self.lock.waited_seconds is not None:
            logger.info(
                "session %s waited %.1fs for the run lock held by %s",
                session_id,
                self.lock.waited_seconds,
                self.lock.holder,
                extra=fields("lock-wait", session_id=session_id),
            )

    def _apply_schedule(self, store: Store, options: RunOptions) -> RunOptions:
        """Fold a schedule's tag filter and concurrency into the options."""
        if options.schedule_name is None:
            return options
        schedule = store.get_schedule(options.schedule_name)
        if schedule is None:
            return options
        tags = options.tags
        if tags is None and schedule.tags:
            tags = frozenset(schedule.tags)
        concurrent_downloads = options.concurrent_downloads or schedule.concurrent_downloads
        return dataclasses.replace(options, tags=tags, concurrent_downloads=concurrent_downloads)

    def _execute(
        self, store: Store, session_id: int, plans: Sequence[ModelPlan], options: RunOptions
    ) -> list[ModelOutcome]:
        """Record the plans that need no transfer, download the others concurrently."""
        outcomes: dict[str, ModelOutcome] = {}
        downloader = ModelDownloader(
            settings=self.settings,
            client=lambda: self.client,
            store=store,
            session_id=session_id,
            observer=self.observer,
            policy=self.policy,
            leases=BlobLeases.when_shared(self.settings, store, session_id, self.stop),
        )
        to_download: list[ModelPlan] = []
        for plan in plans:
            if plan.action in ("download", "link"):
                to_download.append(plan)
                continue
            outcome = downloader.record_without_transfer(plan)
            outcomes[plan.name] = outcome
            self.finished.append(outcome)
            self.observer.model_finished(outcome)
        workers = max(1, options.concurrent_downloads or self.settings.concurrent_downloads)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hfdl-download") as pool:
            futures = {
                plan.name: pool.submit(self._download_and_report, downloader, plan)
                for plan in to_download
            }
            for name, future in futures.items():
                outcomes[name] = future.result()
        # Report in plan order (priority order), whatever order the threads finished in.
        return [outcomes[plan.name] for plan in plans if plan.name in outcomes]

    def _download_and_report(self, downloader: ModelDownloader, plan: ModelPlan) -> ModelOutcome:
        """Worker body: download one model and report its outcome as soon as it is known."""
        outcome = downloader.download(plan)
        self.finished.append(outcome)
        self.observer.model_finished(outcome)
        return outcome
