"""Scheduled runs tell systemd the truth: no run lost to the lock, a stop is not a failure, a
temporary failure is retried, a manual start is not a timer run, an interrupted session ends
in the journal.

The systemd tests run in the real private user manager (``tests/systemd_harness.py``) with
units installed by ``hfdl start``, against the test Hub; the others run ``hfdl`` directly.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
from typing import Any

import pytest

from tests.hubserver import HubServer
from tests.systemd.test_systemd_lifecycle import WEIGHTS, create_schedule, force_fire, hfdl_json
from tests.workspace import Workspace, wait_for


def setup_models(
    workspace: Workspace, hub: HubServer, tags: list[str], **service: Any
) -> dict[str, str]:
    """One 50 kB model per tag; the config for fast, on-time runs. Returns repo id by tag."""
    repos = {}
    for tag in tags:
        repo_id = hub.unique_repo_id(f"org/{tag}")
        hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 50_000})
        repos[tag] = repo_id
    workspace.write_config(
        service={"randomized_delay_seconds": 0, **service},
        default_schedule={"enabled": False, "type": "daily", "time": "02:00"},
    )
    workspace.write_catalog([{"name": repo_id, "tags": [tag]} for tag, repo_id in repos.items()])
    return repos


def unit_properties(systemd: Any, unit: str, *names: str) -> dict[str, str]:
    """``systemctl --user show UNIT -p NAME...`` as a dict."""
    arguments = [argument for name in names for argument in ("-p", name)]
    output = systemd.systemctl("show", unit, *arguments).stdout
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def sessions(workspace: Workspace) -> list[Any]:
    """Every session, oldest first."""
    return workspace.query("SELECT * FROM sessions ORDER BY id")


def failed_units(systemd: Any) -> list[str]:
    """The units ``systemctl --failed`` lists."""
    listed = systemd.systemctl("list-units", "--failed", "--plain", "--no-legend", "-o", "json")
    return [unit["unit"] for unit in json.loads(listed.stdout or "[]")]


# -- 1. two schedules at once: the second waits for the lock ----------------------------------


@pytest.mark.systemd
def test_two_schedules_firing_together_both_complete_one_waits_for_the_lock(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    repos = setup_models(workspace, hub, ["early", "late"])
    # Both downloads take a few seconds: whichever run gets the lock first holds it a while.
    for repo_id in repos.values():
        hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(5_000, 0.3), times=None)
    for tag in repos:
        create_schedule(
            workspace, systemd, tag, "--type", "daily", "--time", "03:00", "--tags", tag
        )
    hfdl_json(workspace, systemd, "start")

    for tag in repos:
        force_fire(systemd, f"hfdl-{tag}.timer")

    services = [f"hfdl-run@{tag}.service" for tag in repos]
    wait_for(lambda: len(sessions(workspace)) == 2, timeout=60)
    for service in services:
        systemd.wait_for_unit_state(service, "inactive", timeout=90)
    for service in services:
        values = unit_properties(systemd, service, "Result", "ExecMainStatus")
        assert values == {"Result": "success", "ExecMainStatus": "0"}, service
    assert not failed_units(systemd)
    first, second = sessions(workspace)
    assert [first["status"], second["status"]] == ["completed", "completed"]
    assert {first["schedule_name"], second["schedule_name"]} == set(repos)
    assert {first["trigger"], second["trigger"]} == {"timer"}
    for repo_id in repos.values():
        assert workspace.model_row(repo_id)["status"] == "completed"
    # The wait was logged when it began (naming the holder) and recorded with the session
    # that waited, which started only once the first one ended.
    (waiting,) = systemd.journal_records(
        SYSLOG_IDENTIFIER="hfdl",
        MESSAGE=f"waiting for the run lock held by pid {first['pid']} (session {first['id']})",
    )
    assert waiting["_SYSTEMD_UNIT"] == f"hfdl-run@{second['schedule_name']}.service"
    (waited,) = systemd.journal_records(
        _SYSTEMD_UNIT=f"hfdl-run@{second['schedule_name']}.service", HFDL_EVENT="lock-wait"
    )
    assert waited["HFDL_SESSION_ID"] == str(second["id"])
    assert second["started_at"] >= first["ended_at"]


def test_a_run_waits_for_the_lock_only_as_long_as_it_is_told(workspace: Workspace) -> None:
    workspace.write_catalog([])
    workspace.state_dir.mkdir(parents=True, exist_ok=True)
    # The test process holds the run lock as a run would, with its pid and session written.
    descriptor = os.open(workspace.state_dir / "run.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.write(descriptor, f"{os.getpid()}\n42\n".encode())

        result = workspace.hfdl("run", "--wait-timeout", "1", env={"HFDL_LOG_TARGET": "stderr"})

        assert result.returncode == 75, result.stderr
        assert f"waiting for the run lock held by pid {os.getpid()} (session 42)" in result.stderr
        assert "gave up after waiting 1s for the run lock" in result.stderr
        assert not workspace.db_path.exists() or not sessions(workspace)
    finally:
        os.close(descriptor)


# -- 2 and 5. a stop is not a failure, and its session ends in the journal --------------------


@pytest.mark.systemd
def test_stop_interrupts_the_session_cleanly_and_says_what_it_stopped(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    repos = setup_models(workspace, hub, ["halt"])
    repo_id = repos["halt"]
    # Slow enough that the run is mid-file when stopped.
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(1_000, 0.2), times=None)
    create_schedule(workspace, systemd, "halt", "--type", "daily", "--time", "05:00")
    hfdl_json(workspace, systemd, "start")
    force_fire(systemd, "hfdl-halt.timer")
    service = "hfdl-run@halt.service"
    wait_for(lambda: "KiB of" in systemd.unit_property(service, "StatusText"), timeout=60)

    stopped = workspace.hfdl("--user", "stop", env=systemd.env)

    assert stopped.returncode == 0, stopped.stderr
    (session,) = sessions(workspace)
    assert session["status"] == "interrupted"
    assert (
        f"stopped {service}: session {session['id']} interrupted; 0 model(s) done; "
        f"{repo_id} interrupted (partial files kept" in stopped.stderr
    )
    values = unit_properties(systemd, service, "ActiveState", "Result")
    assert values == {"ActiveState": "inactive", "Result": "success"}
    assert service not in failed_units(systemd)
    assert workspace.model_row(repo_id)["status"] == "pending"
    # The interrupted session's end is in the journal like a completed one's, as a warning.
    # (The journal is the session's: match this test's unit, whose name no other test uses.)
    (end,) = systemd.wait_for_records(_SYSTEMD_UNIT=service, HFDL_EVENT="session-end")
    assert end["HFDL_SESSION_ID"] == str(session["id"])
    assert end["MESSAGE"].startswith(f"session {session['id']} interrupted: ")
    assert "partial files kept" in end["MESSAGE"]
    assert end["PRIORITY"] == "4"


@pytest.mark.systemd
def test_systemctl_stop_leaves_a_final_status_line_and_no_failed_unit(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    repos = setup_models(workspace, hub, ["halted", "quick"])
    hub.inject((repos["halted"], WEIGHTS), origin="cdn", trickle=(1_000, 0.2), times=None)
    create_schedule(workspace, systemd, "both", "--type", "daily", "--time", "05:30")
    hfdl_json(workspace, systemd, "start")
    service = "hfdl-run@both.service"
    systemd.systemctl("start", "--no-block", service)
    wait_for(lambda: "1/2 models" in systemd.unit_property(service, "StatusText"), timeout=60)

    # The timer stays loaded and keeps the stopped service loaded, with its last status.
    stopped = systemd.systemctl("stop", service, timeout=60)

    assert stopped.returncode == 0, stopped.stderr
    values = unit_properties(systemd, service, "ActiveState", "Result", "StatusText")
    assert values == {
        "ActiveState": "inactive",
        "Result": "success",
        "StatusText": "stopped by SIGTERM; 1/2 models done; partial files kept",
    }
    assert service not in failed_units(systemd)
    (session,) = sessions(workspace)
    assert session["status"] == "interrupted"


def test_a_run_stopped_by_sigterm_ends_by_that_signal(workspace: Workspace, hub: HubServer) -> None:
    repo_id = hub.unique_repo_id("org/stopped")
    hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 300_000})
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(5_000, 0.2), times=None)
    workspace.write_catalog([{"name": repo_id}])
    process = workspace.spawn("run")
    try:
        wait_for(lambda: hub.find_requests(origin="cdn"), timeout=30)
        wait_for(lambda: bool(sessions(workspace)), timeout=30)
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Killed by SIGTERM (a shell shows 143), not exit 75: a stop is not a failure.
    assert process.returncode == -signal.SIGTERM, stderr
    assert "stopped by SIGTERM; partial files kept" in stderr
    assert "hfdl: error" not in stderr
    (session,) = sessions(workspace)
    assert session["status"] == "interrupted"


# -- 3. a temporary failure is retried by systemd --------------------------------------------


@pytest.mark.systemd
def test_a_run_that_failed_because_the_hub_was_down_is_restarted_and_completes(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    repos = setup_models(workspace, hub, ["flaky"], retry_delay_seconds=1, retry_attempts=2)
    repo_id = repos["flaky"]
    workspace.write_config(max_retries=0)  # the run gives up at once; systemd retries it
    hub.inject((repo_id, None), origin="hub", status=503, times=1)
    create_schedule(workspace, systemd, "flaky", "--type", "daily", "--time", "06:00")
    hfdl_json(workspace, systemd, "start")

    force_fire(systemd, "hfdl-flaky.timer")

    service = "hfdl-run@flaky.service"
    wait_for(
        lambda: [row["status"] for row in sessions(workspace)] == ["failed", "completed"],
        timeout=60,
    )
    systemd.wait_for_unit_state(service, "inactive", timeout=60)
    values = unit_properties(systemd, service, "Result", "NRestarts", "ExecMainStatus")
    assert values == {"Result": "success", "NRestarts": "1", "ExecMainStatus": "0"}
    assert workspace.model_row(repo_id)["status"] == "completed"
    first_run = systemd.journal_records(SYSLOG_IDENTIFIER="hfdl", PRIORITY="3")
    assert any("did not complete on temporary errors" in r.get("MESSAGE", "") for r in first_run)
    # Both runs are the timer's: the restart repeats the timer's start.
    assert [row["trigger"] for row in sessions(workspace)] == ["timer", "timer"]


# -- 4. a manual start is not a timer run ----------------------------------------------------


@pytest.mark.systemd
def test_a_manual_start_of_the_service_is_recorded_as_manual(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    setup_models(workspace, hub, ["hand"])
    create_schedule(workspace, systemd, "hand", "--type", "daily", "--time", "07:00")
    hfdl_json(workspace, systemd, "start")

    started = systemd.systemctl("start", "hfdl-run@hand.service", timeout=90)

    assert started.returncode == 0, started.stderr
    (session,) = sessions(workspace)
    assert session["status"] == "completed"
    assert session["trigger"] == "manual"
    assert session["schedule_name"] == "hand"
    assert session["invocation_id"] == systemd.unit_property(
        "hfdl-run@hand.service", "InvocationID"
    )
