"""``hfdl status``: one document from systemd (timers, last results) and the DB (sessions).

It degrades instead of failing: without systemd, or without a DB yet, the document says what
is unavailable and why. It never imports ``huggingface_hub`` (it must answer fast), and never
writes: a session whose run died (``kill -9``, OOM killer, power loss) is *reported*
interrupted from the moment its process is gone (:class:`~hfdl.store.reader.StateReader`
decides at read time); the next run records it so. What never happened reads ``null``: the
last run of a schedule that never ran, the last trigger of a timer that never fired, the
result of a service that never started (systemd itself says ``success`` for those).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hfdl.config import Settings
from hfdl.errors import HfdlError
from hfdl.store.rows import ScheduleRow, SessionRow, iso_utc
from hfdl.systemd.manager import Scope, Systemctl, parse_timestamp

RECENT_FAILURES = 5


@dataclass(frozen=True)
class _CatalogFacts:
    """What the status needs from ``models.json``; ``names`` is ``None`` when unreadable."""

    names: frozenset[str] | None
    max_total_size: int | None
    error: str | None


def _catalog_facts(settings: Settings) -> _CatalogFacts:
    try:
        from hfdl.catalog import load_catalog

        catalog = load_catalog(settings.models_file)
    except HfdlError as error:
        return _CatalogFacts(None, None, error.message.splitlines()[0])
    return _CatalogFacts(frozenset(catalog.names()), catalog.settings.max_total_size_bytes, None)


def _disk(settings: Settings, used_by_models: int, catalog: _CatalogFacts) -> dict[str, Any]:
    """Free space on the download filesystem and the catalog's budget."""
    max_total = catalog.max_total_size
    probe: Path = settings.download_directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return {
        "download_directory": str(settings.download_directory),
        "used_by_models": used_by_models,
        "free": usage.free,
        "total": usage.total,
        "max_total_size": max_total,
        "budget_left": None if max_total is None else max_total - used_by_models,
        "catalog_error": catalog.error,
    }


def _schedule_document(schedule: ScheduleRow, last: SessionRow | None) -> dict[str, Any]:
    """A schedule's row plus its last run (the same keys as ``hfdl schedule list --json``)."""
    return schedule.to_dict() | {
        "last_run": iso_utc(last.started_at) if last else None,
        "last_result": last.status if last else None,
        "last_session_id": last.id if last else None,
    }


def _database(settings: Settings, catalog: _CatalogFacts) -> tuple[dict[str, Any], list[str]]:
    """The DB part of the status, and the schedule names it knows."""
    if not settings.database_exists():
        return {"available": False, "reason": f"no database yet at {settings.database_display}"}, []
    from hfdl.services.state import open_reader

    try:
        reader = open_reader(settings)
    except HfdlError as error:
        return {"available": False, "reason": error.message}, []
    try:
        running = reader.running_session()
        running_doc = None
        if running is not None:
            running_doc = running.to_dict()
            running_doc["attempts"] = [
                attempt.to_dict() for attempt in reader.attempts_for_session(running.id)
            ]
        latest = reader.latest_session()
        schedules = reader.list_schedules()
        last_runs = reader.latest_sessions_by_schedule()
        failures = reader.current_failures(RECENT_FAILURES, catalog.names)
        document = {
            "available": True,
            "path": settings.database_display,
            "running_session": running_doc,
            "last_session": latest.to_dict() if latest is not None else None,
            "interrupted_sessions": sorted(reader.interrupted_session_ids()),
            "models_by_status": reader.count_models_by_status(),
            "recent_failures": [attempt.to_dict() for attempt in failures],
            "bytes_on_disk": reader.bytes_on_disk(),
            "schedules": [
                _schedule_document(schedule, last_runs.get(schedule.name)) for schedule in schedules
            ],
        }
        return document, [schedule.name for schedule in schedules]
    finally:
        reader.close()


def _mark_never_started(systemctl: Systemctl, timers: list[dict[str, Any]]) -> None:
    """Add ``service_last_start``; blank the result of a service that never started.

    systemd reports ``Result=success`` and ``ExecMainStatus=0`` for a service it has never
    started (in this boot); ``ExecMainStartTimestampMonotonic=0`` tells them apart.
    """
    services = [timer["service"] for timer in timers]
    shown = systemctl.show_units(
        services, ["Id", "ExecMainStartTimestamp", "ExecMainStartTimestampMonotonic"]
    )
    by_unit = {properties.get("Id"): properties for properties in shown}
    for timer in timers:
        properties = by_unit.get(timer["service"], {})
        started = properties.get("ExecMainStartTimestampMonotonic", "0") not in ("", "0")
        last_start = parse_timestamp(properties.get("ExecMainStartTimestamp"))
        timer["service_last_start"] = iso_utc(last_start) if started else None
        if not started:
            timer["service_result"] = None
            timer["service_exit_status"] = None


def _systemd(scope: Scope, schedule_names: list[str]) -> dict[str, Any]:
    systemctl = Systemctl(scope)
    reachable, reason = systemctl.available()
    if not reachable:
        return {"available": False, "scope": scope.name, "reason": reason}
    from hfdl.systemd.manager import timer_states

    timers = [state.to_dict() for state in timer_states(scope, schedule_names)]
    if timers:
        _mark_never_started(systemctl, timers)
    return {
        "available": True,
        "scope": scope.name,
        "unit_dir": str(scope.unit_dir),
        "timers": timers,
    }


def collect_status(settings: Settings, scope: Scope | str) -> dict[str, Any]:
    """Gather the status document.

    Args:
        settings: the effective configuration.
        scope: which systemd manager to ask: a :class:`Scope`, or its name (``user`` or
            ``system``) as the CLI passes it.

    Returns:
        ``{"systemd": {...}, "database": {...}, "disk": {...}}``; each part has ``available``
        and, when false, a ``reason``. docs/models.md describes every field.
    """
    if isinstance(scope, str):
        scope = Scope(scope)
    catalog = _catalog_facts(settings)
    database, schedule_names = _database(settings, catalog)
    return {
        "systemd": _systemd(scope, schedule_names),
        "database": database,
        "disk": _disk(settings, int(database.get("bytes_on_disk", 0) or 0), catalog),
    }
