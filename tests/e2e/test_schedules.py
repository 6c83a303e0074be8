"""``hfdl schedule ...`` through the real CLI (``python -m hfdl``) against a real SQLite DB.

Every refused input must leave the database byte-for-byte as it was (or not create it).
Timers in a real systemd manager are tested in ``test_systemd_lifecycle.py``; here the
commands run with ``--user`` and an empty ``$XDG_CONFIG_HOME``, where hfdl is not started,
so the systemd hook only notes that.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from hfdl.config import load_settings
from hfdl.services import schedules as service
from hfdl.store import Store
from tests.workspace import Workspace

LIST_KEYS = {
    "id",
    "name",
    "type",
    "time",
    "day",
    "enabled",
    "active",
    "max_concurrent_downloads",
    "tags",
    "created_at",
    "updated_at",
    "on_calendar",
    "next_run",
    "last_run",
    "last_result",
    "last_session_id",
}


def schedule_cli(workspace: Workspace, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``hfdl --config ... --user schedule ARGUMENTS``."""
    return workspace.hfdl("--user", "schedule", *arguments, timeout=60)


def ok(workspace: Workspace, *arguments: str) -> subprocess.CompletedProcess[str]:
    result = schedule_cli(workspace, *arguments)
    assert result.returncode == 0, result.stderr
    return result


def listed(workspace: Workspace) -> list[dict[str, Any]]:
    document: list[dict[str, Any]] = json.loads(ok(workspace, "list", "--json").stdout)
    return document


def by_name(workspace: Workspace) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in listed(workspace)}


def state_files(workspace: Workspace) -> dict[str, bytes]:
    """Every file of the state directory, with its bytes (DB, -wal, -shm, lock...)."""
    if not workspace.state_dir.exists():
        return {}
    return {
        path.name: path.read_bytes() for path in workspace.state_dir.iterdir() if path.is_file()
    }


def calendar_next(expression: str) -> str:
    """Ask systemd-analyze directly (in UTC) when an expression next elapses."""
    output = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=1", expression],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, TZ="UTC"),
    ).stdout
    line = next(line for line in output.splitlines() if "Next elapse" in line)
    day, clock = line.split(":", 1)[1].split()[1:3]
    return f"{day}T{clock}Z"


@pytest.fixture
def config_default_weekly(workspace: Workspace) -> Workspace:
    """A configuration whose default schedule is weekly on Sunday at 05:30, 3 at once."""
    workspace.write_config(
        default_schedule={
            "enabled": True,
            "type": "weekly",
            "time": "05:30",
            "day": "sun",
            "max_concurrent_downloads": 3,
        }
    )
    return workspace


# -- the happy paths ---------------------------------------------------------------------------


def test_create_and_list(workspace: Workspace) -> None:
    created = ok(
        workspace,
        "create",
        "--type",
        "daily",
        "--time",
        "23:00",
        "--name",
        "nightly",
        "--tags",
        "nlp,cv",
        "--max-concurrent",
        "3",
    )
    assert "created schedule 'nightly'" in created.stderr
    # Not started in this scope: the systemd hook says so instead of failing.
    assert "hfdl start" in created.stderr
    ok(
        workspace,
        "create",
        "--name",
        "weekend",
        "--type",
        "weekly",
        "--day",
        "fri",
        "--time",
        "9:05",
    )

    entries = listed(workspace)
    assert [entry["name"] for entry in entries] == ["nightly", "weekend"]
    for entry in entries:
        assert set(entry) == LIST_KEYS
    nightly, weekend = entries
    assert nightly | {"id": 0, "created_at": "", "updated_at": "", "next_run": ""} == {
        "id": 0,
        "name": "nightly",
        "type": "daily",
        "time": "23:00",
        "day": None,
        "enabled": True,
        "active": False,
        "max_concurrent_downloads": 3,
        "tags": ["nlp", "cv"],
        "created_at": "",
        "updated_at": "",
        "on_calendar": "*-*-* 23:00:00",
        "next_run": "",
        "last_run": None,
        "last_result": None,
        "last_session_id": None,
    }
    assert (weekend["day"], weekend["time"], weekend["on_calendar"]) == (
        "Fri",
        "09:05",
        "Fri *-*-* 09:05:00",
    )
    # Default concurrency comes from the configuration's default_schedule.
    assert weekend["max_concurrent_downloads"] == 2
    assert weekend["tags"] == []
    # The DB holds what the CLI showed.
    rows = workspace.query("SELECT name, type, time, day, enabled FROM schedules ORDER BY name")
    assert [tuple(row) for row in rows] == [
        ("nightly", "daily", "23:00", None, 1),
        ("weekend", "weekly", "09:05", "Fri", 1),
    ]

    table = ok(workspace, "list").stdout
    assert table.splitlines()[0].split() == [
        "ID",
        "NAME",
        "WHEN",
        "ENABLED",
        "ACTIVE",
        "TAGS",
        "MAX",
        "NEXT",
        "RUN",
        "LAST",
        "RUN",
        "RESULT",
    ]
    assert "weekly Fri (4) 09:05" in table


