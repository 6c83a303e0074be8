"""Scenarios 3 and 6: a run with nothing to do, and a resume after SIGKILL."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.contenders import Contender, hf_loop_contender, hfdl_contender, wanted
from bench.fixtures import BenchHub, settle
from bench.measure import Sample, kill_group, median, run_measured, summarize
from bench.profile import MIB, Profile
from bench.results import Scenario
from bench.rounds import alternate, measure_once, say
from tests.hubserver import Blob

# A WAN round trip, added to every API answer in one row of scenario 3.
API_LATENCY = 0.02
API_PATH = re.compile(r"^/api/")


def _keep(contender: Contender) -> Contender:
    """The same command, but its reset keeps what is downloaded (runs on a complete cache)."""
    return Contender(
        name=contender.name,
        argv=contender.argv,
        env=contender.env,
        cwd=contender.cwd,
        reset=lambda: None,
        outputs=contender.outputs,
    )


def noop(root: Path, hub: BenchHub, profile: Profile, log: Path) -> Scenario:
    """Scenario 3: every model complete; a check that is due, and one that is not."""
    count = profile.noop_models
    scenario = Scenario("3", f"No-op run: {count} catalog models, all complete and up to date")
    say(scenario.title)
    repos = [
        hub.create(
            f"bench/noop-{index}",
            {"config.json": b'{"index": %d}' % index, "model.safetensors": 4096 + index},
        )
        for index in range(count)
    ]
    hfdl, install = hfdl_contender(root / "hfdl", hub, repos, concurrency=4)
    hf = hf_loop_contender(root / "hf", hub, repos) if wanted("hf") else None
    for contender in (hfdl, hf):  # populate both caches once
        if contender is not None:
            measure_once(contender, hub, log)
    due = Contender(
        name="hfdl run --check (all due)",
        argv=install.argv("run", "--check"),
        env=hfdl.env,
        cwd=hfdl.cwd,
        reset=lambda: None,
        outputs=hfdl.outputs,
    )
    not_due = _keep(hfdl)
    not_due.name = "hfdl run (none due)"
    results = alternate(
        [due, not_due],
        hub,
        rounds=profile.rounds,
        warmup=profile.warmup,
        log=log,
        payload_bytes=None,
    )
    # Loopback answers in a millisecond; the real Hub is a WAN round trip away.
    slow = Contender(
        name=f"hfdl run --check (all due), +{API_LATENCY * 1000:.0f} ms per API request",
        argv=due.argv,
        env=due.env,
        cwd=due.cwd,
        reset=lambda: None,
    )
    hub.server.inject(API_PATH, delay_headers=API_LATENCY, times=None)
    try:
        results.update(
            alternate(
                [slow],
                hub,
                rounds=profile.rounds,
                warmup=profile.warmup,
                log=log,
                payload_bytes=None,
            )
        )
    finally:
        hub.server.reset_faults()
    if hf is not None:
        cached = _keep(hf)
        cached.name = "hf download loop (all cached)"
        results.update(
            alternate(
                [cached], hub, rounds=profile.noop_hf_rounds, warmup=0, log=log, payload_bytes=None
            )
        )
    for name, summary in results.items():
        summary["requests_per_model"] = round(summary["requests"] / count, 2)
        scenario.row(name, summary)
    due_row, idle_row = results[due.name], results[not_due.name]
    scenario.check(
        "check due: Hub requests per model",
        "<= 1",
        f"{due_row['requests_per_model']:g}",
        due_row["requests_per_model"] <= 1,
    )
    scenario.check(
        f"check due: wall for {count} models",
        "<= 2 s",
        f"{due_row['wall_s']:.2f} s",
        due_row["wall_s"] <= 2.0,
    )
    scenario.check(
        "check not due: Hub requests", "0", str(idle_row["requests"]), idle_row["requests"] == 0
    )
    scenario.check(
        "check not due: wall", "<= 0.5 s", f"{idle_row['wall_s']:.2f} s", idle_row["wall_s"] <= 0.5
    )
    scenario.notes.append(
        "'all due' is `hfdl run --check`, which treats every completed model as due for its "
        "update check (the same code path as check_frequency elapsing). The targets are "
        f"checked on loopback; the +{API_LATENCY * 1000:.0f} ms row delays every API answer "
        "of the test server like a WAN round trip, where planning 8 models at a time matters."
    )
    return scenario


def _partial_bytes(cache_dir: Path) -> int:
    """The largest ``*.incomplete`` file under ``cache_dir`` (0 when none)."""
    sizes = [0]
    for path in cache_dir.glob("models--*/blobs/*.incomplete"):
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            continue
    return max(sizes)


def _kill_when_half_done(
    cache_dir: Path, size: int
) -> tuple[dict[str, float], Callable[[subprocess.Popen[bytes]], None]]:
    """An ``on_start`` callback that SIGKILLs the child once half the file is on disk."""
    state: dict[str, float] = {"killed_at": 0.0}

    def watch(process: subprocess.Popen[bytes]) -> None:
        while process.poll() is None:
            if _partial_bytes(cache_dir) >= size // 2:
                kill_group(process.pid)
                state["killed_at"] = float(_partial_bytes(cache_dir))
                return
            time.sleep(0.001)

    return state, watch


def resume(
    root: Path, hub: BenchHub, profile: Profile, log: Path, blob: Blob | None = None
) -> Scenario:
    """Scenario 6: SIGKILL at half the file; how much does the next run fetch again?"""
    size = profile.resume_file
    scenario = Scenario("6", f"Resume: SIGKILL when a {size / MIB:g} MiB file is half done")
    say(scenario.title)
    repo = hub.create("bench/resume", {"model.safetensors": blob if blob is not None else size})
    hfdl, install = hfdl_contender(root / "hfdl", hub, [repo], concurrency=1)
    contenders = [hfdl]
    if wanted("hf"):
        contenders.append(hf_loop_contender(root / "hf", hub, [repo]))
    caches = {hfdl.name: install.cache_dir, "hf download loop": root / "hf" / "hub"}
    samples: dict[str, list[Sample]] = {contender.name: [] for contender in contenders}
    for index in range(profile.warmup + profile.rounds):
        for contender in contenders:
            contender.reset()
            settle()
            if profile.resume_trickle is not None:  # tiny files: slow the first run down
                hub.server.inject(
                    (repo.repo_id, "model.safetensors"),
                    origin="cdn",
                    trickle=profile.resume_trickle,
                    times=None,
                )
            hub.reset_counters()
            state, watch = _kill_when_half_done(caches[contender.name], size)
            first = run_measured(
                contender.argv,
                env=contender.env,
                cwd=contender.cwd,
                log=log,
                check=False,
                on_start=watch,
            )
            hub.server.reset_faults()
            sent_first, _ = hub.counters()
            hub.reset_counters()
            second = run_measured(contender.argv, env=contender.env, cwd=contender.cwd, log=log)
            second.server_bytes, second.requests = hub.counters()
            contender.check_outputs()
            second.extra = {
                "killed": first.returncode == -signal.SIGKILL,
                "on_disk_at_kill_pct": round(100 * state["killed_at"] / size, 1),
                "first_run_sent_pct": round(100 * sent_first / size, 1),
                "resent_pct": round(100 * second.server_bytes / size, 1),
            }
            say(
                f"  {contender.name}: killed with {second.extra['on_disk_at_kill_pct']}% on "
                f"disk; the next run made the server send {second.extra['resent_pct']}%"
            )
            if index >= profile.warmup:
                samples[contender.name].append(second)
    for contender in contenders:
        contender.reset()
        runs = samples[contender.name]
        summary = summarize(runs)
        summary["resent_pct"] = median([run.extra["resent_pct"] for run in runs])
        summary["killed_each_time"] = all(run.extra["killed"] for run in runs)
        scenario.row(f"{contender.name} (after SIGKILL)", summary)
    row = scenario.rows[0]
    scenario.check(
        "hfdl: server bytes of the run after the kill",
        "<= 52% of the file",
        f"{row['resent_pct']:.1f}%",
        row["resent_pct"] <= 52 and row["killed_each_time"],
        "" if row["killed_each_time"] else "the first run finished before it could be killed",
    )
    scenario.notes.append(
        "hf download writes to a per-process `<etag>.<random>.incomplete`, so the next run "
        "starts over (and the killed run's partial file stays behind)."
    )
    return scenario
