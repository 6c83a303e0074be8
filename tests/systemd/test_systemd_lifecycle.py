"""Schedules become real timers in a real (private) systemd user manager, and fire `hfdl run`."""

from __future__ import annotations

import json
import subprocess
from time import sleep
from typing import Any

import pytest

from tests.hubserver import HubServer
from tests.workspace import Workspace, wait_for

pytestmark = pytest.mark.systemd

WEIGHTS = "model.safetensors"


def hfdl_json(workspace: Workspace, systemd: Any, *arguments: str) -> Any:
    """Run an hfdl command with ``--json`` in the user manager's environment; parse stdout."""
    result = workspace.hfdl("--user", *arguments, "--json", env=systemd.env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def create_schedule(workspace: Workspace, systemd: Any, name: str, *options: str) -> None:
    """``hfdl --user schedule create --name NAME OPTIONS`` in the user manager's environment."""
    result = workspace.hfdl(
        "--user", "schedule", "create", "--name", name, *options, env=systemd.env
    )
    assert result.returncode == 0, result.stderr


def setup(workspace: Workspace, hub: HubServer, *, repo_ok: bool = True) -> str:
    repo_id = hub.unique_repo_id("org/timed")
    if repo_ok:
        hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 50_000})
    workspace.write_config(
        service={"randomized_delay_seconds": 0},
        default_schedule={"enabled": False, "type": "daily", "time": "02:00"},
    )
    workspace.write_catalog([{"name": repo_id, "tags": ["nlp"]}])
    return repo_id


