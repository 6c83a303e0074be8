"""`hfdl start --foreground`: hfdl as its own scheduler on hosts without systemd."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime, timedelta

from hfdl.services.foreground import ForegroundScheduler, due_schedule
from hfdl.store.rows import ScheduleRow
from hfdl.systemd.calendar import next_fire
from tests.workspace import Workspace, wait_for

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)  # a Friday


def schedule(
    name: str, schedule_type: str, time: str, day: str | None = None, enabled: bool = True
) -> ScheduleRow:
    return ScheduleRow(
        id=1,
        name=name,
        type=schedule_type,
        time=time,
        day=day,
        enabled=enabled,
        active=False,
        concurrent_downloads=1,
        tags=(),
        created_at=NOW,
        updated_at=NOW,
    )


def test_next_fire_daily_and_weekly() -> None:
    assert next_fire(schedule("a", "daily", "23:00"), NOW) == NOW.replace(hour=23, minute=0)
    tomorrow = NOW + timedelta(days=1)
    assert next_fire(schedule("b", "daily", "09:00"), NOW) == tomorrow.replace(hour=9, minute=0)
    # Friday 14:00 later today; Friday 08:00 is next week; Monday (0) is in three days.
    assert next_fire(schedule("c", "weekly", "14:00", "4"), NOW) == NOW.replace(hour=14, minute=0)
    next_week = (NOW + timedelta(days=7)).replace(hour=8, minute=0)
    assert next_fire(schedule("d", "weekly", "08:00", "4"), NOW) == next_week
    monday = (NOW + timedelta(days=3)).replace(hour=8, minute=0)
    assert next_fire(schedule("e", "weekly", "08:00", "0"), NOW) == monday
    assert next_fire(schedule("f", "weekly", "08:00", "Mon"), NOW) == monday


def test_due_schedule_picks_the_earliest_enabled() -> None:
    schedules = [
        schedule("late", "daily", "23:00"),
        schedule("off", "daily", "11:00", enabled=False),
        schedule("soon", "daily", "12:00"),
    ]
    found = due_schedule(schedules, NOW)
    assert found is not None
    assert found[0].name == "soon"
    assert due_schedule([schedule("off", "daily", "11:00", enabled=False)], NOW) is None


def test_scheduler_runs_the_schedule_when_its_time_comes(workspace: Workspace) -> None:
    # The clock is the one thing faked here: waiting for a real wall-clock minute would make
    # the test slow, and the loop's waiting is what is under test.
    start = datetime.now(UTC).replace(hour=11, minute=59, second=59, microsecond=800_000)
    offset = datetime.now(UTC) - start
    ran: list[str] = []
    scheduler_box: list[ForegroundScheduler] = []

    def run_schedule(name: str, stop: threading.Event) -> None:
        ran.append(name)
        scheduler_box[0].stop.set()

    from hfdl.config import load_settings

    scheduler = ForegroundScheduler(
        settings=load_settings(workspace.config_path, environ={}),
        run_schedule=run_schedule,
        load_schedules=lambda: [schedule("noon", "daily", "12:00")],
        clock=lambda: datetime.now(UTC) - offset,
    )
    scheduler_box.append(scheduler)
    thread = threading.Thread(target=scheduler.serve)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert ran == ["noon"]


def test_foreground_process_writes_pid_file_and_stops_on_hfdl_stop(workspace: Workspace) -> None:
    workspace.write_catalog([])
    pid_file = workspace.root / "hfdl.pid"
    environment = {"HFDL_PID_FILE": str(pid_file)}
    process = workspace.spawn("--user", "start", "--foreground", env=environment)
    try:
        wait_for(
            lambda: pid_file.exists() and pid_file.read_text().strip() == str(process.pid),
            timeout=30,
        )

        stopped = workspace.hfdl("--user", "stop", env=environment)

        assert stopped.returncode == 0, stopped.stderr
        assert f"pid {process.pid}" in stopped.stderr
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
    assert not pid_file.exists()
    # The default schedule from the config was created for it to follow.
    schedules = workspace.query("SELECT name FROM schedules")
    assert [row["name"] for row in schedules] == ["default"]


def test_second_foreground_scheduler_is_refused(workspace: Workspace) -> None:
    workspace.write_catalog([])
    environment = {"HF_DOWNLOADER_PID_FILE": str(workspace.root / "alias.pid")}
    first = workspace.spawn("--user", "start", "--foreground", env=environment)
    try:
        wait_for(lambda: (workspace.root / "alias.pid").exists(), timeout=30)
        second = workspace.hfdl("--user", "start", "--foreground", env=environment)
        assert second.returncode != 0
        assert f"pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
