"""The body of ``hfdl start --foreground`` (kept apart: it needs the download engine)."""

from __future__ import annotations

import threading

from hfdl.config import Settings
from hfdl.store import ScheduleRow


def serve_foreground(settings: Settings) -> None:
    """Run the foreground scheduler until SIGTERM/SIGINT or `hfdl stop`."""
    from hfdl.engine.events import LogObserver
    from hfdl.services.foreground import (
        ForegroundScheduler,
        pid_file_path,
        remove_pid_file,
        write_pid_file,
    )
    from hfdl.services.run import Runner, RunOptions
    from hfdl.services.schedules import ensure_default_schedule
    from hfdl.store import Store
    from hfdl.token import read_token

    def load_schedules() -> list[ScheduleRow]:
        store = Store(settings.db_path)
        try:
            ensure_default_schedule(store, settings)
            return store.list_schedules()
        finally:
            store.close()

    def run_schedule(schedule_name: str, stop: threading.Event) -> None:
        runner = Runner(settings, LogObserver(), token=read_token(), stop=stop)
        runner.run(RunOptions(schedule_name=schedule_name, trigger="timer", wait_for_lock=True))

    scheduler = ForegroundScheduler(
        settings=settings, run_schedule=run_schedule, load_schedules=load_schedules
    )
    pid_file = pid_file_path(settings)
    write_pid_file(pid_file)
    scheduler.install_signal_handlers()
    try:
        scheduler.serve()
    finally:
        remove_pid_file(pid_file)
