"""``hfdl start --foreground``: hfdl as its own scheduler, for hosts without systemd.

In a container there is often no systemd. The foreground scheduler stays in the foreground,
runs ``hfdl run`` (in-process) at each enabled schedule's times, logs to stderr, records its
PID in ``HFDL_PID_FILE`` so ``hfdl stop`` can end it, and exits cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hfdl.config import Settings
from hfdl.errors import Cancelled, HfdlError, StoreError
from hfdl.store import ScheduleRow
from hfdl.systemd.calendar import next_fire

logger = logging.getLogger("hfdl.foreground")

PID_FILE_VARIABLES = ("HFDL_PID_FILE", "HF_DOWNLOADER_PID_FILE")


def pid_file_path(settings: Settings, environ: Mapping[str, str] | None = None) -> Path:
    """``$HFDL_PID_FILE`` (alias ``$HF_DOWNLOADER_PID_FILE``), else ``<state>/hfdl.pid``."""
    environ = os.environ if environ is None else environ
    for name in PID_FILE_VARIABLES:
        if environ.get(name):
            return Path(environ[name])
    return settings.state_directory / "hfdl.pid"


def due_schedule(
    schedules: Sequence[ScheduleRow], now: datetime
) -> tuple[ScheduleRow, datetime] | None:
    """The enabled schedule that fires first after ``now``, with its time; ``None`` if none."""
    upcoming = [(next_fire(schedule, now), schedule) for schedule in schedules if schedule.enabled]
    if not upcoming:
        return None
    when, schedule = min(upcoming, key=lambda pair: pair[0])
    return schedule, when


@dataclass
class ForegroundScheduler:
    """The loop of ``hfdl start --foreground``.

    Args:
        settings: the effective configuration.
        run_schedule: runs one scheduled ``hfdl run`` for a schedule name (given the stop
            event); errors it raises are logged and the loop goes on.
        load_schedules: returns the schedules (re-read before each wait, so edits apply).
        clock: returns the current local time (timezone-aware).
    """

    settings: Settings
    run_schedule: Callable[[str, threading.Event], None]
    load_schedules: Callable[[], list[ScheduleRow]]
    clock: Callable[[], datetime] = lambda: datetime.now().astimezone()

    def __post_init__(self) -> None:
        self.stop = threading.Event()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT end the loop (and the current run, keeping partial files)."""

        def handle(signum: int, _frame: object) -> None:
            logger.info("signal %d received: stopping", signum)
            self.stop.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def serve(self) -> None:
        """Wait for each schedule's time and run it, until told to stop."""
        while not self.stop.is_set():
            found = due_schedule(self.load_schedules(), self.clock())
            if found is None:
                logger.warning(
                    "no enabled schedule: waiting (create one with `hfdl schedule create`)"
                )
                self.stop.wait(60)
                continue
            schedule, when = found
            delay = max(0.0, (when - self.clock()).total_seconds())
            logger.info(
                "next run: schedule %s at %s", schedule.name, when.isoformat(timespec="minutes")
            )
            # Wake at least every minute so that schedule edits and clock jumps are noticed.
            if self.stop.wait(min(delay, 60.0)) or delay > 60.0:
                continue
            try:
                self.run_schedule(schedule.name, self.stop)
            except Cancelled:
                break
            except HfdlError as error:
                logger.error("scheduled run %s failed: %s", schedule.name, error)


def serve_foreground(settings: Settings) -> None:
    """Be the scheduler (``hfdl start --foreground``) until SIGTERM/SIGINT or ``hfdl stop``.

    Each due schedule runs in this process, recorded as timer-triggered, after waiting for a
    run already in progress; the schedules are re-read from the database before each wait
    (the default schedule is created first when there is none). The PID file lets
    ``hfdl stop`` find this process, and is removed when the loop ends.

    Args:
        settings: the effective configuration.

    Raises:
        StoreError: another foreground scheduler already runs, or the database cannot be used.
    """
    # The download engine, the store and the Hub client load only here: the rest of this
    # module serves `hfdl stop` too, which must stay light.
    from hfdl.engine.events import LogObserver
    from hfdl.services.run import Runner, RunOptions
    from hfdl.services.schedules import ensure_default_schedule
    from hfdl.store import Store
    from hfdl.token import read_token

    def load_schedules() -> list[ScheduleRow]:
        store = Store(settings.database, host_id=settings.host_id)
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


def write_pid_file(path: Path) -> None:
    """Record this process's PID (0644), refusing when a live scheduler already owns it.

    Raises:
        StoreError: another foreground scheduler is running.
    """
    existing = _read_pid(path)
    if existing is not None and existing != os.getpid() and _alive(existing):
        raise StoreError(
            f"a foreground scheduler already runs with pid {existing} ({path})",
            hint="stop it with `hfdl stop` first",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(f"{os.getpid()}\n")
    os.replace(temporary, path)


def remove_pid_file(path: Path) -> None:
    """Remove the PID file if it still names this process."""
    if _read_pid(path) == os.getpid():
        path.unlink(missing_ok=True)


def stop_foreground(settings: Settings) -> int | None:
    """Send SIGTERM to the foreground scheduler named in the PID file.

    Returns:
        Its PID, or ``None`` when none is running (a stale file is removed).
    """
    path = pid_file_path(settings)
    pid = _read_pid(path)
    if pid is None:
        return None
    if not _alive(pid):
        path.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    return pid


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