def test_next_run_is_systemds_next_elapse(workspace: Workspace) -> None:
    ok(workspace, "create", "--name", "nightly", "--type", "daily", "--time", "23:00")
    ok(
        workspace,
        "create",
        "--name",
        "weekend",
        "--type",
        "weekly",
        "--day",
        "6",
        "--time",
        "14:00",
    )
    for entry in listed(workspace):
        # Computed twice, a few milliseconds apart: only a run exactly at 23:00/14:00 could
        # tell them apart.
        assert entry["next_run"] == calendar_next(entry["on_calendar"])


@pytest.mark.parametrize(
    ("spelling", "stored"),
    [("0", "Mon"), ("4", "Fri"), ("6", "Sun"), ("fri", "Fri"), ("FRIDAY", "Fri"), ("Tue", "Tue")],
)
def test_days_are_numbers_from_monday_or_names(
    workspace: Workspace, spelling: str, stored: str
) -> None:
    ok(workspace, "create", "--name", "w", "--type", "weekly", "--time", "01:00", "--day", spelling)
    assert by_name(workspace)["w"]["day"] == stored


def test_type_time_and_day_default_to_the_configured_default_schedule(
    config_default_weekly: Workspace,
) -> None:
    workspace = config_default_weekly
    ok(workspace, "create", "--name", "plain")
    ok(workspace, "create", "--name", "daily-one", "--type", "daily")
    entries = by_name(workspace)
    plain = entries["plain"]
    assert (plain["type"], plain["day"], plain["time"], plain["max_concurrent_downloads"]) == (
        "weekly",
        "Sun",
        "05:30",
        3,
    )
    assert (entries["daily-one"]["type"], entries["daily-one"]["day"]) == ("daily", None)


def test_enable_disable_set_active_delete(workspace: Workspace) -> None:
    for name, time in (("first", "01:00"), ("second", "02:00"), ("third", "03:00")):
        ok(workspace, "create", "--name", name, "--type", "daily", "--time", time)
    ok(workspace, "create", "--name", "off", "--type", "daily", "--time", "04:00", "--disabled")
    assert by_name(workspace)["off"]["enabled"] is False
    assert by_name(workspace)["off"]["next_run"] is None  # a disabled schedule never runs

    second_id = str(by_name(workspace)["second"]["id"])
    result = ok(workspace, "set-active", second_id)  # by id
    assert "'second'" in result.stderr
    states = {name: (e["enabled"], e["active"]) for name, e in by_name(workspace).items()}
    assert states == {
        "first": (False, False),
        "second": (True, True),
        "third": (False, False),
        "off": (False, False),
    }

    ok(workspace, "enable", "third")
    assert (by_name(workspace)["third"]["enabled"], by_name(workspace)["third"]["active"]) == (
        True,
        False,
    )
    ok(workspace, "disable", "second")
    assert (by_name(workspace)["second"]["enabled"], by_name(workspace)["second"]["active"]) == (
        False,
        False,
    )
    ok(workspace, "set-active", "off")
    assert [name for name, e in by_name(workspace).items() if e["enabled"]] == ["off"]

    ok(workspace, "delete", "first")
    assert sorted(by_name(workspace)) == ["off", "second", "third"]
    assert workspace.query("SELECT count(*) AS n FROM schedules")[0]["n"] == 3


