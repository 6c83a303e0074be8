"""``hfdl status``: one document from systemd (timers, last results) and the DB (sessions).

It degrades instead of failing: without systemd, or without a DB yet, the document says what
is unavailable and why. It never imports ``huggingface_hub`` (it must answer fast).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from hfdl.config import Settings
from hfdl.errors import HfdlError
from hfdl.systemd.manager import Scope, Systemctl

RECENT_FAILURES = 5


def _disk(settings: Settings, used_by_models: int) -> dict[str, Any]:
    """Free space on the download filesystem and the catalog's budget."""
    max_total: int | None = None
    budget_error: str | None = None
    try:
        from hfdl.catalog import load_catalog

        max_total = load_catalog(settings.models_file).settings.max_total_size_bytes
    except HfdlError as error:
        budget_error = error.message.splitlines()[0]
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
        "catalog_error": budget_error,
    }


def _database(settings: Settings) -> tuple[dict[str, Any], list[str]]:
    """The DB part of the status, and the schedule names it knows."""
    if not settings.db_path.exists():
        return {"available": False, "reason": f"no database yet at {settings.db_path}"}, []
    from hfdl.store.reader import StateReader

    try:
        reader = StateReader(settings.db_path)
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
        document = {
            "available": True,
            "path": str(settings.db_path),
            "running_session": running_doc,
            "last_session": latest.to_dict() if latest is not None else None,
            "models_by_status": reader.count_models_by_status(),
            "recent_failures": [
                attempt.to_dict() for attempt in reader.recent_failures(RECENT_FAILURES)
            ],
            "bytes_on_disk": reader.bytes_on_disk(),
            "schedules": [schedule.to_dict() for schedule in schedules],
        }
        return document, [schedule.name for schedule in schedules]
    finally:
        reader.close()


def _systemd(scope: Scope, schedule_names: list[str]) -> dict[str, Any]:
    systemctl = Systemctl(scope)
    reachable, reason = systemctl.available()
    if not reachable:
        return {"available": False, "scope": scope.name, "reason": reason}
    from hfdl.services.lifecycle import timer_states

    return {
        "available": True,
        "scope": scope.name,
        "unit_dir": str(scope.unit_dir),
        "timers": [state.to_dict() for state in timer_states(scope, schedule_names)],
    }


def collect_status(settings: Settings, scope: Scope) -> dict[str, Any]:
    """Gather the status document.

    Args:
        settings: the effective configuration.
        scope: which systemd manager to ask.

    Returns:
        ``{"systemd": {...}, "database": {...}, "disk": {...}}``; each part has ``available``
        and, when false, a ``reason``.
    """
    database, schedule_names = _database(settings)
    return {
        "systemd": _systemd(scope, schedule_names),
        "database": database,
        "disk": _disk(settings, int(database.get("bytes_on_disk", 0) or 0)),
    }
