"""Disk accounting after a model's patterns were narrowed, and cleanup reclaiming the files.

A model downloaded with three files, then narrowed to one: its folder still holds the three
blobs until ``hfdl cleanup`` removes what the patterns no longer select. Until then ``models
list`` / ``status`` must count what is on disk (not only the wanted bytes), ``cleanup
--dry-run`` must announce the bytes it would free, and after ``cleanup`` the remaining file
still loads with ``huggingface_hub`` offline.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from huggingface_hub import hf_hub_download, snapshot_download

from tests.hubserver import HubServer
from tests.tiers import requires_root_with_unshare
from tests.workspace import Workspace

CONFIG = '{"hidden_size": 8}'
WEIGHTS = 60_000
EXTRA = 30_000


def ok(workspace: Workspace, *arguments: str) -> str:
    result = workspace.hfdl(*arguments)
    assert result.returncode == 0, result.stderr
    return result.stdout


def blob_bytes(workspace: Workspace, repo_id: str) -> int:
    """What the model's blobs take on disk (complete blobs; what `du` of blobs/ would count)."""
    blobs = workspace.repo_dir(repo_id) / "blobs"
    return sum(
        entry.stat().st_size for entry in blobs.iterdir() if not entry.name.endswith(".incomplete")
    )


def listed_bytes(workspace: Workspace, repo_id: str) -> int:
    [entry] = [item for item in json.loads(ok(workspace, "models", "list", "--json"))]
    assert entry["name"] == repo_id
    return int(entry["bytes_on_disk"])


def download_then_narrow(workspace: Workspace, hub: HubServer) -> str:
    repo_id = hub.unique_repo_id("org/narrowed")
    hub.create_repo(
        repo_id, {"config.json": CONFIG, "model.safetensors": WEIGHTS, "extra.bin": EXTRA}
    )
    workspace.write_catalog([{"name": repo_id}])
    ok(workspace, "run")
    ok(workspace, "models", "update", repo_id, "--include", "config.json")
    ok(workspace, "run")
    return repo_id


def test_narrowed_model_counts_its_disk_and_cleanup_frees_the_rest(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = download_then_narrow(workspace, hub)
    everything = len(CONFIG) + WEIGHTS + EXTRA
    assert blob_bytes(workspace, repo_id) == everything  # the run itself deletes nothing
    # Before: only the wanted bytes (len(CONFIG)) were counted.
    assert listed_bytes(workspace, repo_id) == everything

    dry = json.loads(ok(workspace, "cleanup", "--dry-run", "--json"))
    assert dry["bytes_freed"] == WEIGHTS + EXTRA
    assert {item["kind"] for item in dry["removed"]} == {"file"}
    assert blob_bytes(workspace, repo_id) == everything  # a dry run removes nothing

    done = json.loads(ok(workspace, "cleanup", "--json"))
    assert done["bytes_freed"] == WEIGHTS + EXTRA
    assert blob_bytes(workspace, repo_id) == len(CONFIG)
    assert listed_bytes(workspace, repo_id) == len(CONFIG)
    assert json.loads(ok(workspace, "cleanup", "--dry-run", "--json"))["bytes_freed"] == 0

    # What is left loads offline, and is all there is.
    config = hf_hub_download(
        repo_id, "config.json", cache_dir=workspace.cache_dir, local_files_only=True
    )
    assert Path(config).read_text() == CONFIG
    snapshot = Path(
        snapshot_download(repo_id, cache_dir=workspace.cache_dir, local_files_only=True)
    )
    assert sorted(path.name for path in snapshot.iterdir()) == ["config.json"]
    ok(workspace, "models", "verify")  # the dropped files' records went with them


def test_cleanup_leaves_blobs_hfdl_did_not_record(workspace: Workspace, hub: HubServer) -> None:
    repo_id = download_then_narrow(workspace, hub)
    # A blob another tool left in the model's folder, linked from nowhere.
    foreign = workspace.repo_dir(repo_id) / "blobs" / ("ab" * 32)
    foreign.write_bytes(os.urandom(1000))

    done = json.loads(ok(workspace, "cleanup", "--json"))

    assert done["bytes_freed"] == WEIGHTS + EXTRA
    assert foreign.exists()
    assert listed_bytes(workspace, repo_id) == len(CONFIG) + 1000
    status = json.loads(ok(workspace, "status", "--json"))
    assert status["disk"]["used_by_models"] == blob_bytes(workspace, repo_id)


def in_read_only_directory(directory: Path, argv: list[str]) -> list[str]:
    """``argv`` run in a private mount namespace where ``directory`` is mounted read-only.

    Root ignores file modes (chmod 0555 does not stop it), so the test needs a directory
    that is read-only for everyone: a read-only bind mount of it onto itself, made in a
    private namespace (``unshare --mount``) so that nothing outside the test sees it. The
    file system underneath is the real one, so its free space is the real free space (a small
    read-only tmpfs would fail admission first).
    """
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    unshare = ["unshare", "--mount", "--propagation", "private"]
    return [*unshare, "sh", "-c", script, "sh", str(directory), *argv]


# A read-only bind mount in a private namespace.
@requires_root_with_unshare()
def test_read_only_download_directory_fails_the_model_naming_the_path(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = hub.unique_repo_id("org/read-only")
    hub.create_repo(repo_id, {"config.json": CONFIG, "model.safetensors": 5_000})
    workspace.write_catalog([{"name": repo_id}])
    workspace.cache_dir.mkdir(parents=True, exist_ok=True)

    result = subprocess.run(
        in_read_only_directory(workspace.cache_dir, workspace.command("run")),
        cwd=workspace.root,
        env=workspace.environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1, result.stderr  # the model failed; the run went on
    assert "Errno" not in result.stderr
    assert f"download directory {workspace.cache_dir}" in result.stderr
    assert "Read-only file system" in result.stderr
    assert f"make {workspace.cache_dir} writable by the user hfdl runs as" in result.stderr
    row = workspace.model_row(repo_id)
    assert row["status"] == "failed"
    assert str(workspace.cache_dir) in row["last_error"]
    [attempt] = workspace.query(
        "SELECT status, error FROM attempts WHERE model_name = ?", (repo_id,)
    )
    assert attempt["status"] == "failed"
    assert "Read-only file system" in attempt["error"]
