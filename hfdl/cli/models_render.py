"""Rendering the ``hfdl models`` results for people (tables on stdout) and scripts (JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from hfdl.cli.output import print_json_list, print_message, print_table, print_text
from hfdl.services.models.views import is_commit_sha, iso_utc
from hfdl.sizes import format_size, parse_size

if TYPE_CHECKING:
    from hfdl.services.models.views import ModelDetails, ModelSummary
    from hfdl.services.verify.report import VerifyReport


def print_summaries_json(summaries: Sequence[ModelSummary]) -> None:
    """Print ``models list --json``: a JSON list, one model object per line (fast for long
    catalogs)."""
    print_json_list(summary.to_dict() for summary in summaries)


def print_summaries(summaries: Sequence[ModelSummary]) -> None:
    """Print ``models list`` as a table (a note on stderr when nothing matches)."""
    if not summaries:
        print_message("no models match")
    print_table(
        [
            "NAME",
            "ENABLED",
            "STATUS",
            "PRIORITY",
            "TAGS",
            "REVISION",
            "SIZE",
            "LAST SUCCESS",
            "LAST ERROR",
        ],
        [
            (
                summary.name,
                "yes" if summary.enabled else "no",
                summary.status,
                summary.priority,
                ",".join(summary.tags),
                _short_revision(summary.revision),
                _size_cell(summary),
                _time_cell(summary.last_success_at),
                _shorten(summary.last_error),
            )
            for summary in summaries
        ],
    )


def _short_revision(revision: str) -> str:
    return revision[:12] if is_commit_sha(revision) else revision


def _size_cell(summary: ModelSummary) -> str:
    if summary.bytes_on_disk is not None:
        return format_size(summary.bytes_on_disk)
    # Not downloaded: the catalog's estimate, marked as one, in the one format every size
    # is shown in (so "1.6GB" in models.json shows as ~1.5 GiB, like `add --check` says).
    return f"~{_estimate_text(summary.size_estimate)}" if summary.size_estimate else "-"


def _estimate_text(size_estimate: str) -> str:
    try:
        return format_size(parse_size(size_estimate))
    except ValueError:  # the catalog was validated; kept as written should that ever fail
        return size_estimate


def _time_cell(moment: datetime | None) -> str:
    return iso_utc(moment) or "-"


def _shorten(text: str | None, width: int = 48) -> str:
    if not text:
        return ""
    first_line = text.strip().splitlines()[0]
    return first_line if len(first_line) <= width else first_line[: width - 1] + "…"


def print_details(details: ModelDetails) -> None:
    """Print ``models show``: one field per line, then the files and attempts tables."""
    summary = details.summary
    fields = [
        ("name", summary.name),
        ("in catalog", "yes" if details.in_catalog else "no (removed; history kept)"),
        ("enabled", "yes" if summary.enabled else "no"),
        ("status", summary.status),
        ("priority", summary.priority),
        ("tags", ", ".join(summary.tags) or "-"),
        ("revision", summary.revision),
        ("commit", summary.commit_sha or "-"),
        ("size on disk", _size_cell(summary)),
        ("size estimate", _estimate_text(summary.size_estimate) if summary.size_estimate else "-"),
        ("last success", _time_cell(summary.last_success_at)),
        ("last checked", _time_cell(summary.last_checked_at)),
        ("last error", summary.last_error or "-"),
        ("failed attempts", str(summary.attempts)),
        ("description", summary.description or "-"),
        ("include", ", ".join(summary.allow_patterns or ()) or "all files"),
        ("exclude", ", ".join(summary.ignore_patterns or ()) or "-"),
        ("cache folder", str(details.cache_path)),
    ]
    width = max(len(label) for label, _ in fields) + 1
    print_text("".join(f"{label + ':':<{width}} {value}\n" for label, value in fields))
    print_text(f"\nfiles ({len(details.files)}):\n")
    if details.files:
        print_table(
            ["PATH", "SIZE", "HASH", "VERIFIED", "STATE"],
            [
                (
                    file.record.path,
                    format_size(file.record.size),
                    ("sha256:" if file.record.is_lfs else "sha1:") + file.record.etag[:12],
                    _time_cell(file.record.verified_at),
                    file.state,
                )
                for file in details.files
            ],
        )
    print_text(f"\nattempts ({len(details.attempts)}, newest first):\n")
    if details.attempts:
        print_table(
            ["SESSION", "STARTED", "STATUS", "BYTES", "RETRIES", "ERROR"],
            [
                (
                    attempt.session_id,
                    _time_cell(attempt.started_at),
                    attempt.status,
                    format_size(attempt.bytes_downloaded),
                    attempt.retries,
                    _shorten(attempt.error, 60),
                )
                for attempt in details.attempts
            ],
        )


def print_report(report: VerifyReport) -> None:
    """Print ``models verify``: one row per model, then one per file that had a problem."""
    if not report.models:
        print_message("no downloaded models to verify")
        return
    print_table(
        ["MODEL", "COMMIT", "FILES", "RESULT", "DETAIL"],
        [
            (
                model.name,
                (model.commit_sha or "-")[:12],
                len(model.files),
                model.result,
                model.skipped or (f"{len(model.bad)} bad" if model.bad else ""),
            )
            for model in report.models
        ],
    )
    problems = [
        (model.name, check.path, check.problem, "yes" if check.repaired else "no", check.error)
        for model in report.models
        for check in model.files
        if check.problem is not None
    ]
    if problems:
        print_text("\n")
        print_table(["MODEL", "FILE", "PROBLEM", "REPAIRED", "ERROR"], problems)
