"""Scenarios 1, 2 and 5: throughput of one large file, of a catalog, and memory under load."""

from __future__ import annotations

from pathlib import Path

from bench.contenders import (
    Contender,
    curl_contender,
    hf_loop_contender,
    hfdl_contender,
    wanted,
)
from bench.fixtures import BenchHub, BenchRepo
from bench.profile import MIB, Profile
from bench.results import Scenario, fmt_ratio, ratio
from bench.rounds import alternate, say


def _size(nbytes: int) -> str:
    return f"{nbytes / (1024 * MIB):g} GiB" if nbytes >= 1024 * MIB else f"{nbytes / MIB:g} MiB"


def _throughput_checks(
    scenario: Scenario, results: dict[str, dict], hfdl: str, hf: str, curl: str
) -> None:
    """hfdl >= 0.8x curl and >= 1.5x the hf loop (throughput ratios of the same run)."""
    for other, target in ((curl, 0.8), (hf, 1.5)):
        if other not in results:
            scenario.check(f"{hfdl} vs {other}", f">= {target:.2f}x", "n/a", None, "not run")
            continue
        versus = ratio(results[hfdl]["mib_s"], results[other]["mib_s"])
        scenario.check(
            f"{hfdl} vs {other}",
            f">= {target:.2f}x",
            fmt_ratio(versus),
            None if versus is None else versus >= target,
        )


def _references(
    root: Path, hub: BenchHub, hf_repos: list[BenchRepo], curl_repos: list[BenchRepo], parallel: int
) -> list[Contender]:
    """The hf download loop and curl, unless skipped."""
    contenders = []
    if wanted("hf"):
        contenders.append(hf_loop_contender(root / "hf", hub, hf_repos))
    if wanted("curl"):
        contenders.append(curl_contender(root / "curl", hub, curl_repos, parallel=parallel))
    return contenders


def single_file(root: Path, hub: BenchHub, profile: Profile, log: Path) -> Scenario:
    """Scenario 1: one large LFS file, downloaded and verified."""
    size = profile.single_file
    scenario = Scenario("1", f"One {_size(size)} LFS file, downloaded and sha256-verified")
    say(scenario.title)
    repo = hub.create("bench/single", {"config.json": b"{}", "model.safetensors": size})
    contenders = [
        hfdl_contender(root / "hfdl", hub, [repo], concurrency=1)[0],
        *_references(root, hub, [repo], [repo], 1),
    ]
    results = alternate(
        contenders, hub, rounds=profile.rounds, warmup=profile.warmup, log=log, payload_bytes=size
    )
    for name, summary in results.items():
        scenario.row(name, summary)
    _throughput_checks(scenario, results, "hfdl run", "hf download loop", "curl")
    scenario.notes.append(
        "curl writes the bytes and nothing else; hf download checks the size only; hfdl "
        "verifies the sha256 (in a thread reading the file back) and fsyncs the blob before "
        "publishing it."
    )
    return scenario


def catalog(root: Path, hub: BenchHub, profile: Profile, log: Path) -> Scenario:
    """Scenario 2: many models of several files: hfdl concurrency vs parallel curls vs hf loop."""
    count, files, size = profile.catalog_models, profile.catalog_files, profile.catalog_file_size
    scenario = Scenario(
        "2",
        f"Catalog of {count} models x {files} files x {_size(size)} "
        f"(hfdl concurrent_downloads={profile.catalog_concurrency})",
    )
    say(scenario.title)
    repos: list[BenchRepo] = []
    for index in range(count):
        names = {f"model-{part:05d}-of-{files:05d}.safetensors": size for part in range(files)}
        repos.append(hub.create(f"bench/catalog-{index}", {"config.json": b"{}", **names}))
    payload = sum(repo.size for repo in repos)
    curl_name = f"curl x{profile.curl_parallel}"
    contenders = [
        hfdl_contender(root / "hfdl", hub, repos, concurrency=profile.catalog_concurrency)[0],
        *_references(root, hub, repos, repos, profile.curl_parallel),
    ]
    results = alternate(
        contenders,
        hub,
        rounds=profile.rounds,
        warmup=profile.warmup,
        log=log,
        payload_bytes=payload,
    )
    for name, summary in results.items():
        scenario.row(name, summary)
    _throughput_checks(scenario, results, "hfdl run", "hf download loop", curl_name)
    return scenario


