"""Scenarios 4 and 7: start-up of the fast commands, and a catalog of 10,000 models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.contenders import Contender, wanted
from bench.fixtures import HF, BenchHub, HfdlInstall, child_environment, remove_tree
from bench.measure import run_measured
from bench.results import Scenario
from bench.rounds import alternate, say

# What the fast commands must not load (scenario 4): the Hub client and the download engine.
HEAVY_MODULES = (
    "huggingface_hub",
    "httpx",
    "httpx2",
    "httpcore2",
    "hfdl.hub.client",
    "hfdl.hub.transfer",
    "hfdl.services.run",
    "hfdl.engine.download",
)


def imported_modules(install: HfdlInstall, *arguments: str) -> set[str]:
    """Modules that ``hfdl ARGUMENTS`` imports (``python -X importtime``, stderr parsed)."""
    argv = [sys.executable, "-X", "importtime", "-m", "hfdl", "--config"]
    argv += [str(install.config_path), *arguments]
    completed = subprocess.run(
        argv, env=install.env(), cwd=install.root, capture_output=True, text=True, check=False
    )
    names = set()
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def heavy_imports(modules: set[str]) -> list[str]:
    """The heavy modules (or their submodules) among ``modules``."""
    return sorted(
        name
        for name in modules
        if any(name == heavy or name.startswith(heavy + ".") for heavy in HEAVY_MODULES)
    )


def has_command(install: HfdlInstall, *words: str) -> bool:
    """Whether ``hfdl WORDS --help`` succeeds (the command exists in this version)."""
    completed = subprocess.run(
        install.argv(*words, "--help"), env=install.env(), capture_output=True, check=False
    )
    return completed.returncode == 0


def _catalog(count: int, prefix: str) -> list[dict[str, Any]]:
    """``count`` disabled models with realistic fields (a run syncs them, asks nothing)."""
    priorities = ("high", "medium", "low")
    return [
        {
            "name": f"{prefix}/model-{index:05d}",
            "enabled": False,
            "description": f"benchmark model {index}",
            "size_estimate": "1.5GB",
            "priority": priorities[index % 3],
            "tags": ["bench", f"group-{index % 17}"],
            "revision": "main",
        }
        for index in range(count)
    ]


def _install(root: Path, hub: BenchHub, count: int, prefix: str) -> HfdlInstall:
    install = HfdlInstall(root, hub.url)
    install.write(_catalog(count, prefix), {"check_frequency": "daily"})
    return install


def _command(install: HfdlInstall, name: str, *arguments: str) -> Contender:
    return Contender(
        name=name,
        argv=install.argv(*arguments),
        env=install.env(),
        cwd=install.root,
        reset=lambda: None,
    )


def startup(root: Path, hub: BenchHub, repeats: int, log: Path) -> Scenario:
    """Scenario 4: wall time of the fast commands (bytecode compiled), and what they import."""
    scenario = Scenario("4", "Start-up of the fast commands (bytecode compiled)")
    say(scenario.title)
    install = _install(root, hub, 100, "bench-startup")
    run_measured(install.argv("run"), env=install.env(), cwd=root, log=log)  # sync 100 models
    commands = [
        ("hfdl --help", ("--help",), 0.15),
        ("hfdl status --json", ("status", "--json"), 0.4),
        ("hfdl models list", ("models", "list"), 0.4),
    ]
    contenders = []
    present: dict[str, bool] = {}
    for name, arguments, _ in commands:
        present[name] = name != "hfdl models list" or has_command(install, "models", "list")
        if present[name]:
            contenders.append(_command(install, name, *arguments))
    reference = Contender(
        name="hf --version (reference)",
        argv=[HF, "--version"],
        env=child_environment(root / "hf-home"),
        cwd=root,
        reset=lambda: None,
    )
    if wanted("hf"):
        contenders.append(reference)
    for contender in contenders:  # compile and cache bytecode, warm the page cache
        for _ in range(2):
            run_measured(contender.argv, env=contender.env, cwd=root, log=log, check=False)
    results = alternate(contenders, hub, rounds=repeats, warmup=0, log=log, payload_bytes=None)
    for name, arguments, target in commands:
        if not present[name]:
            scenario.rows.append({"contender": name, "note": "n/a (command not present)"})
            scenario.check(
                f"{name} median wall",
                f"<= {target:g} s",
                "n/a",
                None,
                "command not present in this version",
            )
            scenario.check(
                f"{name} imports no Hub client or engine",
                "none",
                "n/a",
                None,
                "command not present in this version",
            )
            continue
        heavy = heavy_imports(imported_modules(install, *arguments))
        summary = results[name]
        scenario.row(name, summary, heavy_imports=heavy)
        scenario.check(
            f"{name} median wall",
            f"<= {target:g} s",
            f"{summary['wall_s']:.3f} s",
            summary["wall_s"] <= target,
        )
        scenario.check(
            f"{name} imports no Hub client or engine",
            "none",
            ", ".join(heavy) or "none",
            not heavy,
        )
    if reference.name in results:
        scenario.row(reference.name, results[reference.name])
    return scenario


SYNC_PROBE = """
import json, sys, time
started = time.perf_counter()
from hfdl.catalog import load_catalog
from hfdl.store import Store
imported = time.perf_counter()
catalog = load_catalog(sys.argv[1])
loaded = time.perf_counter()
store = Store(sys.argv[2])
opened = time.perf_counter()
store.sync_catalog(catalog)
synced = time.perf_counter()
store.close()
print(json.dumps({"import_s": imported - started, "load_validate_s": loaded - imported,
                  "open_db_s": opened - loaded, "sync_s": synced - opened}))
