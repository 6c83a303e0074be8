"""``hfdl cleanup``: remove superseded revisions, removed models, files no longer selected and
orphaned partial downloads.

One top-level command: :mod:`hfdl.cli.app` registers :func:`cleanup_command` as ``cleanup``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption
from hfdl.cli.output import print_json, print_text, print_warning

if TYPE_CHECKING:
    from hfdl.services.cleanup.clean import CleanupReport
    from hfdl.services.cleanup.report import KeptItem


def cleanup_command(
    context: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="List what would be removed, with sizes; remove nothing."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Free disk space: old revisions, removed models, unselected files, stale partials.

    Only what hfdl downloaded is ever removed; other users' models in a shared cache stay.
    A revision no longer wanted goes once it was downloaded more than
    settings.cleanup_age_days (models.json) ago; a revision the catalog still wants never
    goes; files a model's narrowed allow/ignore patterns no longer select go at once;
    partial downloads a run can still resume stay. Exit status 75 while a run holds the
    lock.
    """
    from hfdl.services.cleanup.clean import run_cleanup

    app_context: AppContext = context.obj
    report = run_cleanup(app_context.settings(), dry_run=dry_run)
    for warning in report.warnings:
        print_warning(warning)
    if json_output:
        print_json(report.to_dict())
        return
    print_text(render_report(report, show_kept=app_context.verbose))


def render_report(report: CleanupReport, *, show_kept: bool = False) -> str:
    """The plain-text form: one line per item removed, then the total freed.

    Args:
        report: what cleanup did.
        show_kept: also list what was kept, and why (``--verbose``).

    Returns:
        The text, ending with a newline.
    """
    from hfdl.sizes import format_size

    verb = "would remove" if report.dry_run else "removed"
    lines: list[str] = []
    for item in report.removed:
        what = _describe(item)
        lines.append(
            f"{verb} {what} of {item.model} ({item.reason}, {item.age_days:.0f} days old): "
            f"{format_size(item.bytes_freed)}"
        )
    if show_kept:
        for kept in report.kept:
            what = _describe(kept)
            lines.append(f"kept {what} of {kept.model} ({kept.reason})")
    freed = format_size(report.bytes_freed)
    if report.dry_run:
        lines.append(f"would free {freed} in {report.cache_dir} (dry run: nothing was removed)")
    else:
        lines.append(f"freed {freed} in {report.cache_dir}")
    return "\n".join(lines) + "\n"


def _describe(item: KeptItem) -> str:
    from hfdl.services.cleanup.report import KIND_BLOB, KIND_FILE

    if item.what == KIND_FILE:
        return f"file {item.path.name} of revision {(item.commit_sha or '')[:12]}"
    if item.what == KIND_BLOB:
        return f"unlinked blob {item.path.name[:12]}"
    if item.commit_sha:
        return f"revision {item.commit_sha[:12]}"
    return f"partial download {item.path.name}"