def test_show_and_show_units(workspace: Workspace) -> None:
    ok(
        workspace,
        "create",
        "--name",
        "nightly",
        "--type",
        "weekly",
        "--day",
        "5",
        "--time",
        "23:00",
    )
    details = ok(workspace, "show", "nightly").stdout
    assert "weekly Sat (5) 23:00" in details
    assert "Sat *-*-* 23:00:00" in details
    document = json.loads(ok(workspace, "show", "nightly", "--json").stdout)
    assert set(document) == LIST_KEYS

    units = ok(workspace, "show", "nightly", "--units").stdout
    assert "# --- hfdl-run@.service ---" in units
    assert "# --- hfdl-nightly.timer ---" in units
    assert "OnCalendar=Sat *-*-* 23:00:00" in units
    assert f'--config "{workspace.config_path}" run --schedule %i' in units
    assert units.count("# X-hfdl-generated: 1") == 2
    rendered = json.loads(ok(workspace, "show", "nightly", "--units", "--json").stdout)
    assert [unit["name"] for unit in rendered] == ["hfdl-run@.service", "hfdl-nightly.timer"]


def test_list_shows_the_last_run_of_each_schedule(workspace: Workspace) -> None:
    ok(workspace, "create", "--name", "nightly", "--type", "daily", "--time", "23:00")
    ok(workspace, "create", "--name", "never", "--type", "daily", "--time", "22:00")
    with Store(workspace.db_path) as store:
        first = store.start_session("timer", "nightly", socket.gethostname(), os.getpid(), None)
        store.finish_session(first, "failed", error="boom")
        second = store.start_session("timer", "nightly", socket.gethostname(), os.getpid(), None)
        store.finish_session(second, "completed")
        store.start_session("manual", None, socket.gethostname(), os.getpid(), None)
    entries = by_name(workspace)
    assert (entries["nightly"]["last_result"], entries["nightly"]["last_session_id"]) == (
        "completed",
        second,
    )
    assert entries["nightly"]["last_run"].endswith("Z")
    assert entries["never"]["last_run"] is None
    assert "completed" in ok(workspace, "list").stdout


def test_list_without_a_database_creates_nothing(workspace: Workspace) -> None:
    result = ok(workspace, "list", "--json")
    assert json.loads(result.stdout) == []
    assert not workspace.db_path.exists()
    assert "no schedules" in ok(workspace, "list").stderr


# -- refused input changes nothing ---------------------------------------------------------------

