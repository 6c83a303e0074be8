"""Issue 13: two hosts sharing one PostgreSQL state database, as real ``hfdl`` processes.

Each "host" is a workspace of its own (configuration, cache, state directory and run lock)
with its own ``HFDL_HOST_ID``; both name the same PostgreSQL database in
``HFDL_DATABASE_URL``. The test Hub serves both.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from hfdl.store import Store
from tests.hubserver import HubServer
from tests.postgres import PostgresServer
from tests.workspace import Workspace, wait_for

WEIGHTS = "model.safetensors"


def second_host(workspace: Workspace, hub: HubServer, tmp_path: Path) -> Workspace:
    """Another host: its own configuration, cache and state directory."""
    other = Workspace(
        root=tmp_path / "host-b",
        endpoint=hub.url,
        ca_file=hub.tls.ca_file if hub.tls else None,
    )
    other.root.mkdir()
    other.write_config()
    return other


def host_env(url: str, host_id: str, **extra: str) -> dict[str, str]:
    return {"HFDL_DATABASE_URL": url, "HFDL_HOST_ID": host_id, **extra}


def json_of(workspace: Workspace, *arguments: str, env: dict[str, str]) -> Any:
    result = workspace.hfdl(*arguments, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_two_hosts_record_their_runs_and_status_fleet_lists_both(
    workspace: Workspace, hub: HubServer, postgres: PostgresServer, tmp_path: Path
) -> None:
    database = postgres.create_database()
    url = postgres.url(database)
    repo_id = hub.unique_repo_id("org/fleet")
    hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 30_000})
    missing = hub.unique_repo_id("org/missing")  # never created: the Hub answers 404
    host_b = second_host(workspace, hub, tmp_path)
    workspace.write_catalog([{"name": repo_id}])
    host_b.write_catalog([{"name": repo_id}, {"name": missing}])
    env_a, env_b = host_env(url, "gpu-a"), host_env(url, "gpu-b")

    run_a = workspace.hfdl("run", env=env_a)
    assert run_a.returncode == 0, run_a.stderr
    run_b = host_b.hfdl("run", env=env_b)
    assert run_b.returncode == 1, run_b.stderr  # the missing model failed

    rows = postgres.query(database, "SELECT host, status FROM sessions ORDER BY id")
    assert rows == [("gpu-a", "completed"), ("gpu-b", "failed")]
    attempts = postgres.query(database, "SELECT DISTINCT host FROM attempts ORDER BY host")
    assert attempts == [("gpu-a",), ("gpu-b",)]
    models = postgres.query(database, "SELECT name, host FROM models ORDER BY name")
    # Host B found the model completed by host A, whose cache is not B's: it checked its own
    # cache, fetched the files there, and recorded the state last.
    assert dict(models) == {repo_id: "gpu-b", missing: "gpu-b"}
    assert list((host_b.repo_dir(repo_id) / "snapshots").glob(f"*/{WEIGHTS}"))

    fleet = json_of(workspace, "status", "--fleet", env=env_a)
    assert fleet["available"] is True and fleet["this_host"] == "gpu-a"
    assert [host["host"] for host in fleet["hosts"]] == ["gpu-a", "gpu-b"]
    host_a_doc, host_b_doc = fleet["hosts"]
    assert host_a_doc["this_host"] is True and host_b_doc["this_host"] is False
    assert host_a_doc["last_session"]["status"] == "completed"
    assert host_a_doc["last_session"]["host"] == "gpu-a"
    assert host_b_doc["last_session"]["status"] == "failed"
    assert host_b_doc["last_session"]["id"] > host_a_doc["last_session"]["id"]
    assert (host_a_doc["failures"], host_a_doc["failed_models"]) == (0, [])
    assert (host_b_doc["failures"], host_b_doc["failed_models"]) == (1, [missing])
    for host in fleet["hosts"]:
        assert host["state"] == "idle" and host["running_session"] is None
        assert host["last_seen"] is not None and host["last_heartbeat_at"] is not None

    text = workspace.hfdl("status", "--fleet", env=env_a)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split()[:3] == ["HOST", "STATE", "LAST"]
    assert lines[1].startswith("gpu-a *") and "completed" in lines[1]
    assert lines[2].startswith("gpu-b ") and "failed" in lines[2]
    assert f"gpu-b: failed: {missing}" in lines


def test_a_killed_run_of_another_host_goes_stale_and_is_recovered_by_the_next_run(
    workspace: Workspace, hub: HubServer, postgres: PostgresServer, tmp_path: Path
) -> None:
    database = postgres.create_database()
    url = postgres.url(database)
    repo_id = hub.unique_repo_id("org/stale")
    hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 2_000_000})
    # 250 kB/s: host B's transfer takes 8 s, far longer than the checks while it runs.
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(50_000, 0.2), times=1)
    host_b = second_host(workspace, hub, tmp_path)
    for host in (workspace, host_b):
        host.write_catalog([{"name": repo_id}])
    # A short lease: heartbeats every 5/3 s, stale after 10 s.
    env_a = host_env(url, "gpu-a", HFDL_LEASE_SECONDS="5")
    env_b = host_env(url, "gpu-b", HFDL_LEASE_SECONDS="5")

    def heartbeat() -> float:
        ((value,),) = postgres.query(database, "SELECT heartbeat_at FROM sessions")
        return float(value)  # type: ignore[arg-type]

    Store(url).close()  # the schema, so that the polling below can read before host B writes
    process = host_b.spawn("run", env=env_b)
    try:
        wait_for(
            lambda: (
                postgres.query(database, "SELECT count(*) FROM attempts WHERE bytes_downloaded > 0")
                == [(1,)]
            ),
            timeout=60,
        )
        first = heartbeat()
        wait_for(lambda: heartbeat() > first, timeout=5)  # the heartbeat thread renews it

        live = json_of(workspace, "status", "--fleet", env=env_a)["hosts"]
        assert [(host["host"], host["state"]) for host in live] == [("gpu-b", "running")]
        session_id = live[0]["running_session"]["id"]
        assert live[0]["running_session"]["progress"]["models_running"] == [repo_id]
        assert live[0]["running_session"]["progress"]["bytes_total"] == 2_000_002

        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.communicate()
    killed_at = time.monotonic()

    # At once, host A cannot tell: the heartbeat is still fresh.
    status = json_of(workspace, "status", env=env_a)["database"]
    if time.monotonic() - killed_at < 8:
        assert status["interrupted_sessions"] == []
        assert status["running_session"]["id"] == session_id

    def stale() -> bool:
        (host,) = json_of(workspace, "status", "--fleet", env=env_a)["hosts"]
        return bool(host["last_session"]["status"] == "interrupted")

    wait_for(stale, timeout=30, interval=0.5)
    assert time.monotonic() - killed_at >= 8  # not before the heartbeat had gone stale
    (host,) = json_of(workspace, "status", "--fleet", env=env_a)["hosts"]
    assert host["state"] == "idle" and host["running_session"] is None
    assert "no heartbeat for over 10s" in host["last_session"]["error"]
    status = json_of(workspace, "status", env=env_a)["database"]
    assert status["interrupted_sessions"] == [session_id]
    assert status["running_session"] is None
    assert status["models_by_status"]["downloading"] == 0
    (model,) = json_of(workspace, "models", "list", env=env_a)
    assert model["status"] == "pending"
    # Nothing was written by the reports: the database still says what the dead run left.
    assert postgres.query(database, "SELECT status FROM sessions") == [("running",)]

    # Host A's next run records it interrupted, and downloads the model itself.
    run_a = workspace.hfdl("run", env=env_a)
    assert run_a.returncode == 0, run_a.stderr
    rows = postgres.query(database, "SELECT id, host, status, error FROM sessions ORDER BY id")
    assert [(row[0], row[1], row[2]) for row in rows] == [
        (session_id, "gpu-b", "interrupted"),
        (session_id + 1, "gpu-a", "completed"),
    ]
    assert "no heartbeat" in str(rows[0][3])
    assert postgres.query(database, "SELECT status, host FROM attempts ORDER BY id") == [
        ("interrupted", "gpu-b"),
        ("completed", "gpu-a"),
    ]
    assert postgres.query(database, "SELECT status, host FROM models") == [("completed", "gpu-a")]
