"""``hfdl status --fleet``: every host sharing the state database, one entry each.

Read-only and fast, like ``hfdl status``: one snapshot through the reports' reader (no
SQLAlchemy, no ``huggingface_hub``). A running session whose run is gone reads as
``interrupted``: this host's by its pid, other hosts' by their heartbeat
(:mod:`hfdl.store.staleness`). docs/fleet.md describes every key of the document.
"""

from __future__ import annotations

from typing import Any

from hfdl.config import Settings
from hfdl.errors import HfdlError
from hfdl.store.fleet import HostSummary
from hfdl.store.rows import iso_utc
from hfdl.store.staleness import stale_after_seconds


def _running_document(summary: HostSummary) -> dict[str, Any] | None:
    """The running session with its progress so far, summed over its attempts."""
    session = summary.running_session
    if session is None:
        return None
    attempts = summary.running_attempts
    # The total is known only when every attempt knows its own.
    totals = [attempt.bytes_total for attempt in attempts if attempt.bytes_total is not None]
    known_total = bool(attempts) and len(totals) == len(attempts)
    return session.to_dict() | {
        "progress": {
            "bytes_downloaded": sum(attempt.bytes_downloaded for attempt in attempts),
            "bytes_total": sum(totals) if known_total else None,
            "models_attempted": len({attempt.model_name for attempt in attempts}),
            "models_running": [a.model_name for a in attempts if a.status == "running"],
            "models_completed": len(
                {attempt.model_name for attempt in attempts if attempt.status == "completed"}
            ),
        }
    }


def _host_document(summary: HostSummary, this_host: str) -> dict[str, Any]:
    heartbeat_age = summary.heartbeat_age_seconds
    return {
        "host": summary.host,
        "this_host": summary.host == this_host,
        "state": "running" if summary.running_session is not None else "idle",
        "last_seen": iso_utc(summary.last_seen),
        "last_heartbeat_at": iso_utc(summary.last_heartbeat_at),
        "heartbeat_age_seconds": None if heartbeat_age is None else round(heartbeat_age, 1),
        "last_session": summary.last_session.to_dict() if summary.last_session else None,
        "running_session": _running_document(summary),
        "failures": len(summary.failed_models),
        "failed_models": list(summary.failed_models),
    }


def collect_fleet(settings: Settings) -> dict[str, Any]:
    """Gather the fleet document: one entry per host found in the state database.

    Args:
        settings: the effective configuration (database, ``host_id``, ``lease_seconds``).

    Returns:
        ``{"available", "database", "this_host", "lease_seconds", "stale_after_seconds",
        "hosts": [...]}``, hosts sorted by id; without a database yet (or when it cannot be
        read) ``available`` is false, ``reason`` says why and ``hosts`` is empty.
    """
    document: dict[str, Any] = {
        "available": False,
        "database": settings.database_display,
        "this_host": settings.host_id,
        "lease_seconds": settings.lease_seconds,
        "stale_after_seconds": stale_after_seconds(settings.lease_seconds),
        "hosts": [],
    }
    if not settings.database_exists():
        return document | {"reason": f"no database yet at {settings.database_display}"}
    from hfdl.services.state import open_fleet_reader

    try:
        with open_fleet_reader(settings) as reader:
            summaries = reader.hosts()
    except HfdlError as error:
        return document | {"reason": error.message}
    hosts = [_host_document(summary, settings.host_id) for summary in summaries]
    return document | {"available": True, "hosts": hosts}
