"""The three ways of downloading the same repos: ``hfdl run``, an ``hf download`` loop, curl."""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.fixtures import (
    HF,
    SKIP,
    BenchHub,
    BenchRepo,
    HfdlInstall,
    RemoteFileRef,
    child_environment,
    remove_tree,
)

CURL = "curl"


def wanted(kind: str) -> bool:
    """Whether the reference contender ``kind`` (``hf`` or ``curl``) runs (see ``--skip``)."""
    return kind not in SKIP


@dataclass
class Contender:
    """A command that downloads a set of files, and how to start it from scratch again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    reset: Callable[[], None]
    outputs: Callable[[], list[tuple[Path, int]]] = field(default=lambda: [])
    # sha256 of output files a scenario checks byte for byte, not only by size (checked after
    # every round, since the rounds reset the outputs after the last run).
    digests: dict[Path, str] = field(default_factory=dict)

    def check_outputs(self) -> None:
        """Raise when a file the run should have written is missing, has the wrong size, or
        (for those in ``digests``) other bytes than the served ones."""
        for path, size in self.outputs():
            actual = path.stat().st_size if path.exists() else -1
            if actual != size:
                raise RuntimeError(f"{self.name}: {path} has {actual} bytes, expected {size}")
        for path, digest in self.digests.items():
            sha = hashlib.sha256()
            with path.open("rb") as file:
                while block := file.read(8 * 1024 * 1024):
                    sha.update(block)
            if sha.hexdigest() != digest:
                raise RuntimeError(f"{self.name}: {path} differs from the served file")


def cache_file(cache_dir: Path, repo: BenchRepo, remote: RemoteFileRef) -> Path:
    """Where a file of ``repo`` appears in an HF cache (through the snapshot symlink)."""
    folder = "models--" + repo.repo_id.replace("/", "--")
    return cache_dir / folder / "snapshots" / repo.commit / remote.path


def hfdl_contender(
    root: Path,
    hub: BenchHub,
    repos: Sequence[BenchRepo],
    *,
    concurrency: int,
    name: str = "hfdl run",
) -> tuple[Contender, HfdlInstall]:
    """``hfdl run`` over a catalog of ``repos`` (fresh cache and DB each round)."""
    install = HfdlInstall(root, hub.url, concurrent_downloads=concurrency)
    install.write([{"name": repo.repo_id} for repo in repos], {"check_frequency": "daily"})

    def outputs() -> list[tuple[Path, int]]:
        return [
            (cache_file(install.cache_dir, repo, remote), remote.size)
            for repo in repos
            for remote in repo.files
        ]

    contender = Contender(
        name=name,
        argv=install.argv("run"),
        env=install.env(),
        cwd=root,
        reset=install.reset,
        outputs=outputs,
    )
    return contender, install


def hf_loop_contender(root: Path, hub: BenchHub, repos: Sequence[BenchRepo]) -> Contender:
    """A cron user's loop: ``hf download <repo>`` for each model, one after the other.

    Each ``hf download`` is ``snapshot_download`` with its default 8 workers (files of one repo
    in parallel).
    """
    cache_dir = root / "hub"
    root.mkdir(parents=True, exist_ok=True)
    script = (
        'for model in "$@"; do '
        f'{shlex.quote(HF)} download "$model" --cache-dir {shlex.quote(str(cache_dir))} || exit 1; '
        "done"
    )
    env = child_environment(root / "hf-home", {"HF_ENDPOINT": hub.url})

    def reset() -> None:
        remove_tree(cache_dir)

    def outputs() -> list[tuple[Path, int]]:
        return [
            (cache_file(cache_dir, repo, remote), remote.size)
            for repo in repos
            for remote in repo.files
        ]

    return Contender(
        name="hf download loop",
        argv=["bash", "-c", script, "bash", *(repo.repo_id for repo in repos)],
        env=env,
        cwd=root,
        reset=reset,
        outputs=outputs,
    )


def curl_contender(
    root: Path, hub: BenchHub, repos: Sequence[BenchRepo], *, parallel: int
) -> Contender:
    """curl fetching every file's ``resolve`` URL (following the CDN redirect) to disk.

    One curl process: ``--parallel --parallel-max N`` for N > 1. No verification at all:
    the practical upper bound of this machine.
    """
    out_dir = root / "files"
    root.mkdir(parents=True, exist_ok=True)
    config = root / "curl.cfg"
    lines = []
    targets: list[tuple[Path, int]] = []
    for repo in repos:
        for remote in repo.files:
            target = out_dir / repo.repo_id.replace("/", "--") / remote.path
            targets.append((target, remote.size))
            lines.append(f'url = "{hub.resolve_url(remote)}"\noutput = "{target}"\n')
    config.write_text("".join(lines))
    argv = [CURL, "--silent", "--show-error", "--fail", "--location", "--create-dirs"]
    if parallel > 1:
        argv += ["--parallel", "--parallel-max", str(parallel)]
    argv += ["--config", str(config)]

    def reset() -> None:
        remove_tree(out_dir)

    return Contender(
        name="curl" if parallel == 1 else f"curl x{parallel}",
        argv=argv,
        env=child_environment(root / "home"),
        cwd=root,
        reset=reset,
        outputs=lambda: targets,
    )
