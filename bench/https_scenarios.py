"""Scenario ``https``: scenario 1's large file over HTTPS (issue 11: the real Hub is HTTPS only).

A second test Hub server serves the same repos (the same blobs on disk) with TLS on both
origins, with a certificate from a CA made for this run (``tests.hubserver.tls``). Each
contender is told to trust that CA the way a user would: ``SSL_CERT_FILE`` for hfdl and
``hf download`` (both use ``httpx``, which reads it), ``--cacert`` for curl. The same
contenders run over plain HTTP in the same alternation, so the cost of TLS is measured on the
same machine state rather than compared with another run's numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.contenders import (
    CURL,
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
from tests.hubserver import Blob, HubServer
from tests.hubserver.tls import TestCA

SCENARIO_ID = "https"
# Same targets as scenario 1: TLS costs every contender, so the ratios should hold.
TARGETS = (("curl", 0.8), ("hf download loop", 1.5))


class TLSBenchHub(BenchHub):
    """The benchmark's repos served by a second HubServer, over HTTPS with ``ca``'s certificate.

    Shares the plain hub's :class:`~bench.fixtures.BenchRepos`, so no byte is generated twice;
    counters and the request log are this server's own.
    """

    def __init__(self, plain: BenchHub, ca: TestCA) -> None:  # no super(): no new repos
        self.root = plain.root
        self.repos = plain.repos
        self.ca = ca
        self.server = HubServer(repos=plain.repos, record_requests=True, tls=ca)


@contextmanager
def tls_hub(plain: BenchHub, directory: Path) -> Iterator[TLSBenchHub]:
    """Start an HTTPS twin of ``plain`` with a fresh CA in ``directory``; remove the CA after."""
    ca = TestCA.create(directory)
    try:
        hub = TLSBenchHub(plain, ca)
        with hub:
            yield hub
    finally:
        ca.remove()


def trusting(contender: Contender, ca: TestCA, suffix: str = " (https)") -> Contender:
    """Make ``contender`` trust ``ca`` as its users would, and mark its name.

    curl gets ``--cacert`` (explicit, and it replaces curl's default bundle just as
    ``SSL_CERT_FILE`` replaces httpx's); hfdl and ``hf`` get ``SSL_CERT_FILE``.
    """
    if contender.argv and contender.argv[0] == CURL:
        contender.argv = [CURL, "--cacert", str(ca.ca_file), *contender.argv[1:]]
    else:
        contender.env = {**contender.env, **ca.environment()}
    contender.name += suffix
    return contender


def _contenders(root: Path, hub: BenchHub, repo: BenchRepo) -> list[Contender]:
    """hfdl, the hf loop (unless skipped) and curl (unless skipped) for one repo."""
    contenders = [hfdl_contender(root / "hfdl", hub, [repo], concurrency=1)[0]]
    if wanted("hf"):
        contenders.append(hf_loop_contender(root / "hf", hub, [repo]))
    if wanted("curl"):
        contenders.append(curl_contender(root / "curl", hub, [repo], parallel=1))
    return contenders


def _file(plain: BenchHub, size: int) -> int | Blob:
    """Scenario 1's blob when it ran before with this size (no second 1 GiB fixture)."""
    found = plain.repos.find_repo("bench/single")
    if found is not None:
        blob = found.commits[found.branches["main"]].files["model.safetensors"].blob
        if blob.size == size:
            return blob
    return size


def single_file_https(root: Path, plain: BenchHub, profile: Profile, log: Path) -> Scenario:
    """One large LFS file over HTTPS, next to the same download over plain HTTP."""
    size = profile.single_file
    label = f"{size / MIB:g} MiB" if size < 1024 * MIB else f"{size / (1024 * MIB):g} GiB"
    scenario = Scenario(SCENARIO_ID, f"One {label} LFS file over HTTPS (test CA), vs plain HTTP")
    say(scenario.title)
    files = {"config.json": b"{}", "model.safetensors": _file(plain, size)}
    repo = plain.create("bench/https-single", files)
    with tls_hub(plain, root / "tls") as secure:
        contenders = [
            trusting(contender, secure.ca)
            for contender in _contenders(root / "https", secure, repo)
        ]
        results = alternate(
            contenders,
            secure,
            rounds=profile.rounds,
            warmup=profile.warmup,
            log=log,
            payload_bytes=size,
        )
    plain_contenders = _contenders(root / "http", plain, repo)
    for contender in plain_contenders:
        contender.name += " (http)"
    plain_results = alternate(
        plain_contenders,
        plain,
        rounds=profile.rounds,
        warmup=profile.warmup,
        log=log,
        payload_bytes=size,
    )
    for name, summary in {**results, **plain_results}.items():
        scenario.row(name, summary)
    scenario.compare = list(results)
    hfdl = results["hfdl run (https)"]["mib_s"]
    for other, target in TARGETS:
        name = f"{other} (https)"
        if name not in results:
            scenario.check(f"hfdl run vs {name}", f">= {target:.2f}x", "n/a", None, "not run")
            continue
        versus = ratio(hfdl, results[name]["mib_s"])
        scenario.check(
            f"hfdl run vs {name}",
            f">= {target:.2f}x",
            fmt_ratio(versus),
            None if versus is None else versus >= target,
        )
    costs = [
        f"{name}: {fmt_ratio(ratio(results[f'{name} (https)']['mib_s'], summary['mib_s']))}"
        for name, summary in ((n.removesuffix(" (http)"), s) for n, s in plain_results.items())
        if f"{name} (https)" in results
    ]
    scenario.notes.append(
        "HTTPS throughput as a fraction of the same contender's over plain HTTP, same session: "
        + ", ".join(costs)
        + ". Every contender decrypts (AES-GCM) in one more copy; hfdl reads the body straight "
        "from the TLS socket (hfdl/hub/body.py) as it does from a plain one."
    )
    return scenario
