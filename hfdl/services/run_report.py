"""What ``hfdl run`` records and reports: its trigger, the JSON shape of a plan, and the
verdict on its plans and its result (the errors that set the exit status).

Light on purpose: the CLI imports it next to :mod:`hfdl.services.run` without paying more.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hfdl.errors import RunFailed, TemporaryRunFailure

if TYPE_CHECKING:
    # Re-exported for the CLI's annotations (``X as X`` marks an intended re-export).
    from hfdl.engine.events import RunResult
    from hfdl.engine.plan import ModelPlan as ModelPlan


def run_trigger(schedule_name: str | None) -> str:
    """``timer`` only for a run its schedule's timer started, else ``manual``.

    systemd (>= 251) sets ``TRIGGER_UNIT`` to the timer's name in the environment of the
    service a timer starts; a ``systemctl start`` by hand, or ``hfdl run --schedule`` in a
    shell, has none (``INVOCATION_ID`` alone only says that systemd runs us).

    Args:
        schedule_name: the ``--schedule`` given, if any.
    """
    if schedule_name and os.environ.get("TRIGGER_UNIT", "").endswith(".timer"):
        return "timer"
    return "manual"


def plan_to_dict(plan: ModelPlan) -> dict[str, Any]:
    """The JSON shape of one planned model (one item of ``run --dry-run --json``)."""
    return {
        "name": plan.name,
        "action": plan.action,
        "reason": plan.candidate.reason,
        "revision": plan.candidate.model.revision,
        "commit_sha": plan.revision.commit_sha if plan.revision else None,
        "files": len(plan.files),
        "files_missing": len(plan.missing),
        "bytes_total": plan.bytes_total,
        "bytes_missing": plan.bytes_missing,
        "bytes_partial": plan.bytes_partial,
        "error": str(plan.error) if plan.error else None,
    }


def check_plans(plans: Sequence[ModelPlan]) -> None:
    """Refuse a dry run in which a model could not be planned (error or skip).

    Raises:
        RunFailed: at least one model could not be planned (exit 1).
    """
    refused = [plan.name for plan in plans if plan.action in ("error", "skip")]
    if refused:
        raise RunFailed(f"{len(refused)} model(s) could not be planned: {', '.join(refused)}")


def check_result(result: RunResult) -> None:
    """Turn a finished run's failures into the error that sets the exit status.

    Raises:
        TemporaryRunFailure: every model that failed failed on a temporary error (exit 75).
        RunFailed: a model failed otherwise, or verification found damaged files (exit 1).
    """
    if result.failed:
        names = ", ".join(outcome.name for outcome in result.failed)
        if result.temporary_failure:
            raise TemporaryRunFailure(
                f"{len(result.failed)} model(s) did not complete on temporary errors (the Hub "
                f"unavailable, a stalled or timed-out transfer): {names}",
                hint="a later run resumes them; a scheduled run is retried by systemd after "
                "service.retry_delay_seconds",
            )
        raise RunFailed(f"{len(result.failed)} model(s) did not complete: {names}")
    if result.status == "failed":
        raise RunFailed(
            "verification found damaged files on disk",
            hint="see `hfdl models verify`; set verify_on_run: repair to fetch them again",
        )
