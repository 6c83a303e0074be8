"""A state database another process is writing is busy, not damaged.

A real second process (Python's ``sqlite3`` module, as a ``sqlite3`` shell would) takes the
write lock with ``BEGIN IMMEDIATE`` and keeps it. hfdl must wait for it within a bound, and past
the bound say "try again" (exit 75, ``DatabaseBusy``), never "move a damaged file aside"
(exit 73, ``StoreError``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hfdl.store.db import BUSY_TIMEOUT_ENV, busy_timeout_ms
from tests.hubserver import HubServer
from tests.workspace import Workspace, wait_for

HINT = "another hfdl process (or a sqlite3 shell) is writing the state database"

HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
print("released", flush=True)
"""


@contextmanager
def write_lock_held(db_path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the database's write lock for ``seconds`` (or until the end)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db_path), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked", holder.stderr
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=30)


def make_database(workspace: Workspace, hub: HubServer) -> str:
    repo_id = hub.unique_repo_id("org/busy")
    hub.create_repo(repo_id, {"config.json": "{}", "model.safetensors": 5_000})
    workspace.write_catalog([{"name": repo_id}])
    result = workspace.hfdl("models", "update", repo_id, "--priority", "high")
    assert result.returncode == 0, result.stderr
    assert workspace.db_path.exists()
    return repo_id


def test_busy_database_past_the_bound_exits_75_saying_try_again(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = make_database(workspace, hub)
    short = {BUSY_TIMEOUT_ENV: "1"}

    with write_lock_held(workspace.db_path, 60):
        run = workspace.hfdl("run", env=short)
        add = workspace.hfdl("models", "update", repo_id, "--priority", "low", env=short)
        # Readers are not blocked by a writer (WAL): listing still works meanwhile.
        listing = workspace.hfdl("models", "list", env=short)

    for result in (run, add):
        assert result.returncode == 75, result.stderr
        assert "is busy" in result.stderr
        assert HINT in result.stderr
        assert "move a damaged file aside" not in result.stderr
    assert listing.returncode == 0, listing.stderr
    assert repo_id in listing.stdout
    # Nothing was half-done: the next run, with the lock gone, downloads the model.
    assert workspace.hfdl("run").returncode == 0
    assert workspace.model_row(repo_id)["status"] == "completed"


@pytest.mark.slow
def test_a_run_waits_for_a_lock_held_for_seconds_mid_run(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = make_database(workspace, hub)
    # Planning waits 2 s for the Hub: the lock is taken in that window, after the session
    # started and before the run's next write (its attempt), which then waits ~6 s for it:
    # more than the 5 s hfdl used to wait, well within the 60 s it waits now.
    hub.inject((repo_id, None), delay_headers=2.0)
    run = workspace.spawn("run")
    try:
        wait_for(lambda: workspace.db_path.exists() and _session_running(workspace))
        with write_lock_held(workspace.db_path, 8) as holder:
            assert run.poll() is None, "the run ended before the lock was taken"
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "released"
        _, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 0, stderr
    assert workspace.model_row(repo_id)["status"] == "completed"


def _session_running(workspace: Workspace) -> bool:
    rows = workspace.query("SELECT status FROM sessions ORDER BY id DESC LIMIT 1")
    return bool(rows) and rows[0]["status"] == "running"


def test_busy_timeout_comes_from_the_environment_within_bounds() -> None:
    assert busy_timeout_ms({}) == 60_000
    assert busy_timeout_ms({BUSY_TIMEOUT_ENV: "2.5"}) == 2_500
    assert busy_timeout_ms({BUSY_TIMEOUT_ENV: "soon"}) == 60_000
    assert busy_timeout_ms({BUSY_TIMEOUT_ENV: "-1"}) == 60_000
