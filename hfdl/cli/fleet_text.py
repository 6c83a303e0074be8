"""The human rendering of ``hfdl status --fleet`` (the JSON one is the document itself)."""

from __future__ import annotations

from typing import Any

from hfdl.sizes import format_size

FLEET_HEADERS = (
    "HOST",
    "STATE",
    "LAST SESSION",
    "STARTED",
    "ENDED",
    "RUNNING",
    "FAILURES",
    "LAST SEEN",
)


def _session_cell(session: dict[str, Any] | None) -> str:
    if session is None:
        return "-"
    origin = session["trigger"]
    if session["schedule_name"]:
        origin += f" {session['schedule_name']}"
    return f"{session['id']} {session['status']} ({origin})"


def _running_cell(running: dict[str, Any] | None) -> str:
    if running is None:
        return "-"
    progress = running["progress"]
    total = progress["bytes_total"]
    size = format_size(progress["bytes_downloaded"])
    if total is not None:
        size += f" of {format_size(total)}"
    return f"session {running['id']}: {size}, {len(progress['models_running'])} model(s) now"


def _last_seen_cell(host: dict[str, Any]) -> str:
    seen = host["last_seen"] or "never"
    age = host["heartbeat_age_seconds"]
    if age is not None and host["state"] == "running":
        seen += f" (heartbeat {age:.0f}s ago)"
    return seen


def fleet_table(document: dict[str, Any]) -> tuple[tuple[str, ...], list[list[str]]]:
    """The headers and rows of the fleet table, one row per host (``*`` marks this host)."""
    rows = []
    for host in document["hosts"]:
        last = host["last_session"]
        rows.append(
            [
                host["host"] + (" *" if host["this_host"] else ""),
                host["state"],
                _session_cell(last),
                (last or {}).get("started_at") or "-",
                (last or {}).get("ended_at") or "-",
                _running_cell(host["running_session"]),
                str(host["failures"]),
                _last_seen_cell(host),
            ]
        )
    return FLEET_HEADERS, rows


def fleet_notes(document: dict[str, Any]) -> list[str]:
    """The lines after the table: each host's failed models, or why there is no table."""
    if not document["available"]:
        return [f"database unavailable: {document.get('reason', 'unknown')}"]
    if not document["hosts"]:
        return ["no host has used this database yet"]
    return [
        f"{host['host']}: failed: {', '.join(host['failed_models'])}"
        for host in document["hosts"]
        if host["failed_models"]
    ]
