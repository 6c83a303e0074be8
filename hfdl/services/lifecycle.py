"""``hfdl start`` / ``hfdl stop`` / ``hfdl uninstall``: make systemd's timers match the
schedules in the DB, or take them away.

systemd is hfdl's scheduler. ``start`` renders the units of every enabled schedule, installs
them (only ever overwriting files hfdl generated), reloads the manager and enables the timers;
``stop`` disables them; ``uninstall`` also removes every file hfdl installed in the scope.
Schedules stay in the DB in every case. The systemd plumbing these use cases combine is in
:mod:`hfdl.systemd` (``install``, ``manager``, ``units``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfdl.config import Settings
from hfdl.errors import InvalidSchedule, NotWritable, SystemdError
from hfdl.services.stopped_runs import StoppedRun, running_sessions, stopped_runs
from hfdl.systemd.install import (
    InstalledFiles,
    find_installed,
    generated_units,
    is_started,
    mark_started,
    mark_stopped,
    remove_installed,
    remove_units,
    started_marker,
    timer_names,
    units_for_host,
    write_units,
)
from hfdl.systemd.manager import Scope, Systemctl, TimerState, linger_note, timer_states
from hfdl.systemd.units import (
    ALL_RUN_SERVICES,
    service_unit_name,
    timer_schedule_name,
    timer_unit_name,
)

# systemd's states of a service that is doing something (`hfdl stop` reports what it stopped).
_WORKING_STATES = ("activating", "active", "reloading")


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


def sync_units(
    settings: Settings, scope_name: str, *, start: bool | None = None
) -> LifecycleReport:
    """Make the installed units and timers match the DB's schedules.

    Args:
        settings: the effective configuration (paths and ``service`` options).
        scope_name: the systemd manager to install into, ``user`` or ``system``.
        start: ``True`` enables the timers of enabled schedules (``hfdl start``); ``None``
            does so only when hfdl is already started in this scope (after a schedule
            change), otherwise it only reports.

    Returns:
        What was written, removed, enabled and disabled, and the timers' state.

    Raises:
        SystemdError: systemd is unreachable, or a foreign file is in the way.
        InvalidSchedule: a stored schedule is not valid (the database was edited by hand).
    """
    scope = Scope(scope_name)
    report = LifecycleReport(scope=scope.name, unit_dir=scope.unit_dir)
    if start is None and not is_started(settings, scope):
        report.notes.append("hfdl is not started in this scope: run `hfdl start` to install timers")
        return report
    systemctl = Systemctl(scope)
    reachable, reason = systemctl.available()
    if not reachable:
        raise SystemdError(
            f"the systemd {scope.name} manager is not reachable: {reason}",
            hint=systemctl.hint_for(reason)
            or "use `hfdl start --foreground` on hosts without systemd",
        )
    from hfdl.store import Store

    with Store(settings.database, host_id=settings.host_id) as store:
        if start:
            # Only `hfdl start` seeds the default schedule: after a user deletes their last
            # schedule, a sync must not bring `default` back behind their back.
            from hfdl.services.schedules import ensure_default_schedule

            ensure_default_schedule(store, settings)
        schedules = store.list_schedules()
    wanted = [schedule for schedule in schedules if schedule.enabled]
    try:
        files = units_for_host(settings, scope.name, [row.definition for row in wanted])
    except InvalidSchedule as error:
        raise InvalidSchedule(error.problems, hint="refusing to render units for it") from None
    report.written.extend(write_units(scope.unit_dir, files))
    wanted_names = {unit.name for unit in files}
    stale = [name for name in generated_units(scope.unit_dir) if name not in wanted_names]
    stale_schedules = [
        schedule_name
        for schedule_name in map(timer_schedule_name, stale)
        if schedule_name is not None
    ]
    stale_timers = [timer_unit_name(schedule_name) for schedule_name in stale_schedules]
    systemctl.disable_now(stale_timers)
    report.disabled.extend(stale_timers)
    report.removed.extend(remove_units(scope.unit_dir, stale))
    systemctl.daemon_reload()
    systemctl.reset_failed([service_unit_name(schedule_name) for schedule_name in stale_schedules])
    timers = [timer_unit_name(schedule.name) for schedule in wanted]
    systemctl.enable_now(timers)
    report.enabled.extend(timers)
    if start:
        mark_started(settings, scope)
    report.timers = timer_states(scope, [schedule.name for schedule in schedules])
    if scope.is_user:
        note = linger_note()
        if note:
            report.notes.append(note)
    return report


def sync_after_schedule_change(settings: Settings, scope_name: str) -> LifecycleReport:
    """The one hook every schedule change calls: :func:`sync_units` without starting.

    Args:
        settings: the effective configuration.
        scope_name: ``user`` or ``system``.

    Returns:
        What :func:`sync_units` did (its notes say when hfdl is not started in the scope).

    Raises:
        SystemdError: the change is saved in the database but systemd could not be updated.
        InvalidSchedule: a stored schedule is not valid (the database was edited by hand).
    """
    try:
        return sync_units(settings, scope_name)
    except SystemdError as error:
        raise SystemdError(
            f"the schedule change is saved, but systemd was not updated: {error.message}",
            hint=error.hint or "run 'hfdl start' once systemd is reachable",
        ) from error


def stop(settings: Settings, scope_name: str) -> LifecycleReport:
    """Stop and disable hfdl's timers and any running run service; keep the schedules.

    Also ends an ``hfdl start --foreground`` process recorded in the PID file.

    Args:
        settings: the effective configuration.
        scope_name: the systemd manager, ``user`` or ``system``.

    Returns:
        What was disabled and stopped, and notes (runs hfdl's units did not start are left).

    Raises:
        SystemdError: timers are installed but systemd is unreachable.
    """
    from hfdl.services.foreground import stop_foreground

    scope = Scope(scope_name)
    report = LifecycleReport(scope=scope.name, unit_dir=scope.unit_dir)
    pid = stop_foreground(settings)
    if pid is not None:
        report.notes.append(f"stopped the foreground scheduler (pid {pid})")
    mark_stopped(settings, scope)
    schedule_names = [
        schedule_name
        for schedule_name in map(timer_schedule_name, generated_units(scope.unit_dir))
        if schedule_name is not None
    ]
    if not schedule_names:
        report.notes.append("no hfdl timers are installed in this scope")
        return report
    systemctl = Systemctl(scope)
    reachable, reason = systemctl.available()
    if not reachable:
        raise SystemdError(f"the systemd {scope.name} manager is not reachable: {reason}")
    timers = [timer_unit_name(schedule_name) for schedule_name in schedule_names]
    stopped, notes = _disable_and_stop(settings, systemctl, timers, "hfdl stop")
    report.disabled.extend(timers)
    report.stopped.extend(stopped)
    report.notes.extend(notes)
    return report


def _disable_and_stop(
    settings: Settings, systemctl: Systemctl, timers: list[str], command: str
) -> tuple[list[StoppedRun], list[str]]:
    """Disable ``timers`` and stop every run of hfdl's units (``stop`` and ``uninstall``).

    Returns:
        The runs stopped, with how their sessions ended, and notes about runs working
        outside hfdl's units (started by hand), which are not stopped.
    """
    sessions_before = running_sessions(settings)
    working = systemctl.loaded_units(ALL_RUN_SERVICES, _WORKING_STATES)
    systemctl.disable_now(timers)
    # Blocks until the services stopped: their sessions are recorded when it returns.
    systemctl.stop([ALL_RUN_SERVICES])
    notes = [
        f"a run not started by systemd is still working (session {session.id}, pid "
        f"{session.pid}); `{command}` stops only the runs of hfdl's units"
        for session in sessions_before.values()
        if service_unit_name(session.schedule_name or "") not in working
    ]
    return stopped_runs(settings, working, sessions_before), notes


@dataclass
class UninstallReport:
    """What ``uninstall`` did: timers disabled, runs stopped, files removed and kept."""

    scope: str
    unit_dir: Path
    stamp_dir: Path
    disabled: list[str] = field(default_factory=list)
    stopped: list[StoppedRun] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    foreign: list[Path] = field(default_factory=list)
    kept_data: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def did_something(self) -> bool:
        """Whether anything was disabled, stopped or removed (a repeat does nothing)."""
        return bool(self.disabled or self.stopped or self.removed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "scope": self.scope,
            "unit_dir": str(self.unit_dir),
            "stamp_dir": str(self.stamp_dir),
            "disabled": self.disabled,
            "stopped": [run.to_dict() for run in self.stopped],
            "removed": [str(path) for path in self.removed],
            "foreign": [str(path) for path in self.foreign],
            "kept": self.kept_data,
            "notes": self.notes,
        }


def uninstall(settings: Settings, scope_name: str) -> UninstallReport:
    """Stop hfdl in a scope and remove every file it installed there; keep its data.

    Stops and disables hfdl's timers and any running ``hfdl-run@*.service`` (and an
    ``hfdl start --foreground`` process), then removes the unit files hfdl generated (they
    carry its marker line), their ``*.wants/`` links, drop-ins carrying the marker, the
    timers' stamp files and the "started" marker, and reloads the manager. Files named like
    hfdl's that lack the marker are reported in ``foreign``, never removed. The database,
    the configuration, the catalog and the downloads are kept. Running it again does nothing.

    Args:
        settings: the effective configuration.
        scope_name: the systemd manager, ``user`` or ``system``.

    Returns:
        What was disabled, stopped, removed and kept.

    Raises:
        SystemdError: units are installed but the manager is unreachable (nothing removed).
        NotWritable: a file cannot be removed (the system scope needs root); checked
            before anything is stopped or removed.
    """
    from hfdl.services.foreground import stop_foreground

    scope = Scope(scope_name)
    report = UninstallReport(
        scope=scope.name, unit_dir=scope.unit_dir, stamp_dir=scope.timer_stamp_dir
    )
    found = find_installed(scope.unit_dir, scope.timer_stamp_dir)
    report.foreign = found.foreign
    _check_removable(found, scope)
    if found.units or found.links or found.drop_ins:
        # Before anything is removed: loaded timers of deleted files would go on firing.
        _stop_and_remove(settings, scope, found, report)
    else:
        # Only stamps (left by timers already deleted) or nothing: no manager needed.
        report.removed.extend(remove_installed(found))
    pid = stop_foreground(settings)
    if pid is not None:
        report.notes.append(f"stopped the foreground scheduler (pid {pid})")
    marker = started_marker(settings, scope)
    if marker.exists():
        mark_stopped(settings, scope)
        report.removed.append(marker)
    for path in report.foreign:
        report.notes.append(f"kept {path}: hfdl did not generate it (it has no hfdl marker line)")
    report.kept_data = {
        "database": settings.database_display,
        "configuration": str(settings.config_file) if settings.config_file else None,
        "catalog": str(settings.models_file),
        "downloads": str(settings.download_directory),
    }
    if not report.did_something:
        report.notes.append(f"nothing to uninstall: hfdl has no files in the {scope.name} scope")
    return report


def _check_removable(found: InstalledFiles, scope: Scope) -> None:
    """Refuse before stopping anything when a file cannot be removed (a user without root
    uninstalling the system scope), rather than stop half-way through the removals."""
    for directory in sorted({path.parent for path in found.removable()}):
        if not os.access(directory, os.W_OK | os.X_OK):
            raise NotWritable(
                f"cannot remove hfdl's files in {directory}: permission denied",
                hint="system units need root: run with sudo, or use --user"
                if not scope.is_user
                else None,
            )


def _stop_and_remove(
    settings: Settings, scope: Scope, found: InstalledFiles, report: UninstallReport
) -> None:
    """Disable hfdl's timers, stop its runs, remove its files, reload the manager."""
    systemctl = Systemctl(scope)
    reachable, reason = systemctl.available()
    if not reachable:
        raise SystemdError(
            f"the systemd {scope.name} manager is not reachable, so nothing was removed: {reason}",
            hint=systemctl.hint_for(reason),
        )
    timers = timer_names(found)
    stopped, notes = _disable_and_stop(settings, systemctl, timers, "hfdl uninstall")
    report.disabled.extend(timers)
    report.stopped.extend(stopped)
    report.notes.extend(notes)
    # Looked for again: a timer that elapsed until it was stopped may have written a stamp.
    report.removed.extend(remove_installed(find_installed(scope.unit_dir, scope.timer_stamp_dir)))
    systemctl.daemon_reload()
    systemctl.reset_failed([ALL_RUN_SERVICES, *timers])
