"""Parallel ranged transfers (issue 11): parts, resume part by part, fallback, backoff.

The real client against the test Hub, mostly in-process through ``fetch_blob`` (as the
downloader calls it), plus one ``hfdl run`` killed with SIGKILL to prove the sidecar resume.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from hfdl.errors import HubUnavailable
from hfdl.hub import body, part_worker, stream
from hfdl.hub import parts as part_table
from hfdl.hub.parts import RangedSettings
from hfdl.hub.stream import PROBE_BYTES
from tests.e2e.test_transfer_engine import Fetcher
from tests.hubserver import HubServer
from tests.hubserver.throttle import Throttle
from tests.workspace import Workspace, sha256_of, wait_for

WEIGHTS = "model.safetensors"
MIB = 1024 * 1024
SIZE = 40_000_123  # not a multiple of any part size


def parts_of(size: int, connections: int) -> int:
    """How many parts ``ranged`` splits a file of ``size`` bytes into."""
    length = max(part_table.MIN_PART_BYTES, -(-size // connections))
    return -(-size // length)


@pytest.fixture(autouse=True)
def fresh_limits(hub: HubServer) -> Iterator[None]:
    """No throttle left over on the shared server, no host allowance left from another test."""
    part_table._LIMITERS.clear()
    yield
    hub.throttle = None
    part_table._LIMITERS.clear()


def make_repo(hub: HubServer, size: int = SIZE) -> tuple[str, str]:
    repo_id = hub.unique_repo_id("org/ranged")
    commit = hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: size})
    return repo_id, commit


def cdn_gets(hub: HubServer) -> list[str | None]:
    """The ``Range`` header of every GET of the weights on the CDN, in order."""
    gets = hub.find_requests(lambda r: r.filename == WEIGHTS, origin="cdn", method="GET")
    return [record.range for record in gets]


def cdn_bytes_sent(hub: HubServer) -> int:
    """Body bytes the CDN sent for the weights."""
    gets = hub.find_requests(lambda r: r.filename == WEIGHTS, origin="cdn", method="GET")
    return sum(record.bytes_sent for record in gets)


def test_large_file_is_fetched_as_parallel_ranges_and_verified(
    hub: HubServer, tmp_path: Path
) -> None:
    repo_id, _ = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    # Capped well below FAST_CONNECTION_BYTES_PER_SECOND: the speed probe asks for company.
    hub.throttle = Throttle(rate=32 * MIB)

    result = fetcher(ranged=RangedSettings(connections_per_file=8, max_connections=16))

    ranges = cdn_gets(hub)
    # First one plain stream (the speed probe), then one request per remaining part, each a
    # closed range starting at or after what the probe received.
    assert ranges[0] is None
    parts = ranges[1:]
    assert len(parts) == len(set(parts)) >= 2
    spans = sorted(
        (int(first), int(last))
        for first, last in (r.removeprefix("bytes=").split("-") for r in parts if r)
    )
    assert len(spans) == len(parts)
    assert spans[0][0] >= PROBE_BYTES
    assert spans[-1][1] == SIZE - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(spans))
    # The probe's prefix was kept, not fetched again (a little of its last chunk may have
    # been in flight when it was closed).
    assert cdn_bytes_sent(hub) < SIZE + 2 * MIB
    assert (result.transferred, result.resumed_from) == (SIZE, 0)
    assert hashlib.sha256(fetcher.blob.read_bytes()).hexdigest() == fetcher.remote.sha256
    assert not fetcher.partial.exists()
    assert not Path(f"{fetcher.partial}.parts").exists()
    assert fetcher.progress_total == SIZE


def test_small_files_stay_one_request(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = make_repo(hub, size=3 * MIB)
    fetcher = Fetcher(hub, tmp_path, repo_id)

    fetcher(ranged=RangedSettings(connections_per_file=8, max_connections=16))

    assert cdn_gets(hub) == [None]
    assert hashlib.sha256(fetcher.blob.read_bytes()).hexdigest() == fetcher.remote.sha256


def leave_ranged_partial(hub: HubServer, fetcher: Fetcher, settings: RangedSettings) -> None:
    """A first try that splits the file and is cut: parts written at several offsets.

    (Trickled, so the speed probe finds the connection slow and splits the file.) Faults and
    the request log are cleared afterwards.
    """
    hub.inject(
        (fetcher.repo_id, WEIGHTS),
        origin="cdn",
        cut_after=3 * MIB,
        trickle=(256 * 1024, 0.01),
        times=None,
    )
    with pytest.raises(HubUnavailable):
        fetcher(ranged=settings)
    assert Path(f"{fetcher.partial}.parts").exists()
    hub.reset_faults()
    hub.clear_requests()


def test_server_ignoring_range_gets_one_clean_stream(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    settings = RangedSettings(connections_per_file=8, max_connections=16)
    leave_ranged_partial(hub, fetcher, settings)
    hub.throttle = Throttle(ignore_range=True)

    fetcher(ranged=settings)

    # The probe's 200 was dropped, then one stream (its Range answered 200 too, truncated).
    gets = hub.find_requests(lambda r: r.filename == WEIGHTS, origin="cdn", method="GET")
    assert [record.status for record in gets] == [200, 200]
    assert hashlib.sha256(fetcher.blob.read_bytes()).hexdigest() == fetcher.remote.sha256
    assert fetcher.blob.stat().st_size == SIZE
    assert not Path(f"{fetcher.partial}.parts").exists()


def test_throttled_parts_back_off_and_recover(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    settings = RangedSettings(connections_per_file=8, max_connections=4)
    leave_ranged_partial(hub, fetcher, settings)
    part_table._LIMITERS.clear()
    # The next try goes on part by part, and the first three part requests are throttled.
    hub.inject((repo_id, WEIGHTS), origin="cdn", status=429, retry_after="0", times=3)
    hub.throttle = Throttle(rate=32 * MIB)

    fetcher(ranged=settings)

    assert hashlib.sha256(fetcher.blob.read_bytes()).hexdigest() == fetcher.remote.sha256
    assert part_table._LIMITERS, "no host limiter was used"
    assert min(limiter.lowest for limiter in part_table._LIMITERS.values()) == 1
    gets = hub.find_requests(lambda r: r.filename == WEIGHTS, origin="cdn", method="GET")
    served = [record for record in gets if record.status == 206]
    assert [record.status for record in gets][:3] == [429, 429, 429]
    # After three halvings one connection was allowed: the first part ran alone ...
    first = served[0]
    assert first.end_time is not None
    later = [other for other in served if other.start_time > first.start_time]
    assert later and not any(other.start_time < first.end_time for other in later)
    # ... and the allowance grew back as parts completed.
    assert hub.max_concurrent(lambda r: r.filename == WEIGHTS, origin="cdn", method="GET") > 1


def test_sigkill_resumes_each_part_where_it_stopped(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = make_repo(hub)
    # Slow enough that the kill lands mid-transfer: each part at 2 MiB/s.
    hub.throttle = Throttle(rate=2 * MIB)
    workspace.write_catalog([{"name": repo_id}])
    blobs = workspace.repo_dir(repo_id) / "blobs"

    def sidecar() -> list[list[int]]:
        sidecars = list(blobs.glob("*.incomplete.parts")) if blobs.exists() else []
        if not sidecars:
            return []
        parts: list[list[int]] = json.loads(sidecars[0].read_text())["parts"]
        return parts

    def recorded() -> int:
        return sum(done for _, _, done in sidecar())

    process = workspace.spawn("run")
    wait_for(lambda: recorded() >= 12 * MIB, timeout=60)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    kept = recorded()
    parts = len(sidecar())
    assert 12 * MIB <= kept < SIZE
    first_run = hub.bytes_sent
    hub.clear_requests()
    hub.throttle = None

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    snapshot = workspace.snapshot_file(repo_id, commit, WEIGHTS)
    assert sha256_of(snapshot) == hub.file_entry(repo_id, WEIGHTS, commit).etag
    ranges = [r for r in cdn_gets(hub)]
    assert ranges and all(r is not None for r in ranges)
    # Every part went on from its recorded offset: at most one flush interval (plus what
    # was in flight) per part travelled twice.
    slack = parts * (part_worker.SIDECAR_FLUSH_BYTES + body.RECEIVE_BUFFER_BYTES)
    assert hub.bytes_sent <= SIZE - kept + slack
    assert first_run + hub.bytes_sent <= SIZE + slack


def test_fast_link_stays_one_stream_with_no_extra_request(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_id, _ = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    # Any link counts as fast: the probing stream simply goes on to the end.
    monkeypatch.setattr(stream, "FAST_CONNECTION_BYTES_PER_SECOND", 1)

    result = fetcher(ranged=RangedSettings(connections_per_file=8, max_connections=16))

    assert cdn_gets(hub) == [None]
    assert (result.transferred, result.resumed_from) == (SIZE, 0)
    assert cdn_bytes_sent(hub) == SIZE
    assert fetcher.progress_total == SIZE
    assert hashlib.sha256(fetcher.blob.read_bytes()).hexdigest() == fetcher.remote.sha256
    assert not Path(f"{fetcher.partial}.parts").exists()


def test_slow_server_without_accept_ranges_stays_one_stream(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = make_repo(hub)
    fetcher = Fetcher(hub, tmp_path, repo_id)
    # Slow enough for the speed probe to want parallel parts, but no "Accept-Ranges: bytes":
    # the probing stream must simply go on (splitting would cost a refused range request and
    # a third stream).
    hub.throttle = Throttle(rate=32 * MIB, ignore_range=True)

    result = fetcher(ranged=RangedSettings(connections_per_file=8, max_connections=16))

    assert cdn_gets(hub) == [None]
    assert (result.transferred, result.resumed_from) == (SIZE, 0)
    assert cdn_bytes_sent(hub) == SIZE
    assert hashlib.sha256(fetcher.blob.read_bytes()).hexdigest() == fetcher.remote.sha256
    assert not Path(f"{fetcher.partial}.parts").exists()
