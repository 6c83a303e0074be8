"""``uv run python -m bench``: hfdl vs ``hf download`` vs curl on the project's test Hub server.

Builds its fixtures (random bytes) in a temporary directory, serves them from
``tests.hubserver.HubServer`` on 127.0.0.1 (``sendfile``, real ``Range``), runs the contenders
alternately, prints a markdown report and writes JSON. ``--smoke`` runs every scenario on tiny
files, once (CI does, so the benchmark never rots; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import (
    capped_scenarios,
    cli_scenarios,
    fixtures,
    https_scenarios,
    run_scenarios,
    transfer_scenarios,
)
from bench.fixtures import BenchHub
from bench.profile import FULL, PROFILES, SMOKE, Profile
from bench.report import document, machine, markdown
from bench.results import Scenario
from bench.rounds import say
from tests.hubserver import Blob

SCENARIO_IDS = ("1", "2", "3", "4", "5", "6", "7", "8", https_scenarios.SCENARIO_ID)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny files, one round (CI)")
    parser.add_argument("--profile", choices=sorted(PROFILES), help="full (default) or smoke")
    parser.add_argument("--rounds", type=int, help="measured rounds per contender")
    parser.add_argument(
        "--only", help="comma-separated scenario numbers to run (default: all, 1-8 and https)"
    )
    parser.add_argument(
        "--json", type=Path, default=Path("bench-results.json"), help="where to write the JSON"
    )
    parser.add_argument("--markdown", type=Path, help="also write the markdown report here")
    parser.add_argument("--work-dir", type=Path, help="parent of the temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--skip",
        default="",
        help="reference contenders not to run, e.g. 'hf,curl' (quick A/B runs of hfdl)",
    )
    parser.add_argument(
        "--hfdl-src",
        type=Path,
        help="measure the hfdl package of this source tree instead (before/after comparisons)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (0 even when targets are missed)."""
    arguments = _parse(argv)
    profile: Profile = SMOKE if arguments.smoke else PROFILES.get(arguments.profile or "", FULL)
    if arguments.rounds:
        profile = dataclasses.replace(profile, rounds=arguments.rounds)
    wanted = SCENARIO_IDS if not arguments.only else tuple(arguments.only.split(","))
    if shutil.which("curl") is None:
        print("bench: curl is missing (apt-get install -y curl)", file=sys.stderr)
        return 2
    fixtures.SKIP.update(kind for kind in arguments.skip.split(",") if kind)
    if arguments.hfdl_src is not None:
        fixtures.HFDL_SOURCE[:] = [arguments.hfdl_src.resolve()]
    work = Path(tempfile.mkdtemp(prefix="hfdl-bench-", dir=arguments.work_dir))
    host = machine(work)
    host["hfdl_source"] = str(fixtures.HFDL_SOURCE[0]) if fixtures.HFDL_SOURCE else "this tree"
    host["skipped"] = sorted(fixtures.SKIP)
    say(f"profile {profile.name}, working in {work}")
    log = work / "commands.log"
    scenarios: list[Scenario] = []
    shared: dict[str, Blob] = {}
    try:
        with BenchHub(work) as hub:
            steps: dict[str, Callable[[], Scenario]] = {
                "1": lambda: transfer_scenarios.single_file(work / "s1", hub, profile, log),
                "2": lambda: transfer_scenarios.catalog(work / "s2", hub, profile, log),
                "3": lambda: run_scenarios.noop(work / "s3", hub, profile, log),
                "4": lambda: cli_scenarios.startup(work / "s4", hub, profile.startup_repeats, log),
                "5": lambda: transfer_scenarios.memory(work / "s5", hub, profile, log),
                "6": lambda: run_scenarios.resume(
                    work / "s6",
                    hub,
                    profile,
                    log,
                    blob=shared.get("single"),
                ),
                "7": lambda: cli_scenarios.scale(
                    work / "s7", hub, profile.scale_models, profile.scale_repeats, log
                ),
                "8": lambda: capped_scenarios.capped(work / "s8", hub, profile, log),
                "https": lambda: https_scenarios.single_file_https(
                    work / "s-https", hub, profile, log
                ),
            }
            for scenario_id in SCENARIO_IDS:
                if scenario_id in wanted:
                    scenarios.append(steps[scenario_id]())
                    if scenario_id == "1" and profile.resume_file == profile.single_file:
                        # Scenario 6 serves the same bytes under another repo: no second fixture.
                        found = hub.repos.find_repo("bench/single")
                        if found is not None:
                            commit = found.commits[found.branches["main"]]
                            shared["single"] = commit.files["model.safetensors"].blob
    finally:
        if arguments.keep:
            say(f"kept {work} (commands.log has every command and its output)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    host["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    report = markdown(scenarios, profile, host)
    print(report)
    arguments.json.write_text(json.dumps(document(scenarios, profile, host), indent=2) + "\n")
    if arguments.markdown is not None:
        arguments.markdown.write_text(report + "\n")
    say(f"wrote {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
