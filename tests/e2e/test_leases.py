"""Blob leases in the state database (hfdl.store.leases), on SQLite and a real PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hfdl.engine.coordinate import BlobLeases, blob_key
from hfdl.engine.progress import FileProgress
from hfdl.errors import LeaseLost
from hfdl.hub.cache import RepoCache
from hfdl.hub.remote import RemoteFile
from hfdl.store import Store
from tests.postgres import run_sql
from tests.workspace import wait_for

KEY = "/srv/cache/models--org--m/blobs/" + "a" * 64


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database: two processes (or hosts) as far as leases go."""
    first, second = Store(database_url), Store(database_url)
    yield first, second
    first.close()
    second.close()


def take(store: Store, holder: str, seconds: float = 30.0, key: str = KEY) -> bool:
    return store.acquire_lease(
        key, holder=holder, host=holder.split("/")[0], session_id=None, seconds=seconds
    )


def test_a_held_lease_is_refused_to_others_and_kept_by_its_holder(
    stores: tuple[Store, Store],
) -> None:
    first, second = stores
    assert take(first, "host-a/1")
    assert not take(second, "host-b/2")
    assert take(first, "host-a/1")  # taking it again renews it
    lease = second.get_lease(KEY)
    assert lease is not None
    assert (lease.holder, lease.host) == ("host-a/1", "host-a")
    assert 25 < lease.remaining <= 30
    # Another blob is free.
    assert take(second, "host-b/2", key=KEY + "b")


def test_a_released_lease_can_be_taken(stores: tuple[Store, Store]) -> None:
    first, second = stores
    assert take(first, "host-a/1")
    second.release_lease(KEY, holder="host-b/2")  # not the holder: nothing happens
    assert not take(second, "host-b/2")
    first.release_lease(KEY, holder="host-a/1")
    assert first.get_lease(KEY) is None
    assert take(second, "host-b/2")


def test_an_expired_lease_is_taken_over_and_its_old_holder_loses_it(
    stores: tuple[Store, Store],
) -> None:
    first, second = stores
    assert take(first, "host-a/1", seconds=0.5)
    assert not take(second, "host-b/2")
    time.sleep(0.7)  # the holder stopped renewing (it died)
    assert take(second, "host-b/2")
    lease = first.get_lease(KEY)
    assert lease is not None and lease.holder == "host-b/2"
    # The old holder finds out at its next renewal, and its release does not free the blob.
    assert not first.renew_lease(KEY, holder="host-a/1", seconds=30)
    first.release_lease(KEY, holder="host-a/1")
    assert first.get_lease(KEY) is not None


def test_renewing_pushes_the_expiry(stores: tuple[Store, Store]) -> None:
    first, second = stores
    assert take(first, "host-a/1", seconds=0.6)
    for _ in range(4):
        time.sleep(0.25)
        assert first.renew_lease(KEY, holder="host-a/1", seconds=0.6)
    # A second after it was taken, the renewed lease still holds.
    assert not take(second, "host-b/2")


def test_of_many_contenders_exactly_one_wins(database_url: str) -> None:
    stores = [Store(database_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    winners: list[str] = []

    def contend(index: int) -> None:
        barrier.wait()
        if take(stores[index], f"host-{index}/1"):
            winners.append(f"host-{index}/1")

    threads = [threading.Thread(target=contend, args=(index,)) for index in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(winners) == 1
        lease = stores[0].get_lease(KEY)
        assert lease is not None and lease.holder == winners[0]
    finally:
        for store in stores:
            store.close()


def test_a_holder_whose_lease_was_taken_over_stops_its_transfer(
    database_url: str, tmp_path: Path
) -> None:
    """The renewer finds the lease gone; the next chunk of the transfer raises LeaseLost."""
    holder_store, other = Store(database_url), Store(database_url)
    leases = BlobLeases(holder_store, host_id="host-a", session_id=None, seconds=0.6)
    repo_cache = RepoCache(tmp_path, "org/m")
    remote = RemoteFile(path="model.safetensors", size=10, blob_id="b" * 40, sha256="c" * 64)
    key = blob_key("org/m", remote.etag)
    progress = FileProgress(_NullModel(), "model.safetensors of org/m")  # type: ignore[arg-type]
    try:
        with leases.hold(repo_cache, remote, deadline=None) as lost:
            assert lost is not None and not lost.is_set()
            progress.lease_lost = lost
            progress(1)  # fine while the lease is ours
            # This holder stalls past its lease (made to expire at once) and another host
            # takes it over.
            run_sql(database_url, "UPDATE blob_leases SET expires_at = 0")
            assert take(other, "host-b/2", key=key)
            wait_for(lost.is_set, timeout=5)
            with pytest.raises(LeaseLost, match="another host took over"):
                progress(1)
        # The old holder's release leaves the new holder's lease alone.
        lease = other.get_lease(key)
        assert lease is not None and lease.holder == "host-b/2"
    finally:
        holder_store.close()
        other.close()


class _NullModel:
    """Stands in for a model's progress: FileProgress only forwards byte counts to it."""

    def __call__(self, nbytes: int) -> None:
        pass