def memory(root: Path, hub: BenchHub, profile: Profile, log: Path) -> Scenario:
    """Scenario 5: peak RSS with 8 concurrent large files, and its independence of file size."""
    count, size = profile.memory_files, profile.memory_file_size
    scenario = Scenario(
        "5", f"Memory: {count} files x {_size(size)} at once; one small vs one large file"
    )
    say(scenario.title)
    singles = [
        hub.create(f"bench/memory-{index}", {"model.safetensors": size}) for index in range(count)
    ]
    # The same blobs as one repo of `count` files: `hf download` fetches them 8 at a time.
    together = hub.create(
        "bench/memory-all",
        {f"model-{index}.safetensors": repo.files[0].blob for index, repo in enumerate(singles)},
    )
    payload = count * size
    curl_name = f"curl x{count}"
    contenders = [
        hfdl_contender(root / "hfdl", hub, singles, concurrency=count)[0],
        *_references(root, hub, [together], singles, count),
    ]
    hf_name = f"hf download ({count} workers)"
    for contender in contenders:
        if contender.name == "hf download loop":
            contender.name = hf_name
    results = alternate(
        contenders,
        hub,
        rounds=profile.rounds,
        warmup=profile.warmup,
        log=log,
        payload_bytes=payload,
    )
    for name, summary in results.items():
        scenario.row(name, summary)
    scenario.compare = list(results)
    hfdl_peak = results["hfdl run"]["rss_peak_mib"]
    scenario.check(
        f"hfdl run peak RSS, {count} x {_size(size)}, concurrency {count}",
        "<= 150 MiB",
        f"{hfdl_peak:.0f} MiB",
        hfdl_peak <= 150,
    )
    peaks = [
        f"{name} peaked at {results[name]['rss_peak_mib']:.0f} MiB"
        for name in (hf_name, curl_name)
        if name in results
    ]
    if peaks:
        scenario.notes.append("; ".join(peaks) + ".")

    small = hub.create("bench/memory-small", {"model.safetensors": profile.memory_small})
    large = hub.create("bench/memory-large", {"model.safetensors": profile.memory_large})
    small_name = f"hfdl run, 1 x {_size(profile.memory_small)}"
    large_name = f"hfdl run, 1 x {_size(profile.memory_large)}"
    by_size = [
        hfdl_contender(root / "hfdl-small", hub, [small], concurrency=1, name=small_name)[0],
        hfdl_contender(root / "hfdl-large", hub, [large], concurrency=1, name=large_name)[0],
    ]
    sized = alternate(by_size, hub, rounds=profile.rounds, warmup=0, log=log, payload_bytes=None)
    for contender, repo in zip(by_size, (small, large), strict=True):
        sized[contender.name]["mib_s"] = round(repo.size / MIB / sized[contender.name]["wall_s"], 1)
        scenario.row(contender.name, sized[contender.name])
    small_rss = sized[small_name]["rss_peak_mib"]
    large_rss = sized[large_name]["rss_peak_mib"]
    growth = (large_rss - small_rss) / small_rss if small_rss else None
    measured = f"{small_rss:.0f} -> {large_rss:.0f} MiB"
    scenario.check(
        "peak RSS does not grow with file size",
        "within +-10%",
        "n/a" if growth is None else f"{growth * 100:+.1f}% ({measured})",
        None if growth is None else abs(growth) <= 0.10,
    )
    return scenario
