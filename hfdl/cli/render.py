"""Rendering data for people (tables) and scripts (JSON) on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hfdl.sizes import format_size

if TYPE_CHECKING:
    from hfdl.engine.plan import ModelPlan


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print an aligned plain-text table on stdout."""
    text_rows = [[("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in text_rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = ["  ".join(header.ljust(widths[i]) for i, header in enumerate(headers)).rstrip()]
    for row in text_rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def plan_to_dict(plan: ModelPlan) -> dict[str, Any]:
    """The JSON shape of one planned model (used by ``run --dry-run --json``)."""
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


def print_plans(plans: Sequence[ModelPlan], *, as_json: bool) -> None:
    """Print what a run would do."""
    if as_json:
        sys.stdout.write(json.dumps([plan_to_dict(plan) for plan in plans], indent=2) + "\n")
        return
    rows = [
        (
            plan.name,
            plan.action,
            plan.candidate.reason,
            (plan.revision.commit_sha[:12] if plan.revision else ""),
            f"{len(plan.missing)}/{len(plan.files)}",
            format_size(plan.bytes_missing),
            format_size(plan.bytes_total),
            str(plan.error) if plan.error else "",
        )
        for plan in plans
    ]
    print_table(["MODEL", "ACTION", "WHY", "COMMIT", "FILES", "TO FETCH", "TOTAL", "NOTE"], rows)
    total = sum(plan.bytes_missing for plan in plans if plan.action == "download")
    sys.stdout.write(f"total to download: {format_size(total)}\n")
