"""``hfdl run``: the oneshot that systemd's timer fires (and that people run by hand).

One top-level command: :mod:`hfdl.cli.app` registers :func:`run_command` as ``run``. The
download engine is imported only inside the command: ``hfdl --help`` must not load it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption, ModelOption, ScheduleOption, TagOption
from hfdl.cli.output import print_json, print_lines, print_message, print_table

if TYPE_CHECKING:
    from hfdl.services.run_events import RunObserver, RunResult
    from hfdl.services.run_report import ModelPlan


def run_command(
    context: typer.Context,
    schedule: ScheduleOption = None,
    tag: TagOption = None,
    model: ModelOption = None,
    concurrent_downloads: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent", min=1, help="Download at most N models at once.", show_default=False
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="List what would be downloaded, with sizes; change nothing."
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for a running hfdl run instead of exiting with 75.")
    ] = False,
    wait_timeout: Annotated[
        float | None,
        typer.Option(
            "--wait-timeout",
            min=0,
            help="With --wait: give up (exit 75) after waiting this many seconds for the run "
            "lock. Scheduled runs wait half of the unit's TimeoutStartSec.",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Ask the Hub about every completed model, due or not.")
    ] = False,
    json_output: JsonOption = False,
) -> int:
    """Download the catalog's pending models now: resume, verify, retry, record.

    Exit status: 0 when every selected model completed or was up to date, 1 when any
    failed, 75 when another run holds the lock or when every model that failed failed
    on a temporary error: the Hub unavailable, a stalled or timed-out transfer (try again
    later). Stopped by SIGTERM or SIGINT, the run
    records its session as interrupted, keeps partial files, and ends by that signal (a
    shell shows 143 or 130; systemd counts the stop as clean).
    """
    app_context: AppContext = context.obj
    # A dry run writes nothing, not even a line in the log file.
    settings = app_context.settings(log_file=not dry_run)
    from hfdl.services.invocation import read_hub_token, use_configured_endpoint

    # huggingface_hub reads HF_ENDPOINT once, at import: set it before the engine is imported,
    # so that the library's own calls (its user-agent probe, its defaults) go there too.
    use_configured_endpoint(settings)
    from hfdl.services.run import Runner, RunOptions
    from hfdl.services.run_report import check_plans, check_result, run_trigger

    options = RunOptions(
        schedule_name=schedule,
        tags=frozenset(tag) if tag else None,
        model_names=frozenset(model) if model else None,
        concurrent_downloads=concurrent_downloads,
        dry_run=dry_run,
        wait_for_lock=wait or wait_timeout is not None,
        wait_timeout=wait_timeout,
        force_check=check,
        trigger=run_trigger(schedule),
    )
    stop = threading.Event()
    observer = _make_observer(json_output)
    runner = Runner(settings, observer, token=read_hub_token(), stop=stop)
    if dry_run:
        plans = runner.dry_run(options)
        print_plans(plans, as_json=json_output)
        check_plans(plans)
        return 0
    from hfdl.errors import Cancelled

    received = _install_stop_handlers(stop, observer)
    try:
        result = runner.run(options)
    except Cancelled:
        if not received:
            raise
        return _end_by_signal(received[0], None, json_output)
    if received:
        return _end_by_signal(received[0], result, json_output)
    if json_output:
        print_json(result.to_dict())
    check_result(result)
    return 0


def print_plans(plans: Sequence[ModelPlan], *, as_json: bool) -> None:
    """Print what a run would do: a table and the total to download, or a JSON list."""
    from hfdl.services.run_report import plan_to_dict
    from hfdl.sizes import format_size

    if as_json:
        print_json([plan_to_dict(plan) for plan in plans])
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
    print_lines([f"total to download: {format_size(total)}"])


def _make_observer(json_output: bool) -> RunObserver:
    """Progress bars on an interactive terminal; plain log lines anywhere else."""
    from hfdl.services.run_events import LogObserver, wrap_for_systemd

    if not json_output and sys.stderr.isatty() and not os.environ.get("JOURNAL_STREAM"):
        from hfdl.cli.progress import ProgressObserver

        return wrap_for_systemd(ProgressObserver())
    return wrap_for_systemd(LogObserver())


def _install_stop_handlers(stop: threading.Event, observer: RunObserver) -> list[int]:
    """SIGTERM (systemctl stop) and SIGINT set the stop flag: the run ends after the current
    chunk, keeps partial files for the next run, and records the session as interrupted.

    Returns:
        The list the handlers append each received signal's number to.
    """
    from hfdl.services.run_events import record_stop_signal

    received: list[int] = []

    def handle(signum: int, _frame: object) -> None:
        received.append(signum)
        record_stop_signal(observer, signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return received


def _end_by_signal(signum: int, result: RunResult | None, json_output: bool) -> int:
    """A stop is not a failure: say so, then end the process by the signal that stopped it.

    Dying by the signal (after cleanup: the session is recorded, partial files kept) is what
    a shell and systemd expect of a stopped program: a shell sees 128+N and stops a script's
    loop on Ctrl-C, and the unit, which lists SIGTERM in SuccessExitStatus=, ends with
    Result=success instead of failed. The signal is raised at interpreter exit
    (:func:`~hfdl.services.invocation.exit_by_signal_at_exit`), after the CLI's exit point.

    Returns:
        0 (never seen: the process ends by the signal).
    """
    from hfdl.services.invocation import exit_by_signal_at_exit

    if json_output and result is not None:
        print_json(result.to_dict())
    name = signal.Signals(signum).name
    print_message(f"stopped by {name}; partial files kept, the next run resumes them")
    exit_by_signal_at_exit(signum)
    return 0
