"""`hfdl status` and `hfdl models list` tell the truth about runs that died and things that
never happened, without waiting for the next run and without writing the database.

Real runs (``hfdl run`` subprocesses against the test Hub) are killed with SIGKILL mid-file,
as the OOM killer or a power cut would; the reports are then read at once, before any run.
"""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

import tests.systemd.test_systemd_lifecycle as lifecycle_tests
from hfdl.cli.status_text import render_status
from hfdl.config import load_settings
from hfdl.services.status import collect_status
from hfdl.systemd.manager import Scope, parse_timestamp
from tests.hubserver import HubServer
from tests.workspace import Workspace, wait_for

WEIGHTS = "model.safetensors"


def status_json(workspace: Workspace, *options: str, env: Any = None) -> dict[str, Any]:
    """``hfdl status --json``, parsed."""
    result = workspace.hfdl(*options, "status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def model_statuses(workspace: Workspace) -> dict[str, str]:
    """``hfdl models list --json``: each model's status."""
    result = workspace.hfdl("models", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {model["name"]: model["status"] for model in json.loads(result.stdout)}


def partial_bytes(workspace: Workspace, repo_id: str) -> int:
    """Size of the file being downloaded into the repo's ``blobs/``, 0 before it starts."""
    blobs = workspace.repo_dir(repo_id) / "blobs"
    files = list(blobs.glob("*.incomplete")) if blobs.exists() else []
    return files[0].stat().st_size if files else 0


def test_killed_run_reads_interrupted_at_once_without_a_new_run(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = hub.unique_repo_id("org/killed")
    hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 2_000_000})
    # 250 kB/s: the file takes 8 s, far longer than the reads done while it runs.
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(50_000, 0.2), times=1)
    workspace.write_catalog([{"name": repo_id}])
    created = workspace.hfdl(
        "schedule", "create", "--name", "nightly", "--type", "daily", "--time", "02:00"
    )
    assert created.returncode == 0, created.stderr
    process = workspace.spawn("run", "--schedule", "nightly")
    try:
        wait_for(lambda: partial_bytes(workspace, repo_id) >= 100_000, timeout=60)

        live = status_json(workspace)["database"]
        assert live["running_session"] is not None, "a live run must read as running"
        session_id = live["running_session"]["id"]
        assert [attempt["status"] for attempt in live["running_session"]["attempts"]] == ["running"]
        assert model_statuses(workspace) == {repo_id: "downloading"}

        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.communicate()

    database = status_json(workspace)["database"]
    assert database["running_session"] is None
    last = database["last_session"]
    assert (last["id"], last["status"]) == (session_id, "interrupted")
    assert database["interrupted_sessions"] == [session_id]
    assert "ended without finishing" in last["error"]
    assert database["models_by_status"]["downloading"] == 0
    assert database["models_by_status"]["pending"] == 1
    text = workspace.hfdl("status")
    assert text.returncode == 0, text.stderr
    assert f"last session: {session_id} interrupted" in text.stdout
    assert "running: session" not in text.stdout
    assert model_statuses(workspace) == {repo_id: "pending"}
    schedules = workspace.hfdl("schedule", "list", "--json")
    assert schedules.returncode == 0, schedules.stderr
    (schedule,) = json.loads(schedules.stdout)
    assert (schedule["last_session_id"], schedule["last_result"]) == (session_id, "interrupted")
    shown = workspace.hfdl("models", "show", repo_id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "pending"
    # The reports wrote nothing: the database still says what the dead run left.
    (row,) = workspace.query("SELECT status FROM sessions")
    assert row["status"] == "running"
    assert workspace.model_row(repo_id)["status"] == "downloading"


def test_schedule_that_never_ran_reads_never(workspace: Workspace) -> None:
    workspace.write_catalog([])
    created = workspace.hfdl(
        "schedule", "create", "--name", "nightly", "--type", "daily", "--time", "02:00"
    )
    assert created.returncode == 0, created.stderr
    environ = workspace.environment()
    settings = load_settings(workspace.config_path, environ=environ, cwd=workspace.root)
    scope = Scope("user", environ=environ)

    (schedule,) = collect_status(settings, scope)["database"]["schedules"]
    assert (schedule["last_run"], schedule["last_result"], schedule["last_session_id"]) == (
        None,
        None,
        None,
    )
    assert "schedule nightly: last run never" in render_status(collect_status(settings, scope))

    ran = workspace.hfdl("run", "--schedule", "nightly")
    assert ran.returncode == 0, ran.stderr
    (schedule,) = collect_status(settings, scope)["database"]["schedules"]
    assert schedule["last_result"] == "completed" and schedule["last_run"] is not None
    assert "schedule nightly: last run never" not in render_status(collect_status(settings, scope))


def test_unset_systemd_timestamps_read_as_never() -> None:
    assert parse_timestamp("Thu 1970-01-01 00:00:00 UTC") is None
    assert parse_timestamp("@0") is None and parse_timestamp("n/a") is None
    moment = parse_timestamp("Fri 2026-12-04 14:00:00 UTC")
    assert moment is not None and moment.year == 2026


@pytest.mark.systemd
def test_timer_that_never_fired_reads_never(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    lifecycle_tests.setup(workspace, hub)
    lifecycle_tests.create_schedule(
        workspace, systemd, "friday", "--type", "weekly", "--time", "14:00", "--day", "fri"
    )
    lifecycle_tests.hfdl_json(workspace, systemd, "start")

    (timer,) = status_json(workspace, "--user", env=systemd.env)["systemd"]["timers"]
    assert timer["last_trigger"] is None
    assert (timer["service_result"], timer["service_exit_status"]) == (None, None)
    assert timer["service_last_start"] is None
    text = workspace.hfdl("--user", "status", env=systemd.env)
    assert "last trigger never; last result never" in text.stdout, text.stdout

    # Once the service has run, systemd's own result is shown.
    assert systemd.systemctl("start", "hfdl-run@friday.service").returncode == 0
    (timer,) = status_json(workspace, "--user", env=systemd.env)["systemd"]["timers"]
    assert timer["service_result"] == "success" and timer["service_exit_status"] == "0"
    assert timer["service_last_start"] is not None


def test_status_lists_only_current_failures(workspace: Workspace, hub: HubServer) -> None:
    fixed_later = hub.unique_repo_id("org/later")
    removed = hub.unique_repo_id("org/removed")
    workspace.write_catalog([{"name": fixed_later}, {"name": removed}])
    assert workspace.hfdl("run").returncode == 1

    def failing() -> list[str]:
        failures = status_json(workspace)["database"]["recent_failures"]
        return sorted(failure["model_name"] for failure in failures)

    assert failing() == sorted([fixed_later, removed])
    hub.create_repo(fixed_later, {"config.json": "{}"})
    assert workspace.hfdl("run").returncode == 1  # `removed` still fails
    assert failing() == [removed]
    removal = workspace.hfdl("models", "remove", removed)
    assert removal.returncode == 0, removal.stderr
    assert failing() == []
    assert "failed:" not in workspace.hfdl("status").stdout
