"""Hosts that share one cache and one PostgreSQL database download each blob once (issue 13).

Each "host" is a real ``hfdl run`` process with its own configuration, state directory and
``host_id``, all pointed at one cache directory (``shared_cache: true``) and one database on a
real PostgreSQL (tests/postgres.py), against the test Hub. File locks are not taken on a shared
cache (NFS's are unreliable), so only the leases in the database keep the hosts apart: without
them, every host would fetch every file.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from hfdl.store import Store
from tests.hubserver import HubServer
from tests.postgres import run_sql
from tests.workspace import Workspace, sha256_of, wait_for

WEIGHTS = [f"model-{index:05d}-of-00003.safetensors" for index in range(1, 4)]


def make_hosts(
    tmp_path: Path, hub: HubServer, database_url: str, repo_id: str, count: int, **settings: Any
) -> list[Workspace]:
    """``count`` hfdl installations sharing ``<tmp>/shared-cache`` and ``database_url``."""
    shared = tmp_path / "shared-cache"
    hosts = []
    for number in range(1, count + 1):
        host = Workspace(root=tmp_path / f"host-{number}", endpoint=hub.url)
        host.write_config(
            download_directory=str(shared),
            database_url=database_url,
            shared_cache=True,
            host_id=f"host-{number}",
            lease_seconds=5,
            **settings,
        )
        host.write_catalog([{"name": repo_id}])
        hosts.append(host)
    return hosts


def shared_repo(tmp_path: Path, repo_id: str) -> Path:
    """The repository's folder in the shared cache."""
    return tmp_path / "shared-cache" / ("models--" + repo_id.replace("/", "--"))


def served(hub: HubServer, repo_id: str, filename: str) -> int:
    """Body bytes the server sent of one file's content: LFS files come from the CDN (the
    Hub's 302 to it has a small body of its own), the others from the Hub."""
    requests = hub.find_requests(
        lambda record: record.repo_id == repo_id and record.filename == filename, method="GET"
    )
    return sum(record.bytes_sent for record in requests if record.status in (200, 206))


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr


def test_three_hosts_download_each_blob_once(
    tmp_path: Path, hub: HubServer, postgres_url: str
) -> None:
    repo_id = hub.unique_repo_id("org/shared")
    sizes = {name: 3_000_000 + index for index, name in enumerate(WEIGHTS)}
    commit = hub.create_repo(repo_id, {"config.json": '{"a": 1}', **sizes})
    for name in WEIGHTS:
        # Slow bodies (~1.5 s each), so that the hosts' runs overlap.
        hub.inject((repo_id, name), trickle=(200_000, 0.1), times=None, origin="cdn")
    hosts = make_hosts(tmp_path, hub, postgres_url, repo_id, 3)

    processes = [host.spawn("run") for host in hosts]
    results = [finish(process) for process in processes]

    for returncode, stderr in results:
        assert returncode == 0, stderr
    # Every byte of every file left the server once, whatever host fetched it.
    for name, size in sizes.items():
        assert served(hub, repo_id, name) == size, name
    assert served(hub, repo_id, "config.json") == len('{"a": 1}')
    # The hosts did run side by side: some waited for a blob another was downloading.
    waits = [stderr for _, stderr in results if "waiting for it" in stderr]
    assert waits, "no host waited for another's download"
    folder = shared_repo(tmp_path, repo_id)
    for name in WEIGHTS:
        path = folder / "snapshots" / commit / name
        assert sha256_of(path) == hub.file_entry(repo_id, name, commit).etag
    assert not list((folder / "blobs").glob("*.incomplete"))
    sessions = run_sql(postgres_url, "SELECT host, status FROM sessions ORDER BY host")
    assert sessions == [("host-1", "completed"), ("host-2", "completed"), ("host-3", "completed")]
    attempts = run_sql(postgres_url, "SELECT host, status FROM attempts ORDER BY host")
    assert attempts == [("host-1", "completed"), ("host-2", "completed"), ("host-3", "completed")]
    assert run_sql(postgres_url, "SELECT COUNT(*) FROM blob_leases") == [(0,)]


