"""The human rendering of the status document (the JSON one is the document itself)."""

from __future__ import annotations

from typing import Any

from hfdl.sizes import format_size


def _size(value: Any) -> str:
    return format_size(int(value)) if isinstance(value, int) else "-"


def render_status(document: dict[str, Any]) -> str:
    """Render ``collect_status()``'s document as text for a terminal."""
    lines: list[str] = []
    systemd = document["systemd"]
    lines.append(f"systemd ({systemd['scope']}):")
    if not systemd["available"]:
        lines.append(f"  unavailable: {systemd['reason']}")
    else:
        for timer in systemd["timers"]:
            state = (
                "enabled"
                if timer["enabled"]
                else ("installed" if timer["installed"] else "not installed")
            )
            lines.append(
                f"  {timer['schedule']}: timer {state}, {timer['active']}; "
                f"next {timer['next_elapse'] or '-'}; "
                f"last trigger {timer['last_trigger'] or 'never'}; "
                f"last result {timer['service_result'] or 'never'}"
            )
        if not systemd["timers"]:
            lines.append("  no schedules")
    database = document["database"]
    lines.append("database:")
    if not database["available"]:
        lines.append(f"  unavailable: {database['reason']}")
    else:
        counts = ", ".join(
            f"{count} {status}" for status, count in sorted(database["models_by_status"].items())
        )
        lines.append(f"  models: {counts or 'none'}")
        running = database["running_session"]
        if running:
            lines.append(f"  running: session {running['id']} since {running['started_at']}")
            for attempt in running["attempts"]:
                lines.append(
                    f"    {attempt['model_name']}: {attempt['status']} "
                    f"{_size(attempt['bytes_downloaded'])} of {_size(attempt['bytes_total'])}"
                )
        last = database["last_session"]
        if last:
            lines.append(
                f"  last session: {last['id']} {last['status']} ({last['trigger']}), "
                f"{last['models_completed']} completed, {last['models_failed']} failed, "
                f"ended {last['ended_at'] or '-'}"
            )
        for session_id in database.get("interrupted_sessions", []):
            lines.append(
                f"  interrupted: session {session_id} (its run ended without finishing it;"
                " the next run records it)"
            )
        for schedule in database["schedules"]:
            last_run = (
                f"{schedule['last_run']} {schedule['last_result']}"
                f" (session {schedule['last_session_id']})"
                if schedule["last_run"]
                else "never"
            )
            lines.append(f"  schedule {schedule['name']}: last run {last_run}")
        for failure in database["recent_failures"]:
            lines.append(
                f"  failed: {failure['model_name']} at {failure['ended_at']}: {failure['error']}"
            )
    disk = document["disk"]
    budget = _size(disk["max_total_size"]) if disk["max_total_size"] is not None else "no limit"
    lines.append(
        f"disk: {_size(disk['used_by_models'])} used by hfdl's models "
        f"in {disk['download_directory']}; "
        f"{_size(disk['free'])} free; budget {budget}"
    )
    return "\n".join(lines) + "\n"
