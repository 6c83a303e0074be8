"""``hfdl start`` / ``hfdl stop``: make systemd's timers match the schedules in the DB.

systemd is hfdl's scheduler. ``start`` renders the units of every enabled schedule, installs
them (only ever overwriting files hfdl generated), reloads the manager and enables the timers;
``stop`` disables them. Schedules stay in the DB either way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hfdl.config import Settings
from hfdl.errors import SystemdError
from hfdl.fileio import write_atomically
from hfdl.services.stopped_runs import StoppedRun, running_sessions, stopped_runs
from hfdl.store import Store
from hfdl.systemd.manager import Scope, Systemctl, parse_timestamp
from hfdl.systemd.units import (
    UnitFile,
    default_executable,
    is_generated,
    render_units,
    service_unit_name,
    timer_unit_name,
)

RUN_SERVICE_TEMPLATE = "hfdl-run@.service"
TIMER_PREFIX = "hfdl-"


@dataclass(frozen=True)
class TimerState:
    """What systemd says about one schedule's timer (and the service it fires)."""

    schedule_name: str
    timer: str
    installed: bool
    enabled: bool
    active: str
    next_elapse: datetime | None
    last_trigger: datetime | None
    service_result: str | None
    service_active: str | None
    service_exit_status: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (timestamps as ISO 8601 UTC)."""
        return {
            "schedule": self.schedule_name,
            "timer": self.timer,
            "installed": self.installed,
            "enabled": self.enabled,
            "active": self.active,
            "next_elapse": _iso(self.next_elapse),
            "last_trigger": _iso(self.last_trigger),
            "service": service_unit_name(self.schedule_name),
            "service_result": self.service_result,
            "service_active": self.service_active,
            "service_exit_status": self.service_exit_status,
        }


@dataclass
class LifecycleReport:
    """What ``start``/``stop``/``sync_units`` did."""

    scope: str
    unit_dir: Path
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    timers: list[TimerState] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stopped: list[StoppedRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "scope": self.scope,
            "unit_dir": str(self.unit_dir),
            "written": self.written,
            "removed": self.removed,
            "enabled": self.enabled,
            "disabled": self.disabled,
            "timers": [timer.to_dict() for timer in self.timers],
            "notes": self.notes,
            "stopped": [run.to_dict() for run in self.stopped],
        }


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def generated_units(unit_dir: Path) -> dict[str, Path]:
    """hfdl's generated unit files in ``unit_dir``, by unit name."""
    found: dict[str, Path] = {}
    if not unit_dir.is_dir():
        return found
    for path in unit_dir.glob(f"{TIMER_PREFIX}*"):
        if path.is_file() and not path.is_symlink():
            try:
                if is_generated(path.read_text()):
                    found[path.name] = path
            except OSError:
                continue
    return found


def _write_units(unit_dir: Path, files: list[UnitFile], report: LifecycleReport) -> None:
    """Write unit files atomically; refuse (before writing anything) to replace foreign files.

    Raises:
        SystemdError: a file of the same name exists that hfdl did not generate.
    """
    foreign = [
        str(unit_dir / unit.name)
        for unit in files
        if (unit_dir / unit.name).exists() and not is_generated((unit_dir / unit.name).read_text())
    ]
    if foreign:
        raise SystemdError(
            "refusing to overwrite unit files hfdl did not generate: " + ", ".join(foreign),
            hint="move them away (or rename the schedule), then run `hfdl start` again",
        )
    unit_dir.mkdir(parents=True, exist_ok=True)
    for unit in files:
        path = unit_dir / unit.name
        if path.exists() and path.read_text() == unit.content:
            continue
        write_atomically(path, unit.content, new_file_mode=0o644)
        report.written.append(unit.name)


def started_marker(settings: Settings, scope: Scope) -> Path:
    """The file whose presence means ``hfdl start`` handed the schedules to this scope.

    A marker rather than asking systemd, because "started" must survive the moment when no
    schedule is enabled (and so no timer is installed) between two schedule edits.
    """
    return settings.state_directory / f"started-{scope.name}"


def is_started(settings: Settings, scope: Scope) -> bool:
    """Whether ``hfdl start`` is in force for this scope (until ``hfdl stop``)."""
    return started_marker(settings, scope).exists()