def test_a_killed_holder_s_blob_is_taken_over_after_its_lease_expires(
    tmp_path: Path, hub: HubServer, postgres_url: str
) -> None:
    repo_id = hub.unique_repo_id("org/takeover")
    size = 6_000_000  # one stream (under the ranged threshold), ~3 s at the trickle below
    commit = hub.create_repo(repo_id, {WEIGHTS[0]: size})
    hub.inject((repo_id, WEIGHTS[0]), trickle=(200_000, 0.1), times=None, origin="cdn")
    first, second = make_hosts(tmp_path, hub, postgres_url, repo_id, 2)
    blobs = shared_repo(tmp_path, repo_id) / "blobs"
    Store(postgres_url).close()  # the tables exist before the test looks at blob_leases

    holder = first.spawn("run")
    try:
        wait_for(
            lambda: (
                run_sql(postgres_url, "SELECT host FROM blob_leases") == [("host-1",)]
                and any(p.stat().st_size > 1_000_000 for p in blobs.glob("*.incomplete"))
            ),
            timeout=60,
        )
        waiter = second.spawn("run")
        time.sleep(1.5)  # host-2 is waiting on the live lease
        assert waiter.poll() is None
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        kept = next(blobs.glob("*.incomplete")).stat().st_size
        killed_at = time.monotonic()
        returncode, stderr = finish(waiter)
    finally:
        for process in (holder,):
            if process.poll() is None:
                process.kill()
                process.wait()

    assert returncode == 0, stderr
    assert "being downloaded by host host-1" in stderr
    # host-2 went on only once the dead holder's lease expired (lease_seconds: 5) ...
    assert time.monotonic() - killed_at >= 2
    # ... and resumed the partial file host-1 left, instead of starting over.
    gets = hub.find_requests(lambda r: r.filename == WEIGHTS[0], origin="cdn", method="GET")
    assert gets[-1].range is not None and gets[-1].range.startswith("bytes=")
    resumed_from = int(gets[-1].range.removeprefix("bytes=").split("-")[0])
    assert 0 < resumed_from <= kept
    assert served(hub, repo_id, WEIGHTS[0]) <= size + 1_000_000
    path = shared_repo(tmp_path, repo_id) / "snapshots" / commit / WEIGHTS[0]
    assert sha256_of(path) == hub.file_entry(repo_id, WEIGHTS[0], commit).etag
    assert run_sql(postgres_url, "SELECT COUNT(*) FROM blob_leases") == [(0,)]
    sessions = dict(run_sql(postgres_url, "SELECT host, status FROM sessions"))
    assert sessions["host-2"] == "completed"
    # No stuck session: host-1's run is dead. Once its heartbeat is older than
    # 2 * lease_seconds, the reports show it interrupted and host-2's next run records it so.
    wait_for(
        lambda: interrupted_in_fleet_status(second, "host-1"),
        timeout=30,
    )
    assert second.hfdl("run").returncode == 0
    sessions = dict(
        run_sql(postgres_url, "SELECT host, status FROM sessions WHERE host = 'host-1'")
    )
    assert sessions == {"host-1": "interrupted"}


def interrupted_in_fleet_status(workspace: Workspace, host: str) -> bool:
    """Whether ``hfdl status --fleet --json`` shows ``host``'s last session interrupted."""
    result = workspace.hfdl("status", "--fleet", "--json")
    assert result.returncode == 0, result.stderr
    hosts = {entry["host"]: entry for entry in json.loads(result.stdout)["hosts"]}
    last = hosts[host]["last_session"]
    return bool(last) and last["status"] == "interrupted" and hosts[host]["running_session"] is None


def test_without_shared_cache_the_blob_is_locked_the_single_host_way(
    tmp_path: Path, hub: HubServer, postgres_url: str
) -> None:
    repo_id = hub.unique_repo_id("org/alone")
    hub.create_repo(repo_id, {WEIGHTS[0]: 100_000})
    (host,) = make_hosts(tmp_path, hub, postgres_url, repo_id, 1)
    host.write_config(shared_cache=False)

    result = host.hfdl("run")

    assert result.returncode == 0, result.stderr
    assert served(hub, repo_id, WEIGHTS[0]) == 100_000
    # huggingface_hub's lock file, and no lease in the database.
    locks = tmp_path / "shared-cache" / ".locks" / shared_repo(tmp_path, repo_id).name
    assert [path.suffix for path in locks.iterdir()] == [".lock"]
    assert run_sql(postgres_url, "SELECT COUNT(*) FROM blob_leases") == [(0,)]
