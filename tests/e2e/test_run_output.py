"""What `hfdl run` says while it works, at which verbosity, and that a dry run writes nothing.

Every test runs the real ``hfdl`` as a subprocess against the project's test Hub server.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from tests.hubserver import HubServer
from tests.workspace import Workspace

WEIGHTS = "model.safetensors"


def small_repo(hub: HubServer, base: str = "org/output") -> tuple[str, str]:
    repo_id = hub.unique_repo_id(base)
    return repo_id, hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 20_000})


def tree_snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file and directory under ``root`` (itself included): kind, size and mtime."""
    snapshot: dict[str, tuple[str, int, int]] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        kind = "dir" if path.is_dir() and not path.is_symlink() else "file"
        # A directory's size and mtime change whenever an entry is created or removed in it,
        # even one that was deleted again before the snapshot ("create then clean up").
        snapshot[str(path.relative_to(root))] = (kind, info.st_size, info.st_mtime_ns)
    return snapshot


def isolated_env(workspace: Workspace) -> dict[str, str]:
    """Point every cache a library could create under the workspace, so the snapshot sees it."""
    return {
        "HF_HOME": str(workspace.root / "hf-home"),
        "XDG_CACHE_HOME": str(workspace.root / "xdg-cache"),
        "HFDL_LOG_TARGET": "stderr",
    }


# -- metadata retries ----------------------------------------------------------------------