def calendar_next(expression: str) -> str:
    """``systemd-analyze calendar``'s next elapse, as UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    output = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=1", expression],
        capture_output=True,
        text=True,
        check=True,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
    ).stdout
    line = next(line for line in output.splitlines() if "Next elapse" in line)
    # "Next elapse: Fri 2026-12-04 14:00:00 UTC"
    day, clock = line.split(":", 1)[1].split()[1:3]
    return f"{day}T{clock}Z"


def force_fire(systemd: Any, timer: str) -> None:
    """Make a timer elapse within a second: a drop-in adds OnActiveSec=1, then restart it."""
    drop_in = systemd.unit_dir / f"{timer}.d"
    drop_in.mkdir(exist_ok=True)
    (drop_in / "fire-now.conf").write_text("[Timer]\nOnActiveSec=1\nAccuracySec=1s\n")
    assert systemd.systemctl("daemon-reload").returncode == 0
    assert systemd.systemctl("restart", timer).returncode == 0


def test_start_installs_verified_timers_with_next_elapse(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    setup(workspace, hub)
    create_schedule(
        workspace, systemd, "friday", "--type", "weekly", "--time", "14:00", "--day", "fri"
    )

    report = hfdl_json(workspace, systemd, "start")

    assert sorted(report["written"]) == ["hfdl-friday.timer", "hfdl-run@.service"]
    for name in report["written"]:
        verified = subprocess.run(
            ["systemd-analyze", "verify", "--user", str(systemd.unit_dir / name)],
            capture_output=True,
            text=True,
            env=systemd.env,
        )
        assert verified.returncode == 0, verified.stderr
    timers = json.loads(systemd.systemctl("list-timers", "--all", "-o", "json").stdout)
    listed = {timer["unit"]: timer for timer in timers}
    assert "hfdl-friday.timer" in listed
    assert report["timers"][0]["next_elapse"] == calendar_next("Fri *-*-* 14:00:00")
    # Idempotent: a second start writes nothing.
    again = hfdl_json(workspace, systemd, "start")
    assert again["written"] == []
    status = hfdl_json(workspace, systemd, "status")
    timer = status["systemd"]["timers"][0]
    assert timer["enabled"] is True
    assert timer["next_elapse"] == calendar_next("Fri *-*-* 14:00:00")


def test_timer_fires_the_oneshot_which_downloads_and_records_its_invocation(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    repo_id = setup(workspace, hub)
    create_schedule(
        workspace, systemd, "nightly", "--type", "daily", "--time", "23:00", "--tags", "nlp"
    )
    hfdl_json(workspace, systemd, "start")

    force_fire(systemd, "hfdl-nightly.timer")

    service = "hfdl-run@nightly.service"
    wait_for(
        lambda: (
            workspace.db_path.exists()
            and workspace.query("SELECT * FROM sessions WHERE status != 'running'")
        ),
        timeout=60,
    )
    systemd.wait_for_unit_state(service, "inactive", timeout=60)
    properties = systemd.systemctl("show", service, "-p", "Result", "-p", "InvocationID").stdout
    values = dict(line.split("=", 1) for line in properties.splitlines())
    assert values["Result"] == "success"
    session = workspace.query("SELECT * FROM sessions ORDER BY id DESC")[0]
    assert session["status"] == "completed"
    assert session["trigger"] == "timer"
    assert session["schedule_name"] == "nightly"
    assert session["invocation_id"] == values["InvocationID"]
    assert workspace.model_row(repo_id)["status"] == "completed"
    records = systemd.journal_records(SYSLOG_IDENTIFIER="hfdl", HFDL_MODEL=repo_id)
    assert any(record.get("HFDL_EVENT") == "done" for record in records)
    assert all(record.get("HFDL_SESSION_ID") == str(session["id"]) for record in records)
    status = hfdl_json(workspace, systemd, "status")
    assert status["database"]["last_session"]["id"] == session["id"]
    assert status["systemd"]["timers"][0]["service_result"] == "success"
    assert status["systemd"]["timers"][0]["last_trigger"] is not None


def test_failing_run_leaves_the_unit_failed_and_status_says_why(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    repo_id = setup(workspace, hub, repo_ok=False)
    # Restarts would come after 1 s: a permanent failure (exit 1) must get none.
    workspace.write_config(service={"randomized_delay_seconds": 0, "retry_delay_seconds": 1})
    create_schedule(workspace, systemd, "broken", "--type", "daily", "--time", "03:00")
    hfdl_json(workspace, systemd, "start")

    force_fire(systemd, "hfdl-broken.timer")

    service = "hfdl-run@broken.service"
    systemd.wait_for_unit_state(service, "failed", timeout=60)
    # A missing repository is not retried: one run, no restart after the delay has passed.
    wait_for(lambda: systemd.unit_property(service, "NRestarts") == "0", timeout=5)
    sleep(3)  # longer than RestartSec=1: a restart would have happened by now
    assert systemd.unit_property(service, "NRestarts") == "0"
    assert len(workspace.query("SELECT * FROM sessions")) == 1
    status = hfdl_json(workspace, systemd, "status")
    timer = status["systemd"]["timers"][0]
    assert timer["service_result"] == "exit-code"
    assert timer["service_exit_status"] == "1"
    failures = status["database"]["recent_failures"]
    assert failures[0]["model_name"] == repo_id
    assert "was not found" in failures[0]["error"]
    # The final error line is filed as an error (PRIORITY=3), not as info.
    errors = systemd.journal_records(SYSLOG_IDENTIFIER="hfdl", PRIORITY="3")
    assert any("did not complete" in record.get("MESSAGE", "") for record in errors)


def test_disable_delete_and_stop_remove_what_they_should(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    setup(workspace, hub)
    for name, time in (("alpha", "01:00"), ("beta", "02:00")):
        create_schedule(workspace, systemd, name, "--type", "daily", "--time", time)
    hfdl_json(workspace, systemd, "start")
    assert (systemd.unit_dir / "hfdl-alpha.timer").exists()

    assert workspace.hfdl("--user", "schedule", "disable", "alpha", env=systemd.env).returncode == 0
    assert not (systemd.unit_dir / "hfdl-alpha.timer").exists()
    assert systemd.systemctl("is-active", "hfdl-beta.timer").stdout.strip() == "active"

    assert workspace.hfdl("--user", "schedule", "delete", "beta", env=systemd.env).returncode == 0
    assert not (systemd.unit_dir / "hfdl-beta.timer").exists()
    assert systemd.systemctl("is-active", "hfdl-beta.timer").stdout.strip() != "active"

    assert workspace.hfdl("--user", "schedule", "enable", "alpha", env=systemd.env).returncode == 0
    assert systemd.systemctl("is-active", "hfdl-alpha.timer").stdout.strip() == "active"
    stopped = workspace.hfdl("--user", "stop", env=systemd.env)
    assert stopped.returncode == 0, stopped.stderr
    assert systemd.systemctl("is-enabled", "hfdl-alpha.timer").stdout.strip() == "disabled"
    assert systemd.systemctl("is-active", "hfdl-alpha.timer").stdout.strip() != "active"
    assert [row["name"] for row in workspace.query("SELECT name FROM schedules ORDER BY name")] == [
        "alpha"
    ]


def test_foreign_unit_file_is_never_overwritten(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    setup(workspace, hub)
    create_schedule(workspace, systemd, "mine", "--type", "daily", "--time", "04:00")
    systemd.unit_dir.mkdir(parents=True, exist_ok=True)
    foreign = systemd.unit_dir / "hfdl-mine.timer"
    foreign.write_text("[Timer]\nOnCalendar=daily\n")

    result = workspace.hfdl("--user", "start", env=systemd.env)

    assert result.returncode == 69
    assert "did not generate" in result.stderr
    assert foreign.read_text() == "[Timer]\nOnCalendar=daily\n"
    assert not (systemd.unit_dir / "hfdl-run@.service").exists()


def test_running_service_reports_progress_in_systemctl_status(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    repo_id = setup(workspace, hub)
    # Slow the weights down so the oneshot is still running while we look.
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(2_000, 0.1), times=None)
    create_schedule(workspace, systemd, "slow", "--type", "daily", "--time", "05:00")
    hfdl_json(workspace, systemd, "start")

    force_fire(systemd, "hfdl-slow.timer")

    service = "hfdl-run@slow.service"
    seen: list[str] = []

    def status_text() -> bool:
        text = systemd.unit_property(service, "StatusText")
        seen.append(text)
        return "models" in text and "KiB of" in text

    wait_for(status_text, timeout=60, interval=0.05)
    assert any(text.startswith("0/1 models") for text in seen)
    systemd.wait_for_unit_state(service, "inactive", timeout=60)
