"""Is the run that recorded a session still alive? Answered from this host's kernel.

A session stays recorded ``running`` when its process dies without finishing it (``kill -9``,
OOM killer, power loss). These checks tell such a session from a live one without writing
anything: the run lock (free when no run is working), the recorded pid, and the recorded
process start time, which tells the run from a later process that reuses its pid.

Standard library only (no SQLAlchemy): :mod:`hfdl.store.reader` uses them for the reports,
:mod:`hfdl.store.sessions` to record a run and to recover after a crash.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (a reused pid reads as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence and permission check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """``(state, start time in clock ticks since boot)`` from ``/proc/<pid>/stat``, if readable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (the command name, in parentheses) may itself hold spaces and parentheses.
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], fields[19]  # fields 3 and 22 of proc(5)


def process_start(pid: int) -> str | None:
    """Identify a live process instance: ``"<boot id>/<start time in clock ticks>"``.

    Unlike the pid, this is never reused: a later process with the same pid has another start
    time (or another boot id, after a reboot). ``None`` when ``/proc`` cannot tell (no such
    process, or not Linux).
    """
    stat = _proc_stat(pid)
    try:
        boot_id = _BOOT_ID.read_text().strip()
    except OSError:
        return None
    return None if stat is None else f"{boot_id}/{stat[1]}"


def process_gone(pid: int, recorded_start: str | None) -> bool:
    """Whether the process that recorded a session on this host has certainly ended.

    Args:
        pid: the pid the session recorded.
        recorded_start: the :func:`process_start` it recorded (``None`` for older sessions).

    Returns:
        ``True`` when no process has the pid, it is a zombie (dead, not yet reaped), or it is
        a later process reusing the pid; ``False`` when it may be the run.
    """
    if not pid_alive(pid):
        return True
    stat = _proc_stat(pid)
    if stat is None:
        return False
    if stat[0] in ("Z", "X"):
        return True
    return recorded_start is not None and recorded_start != process_start(pid)


def run_lock_held(lock_path: Path) -> bool | None:
    """Probe the run lock (``<state_directory>/run.lock``) without keeping it.

    A run holds an exclusive ``flock`` on it for its whole life and the kernel drops it when
    the process dies, so a free lock proves that no run (nor cleanup) is working. The probe
    takes a shared lock without blocking and releases it at once; the file is opened
    read-only and never created.

    Returns:
        ``True`` held, ``False`` free, ``None`` unknown (no such file, or not readable).
    """
    try:
        descriptor = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(descriptor)  # also releases the shared lock, if taken
    return False
