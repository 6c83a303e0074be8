"""Alternating rounds: A B C, A B C, ... after a warm-up round, each from a clean slate."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.contenders import Contender
from bench.fixtures import BenchHub, settle
from bench.measure import Sample, run_measured, summarize


def say(message: str) -> None:
    """Progress on stderr (stdout carries the report)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def measure_once(contender: Contender, hub: BenchHub, log: Path) -> Sample:
    """Reset the contender, run it once, check its files, and count what the server sent."""
    contender.reset()
    settle()
    hub.reset_counters()
    started = time.monotonic()
    sample = run_measured(contender.argv, env=contender.env, cwd=contender.cwd, log=log)
    sample.server_bytes, sample.requests = hub.counters()
    records = hub.server.requests
    if records:
        # The server's clock is the same monotonic clock: when the first request arrived,
        # and how long the process lived after the server sent its last byte.
        first = min(record.start_time for record in records) - started
        last = max(record.end_time or record.start_time for record in records) - started
        sample.extra["first_request_s"] = round(first, 3)
        sample.extra["after_last_byte_s"] = round(sample.wall - last, 3)
    contender.check_outputs()
    return sample


def alternate(
    contenders: Sequence[Contender],
    hub: BenchHub,
    *,
    rounds: int,
    warmup: int,
    log: Path,
    payload_bytes: int | None,
) -> dict[str, dict[str, Any]]:
    """Run the contenders alternately; return each one's summary, keyed by name.

    The warm-up rounds warm the page cache (the server's blobs), the interpreters' bytecode
    and the disk; they are not counted.
    """
    samples: dict[str, list[Sample]] = {contender.name: [] for contender in contenders}
    for index in range(warmup + rounds):
        counted = index >= warmup
        for contender in contenders:
            sample = measure_once(contender, hub, log)
            label = f"round {index - warmup + 1}" if counted else "warm-up"
            rate = ""
            if payload_bytes:
                rate = f", {payload_bytes / 1048576 / sample.wall:.0f} MiB/s"
            say(
                f"  {label}: {contender.name}: {sample.wall:.2f}s{rate}, "
                f"{sample.rss_mib:.0f} MiB RSS, {sample.cpu:.2f}s CPU"
            )
            if counted:
                samples[contender.name].append(sample)
    for contender in contenders:
        contender.reset()
    settle()
    return {name: summarize(runs, payload_bytes) for name, runs in samples.items()}