BAD_CREATE = [
    (["--name", "Nightly"], "not a valid schedule name"),
    (["--name", "a b"], "not a valid schedule name"),
    (["--name", "a_b"], "not a valid schedule name"),
    (["--name", "../../etc/evil"], "not a valid schedule name"),
    (["--name", "x\nExecStartPre=/bin/sh"], "not a valid schedule name"),
    (["--name=-x"], "not a valid schedule name"),
    (["--name", "x" * 33], "not a valid schedule name"),
    (["--name", "1234"], "digits only"),
    (["--name", "ok", "--type", "hourly"], "not a schedule type"),
    (["--name", "ok", "--time", "24:00"], "not a time"),
    (["--name", "ok", "--time", "12:60"], "not a time"),
    (["--name", "ok", "--time", "7pm"], "not a time"),
    (["--name", "ok", "--time", "02:00\nUnit=evil.service"], "not a time"),
    (["--name", "ok", "--type", "weekly"], "needs a day"),
    (["--name", "ok", "--type", "daily", "--day", "mon"], "daily schedule runs every day"),
    (["--name", "ok", "--type", "weekly", "--day", "7"], "not a day of the week"),
    (["--name", "ok", "--type", "weekly", "--day", "-1"], "not a day of the week"),
    (["--name", "ok", "--type", "weekly", "--day", "funday"], "not a day of the week"),
    (["--name", "ok", "--type", "weekly", "--day", "fri\n"], "not a day of the week"),
    (["--name", "ok", "--max-concurrent", "0"], "max_concurrent_downloads"),
    (["--name", "ok", "--max-concurrent", "65"], "max_concurrent_downloads"),
    (["--name", "ok", "--tags", "a=b"], "must not contain ="),
    (["--name", "ok", "--tags", "a b"], "must not contain spaces"),
    (["--name", "ok", "--tags", "a\nb"], "must not contain spaces"),
    (["--name", "ok", "--tags", "a;b"], "must not contain ;"),
    (["--name", "ok", "--tags", "100%"], "must not contain %"),
    (["--name", "ok", "--tags", 'say"hi'], 'must not contain "'),
    (["--name", "ok", "--tags", "back\\slash"], "must not contain \\"),
    (["--name", "ok", "--tags", "nlp,nlp"], "duplicate tag"),
    (["--name", "ok", "--tags", "nlp,,cv"], "non-empty"),
    (["--name", "existing"], "already exists"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_CREATE)
def test_invalid_create_is_refused_and_changes_nothing(
    workspace: Workspace, arguments: list[str], message: str
) -> None:
    ok(workspace, "create", "--name", "existing", "--type", "daily", "--time", "02:00")
    before = state_files(workspace)
    defaults = ["--type", "daily", "--time", "03:00"]
    result = schedule_cli(workspace, "create", *defaults, *arguments)
    assert result.returncode == 65, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("hfdl: error: ")
    assert state_files(workspace) == before


def test_every_problem_is_reported_at_once(workspace: Workspace) -> None:
    ok(workspace, "create", "--name", "taken", "--type", "daily", "--time", "02:00")
    before = state_files(workspace)
    result = schedule_cli(
        workspace,
        "create",
        "--name",
        "taken",
        "--type",
        "weekly",
        "--day",
        "someday",
        "--time",
        "25:00",
        "--max-concurrent",
        "0",
        "--tags",
        "a=b",
    )
    assert result.returncode == 65
    assert "invalid schedule: 5 problems" in result.stderr
    for fragment in ("already exists", "not a day", "not a time", "max_concurrent", "a=b"):
        assert fragment in result.stderr
    assert state_files(workspace) == before


def test_invalid_create_does_not_even_create_the_database(workspace: Workspace) -> None:
    result = schedule_cli(workspace, "create", "--name", "Bad Name", "--time", "02:00")
    assert result.returncode == 65
    assert not workspace.db_path.exists()


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["create", "--type", "daily", "--time", "02:00"], "--name"),  # missing --name
        (["create", "--name", "x", "--max-concurrent", "many"], "--max-concurrent"),
        (["create", "--name", "x", "--bogus"], "--bogus"),
        (["enable"], "ID_OR_NAME"),
    ],
)
def test_usage_errors_exit_2_and_change_nothing(
    workspace: Workspace, arguments: list[str], fragment: str
) -> None:
    ok(workspace, "create", "--name", "existing", "--type", "daily", "--time", "02:00")
    before = state_files(workspace)
    result = schedule_cli(workspace, *arguments)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert state_files(workspace) == before


@pytest.mark.parametrize("command", ["enable", "disable", "set-active", "delete", "show"])
@pytest.mark.parametrize("target", ["missing", "999", "x\nExecStart=/bin/sh"])
def test_unknown_schedules_are_refused_and_change_nothing(
    workspace: Workspace, command: str, target: str
) -> None:
    ok(workspace, "create", "--name", "existing", "--type", "daily", "--time", "02:00")
    before = state_files(workspace)
    result = schedule_cli(workspace, command, target)
    assert result.returncode == 65, result.stderr
    assert "no schedule" in result.stderr
    assert state_files(workspace) == before


# -- the default schedule ------------------------------------------------------------------------


