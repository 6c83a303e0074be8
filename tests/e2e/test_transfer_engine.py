"""The blob engine on large files: direct socket reads, background hashing, early writeback.

Files here are above ``DIRECT_READ_MIN_BYTES``, so the body is read from the connection's
socket and hashed by a ``FileHasher`` thread; the faults of the small-file tests (cut, stall,
corrupt byte, deadline, resume) must behave exactly as on the library's own loop.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hfdl.errors import AttemptTimeout, HubUnavailable, IntegrityError, StalledTransfer
from hfdl.hub import body
from hfdl.hub.cache import RepoCache
from hfdl.hub.client import HubClient, RemoteFile
from hfdl.hub.parts import RangedSettings
from hfdl.hub.transfer import TransferResult, fetch_blob
from tests.hubserver import HubServer

WEIGHTS = "model.safetensors"
MIB = 1024 * 1024
# Above the direct-read threshold and not a multiple of any buffer size.
SIZE = body.DIRECT_READ_MIN_BYTES + 4 * MIB + 12345


class Fetcher:
    """Calls ``fetch_blob`` for one repo's weights file, as the downloader does."""

    def __init__(self, hub: HubServer, cache_dir: Path, repo_id: str, token: str | None = None):
        self.client = HubClient(hub.url, token)
        revision = self.client.list_files(repo_id, "main")
        self.commit = revision.commit_sha
        self.remote: RemoteFile = next(f for f in revision.files if f.path == WEIGHTS)
        self.repo_id = repo_id
        self.cache = RepoCache(cache_dir, repo_id)
        self.progress_total = 0

    def progress(self, nbytes: int) -> None:
        self.progress_total += nbytes

    def __call__(
        self,
        stall_timeout: float = 10.0,
        deadline: float | None = None,
        ranged: RangedSettings | None = None,
    ) -> TransferResult:
        return fetch_blob(
            url=self.client.file_url(self.repo_id, self.commit, WEIGHTS),
            headers=self.client.headers(),
            repo_cache=self.cache,
            remote_file=self.remote,
            repo_id=self.repo_id,
            commit_sha=self.commit,
            progress=self.progress,
            stall_timeout=stall_timeout,
            deadline=deadline,
            ranged=ranged,
        )

    @property
    def blob(self) -> Path:
        return self.cache.blob_path(self.remote.etag)

    @property
    def partial(self) -> Path:
        return self.cache.incomplete_path(self.remote.etag)


