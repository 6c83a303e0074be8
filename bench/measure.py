"""Running one contender as a child process and measuring it: wall, CPU, peak RSS, server bytes.

Peak RSS and CPU come from ``os.wait4`` (the kernel's rusage of the child and of the children
it waited for, as ``/usr/bin/time -v`` reports them): for a shell loop that is the largest
single process of the loop, for one ``curl --parallel`` process its own peak.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


@dataclass
class Sample:
    """One measured run of one contender."""

    wall: float
    cpu: float
    rss_mib: float
    returncode: int
    server_bytes: int = 0
    requests: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class RunError(RuntimeError):
    """A contender exited with an error (the benchmark stops: a failed run measures nothing)."""


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    timeout: float = 900.0,
    check: bool = True,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> Sample:
    """Run ``argv`` to completion; return its wall time, CPU seconds and peak RSS.

    Args:
        argv: the command.
        env: its whole environment.
        cwd: its working directory.
        log: stdout and stderr go there (appended), so a failure can be inspected.
        timeout: seconds before the child is killed and ``RunError`` raised.
        check: raise ``RunError`` on a non-zero exit status.
        on_start: called with the process right after it started (to watch or kill it);
            it runs in the calling thread, before waiting.

    Raises:
        RunError: non-zero exit (with ``check``) or timeout.
    """
    with open(log, "ab") as output:
        output.write(f"\n$ {' '.join(argv)}\n".encode())
        output.flush()
        started = time.perf_counter()
        # Its own process group: a kill reaches a shell loop's children too.
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        if on_start is not None:
            on_start(process)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            kill_group(process.pid)

        watchdog = threading.Timer(timeout, kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code  # already reaped: keep Popen from waiting again
    if timed_out.is_set():
        raise RunError(f"timed out after {timeout:.0f}s: {' '.join(argv)} (see {log})")
    if check and code != 0:
        raise RunError(f"exit status {code}: {' '.join(argv)} (see {log})")
    return Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        rss_mib=usage.ru_maxrss / 1024,
        returncode=code,
    )


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` (the child and anything it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values)."""
    return float(statistics.median(values)) if values else 0.0


def summarize(samples: Sequence[Sample], payload_bytes: int | None = None) -> dict[str, Any]:
    """Medians (and the raw walls) of a contender's samples, as a JSON-safe dict.

    Args:
        samples: the measured rounds (warm-up excluded).
        payload_bytes: the bytes one run delivers, to compute a throughput in MiB/s.
    """
    walls = [sample.wall for sample in samples]
    summary: dict[str, Any] = {
        "rounds": len(samples),
        "wall_s": round(median(walls), 4),
        "walls_s": [round(wall, 4) for wall in walls],
        "cpu_s": round(median([sample.cpu for sample in samples]), 3),
        "rss_peak_mib": round(max((sample.rss_mib for sample in samples), default=0.0), 1),
        "rss_median_mib": round(median([sample.rss_mib for sample in samples]), 1),
        "server_bytes": int(median([sample.server_bytes for sample in samples])),
        "requests": int(median([sample.requests for sample in samples])),
    }
    if payload_bytes is not None:
        wall = summary["wall_s"]
        summary["mib_s"] = round(payload_bytes / MIB / wall, 1) if wall > 0 else None
    extras: dict[str, list[Any]] = {}
    for sample in samples:
        for key, value in sample.extra.items():
            extras.setdefault(key, []).append(value)
    for key, values in extras.items():
        numeric = [value for value in values if isinstance(value, int | float)]
        summary[key] = median(numeric) if len(numeric) == len(values) else values
    return summary


def as_dict(sample: Sample) -> dict[str, Any]:
    """A sample as a JSON-safe dict."""
    return asdict(sample)
