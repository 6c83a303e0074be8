"""The benchmark (``python -m bench``) still runs end to end: every scenario, every contender.

``--smoke`` uses tiny files and one round, so this checks the machinery, never the numbers
(tests never assert on wall time; docs/performance.md holds the real measurements).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiers import requires_tools
from tests.workspace import REPO_ROOT

# Per scenario, the start of each contender row's name that must be present.
EXPECTED_ROWS = {
    "1": ["hfdl run", "hf download loop", "curl"],
    "2": ["hfdl run", "hf download loop", "curl x"],
    "3": [
        "hfdl run --check (all due)",
        "hfdl run (none due)",
        "hfdl run --check (all due), +",
        "hf download loop (all cached)",
    ],
    "4": ["hfdl --help", "hfdl status --json", "hfdl models list", "hf --version"],
    "5": ["hfdl run", "hf download (", "curl x", "hfdl run, 1 x", "hfdl run, 1 x"],
    "6": ["hfdl run (after SIGKILL)", "hf download loop (after SIGKILL)"],
    "7": ["hfdl run: first sync", "hfdl run: re-sync", "hfdl models list --json", "hfdl status"],
    "8": ["hfdl run (1 file)", "hf download (1 file)", "hfdl run (8 files)", "hf download (8"],
    "https": ["hfdl run (https)", "hf download loop (https)", "curl (https)", "hfdl run (http)"],
}


@pytest.mark.slow
@requires_tools("curl")  # the benchmark compares with curl
def test_smoke_run_reports_every_scenario_and_contender(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("HFDL_")}

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--json",
            str(output),
            # Kept under tmp_path, so that a failure can show what the failing command printed.
            "--keep",
            "--work-dir",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    if completed.returncode != 0:
        logs = sorted(tmp_path.glob("hfdl-bench-*/commands.log"))
        tail = logs[0].read_text(errors="replace")[-4000:] if logs else "(no commands.log)"
        pytest.fail(f"bench exited {completed.returncode}:\n{completed.stderr[-3000:]}\n{tail}")
    document = json.loads(output.read_text())
    assert document["profile"] == "smoke"
    assert {"cpu", "cores", "memory_gib", "kernel", "python"} <= set(document["machine"])
    scenarios = {scenario["id"]: scenario for scenario in document["scenarios"]}
    assert sorted(scenarios) == sorted(EXPECTED_ROWS)
    for scenario_id, prefixes in EXPECTED_ROWS.items():
        names = [row["contender"] for row in scenarios[scenario_id]["rows"]]
        remaining = list(names)
        for prefix in prefixes:
            match = next((name for name in remaining if name.startswith(prefix)), None)
            assert match is not None, f"scenario {scenario_id}: no row {prefix!r} in {names}"
            remaining.remove(match)
        for row in scenarios[scenario_id]["rows"]:
            assert "note" in row or {"wall_s", "cpu_s", "rss_peak_mib"} <= set(row), row
        assert scenarios[scenario_id]["checks"], f"scenario {scenario_id} checks no target"
        for check in scenarios[scenario_id]["checks"]:
            assert set(check) == {"name", "target", "measured", "met", "why"}
    # The markdown report went to stdout.
    assert "#### Targets" in completed.stdout
