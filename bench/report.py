"""The benchmark's outputs: a markdown report (stdout, docs/performance.md) and JSON."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.measure import MIB
from bench.profile import Profile
from bench.results import Scenario, fmt_ratio, ratio

_EXTRA_KEYS = (
    "first_request_s",
    "after_last_byte_s",
    "requests_per_model",
    "resent_pct",
    "killed_each_time",
    "heavy_imports",
    "note",
)


def machine(work_dir: Path) -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    filesystem = "unknown"
    try:
        found = subprocess.run(
            ["df", "--output=fstype,source", str(work_dir)], capture_output=True, text=True
        )
        filesystem = " ".join(found.stdout.split()[2:]) or filesystem
    except OSError:
        pass
    curl = shutil.which("curl")
    curl_version = ""
    if curl:
        curl_version = subprocess.run(
            [curl, "--version"], capture_output=True, text=True
        ).stdout.split("\n", 1)[0]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory / (1024 * MIB), 1),
        "kernel": platform.release(),
        "filesystem": filesystem,
        "python": sys.version.split()[0],
        "huggingface_hub": version("huggingface_hub"),
        "curl": curl_version,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def _mib(value: Any) -> str:
    return "" if value is None else f"{value / MIB:,.1f} MiB"


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if key == "wall_s":
        return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"
    if key == "mib_s":
        return f"{value:,.0f}"
    if key == "cpu_s":
        return f"{value:.2f} s"
    if key == "rss_peak_mib":
        return f"{value:.0f} MiB"
    if key == "server_bytes":
        return _mib(value)
    return str(value)


def _extras(row: dict[str, Any]) -> str:
    parts = []
    for key in _EXTRA_KEYS:
        if key in row:
            value = row[key]
            if key == "heavy_imports":
                value = ", ".join(value) or "none"
            parts.append(str(value) if key == "note" else f"{key}={value}")
    return "; ".join(parts)


def scenario_markdown(scenario: Scenario) -> str:
    """One scenario: its table, pairwise ratios, checks and notes."""
    lines = [f"### {scenario.id}. {scenario.title}", ""]
    has_rate = any(row.get("mib_s") for row in scenario.rows)
    headers = ["contender", "wall (median)"]
    keys = ["wall_s"]
    if has_rate:
        headers.append("MiB/s")
        keys.append("mib_s")
    headers += ["CPU", "peak RSS", "server sent", "requests", "notes"]
    keys += ["cpu_s", "rss_peak_mib", "server_bytes", "requests"]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "---|" * len(headers))
    for row in scenario.rows:
        cells = [str(row["contender"])] + [_cell(row, key) for key in keys] + [_extras(row)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if has_rate:
        rated = [
            row
            for row in scenario.rows
            if row.get("mib_s") and (not scenario.compare or row["contender"] in scenario.compare)
        ]
        first = rated[0]
        pairs = [
            f"{first['contender']} / {other['contender']}: "
            f"{fmt_ratio(ratio(first['mib_s'], other['mib_s']))}"
            for other in rated[1:]
        ]
        if pairs:
            lines += ["Throughput ratios: " + "; ".join(pairs) + ".", ""]
    for note in scenario.notes:
        lines += [note, ""]
    return "\n".join(lines)


def _met(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[value]


def markdown(scenarios: Sequence[Scenario], profile: Profile, host: dict[str, Any]) -> str:
    """The whole report."""
    lines = [
        f"Profile `{profile.name}`: {profile.rounds} measured round(s) after "
        f"{profile.warmup} warm-up round(s), contenders alternating; medians.",
        "",
        f"Machine: {host['cpu']}, {host['cores']} cores, {host['memory_gib']} GiB RAM, "
        f"Linux {host['kernel']}, {host['filesystem']}; Python {host['python']}, "
        f"huggingface_hub {host['huggingface_hub']}, {host['curl'].split(' (')[0]}; "
        f"load average at start {host['load_average']}; {host['date']}.",
        "",
        "#### Targets",
        "",
        "| scenario | target | required | measured | met |",
        "|---|---|---|---|---|",
    ]
    for scenario in scenarios:
        for check in scenario.checks:
            why = f" ({check.why})" if check.why else ""
            lines.append(
                f"| {scenario.id} | {check.name} | {check.target} | {check.measured}{why} | "
                f"{_met(check.met)} |"
            )
    lines.append("")
    for scenario in scenarios:
        lines.append(scenario_markdown(scenario))
    return "\n".join(lines)


def document(scenarios: Sequence[Scenario], profile: Profile, host: dict[str, Any]) -> dict:
    """The JSON document."""
    return {
        "profile": profile.name,
        "rounds": profile.rounds,
        "warmup": profile.warmup,
        "machine": host,
        "scenarios": [scenario.to_dict() for scenario in scenarios],
    }
