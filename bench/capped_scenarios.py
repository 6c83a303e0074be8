"""Scenario 8: a CDN that caps every connection (issue 11), where parallel ranges pay off.

The test server plays the CDN (``tests/hubserver/throttle.py``; ``tc netem`` is not
available): every file body waits 50 ms before its headers, then is paced to 16 MiB/s per
connection. One 256 MiB file and one 8-file model, fetched by ``hfdl run`` (ranged transfers
with its default settings), ``hf download`` and ``aria2c -x16 -s16`` (skipped with a note when
``aria2c`` is missing: ``apt-get install -y aria2``). Every contender's output is sha256-checked
against the served blobs after its last round, so a fast wrong answer cannot win.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from bench.contenders import Contender, cache_file, hf_loop_contender, hfdl_contender, wanted
from bench.fixtures import BenchHub, BenchRepo, child_environment, remove_tree
from bench.profile import MIB, Profile
from bench.results import Scenario, fmt_ratio, ratio
from bench.rounds import alternate, say
from tests.hubserver.throttle import Throttle

RATE = 16 * MIB  # bytes per second per connection
FIRST_BYTE_DELAY = 0.05
ARIA2 = "aria2c"
ARIA2_NAME = "aria2c -x16 -s16"


def aria2_contender(root: Path, hub: BenchHub, repos: Sequence[BenchRepo]) -> Contender:
    """``aria2c -x16 -s16`` over every file's resolve URL (it follows the CDN redirect)."""
    out_dir = root / "files"
    root.mkdir(parents=True, exist_ok=True)
    listing = root / "aria2.txt"
    targets: list[tuple[Path, int]] = []
    lines = []
    for repo in repos:
        for remote in repo.files:
            folder = out_dir / repo.repo_id.replace("/", "--")
            targets.append((folder / remote.path, remote.size))
            lines.append(f"{hub.resolve_url(remote)}\n  dir={folder}\n  out={remote.path}\n")
    listing.write_text("".join(lines))
    argv = [ARIA2, "-x16", "-s16", "--quiet", "--allow-overwrite=true"]
    argv += ["--auto-file-renaming=false", f"--input-file={listing}"]
    return Contender(
        name=ARIA2_NAME,
        argv=argv,
        env=child_environment(root / "home"),
        cwd=root,
        reset=lambda: remove_tree(out_dir),
        outputs=lambda: targets,
    )


def _case(
    root: Path,
    hub: BenchHub,
    profile: Profile,
    log: Path,
    scenario: Scenario,
    label: str,
    repos: list[BenchRepo],
) -> None:
    payload = sum(repo.size for repo in repos)
    hfdl, install = hfdl_contender(
        root / "hfdl", hub, repos, concurrency=1, name=f"hfdl run {label}"
    )
    contenders = [hfdl]
    if wanted("hf"):
        contenders.append(hf_loop_contender(root / "hf", hub, repos))
        contenders[-1].name = f"hf download {label}"
    have_aria2 = shutil.which(ARIA2) is not None
    if have_aria2:
        contenders.append(aria2_contender(root / "aria2", hub, repos))
        contenders[-1].name = f"{ARIA2_NAME} {label}"
    digests = {remote.path: remote.blob.sha256 for repo in repos for remote in repo.files}
    for contender in contenders:
        if contender is hfdl:
            expected = {
                cache_file(install.cache_dir, repo, remote): remote.blob.sha256
                for repo in repos
                for remote in repo.files
            }
        else:
            expected = {path: digests[path.name] for path, _ in contender.outputs()}
        contender.digests = expected
    results = alternate(
        contenders,
        hub,
        rounds=profile.rounds,
        warmup=profile.warmup,
        log=log,
        payload_bytes=payload,
    )
    for contender in contenders:
        scenario.row(contender.name, results[contender.name])
    for other, target in ((f"{ARIA2_NAME} {label}", 0.8), (f"hf download {label}", 5.0)):
        if other not in results:
            why = "aria2c missing (apt-get install -y aria2)" if "aria2" in other else "skipped"
            scenario.check(f"{hfdl.name} vs {other}", f">= {target:g}x", "n/a", None, why)
            continue
        versus = ratio(results[hfdl.name]["mib_s"], results[other]["mib_s"])
        scenario.check(
            f"{hfdl.name} vs {other}",
            f">= {target:g}x",
            fmt_ratio(versus),
            None if versus is None else versus >= target,
        )


def capped(root: Path, hub: BenchHub, profile: Profile, log: Path) -> Scenario:
    """Scenario 8: 16 MiB/s per connection, 50 ms to the first byte."""
    smoke = profile.name == "smoke"
    single_size = 16 * MIB if smoke else 256 * MIB
    shard_size = 4 * MIB if smoke else 64 * MIB
    scenario = Scenario(
        "8",
        f"CDN capped at {RATE // MIB} MiB/s per connection, {FIRST_BYTE_DELAY * 1000:.0f} ms to "
        f"first byte: one {single_size // MIB} MiB file; a model of 8 x {shard_size // MIB} MiB",
    )
    say(scenario.title)
    single = hub.create("bench/capped-single", {"model.safetensors": single_size})
    shards = {f"model-{i:05d}-of-00008.safetensors": shard_size for i in range(8)}
    model = hub.create("bench/capped-model", {"config.json": b"{}", **shards})
    hub.server.throttle = Throttle(rate=RATE, first_byte_delay=FIRST_BYTE_DELAY)
    try:
        _case(root / "single", hub, profile, log, scenario, "(1 file)", [single])
        _case(root / "model", hub, profile, log, scenario, "(8 files)", [model])
    finally:
        hub.server.throttle = None
    scenario.notes.append(
        "Every output was sha256-checked against the served blobs. hfdl uses its defaults "
        "(connections_per_file 16, max_connections 16 per host shared by a model's files fetched "
        "side by side, concurrent_downloads 1); aria2c opens up to 16 connections per file and "
        "5 files at once; hf download runs 8 files at once, one connection each."
    )
    return scenario