def test_default_schedule_is_created_only_when_there_is_no_schedule(
    config_default_weekly: Workspace,
) -> None:
    settings = load_settings(config_default_weekly.config_path)
    with Store(settings.db_path) as store:
        created = service.ensure_default_schedule(store, settings)
        assert created is not None
        assert (created.name, created.type, created.day, created.time) == (
            "default",
            "weekly",
            "Sun",
            "05:30",
        )
        assert (created.enabled, created.active, created.concurrent_downloads) == (True, True, 3)
        assert service.ensure_default_schedule(store, settings) is None
    service.delete_schedule(settings, "default")
    service.create_schedule(
        settings, name="mine", schedule_type="daily", time="01:00", enabled=False
    )
    with Store(settings.db_path) as store:
        # Any schedule, even a disabled one, means the user has chosen.
        assert service.ensure_default_schedule(store, settings) is None
        assert [row.name for row in store.list_schedules()] == ["mine"]


def test_no_default_schedule_when_the_configuration_disables_it(workspace: Workspace) -> None:
    workspace.write_config(default_schedule={"enabled": False})
    settings = load_settings(workspace.config_path)
    with Store(settings.db_path) as store:
        assert service.ensure_default_schedule(store, settings) is None
        assert store.list_schedules() == []


def test_default_schedule_is_listed_by_the_cli(workspace: Workspace) -> None:
    settings = load_settings(workspace.config_path)
    with Store(settings.db_path) as store:
        service.ensure_default_schedule(store, settings)
    [entry] = listed(workspace)
    assert (entry["name"], entry["type"], entry["time"], entry["active"]) == (
        "default",
        "daily",
        "02:00",
        True,
    )


# -- the service layer directly ------------------------------------------------------------------


def test_service_validation_happens_before_any_write(workspace: Workspace) -> None:
    from hfdl.errors import DuplicateSchedule, InvalidSchedule, ScheduleNotFound

    settings = load_settings(workspace.config_path)
    with pytest.raises(InvalidSchedule) as raised:
        service.create_schedule(settings, name="Bad", schedule_type="daily", time="99:00")
    assert [problem.path for problem in raised.value.problems] == ["name", "time"]
    assert raised.value.hint == "nothing was changed"
    assert not workspace.db_path.exists()

    row = service.create_schedule(
        settings, name="a", schedule_type="weekly", time="7:05", day=4, tags=["x"]
    )
    configured = settings.default_schedule.max_concurrent_downloads
    assert (row.day, row.time, row.concurrent_downloads) == ("Fri", "07:05", configured)
    with pytest.raises(DuplicateSchedule):
        service.create_schedule(settings, name="a", schedule_type="daily", time="01:00")
    with pytest.raises(InvalidSchedule) as raised:
        service.create_schedule(settings, name="a", schedule_type="daily", time="99:00")
    assert [problem.path for problem in raised.value.problems] == ["time", "name"]
    with pytest.raises(ScheduleNotFound):
        service.enable_schedule(settings, "b")
    assert [entry.schedule for entry in service.list_overviews(settings)] == [row]
    assert service.split_tags(["nlp,cv", "audio"]) == ("nlp", "cv", "audio")
    assert service.split_tags(None) == ()
    overview = service.show_schedule(settings, "a", now=datetime(2026, 11, 29, tzinfo=UTC))
    assert (overview.on_calendar, overview.when) == ("Fri *-*-* 07:05:00", "weekly Fri (4) 07:05")


def test_schedule_commands_do_not_import_huggingface_hub(workspace: Workspace) -> None:
    """Start-up time: the Hub client is only for `hfdl run`."""
    ok(workspace, "create", "--name", "nightly", "--type", "daily", "--time", "23:00")
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('LOADED', 'huggingface_hub' in sys.modules))\n"
        "from hfdl.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    for arguments in (["list"], ["show", "nightly", "--units"], ["disable", "nightly"]):
        command = [sys.executable, "-c", probe, "--config", str(workspace.config_path)]
        result = subprocess.run(
            [*command, "--user", "schedule", *arguments],
            capture_output=True,
            text=True,
            env=workspace.environment(),
            cwd=workspace.root,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "LOADED False" in result.stdout, arguments
