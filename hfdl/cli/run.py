"""``hfdl run``: the oneshot that systemd's timer fires (and that people run by hand)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from hfdl.cli.app import app
from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption, ModelOption, ScheduleOption, TagOption

if TYPE_CHECKING:
    from hfdl.services.events import RunObserver


@app.command("run")
def run_command(
    context: typer.Context,
    schedule: ScheduleOption = None,
    tag: TagOption = None,
    model: ModelOption = None,
    max_concurrent: Annotated[
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
    check: Annotated[
        bool, typer.Option("--check", help="Ask the Hub about every completed model, due or not.")
    ] = False,
    json_output: JsonOption = False,
) -> int:
    """Download the catalog's pending models now: resume, verify, retry, record.

    Exit status: 0 when every selected model completed or was up to date, 1 when any
    failed, 75 when another run holds the lock.
    """
    app_context: AppContext = context.obj
    settings = app_context.settings()
    # huggingface_hub reads HF_ENDPOINT once, at import: make the library's own calls (its
    # user-agent probe, its defaults) go to the configured endpoint, never to another Hub.
    os.environ["HF_ENDPOINT"] = settings.endpoint
    from hfdl.errors import RunFailed
    from hfdl.services.run import Runner, RunOptions
    from hfdl.token import read_token

    options = RunOptions(
        schedule_name=schedule,
        tags=frozenset(tag) if tag else None,
        model_names=frozenset(model) if model else None,
        max_concurrent=max_concurrent,
        dry_run=dry_run,
        wait_for_lock=wait,
        force_check=check,
        trigger="timer" if schedule and os.environ.get("INVOCATION_ID") else "manual",
    )
    stop = threading.Event()
    observer = _make_observer(json_output)
    runner = Runner(settings, observer, token=read_token(), stop=stop)
    if dry_run:
        from hfdl.cli.render import print_plans

        plans = runner.dry_run(options)
        print_plans(plans, as_json=json_output)
        refused = [plan.name for plan in plans if plan.action in ("error", "skip")]
        if refused:
            raise RunFailed(f"{len(refused)} model(s) could not be planned: {', '.join(refused)}")
        return 0
    _install_stop_handlers(stop)
    result = runner.run(options)
    if json_output:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    if result.failed:
        names = ", ".join(outcome.name for outcome in result.failed)
        raise RunFailed(f"{len(result.failed)} model(s) did not complete: {names}")
    if result.status == "failed":
        raise RunFailed(
            "verification found damaged files on disk",
            hint="see `hfdl models verify`; set verify_on_run: repair to fetch them again",
        )
    return 0


def _make_observer(json_output: bool) -> RunObserver:
    """Progress bars on an interactive terminal; plain log lines anywhere else."""
    from hfdl.services.events import LogObserver
    from hfdl.services.notify import wrap_for_systemd

    if not json_output and sys.stderr.isatty() and not os.environ.get("JOURNAL_STREAM"):
        from hfdl.cli.progress import ProgressObserver

        return wrap_for_systemd(ProgressObserver())
    return wrap_for_systemd(LogObserver())


def _install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM (systemctl stop) and SIGINT set the stop flag: the run ends after the current
    chunk, keeps partial files for the next run, and records the session as interrupted."""

    def handle(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