def test_metadata_retries_are_logged_counted_and_given_up(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id, _ = small_repo(hub)
    # A Hub that answers 503 to every request about the repo (Retry-After: 0 keeps it fast).
    fault = hub.inject((repo_id, None), status=503, retry_after="0", times=None)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    # Non-zero (the exact code for a Hub that is down is the exit-code table's business).
    assert result.returncode != 0, result.stderr
    assert fault.hits == 5  # the first try and max_retries=4 retries
    lines = result.stderr.splitlines()
    retry_lines = [line for line in lines if f"retry {repo_id} (" in line]
    assert [re.search(r"\((\d)/4\)", line).group(1) for line in retry_lines] == list("1234")  # type: ignore[union-attr]
    assert all("HTTP 503" in line for line in retry_lines)
    # The session's first line comes before the waits, the failure after them.
    started = next(i for i, line in enumerate(lines) if "session" in line and "started" in line)
    failed = next(i for i, line in enumerate(lines) if f"failed {repo_id}:" in line)
    assert started < lines.index(retry_lines[0]) and lines.index(retry_lines[-1]) < failed
    assert "gave up after 4 retries" in lines[failed]
    assert "4 retries" in next(line for line in lines if "session" in line and "failed:" in line)
    (attempt,) = workspace.query("SELECT status, retries, error FROM attempts")
    assert attempt["status"] == "failed"
    assert attempt["retries"] == 4
    assert "gave up after 4 retries" in attempt["error"]


def test_metadata_retries_count_in_a_completed_model(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = small_repo(hub)
    hub.inject(r"^/api/models/" + re.escape(repo_id), status=502, retry_after="0", times=2)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run", "--json")

    assert result.returncode == 0, result.stderr
    assert f"retry {repo_id} (2/4)" in result.stderr
    (outcome,) = json.loads(result.stdout)["models"]
    assert outcome["status"] == "completed"
    assert outcome["retries"] == 2
    (attempt,) = workspace.query("SELECT retries FROM attempts")
    assert attempt["retries"] == 2
    assert workspace.snapshot_file(repo_id, commit, WEIGHTS).exists()


def test_lines_come_out_while_the_run_waits(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = small_repo(hub)
    # The first request gets a 503 with Retry-After: 1 (a retry line, then a wait of a
    # second); the second is answered only after 1.8 s (the "asking" notice is due after 1 s).
    hub.inject((repo_id, None), status=503, retry_after="1", times=1)
    hub.inject((repo_id, None), delay_headers=1.8, times=1)
    workspace.write_catalog([{"name": repo_id}])
    process = workspace.spawn("run")
    assert process.stderr is not None and process.stdout is not None
    seen: list[tuple[str, bool]] = []
    try:
        for line in process.stderr:
            # Whether the process was still running when the line arrived: a line that is
            # buffered until the end arrives only after the process has exited.
            seen.append((line.rstrip("\n"), process.poll() is None))
    finally:
        process.wait(timeout=60)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == 0, seen
    retry = [live for line, live in seen if f"retry {repo_id} (1/4) in 1.0s: " in line]
    asking = [
        live for line, live in seen if f"{repo_id}: asking {hub.url} for the file list" in line
    ]
    assert retry == [True], seen
    assert asking == [True], seen
    lines = [line for line, _ in seen]
    done = next(line for line in lines if f"done {repo_id}" in line)
    assert done.endswith("1 retries"), done


# -- verbosity -----------------------------------------------------------------------------


def test_verbose_and_debug_level_print_the_decisions(workspace: Workspace, hub: HubServer) -> None:
    wanted, _ = small_repo(hub, "org/wanted")
    disabled, _ = small_repo(hub, "org/disabled")
    workspace.write_catalog([{"name": wanted}, {"name": disabled, "enabled": False}])
    env = {"HFDL_LOG_TARGET": "stderr"}

    plain = workspace.hfdl("run", "--dry-run", env=env)
    verbose = workspace.hfdl("--verbose", "run", "--dry-run", env=env)
    short = workspace.hfdl("-v", "run", "--dry-run", env=env)
    by_level = workspace.hfdl("run", "--dry-run", env={**env, "HFDL_LOG_LEVEL": "DEBUG"})

    for result in (plain, verbose, short, by_level):
        assert result.returncode == 0, result.stderr
        assert wanted in result.stdout  # the plan is printed whatever the verbosity
    assert "DEBUG" not in plain.stderr
    assert f"select {wanted}: new" not in plain.stderr
    for result in (verbose, short, by_level):
        assert len(result.stderr.splitlines()) > len(plain.stderr.splitlines())
        assert f"DEBUG select {wanted}: new" in result.stderr
        assert f"DEBUG skip {disabled}: disabled in the catalog" in result.stderr
        plan_line = next(line for line in result.stderr.splitlines() if f"plan {wanted}:" in line)
        assert "download (new), 1 request(s), 0 retries" in plan_line
        assert "admitted" in plan_line
        assert f"{wanted}: asked {hub.url} for the file list: answered in" in result.stderr


# -- dry run -------------------------------------------------------------------------------


def test_dry_run_in_a_fresh_workspace_writes_nothing(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])
    # A Hub that needs one retry: the retry line is logged, yet no log file appears.
    hub.inject((repo_id, None), status=503, retry_after="0", times=1)
    before = tree_snapshot(workspace.root)

    result = workspace.hfdl("-v", "run", "--dry-run", env=isolated_env(workspace))

    assert result.returncode == 0, result.stderr
    assert f"retry {repo_id} (1/4)" in result.stderr
    assert tree_snapshot(workspace.root) == before
    assert not workspace.state_dir.exists()
    (row,) = [line for line in result.stdout.splitlines() if line.startswith(repo_id)]
    assert row.split()[1:3] == ["download", "new"]


def test_dry_run_reads_an_existing_database_without_touching_it(
    workspace: Workspace, hub: HubServer
) -> None:
    done_id, _ = small_repo(hub, "org/done")
    new_id, _ = small_repo(hub, "org/new")
    workspace.write_catalog([{"name": done_id}])
    assert workspace.hfdl("run").returncode == 0
    workspace.write_catalog([{"name": done_id}, {"name": new_id}])
    before = tree_snapshot(workspace.root)

    result = workspace.hfdl("run", "--dry-run", "--json", env=isolated_env(workspace))

    assert result.returncode == 0, result.stderr
    assert tree_snapshot(workspace.root) == before
    # The database was read: the completed model is not due, only the new one is planned.
    plans = json.loads(result.stdout)
    assert [(plan["name"], plan["action"], plan["reason"]) for plan in plans] == [
        (new_id, "download", "new")
    ]

    # Now another process (a running `hfdl run`, `hfdl status`) has the database open in WAL
    # mode, with a commit the dry run must see: the completed model is pending again.
    holder = sqlite3.connect(workspace.db_path)
    try:
        holder.execute("UPDATE models SET status = 'pending' WHERE name = ?", (done_id,))
        holder.commit()
        assert Path(f"{workspace.db_path}-wal").exists()
        before = tree_snapshot(workspace.root)

        result = workspace.hfdl("run", "--dry-run", "--json", env=isolated_env(workspace))

        assert result.returncode == 0, result.stderr
        after = tree_snapshot(workspace.root)
        # The -shm file is the open database's shared memory, made by the holder: every
        # reader of a WAL database marks in it which commit it reads (its mtime moves). It
        # stays the same file, and nothing is created or removed.
        shm = "state/hfdl.db-shm"
        assert after.pop(shm)[:2] == before.pop(shm)[:2]
        assert after == before
        plans = json.loads(result.stdout)
        assert [(plan["name"], plan["reason"]) for plan in plans] == [
            (done_id, "pending"),
            (new_id, "new"),
        ]
    finally:
        holder.close()