def sync_units(settings: Settings, scope: Scope, *, start: bool | None = None) -> LifecycleReport:
    """Make the installed units and timers match the DB's schedules.

    Args:
        settings: the effective configuration (paths and ``service`` options).
        scope: the systemd manager to install into.
        start: ``True`` enables the timers of enabled schedules (``hfdl start``); ``None``
            does so only when hfdl is already started in this scope (after a schedule
            change), otherwise it only reports.

    Returns:
        What was written, removed, enabled and disabled, and the timers' state.

    Raises:
        SystemdError: systemd is unreachable, or a foreign file is in the way.
    """
    report = LifecycleReport(scope=scope.name, unit_dir=scope.unit_dir)
    if start is None and not is_started(settings, scope):
        report.notes.append("hfdl is not started in this scope: run `hfdl start` to install timers")
        return report
    systemctl = Systemctl(scope)
    reachable, reason = systemctl.available()
    if not reachable:
        raise SystemdError(
            f"the systemd {scope.name} manager is not reachable: {reason}",
            hint=systemctl._hint(reason)
            or "use `hfdl start --foreground` on hosts without systemd",
        )
    store = Store(settings.db_path)
    try:
        if start:
            # Only `hfdl start` seeds the default schedule: after a user deletes their last
            # schedule, a sync must not bring `default` back behind their back.
            from hfdl.services.schedules import ensure_default_schedule

            ensure_default_schedule(store, settings)
        schedules = store.list_schedules()
    finally:
        store.close()
    wanted = [schedule for schedule in schedules if schedule.enabled]
    config_path = settings.config_file.absolute() if settings.config_file else None
    files = render_units(
        wanted,
        scope=scope.name,
        executable=default_executable(),
        config_path=config_path,
        settings=settings,
    )
    _write_units(scope.unit_dir, files, report)
    wanted_names = {unit.name for unit in files}
    stale = [name for name in generated_units(scope.unit_dir) if name not in wanted_names]
    stale_timers = [name for name in stale if name.endswith(".timer")]
    systemctl.disable_now(stale_timers)
    report.disabled.extend(stale_timers)
    for name in stale:
        (scope.unit_dir / name).unlink(missing_ok=True)
        report.removed.append(name)
    systemctl.daemon_reload()
    systemctl.reset_failed(
        [service_unit_name(name[len(TIMER_PREFIX) : -len(".timer")]) for name in stale_timers]
    )
    timers = [timer_unit_name(schedule.name) for schedule in wanted]
    systemctl.enable_now(timers)
    report.enabled.extend(timers)
    if start:
        marker = started_marker(settings, scope)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    report.timers = timer_states(scope, [schedule.name for schedule in schedules])
    if scope.is_user:
        note = linger_note()
        if note:
            report.notes.append(note)
    return report


def stop(settings: Settings, scope: Scope) -> LifecycleReport:
    """Stop and disable hfdl's timers and any running run service; keep the schedules.

    Also ends an ``hfdl start --foreground`` process recorded in the PID file.

    Returns:
        What was disabled.
    """
    from hfdl.services.foreground import stop_foreground

    report = LifecycleReport(scope=scope.name, unit_dir=scope.unit_dir)
    pid = stop_foreground(settings)
    if pid is not None:
        report.notes.append(f"stopped the foreground scheduler (pid {pid})")
    started_marker(settings, scope).unlink(missing_ok=True)
    timers = [name for name in generated_units(scope.unit_dir) if name.endswith(".timer")]
    if not timers:
        report.notes.append("no hfdl timers are installed in this scope")
        return report
    systemctl = Systemctl(scope)
    reachable, reason = systemctl.available()
    if not reachable:
        raise SystemdError(f"the systemd {scope.name} manager is not reachable: {reason}")
    services = [service_unit_name(name[len(TIMER_PREFIX) : -len(".timer")]) for name in timers]
    working = [
        service
        for service in services
        if systemctl.show(service, ["ActiveState"]).get("ActiveState")
        in ("activating", "active", "reloading")
    ]
    sessions_before = running_sessions(settings)
    systemctl.disable_now(timers)
    # Blocks until the services stopped: their sessions are recorded when it returns.
    systemctl.stop(["hfdl-run@*.service"])
    report.disabled.extend(timers)
    report.stopped.extend(stopped_runs(settings, working, sessions_before))
    manual = [
        session
        for session in sessions_before.values()
        if service_unit_name(session.schedule_name or "") not in working
    ]
    for session in manual:
        report.notes.append(
            f"a run not started by systemd is still working (session {session.id}, pid "
            f"{session.pid}); `hfdl stop` stops only the runs of hfdl's units"
        )
    return report


def timer_states(scope: Scope, schedule_names: list[str]) -> list[TimerState]:
    """Ask systemd about each schedule's timer and service. Never raises for a missing unit."""
    systemctl = Systemctl(scope)
    states: list[TimerState] = []
    installed = generated_units(scope.unit_dir)
    for name in schedule_names:
        timer = timer_unit_name(name)
        timer_props = systemctl.show(
            timer,
            [
                "LoadState",
                "ActiveState",
                "UnitFileState",
                "NextElapseUSecRealtime",
                "LastTriggerUSec",
            ],
        )
        service_props = systemctl.show(
            service_unit_name(name), ["Result", "ActiveState", "ExecMainStatus", "LoadState"]
        )
        states.append(
            TimerState(
                schedule_name=name,
                timer=timer,
                installed=timer in installed,
                enabled=timer_props.get("UnitFileState") in ("enabled", "enabled-runtime"),
                active=timer_props.get("ActiveState", "unknown"),
                next_elapse=parse_timestamp(timer_props.get("NextElapseUSecRealtime")),
                last_trigger=parse_timestamp(timer_props.get("LastTriggerUSec")),
                service_result=service_props.get("Result") or None,
                service_active=service_props.get("ActiveState") or None,
                service_exit_status=service_props.get("ExecMainStatus") or None,
            )
        )
    return states


def linger_note() -> str | None:
    """A reminder to enable lingering when user timers would stop at logout."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if not user or shutil.which("loginctl") is None:
        return None
    try:
        result = subprocess.run(
            ["loginctl", "show-user", user, "--property=Linger"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode == 0 and result.stdout.strip() == "Linger=yes":
        return None
    return (
        f"user timers run only while {user} is logged in unless lingering is on: "
        f"`loginctl enable-linger {user}`"
    )