"""


def scale(root: Path, hub: BenchHub, count: int, repeats: int, log: Path) -> Scenario:
    """Scenario 7: a catalog of ``count`` models: sync, list, status."""
    scenario = Scenario("7", f"Scale of the catalog: {count:,} models in models.json")
    say(scenario.title)
    install = _install(root, hub, count, "bench-scale")

    def fresh() -> None:
        remove_tree(install.state_dir)

    first = Contender(
        name=f"hfdl run: first sync of {count:,} models (empty DB)",
        argv=install.argv("run"),
        env=install.env(),
        cwd=root,
        reset=fresh,
    )
    again = _command(install, f"hfdl run: re-sync of {count:,} unchanged models", "run")
    results = alternate([first, again], hub, rounds=repeats, warmup=0, log=log, payload_bytes=None)
    listing_present = has_command(install, "models", "list")
    readers = [_command(install, "hfdl status --json", "status", "--json")]
    if listing_present:
        readers.insert(0, _command(install, "hfdl models list --json", "models", "list", "--json"))
    results.update(alternate(readers, hub, rounds=repeats, warmup=1, log=log, payload_bytes=None))
    probe = subprocess.run(
        [sys.executable, "-c", SYNC_PROBE, str(install.models_path), str(root / "probe.db")],
        env=install.env(),
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    phases = {key: round(value, 3) for key, value in json.loads(probe.stdout).items()}
    for name, summary in results.items():
        scenario.row(name, summary)
    sync_wall = results[first.name]["wall_s"]
    scenario.check(
        f"sync {count:,} models into the DB (whole `hfdl run`)",
        "<= 2 s",
        f"{sync_wall:.2f} s",
        sync_wall <= 2.0,
    )
    if listing_present:
        wall = results["hfdl models list --json"]["wall_s"]
        scenario.check("hfdl models list --json", "<= 1 s", f"{wall:.2f} s", wall <= 1.0)
    else:
        scenario.rows.append(
            {"contender": "hfdl models list --json", "note": "n/a (command not present)"}
        )
        scenario.check("hfdl models list --json", "<= 1 s", "n/a", None, "command not present")
    wall = results["hfdl status --json"]["wall_s"]
    scenario.check("hfdl status --json", "<= 0.5 s", f"{wall:.2f} s", wall <= 0.5)
    scenario.notes.append(
        "In-process phases of a first sync (import, load+validate, open DB, sync): "
        + ", ".join(f"{key} {value:.3f}s" for key, value in phases.items())
    )
    return scenario
