"""``hfdl cleanup`` in a cache that also holds what hfdl did not download.

The cache of the main scenario holds, side by side:

* model A (managed): revisions c1 (superseded, 40 days old), c2 (superseded, recent) and c3
  (wanted), plus a revision ``dev`` that another tool downloaded into the same repository,
  and an orphaned partial download;
* model B: downloaded by hfdl, then removed from the catalog, with a partial download;
* model F: downloaded by another tool with ``huggingface_hub.snapshot_download`` (and an old
  partial of its own).

Cleanup must remove exactly c1 (and the blobs only it used), all of B, and the two partials.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from huggingface_hub import snapshot_download

from hfdl.catalog import load_catalog
from hfdl.config import load_settings
from hfdl.engine.lock import RunLock
from hfdl.services.cleanup.clean import cleanup
from hfdl.services.cleanup.report import REASON_IN_USE, REASON_RESUMABLE
from hfdl.store import Store
from tests.hubserver import HubServer
from tests.workspace import Workspace

DAY = 86400.0
OLD = 40  # days; the catalog keeps superseded revisions for 30


def tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root``: links with their target, files with size, hash and mtime."""
    entries: dict[str, tuple[Any, ...]] = {}
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories + files:
            path = Path(directory, name)
            relative = str(path.relative_to(root))
            if path.is_symlink():
                entries[relative] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[relative] = ("dir",)
            else:
                data = path.read_bytes()
                stat = path.stat()
                entries[relative] = (
                    "file",
                    len(data),
                    hashlib.sha256(data).hexdigest(),
                    stat.st_mtime_ns,
                )
    return entries


def age(path: Path, days: float) -> None:
    """Make ``path`` look ``days`` old (its mtime), without following symlinks."""
    moment = time.time() - days * DAY
    os.utime(path, (moment, moment), follow_symlinks=False)


def blobs_of(snapshot: Path) -> set[Path]:
    """The blob files a snapshot's symlinks point to."""
    return {
        Path(os.path.realpath(Path(directory, name)))
        for directory, _, files in os.walk(snapshot)
        for name in files
    }


def write_partial(repo_dir: Path, size: int, days: float = 0) -> Path:
    partial = repo_dir / "blobs" / (hashlib.sha256(os.urandom(8)).hexdigest() + ".incomplete")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(os.urandom(size))
    age(partial, days)
    return partial


def run(workspace: Workspace, *arguments: str) -> None:
    result = workspace.hfdl("run", *arguments)
    assert result.returncode == 0, result.stderr