@pytest.fixture
def direct_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the bodies read straight from the socket (one entry per body)."""
    calls: list[int] = []
    original = body._receive_into

    def counting(sock: Any, partial: Any, read_timeout: float | None) -> None:
        calls.append(partial.position)
        original(sock, partial, read_timeout)

    monkeypatch.setattr(body, "_receive_into", counting)
    yield calls


def make_repo(hub: HubServer, **options: Any) -> str:
    repo_id = hub.unique_repo_id("org/large")
    hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: SIZE}, **options)
    return repo_id


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_large_lfs_file_is_read_directly_and_verified(
    hub: HubServer, tmp_path: Path, direct_reads: list[int]
) -> None:
    fetcher = Fetcher(hub, tmp_path, make_repo(hub))

    result = fetcher()

    assert result == TransferResult(resumed_from=0, transferred=SIZE)
    assert direct_reads, "the body did not take the direct socket path"
    assert digest_of(fetcher.blob) == fetcher.remote.sha256
    assert not fetcher.partial.exists()
    assert fetcher.progress_total == SIZE


def test_large_regular_file_is_verified_with_its_git_blob_sha1(
    hub: HubServer, tmp_path: Path, direct_reads: list[int]
) -> None:
    repo_id = make_repo(hub, lfs_threshold=1 << 40, lfs_patterns=())
    fetcher = Fetcher(hub, tmp_path, repo_id)
    assert not fetcher.remote.is_lfs

    fetcher()

    assert direct_reads
    assert fetcher.blob.read_bytes() == hub.file_bytes(repo_id, WEIGHTS)


def test_cut_connection_keeps_every_received_byte_and_resumes_with_range(
    hub: HubServer, tmp_path: Path, direct_reads: list[int]
) -> None:
    repo_id = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    cut = 7 * MIB + 3
    hub.inject((repo_id, WEIGHTS), origin="cdn", methods=("GET",), cut_after=cut, times=1)

    with pytest.raises(HubUnavailable):
        fetcher()
    assert fetcher.partial.stat().st_size == cut
    assert not fetcher.blob.exists()

    hub.clear_requests()
    result = fetcher()

    assert result == TransferResult(resumed_from=cut, transferred=SIZE - cut)
    cdn = hub.find_requests(origin="cdn", method="GET")
    assert [request.range for request in cdn] == [f"bytes={cut}-"]
    assert sum(request.bytes_sent for request in cdn) == SIZE - cut
    assert digest_of(fetcher.blob) == fetcher.remote.sha256


def test_stalled_body_is_abandoned_and_its_bytes_kept(hub: HubServer, tmp_path: Path) -> None:
    repo_id = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    hub.inject((repo_id, WEIGHTS), origin="cdn", methods=("GET",), stall_after=3 * MIB, times=1)

    started = time.monotonic()
    with pytest.raises(StalledTransfer):
        fetcher(stall_timeout=1.0)

    assert time.monotonic() - started < 8
    assert fetcher.partial.stat().st_size == 3 * MIB
    fetcher()
    assert digest_of(fetcher.blob) == fetcher.remote.sha256


def test_corrupt_byte_is_refused_and_the_partial_discarded(hub: HubServer, tmp_path: Path) -> None:
    repo_id = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    hub.inject(
        (repo_id, WEIGHTS), origin="cdn", methods=("GET",), corrupt_byte_at=SIZE - 100, times=1
    )

    with pytest.raises(IntegrityError):
        fetcher()

    assert not fetcher.partial.exists()
    assert not fetcher.blob.exists()


def test_bytes_already_on_disk_are_hashed_too(hub: HubServer, tmp_path: Path) -> None:
    """A partial file whose prefix is wrong is caught: the resume hashes what is on disk."""
    repo_id = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    fetcher.partial.parent.mkdir(parents=True, exist_ok=True)
    fetcher.partial.write_bytes(b"\0" * (5 * MIB))

    with pytest.raises(IntegrityError):
        fetcher()

    assert not fetcher.partial.exists()
    assert not fetcher.blob.exists()


def test_resume_from_a_good_partial_hashes_it_and_fetches_only_the_rest(
    hub: HubServer, tmp_path: Path, direct_reads: list[int]
) -> None:
    repo_id = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    kept = 2 * MIB + 1  # the rest stays above the direct-read threshold
    fetcher.partial.parent.mkdir(parents=True, exist_ok=True)
    fetcher.partial.write_bytes(hub.file_bytes(repo_id, WEIGHTS)[:kept])

    result = fetcher()

    assert result == TransferResult(resumed_from=kept, transferred=SIZE - kept)
    assert direct_reads
    assert digest_of(fetcher.blob) == fetcher.remote.sha256


def test_deadline_stops_a_slow_body(hub: HubServer, tmp_path: Path) -> None:
    repo_id = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(MIB, 0.3), times=None)

    with pytest.raises(AttemptTimeout):
        fetcher(deadline=time.monotonic() + 1.5)

    assert 0 < fetcher.partial.stat().st_size < SIZE


def test_token_never_reaches_the_cdn(hub: HubServer, tmp_path: Path) -> None:
    repo_id = make_repo(hub, private=True)
    hub.grant(repo_id, "hf_secret_token")
    fetcher = Fetcher(hub, tmp_path, repo_id, token="hf_secret_token")

    fetcher()

    hub_requests = hub.find_requests(rf"/{repo_id}/resolve/", origin="hub")
    assert hub_requests and all(request.has_auth for request in hub_requests)
    cdn = hub.find_requests(origin="cdn")
    assert cdn and not any(request.has_auth for request in cdn)
    assert digest_of(fetcher.blob) == fetcher.remote.sha256


def test_empty_files_are_published_without_a_request(hub: HubServer, tmp_path: Path) -> None:
    repo_id = hub.unique_repo_id("org/empty")
    hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: b"", "__init__.py": b""})
    for path in (WEIGHTS, "__init__.py"):
        fetcher = Fetcher(hub, tmp_path, repo_id)
        fetcher.remote = next(
            f for f in fetcher.client.list_files(repo_id, "main").files if f.path == path
        )
        hub.clear_requests()

        result = fetcher()

        assert result == TransferResult(resumed_from=0, transferred=0)
        assert fetcher.blob.read_bytes() == b""
        assert hub.requests == []
