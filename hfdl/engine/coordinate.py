"""One download of each blob across hosts that share a cache (``shared_cache``).

Before fetching a blob, a run takes the blob's lease in the state database
(:mod:`hfdl.store.leases`). A run that finds the lease held waits, polling, until the blob
is published (it then links it, having moved no byte) or the lease expires because its
holder died (it then takes the lease over and resumes the partial file the holder left).
While it holds a lease, a background thread renews it every third of ``lease_seconds``;
a renewal that finds the lease taken over (this run stalled past its expiry) stops the
transfer with :class:`~hfdl.errors.LeaseLost` (raised by
:class:`hfdl.engine.progress.FileProgress`), so two hosts never write one partial file.

Leases are keyed by the blob's place *inside* the cache (``models--org--name/blobs/<etag>``),
not by an absolute path: hosts may mount the shared cache at different paths.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from hfdl.errors import AttemptTimeout, Cancelled
from hfdl.hub.cache import RepoCache, repo_folder_name
from hfdl.hub.remote import RemoteFile

if TYPE_CHECKING:
    # Annotations only: the store (SQLAlchemy) is the caller's to open.
    from hfdl.config import Settings
    from hfdl.store import Store

# Waiting for another host's blob: how often the lease and the cache are looked at.
MAX_POLL_SECONDS = 2.0


def blob_key(repo_id: str, etag: str) -> str:
    """The lease key of a blob: its path relative to the cache root."""
    return f"{repo_folder_name(repo_id)}/blobs/{etag}"


class BlobLeases:
    """Takes, renews and releases the leases of the blobs one run downloads.

    Args:
        store: the state database every host shares.
        host_id: this host's id (recorded with each lease).
        session_id: this run's session (recorded with each lease).
        seconds: a lease's lifetime without renewal (``lease_seconds``).
        stop: set when the run is asked to stop; waiting ends with ``Cancelled``.
    """

    def __init__(
        self,
        store: Store,
        *,
        host_id: str,
        session_id: int | None,
        seconds: float,
        stop: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.host_id = host_id
        self.session_id = session_id
        self.seconds = seconds
        self.stop = stop or threading.Event()
        # Unique across hosts and process instances (a pid alone is reused, and not unique
        # across hosts); the lease row shows which host and process hold it.
        self.holder = f"{host_id}/{os.getpid()}/{uuid.uuid4().hex[:8]}"

    @classmethod
    def when_shared(
        cls, settings: Settings, store: Store, session_id: int | None, stop: threading.Event
    ) -> BlobLeases | None:
        """The leases of a run when ``settings.shared_cache`` is on; else ``None``."""
        if not settings.shared_cache:
            return None
        return cls(
            store,
            host_id=settings.host_id,
            session_id=session_id,
            seconds=settings.lease_seconds,
            stop=stop,
        )

    @contextlib.contextmanager
    def hold(
        self,
        repo_cache: RepoCache,
        remote_file: RemoteFile,
        *,
        deadline: float | None,
        on_wait: Callable[[str], None] | None = None,
    ) -> Iterator[threading.Event | None]:
        """Hold the lease of ``remote_file``'s blob for the duration of the ``with`` block.

        Yields:
            ``None`` when the blob is published already (by another host while this one
            waited): nothing to fetch. Else an event that is set if the lease is lost
            (taken over): the transfer must stop (raise :class:`LeaseLost`).

        Args:
            repo_cache: the model's cache paths.
            remote_file: the file whose blob is wanted.
            deadline: ``time.monotonic()`` after which waiting ends with ``AttemptTimeout``.
            on_wait: called once with the holder's host id when this run starts waiting.

        Raises:
            Cancelled: the run was asked to stop while waiting.
            AttemptTimeout: the deadline passed while waiting.
            StoreError, DatabaseBusy: the database could not be written.
        """
        key = blob_key(repo_cache.repo_id, remote_file.etag)
        told = False
        while True:
            if repo_cache.has_blob(remote_file.etag, remote_file.size):
                yield None
                return
            taken = self.store.acquire_lease(
                key,
                holder=self.holder,
                host=self.host_id,
                session_id=self.session_id,
                seconds=self.seconds,
            )
            if taken:
                break
            if not told and on_wait is not None:
                lease = self.store.get_lease(key)
                on_wait(lease.host if lease is not None else "another host")
                told = True
            pause = min(MAX_POLL_SECONDS, self.seconds / 4)
            if deadline is not None and time.monotonic() + pause > deadline:
                raise AttemptTimeout(
                    f"another host was still downloading {remote_file.path} of "
                    f"{repo_cache.repo_id} when the attempt's time limit ran out"
                )
            if self.stop.wait(pause):
                raise Cancelled("the run was asked to stop")
        lost = threading.Event()
        renewing = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(key, lost, renewing), name="hfdl-lease", daemon=True
        )
        renewer.start()
        try:
            # Its last holder may have published it between our look and our lease.
            if repo_cache.has_blob(remote_file.etag, remote_file.size):
                yield None
            else:
                yield lost
        finally:
            renewing.set()
            renewer.join()
            self.store.release_lease(key, holder=self.holder)

    def _renew(self, key: str, lost: threading.Event, done: threading.Event) -> None:
        """Renew the lease every third of its lifetime until ``done``; set ``lost`` if it
        was taken over. A database error is retried at the next tick: the lease has two
        more ticks before it expires."""
        while not done.wait(self.seconds / 3):
            try:
                if not self.store.renew_lease(key, holder=self.holder, seconds=self.seconds):
                    lost.set()
                    return
            except Exception:
                continue