def test_cleanup_removes_exactly_what_hfdl_no_longer_needs(
    workspace: Workspace, hub: HubServer
) -> None:
    # --- a cache with managed, superseded, removed and foreign content -----------------------
    model_a = hub.unique_repo_id("org/cleanup-a")
    c1 = hub.create_repo(
        model_a, {"config.json": '{"v": 1}', "README.md": "# a\n", "model.safetensors": 40_000}
    )
    model_b = hub.unique_repo_id("org/cleanup-b")
    b1 = hub.create_repo(model_b, {"config.json": "{}", "model.safetensors": 30_000})
    foreign = hub.unique_repo_id("other/foreign")
    hub.create_repo(foreign, {"config.json": "{}", "weights.bin": 20_000})
    settings = {"cleanup_age_days": 30}

    workspace.write_catalog([{"name": model_a}, {"name": model_b}], settings)
    run(workspace)
    c2 = hub.commit(model_a, {"model.safetensors": 41_000})
    run(workspace, "--check")
    c3 = hub.commit(model_a, {"config.json": '{"v": 3}'})
    workspace.write_catalog([{"name": model_a}], settings)  # B leaves the catalog
    run(workspace, "--check")
    assert workspace.model_row(model_a)["commit_sha"] == c3
    assert workspace.model_row(model_b)["removed"] == 1

    # Another tool shares the cache: a whole repository, and another revision of model A.
    hub.create_branch(model_a, "dev", c2)
    dev = hub.commit(model_a, {"notes.txt": "dev build\n"}, branch="dev")
    snapshot_download(model_a, revision="dev", cache_dir=workspace.cache_dir, endpoint=hub.url)
    snapshot_download(foreign, cache_dir=workspace.cache_dir, endpoint=hub.url)

    repo_a, repo_b = workspace.repo_dir(model_a), workspace.repo_dir(model_b)
    for commit in (c1, dev):
        age(repo_a / "snapshots" / commit, OLD)
    orphan_a = write_partial(repo_a, 5_000)
    orphan_b = write_partial(repo_b, 3_000)
    foreign_partial = write_partial(workspace.repo_dir(foreign), 2_000, days=OLD)

    only_c1 = blobs_of(repo_a / "snapshots" / c1) - set().union(
        *(blobs_of(repo_a / "snapshots" / commit) for commit in (c2, c3, dev))
    )
    assert len(only_c1) == 1  # c1's weights: every other file is shared with a later commit
    expected_gone = {
        str(path.relative_to(workspace.cache_dir))
        for path in (*only_c1, orphan_a, repo_a / "snapshots" / c1, repo_b)
    }
    expected_freed = sum(path.stat().st_size for path in (*only_c1, orphan_a, orphan_b))
    expected_freed += sum(path.stat().st_size for path in (repo_b / "blobs").iterdir())
    expected_freed -= orphan_b.stat().st_size  # counted once above
    before = tree(workspace.cache_dir)
    database = workspace.db_path.read_bytes()

    # --- a dry run reports it all and changes nothing -----------------------------------------
    dry = workspace.hfdl("cleanup", "--dry-run", "--json")

    assert dry.returncode == 0, dry.stderr
    assert tree(workspace.cache_dir) == before
    assert workspace.db_path.read_bytes() == database
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True
    removed = {(item["kind"], item["model"], item["commit_sha"]) for item in planned["removed"]}
    assert removed == {
        ("revision", model_a, c1),
        ("revision", model_b, b1),
        ("partial", model_a, None),
        ("partial", model_b, None),
    }
    kept = {(item["model"], item["commit_sha"]): item["reason"] for item in planned["kept"]}
    assert kept == {
        (model_a, c2): "downloaded less than 30 days ago",
        (model_a, c3): "wanted by the catalog",
        (model_a, dev): "not downloaded by hfdl",
    }
    assert planned["bytes_freed"] == expected_freed
    text = workspace.hfdl("cleanup", "--dry-run")
    assert f"would remove revision {c1[:12]} of {model_a}" in text.stdout
    assert tree(workspace.cache_dir) == before

    # --- the real cleanup removes exactly that ------------------------------------------------
    result = workspace.hfdl("cleanup", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] is False
    assert {(item["kind"], item["model"], item["commit_sha"]) for item in report["removed"]} == (
        removed
    )
    assert report["bytes_freed"] == expected_freed
    after = tree(workspace.cache_dir)
    gone = set(before) - set(after)
    assert {entry for entry in gone if not any(entry.startswith(g + "/") for g in gone)} == (
        expected_gone
    )
    assert not set(after) - set(before)
    for entry, value in after.items():
        if value[0] != "dir":  # folders that lost an entry have a new mtime
            assert before[entry] == value, entry
    assert foreign_partial.exists()

    # What stays is still complete for loaders working offline.
    for revision in (c2, c3, "dev"):
        snapshot_download(
            model_a, revision=revision, cache_dir=workspace.cache_dir, local_files_only=True
        )
    snapshot_download(foreign, cache_dir=workspace.cache_dir, local_files_only=True)
    # The removed model's files are gone: if it comes back, it is downloaded again.
    row_b = workspace.model_row(model_b)
    assert (row_b["status"], row_b["commit_sha"]) == ("pending", None)
    assert workspace.model_row(model_a)["commit_sha"] == c3

    # A second cleanup finds nothing more to do.
    again = workspace.hfdl("cleanup", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["removed"] == []


def test_cleanup_never_races_a_run(workspace: Workspace, hub: HubServer) -> None:
    repo_id = hub.unique_repo_id("org/cleanup-locked")
    hub.create_repo(repo_id, {"config.json": "{}"})
    workspace.write_catalog([{"name": repo_id}])
    run(workspace)
    workspace.write_catalog([])
    run(workspace)  # marks the model removed
    before = tree(workspace.cache_dir)

    with RunLock(workspace.state_dir):
        result = workspace.hfdl("cleanup")

    assert result.returncode == 75
    assert "another hfdl run" in result.stderr
    assert tree(workspace.cache_dir) == before
    assert workspace.hfdl("cleanup").returncode == 0
    assert not workspace.repo_dir(repo_id).exists()


def test_cleanup_without_a_database_creates_nothing(workspace: Workspace) -> None:
    workspace.write_catalog([])

    result = workspace.hfdl("cleanup", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["bytes_freed"] == 0
    assert not workspace.db_path.exists()


def test_partials_of_unfinished_downloads_are_kept_for_resuming(workspace: Workspace) -> None:
    """In process: which partial downloads of a failed model go, and which stay."""
    from filelock import FileLock

    from hfdl.hub.cache import RepoCache

    repo_id = "org/unfinished"
    workspace.write_catalog([{"name": repo_id}], {"cleanup_age_days": 30})
    settings = load_settings(workspace.config_path, environ={"HOME": str(workspace.root)})
    catalog = load_catalog(workspace.models_path)
    repo_dir = workspace.repo_dir(repo_id)
    recent = write_partial(repo_dir, 1_000, days=1)
    stale = write_partial(repo_dir, 2_000, days=OLD)
    locked = write_partial(repo_dir, 3_000, days=OLD)
    # Progress records of ranged transfers: one goes with its partial, one stays with its own.
    stale_parts = stale.with_name(stale.name + ".parts")
    recent_parts = recent.with_name(recent.name + ".parts")
    stale_parts.write_text("{}")
    recent_parts.write_text("{}")
    repo_cache = RepoCache(workspace.cache_dir, repo_id)
    repo_cache.locks.mkdir(parents=True)
    lock = FileLock(str(repo_cache.lock_path(locked.name.removesuffix(".incomplete"))))

    with Store(workspace.db_path) as store, lock:
        store.sync_catalog(catalog)
        store.set_model_status(repo_id, "failed", last_error="connection reset")
        report = cleanup(
            settings, catalog, store, dry_run=False, now=datetime.now(UTC) + timedelta(seconds=1)
        )

    assert [item.path.name for item in report.removed] == [stale.name]
    assert report.removed[0].reason == "not written for 30 days or more"
    assert report.bytes_freed == 2_000
    kept = {item.path.name: item.reason for item in report.kept}
    assert kept == {recent.name: REASON_RESUMABLE, locked.name: REASON_IN_USE}
    assert recent.exists() and locked.exists() and not stale.exists()
    assert recent_parts.exists() and not stale_parts.exists()


def test_a_managed_model_keeps_its_newest_snapshot(workspace: Workspace, hub: HubServer) -> None:
    """Even when the database's commit is gone from the cache, the newest snapshot stays."""
    repo_id = hub.unique_repo_id("org/cleanup-newest")
    first = hub.create_repo(repo_id, {"config.json": '{"v": 1}'})
    workspace.write_catalog([{"name": repo_id}], {"cleanup_age_days": 0})
    run(workspace)
    second = hub.commit(repo_id, {"config.json": '{"v": 2}'})
    run(workspace, "--check")
    repo_dir = workspace.repo_dir(repo_id)
    # Someone deleted the wanted snapshot and its ref by hand: nothing is "wanted" any more.
    for path in (repo_dir / "snapshots" / second).iterdir():
        path.unlink()
    (repo_dir / "snapshots" / second).rmdir()
    (repo_dir / "refs" / "main").unlink()
    age(repo_dir / "snapshots" / first, OLD)

    result = workspace.hfdl("cleanup", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["removed"] == []
    assert [(item["commit_sha"], item["reason"]) for item in report["kept"]] == [
        (first, "newest snapshot of a model still in the catalog")
    ]
    assert workspace.model_row(repo_id)["status"] == "completed"
