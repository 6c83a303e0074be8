"""`hfdl models verify [--repair]` and the `verify_models` engine against a real cache.

Models are downloaded by a real `hfdl run` from the test Hub server; the tests then damage
the cache the way disks and people do (a flipped byte, a deleted or truncated blob, a missing
snapshot link) and check what verification reports and what a repair fetches: only the bad
files, by their recorded commit and path.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from hfdl.config import load_settings
from hfdl.engine.lock import RunLock
from hfdl.services.verify.check import FileCheck, ModelCheck, verify_models
from hfdl.store import Store
from tests.hubserver import HubServer
from tests.workspace import OVER_HTTP_AND_HTTPS, Workspace, sha256_of

FILES: dict[str, bytes | str | int] = {
    "config.json": '{"hidden_size": 8}',
    "README.md": "# a model\n",
    "model.safetensors": 200_000,
    "sub/extra.bin": 5_000,
}


def downloaded(workspace: Workspace, hub: HubServer, count: int = 1) -> list[tuple[str, str]]:
    """Create ``count`` repos, list them in the catalog and download them: (repo_id, commit)."""
    repos = []
    for _ in range(count):
        repo_id = hub.unique_repo_id("org/verify")
        repos.append((repo_id, hub.create_repo(repo_id, FILES)))
    workspace.write_catalog([{"name": repo_id} for repo_id, _ in repos])
    result = workspace.hfdl("run")
    assert result.returncode == 0, result.stderr
    return repos


def verify(
    workspace: Workspace, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return workspace.hfdl("models", "verify", *arguments, env=env)


def blob(workspace: Workspace, hub: HubServer, repo_id: str, path: str) -> Path:
    return workspace.repo_dir(repo_id) / "blobs" / hub.file_entry(repo_id, path).etag


def flip_byte(path: Path, offset: int = 1000) -> None:
    """Corrupt a file in place, keeping its size (what bit rot looks like)."""
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0xFF
    path.write_bytes(bytes(data))


def tree(folder: Path) -> dict[str, bytes | str]:
    entries: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            entries[relative] = str(path.readlink())
        elif path.is_file():
            entries[relative] = path.read_bytes()
    return entries


def problems(report: dict[str, Any], repo_id: str) -> dict[str, str]:
    [model] = [model for model in report["models"] if model["name"] == repo_id]
    return {problem["path"]: problem["problem"] for problem in model["problems"]}


def verified_at(workspace: Workspace, repo_id: str) -> dict[str, str]:
    rows = workspace.query("SELECT path, verified_at FROM files WHERE model_name = ?", (repo_id,))
    return {row["path"]: row["verified_at"] for row in rows}


def test_good_models_verify_offline(workspace: Workspace, hub: HubServer) -> None:
    (first, commit), (second, _) = downloaded(workspace, hub, count=2)
    before = verified_at(workspace, first)
    hub.clear_requests()

    result = verify(workspace, "--json")

    assert result.returncode == 0, result.stderr
    assert hub.find_requests() == []
    report = json.loads(result.stdout)
    assert {key: report[key] for key in ("ok", "models_checked", "files_checked")} == {
        "ok": True,
        "models_checked": 2,
        "files_checked": 8,
    }
    assert report["bad_files"] == report["repaired_files"] == report["bytes_fetched"] == 0
    assert report["bytes_hashed"] == 2 * (200_000 + 5_000 + 18 + 10)
    assert report["models"][0] == {
        "name": first,
        "commit_sha": commit,
        "result": "ok",
        "skipped": None,
        "files_checked": 4,
        "bytes_hashed": 205_028,
        "bytes_fetched": 0,
        "problems": [],
    }
    # Checking refreshes when each file was last verified.
    after = verified_at(workspace, first)
    assert after.keys() == before.keys()
    assert all(after[path] > before[path] for path in before)
    table = verify(workspace, second, env={"HF_HUB_OFFLINE": "1"})
    assert table.returncode == 0, table.stderr
    assert second in table.stdout and "ok" in table.stdout and first not in table.stdout


def test_every_kind_of_damage_is_reported_and_nothing_is_touched(
    workspace: Workspace, hub: HubServer
) -> None:
    [(repo_id, commit)] = downloaded(workspace, hub)
    flip_byte(blob(workspace, hub, repo_id, "model.safetensors"))
    blob(workspace, hub, repo_id, "config.json").unlink()
    extra = blob(workspace, hub, repo_id, "sub/extra.bin")
    extra.write_bytes(extra.read_bytes()[:100])
    workspace.snapshot_file(repo_id, commit, "README.md").unlink()
    cache_before = tree(workspace.repo_dir(repo_id))
    hub.clear_requests()

    result = verify(workspace, "--json")

    assert result.returncode == 65
    assert "hfdl: error: 4 file(s) failed verification" in result.stderr
    assert "--repair" in result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["bad_files"] == 4
    assert problems(report, repo_id) == {
        "model.safetensors": "corrupt",
        "config.json": "missing",
        "sub/extra.bin": "wrong-size",
        "README.md": "not-linked",
    }
    assert hub.find_requests() == []
    assert tree(workspace.repo_dir(repo_id)) == cache_before
    assert workspace.model_row(repo_id)["status"] == "completed"
    text = verify(workspace)
    assert text.returncode == 65
    assert "corrupt" in text.stdout and "model.safetensors" in text.stdout


@OVER_HTTP_AND_HTTPS
def test_repair_fetches_only_the_corrupted_file(workspace: Workspace, hub: HubServer) -> None:
    (damaged, commit), (intact, _) = downloaded(workspace, hub, count=2)
    weights = blob(workspace, hub, damaged, "model.safetensors")
    flip_byte(weights)
    intact_before = tree(workspace.repo_dir(intact))
    before = verified_at(workspace, damaged)
    hub.clear_requests()

    result = verify(workspace, "--repair", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["repaired_files"] == 1
    assert report["bytes_fetched"] == 200_000
    [model] = [model for model in report["models"] if model["name"] == damaged]
    assert model["result"] == "repaired"
    assert model["problems"][0] | {"etag": None} == {
        "path": "model.safetensors",
        "size": 200_000,
        "etag": None,
        "hash": "sha256",
        "problem": "corrupt",
        "repaired": True,
        "error": None,
    }
    # Only that file was asked for, by its commit: no API request, nothing of the other model.
    requests = hub.find_requests()
    assert requests
    assert {(record.repo_id, record.filename) for record in requests} == {
        (damaged, "model.safetensors")
    }
    assert hub.find_requests("/api/") == []
    assert [record.path for record in hub.find_requests(origin="hub")] == [
        f"/{damaged}/resolve/{commit}/model.safetensors"
    ]
    assert sha256_of(weights) == hub.file_entry(damaged, "model.safetensors").etag
    snapshot_file = workspace.snapshot_file(damaged, commit, "model.safetensors")
    assert snapshot_file.read_bytes() == hub.file_bytes(damaged, "model.safetensors")
    assert tree(workspace.repo_dir(intact)) == intact_before
    after = verified_at(workspace, damaged)
    assert after["model.safetensors"] > before["model.safetensors"]
    assert workspace.model_row(damaged)["status"] == "completed"
    hub.clear_requests()
    assert verify(workspace).returncode == 0
    assert hub.find_requests() == []


def test_repair_fetches_a_shared_blob_once_and_relinks_without_fetching(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = hub.unique_repo_id("org/shared")
    same = b"\x01\x02" * 20_000
    commit = hub.create_repo(
        repo_id, {"a.bin": same, "copy/a.bin": same, "config.json": "{}", "notes.txt": "hello"}
    )
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    flip_byte(blob(workspace, hub, repo_id, "a.bin"))
    workspace.snapshot_file(repo_id, commit, "notes.txt").unlink()
    hub.clear_requests()

    result = verify(workspace, repo_id, "--repair", "--json")

    assert result.returncode == 0, result.stderr
    assert problems(json.loads(result.stdout), repo_id) == {
        "a.bin": "corrupt",
        "copy/a.bin": "corrupt",
        "notes.txt": "not-linked",
    }
    assert len(hub.find_requests(origin="cdn")) == 1
    assert {record.filename for record in hub.find_requests()} == {"a.bin"}
    for path in ("a.bin", "copy/a.bin"):
        assert workspace.snapshot_file(repo_id, commit, path).read_bytes() == same
    assert workspace.snapshot_file(repo_id, commit, "notes.txt").read_text() == "hello"


def test_failed_repair_leaves_the_model_pending_for_the_next_run(
    workspace: Workspace, hub: HubServer
) -> None:
    workspace.write_config(max_retries=0)
    [(repo_id, commit)] = downloaded(workspace, hub)
    flip_byte(blob(workspace, hub, repo_id, "model.safetensors"))
    hub.inject((repo_id, "model.safetensors"), status=503, times=None)

    result = verify(workspace, "--repair", "--json")

    assert result.returncode == 65
    [problem] = json.loads(result.stdout)["models"][0]["problems"]
    assert (problem["problem"], problem["repaired"]) == ("corrupt", False)
    assert "503" in problem["error"]
    row = workspace.model_row(repo_id)
    assert row["status"] == "pending"
    assert "model.safetensors (corrupt)" in row["last_error"]
    # The bad blob is gone rather than served; the next run fetches it.
    assert not blob(workspace, hub, repo_id, "model.safetensors").exists()
    hub.reset_faults()
    assert workspace.hfdl("run").returncode == 0
    assert verify(workspace).returncode == 0
    assert workspace.snapshot_file(repo_id, commit, "model.safetensors").read_bytes() == (
        hub.file_bytes(repo_id, "model.safetensors")
    )


def test_unknown_models_and_a_missing_database(workspace: Workspace, hub: HubServer) -> None:
    workspace.write_catalog([])
    nothing = verify(workspace)
    assert nothing.returncode == 0
    assert "no downloaded models" in nothing.stderr
    assert verify(workspace, "org/nope").returncode == 65
    assert not workspace.db_path.exists()

    [(repo_id, _)] = downloaded(workspace, hub)
    before = workspace.db_path.read_bytes()
    result = verify(workspace, repo_id, "org/nope", "org/other")

    assert result.returncode == 65
    assert "org/nope, org/other" in result.stderr
    assert "Traceback" not in result.stderr
    assert workspace.db_path.read_bytes() == before


def test_repair_waits_for_no_run(workspace: Workspace, hub: HubServer) -> None:
    [(repo_id, _)] = downloaded(workspace, hub)
    flip_byte(blob(workspace, hub, repo_id, "model.safetensors"))

    with RunLock(workspace.state_dir):
        result = verify(workspace, "--repair")

    assert result.returncode == 75
    assert "another hfdl run" in result.stderr


class Recorder:
    """A VerifyObserver that keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def model_started(self, name: str, files: int, bytes_total: int) -> None:
        self.events.append(("started", (name, files, bytes_total)))

    def file_checked(self, name: str, check: FileCheck) -> None:
        self.events.append(("file", (name, check.path, check.problem, check.repaired)))

    def model_finished(self, check: ModelCheck) -> None:
        self.events.append(("finished", (check.name, check.result)))


def test_verify_models_engine_for_scheduled_runs(workspace: Workspace, hub: HubServer) -> None:
    [(repo_id, _)] = downloaded(workspace, hub)
    settings = load_settings(workspace.config_path)
    flip_byte(blob(workspace, hub, repo_id, "sub/extra.bin"))
    recorder = Recorder()

    with Store(workspace.db_path) as store:
        found = verify_models(settings, store)
        repaired = verify_models(settings, store, names=[repo_id], repair=True, observer=recorder)
        again = verify_models(settings, store)

    assert (found.ok, found.bad_files, [m.result for m in found.models]) == (False, 1, ["bad"])
    assert (repaired.ok, repaired.repaired_files) == (True, 1)
    assert again.ok and again.bad_files == 0
    assert recorder.events[0] == ("started", (repo_id, 4, 205_028))
    assert ("file", (repo_id, "sub/extra.bin", "corrupt", True)) in recorder.events
    assert recorder.events[-1] == ("finished", (repo_id, "repaired"))


def test_repair_never_deletes_or_links_outside_the_cache_for_unsafe_records(
    workspace: Workspace, hub: HubServer
) -> None:
    """Records an older hfdl may have stored from a hostile server: repair leaves them alone.

    The blob name of one record names a file next to the cache, of the recorded size (the old
    code found it "corrupt" and deleted it to repair); another record's path climbs out of the
    snapshot (the old code linked it there).
    """
    [(repo_id, commit)] = downloaded(workspace, hub)
    canary = workspace.root / "canary"
    canary.mkdir()
    victim = canary / "victim.txt"
    victim.write_bytes(b"not the server's to delete\n")
    good_etag = hub.file_entry(repo_id, "config.json").etag
    with Store(workspace.db_path) as store:
        store.record_file(
            repo_id, commit, "weights.bin", victim.stat().st_size, "0" * 40,
            "../../../canary/victim.txt", False,
        )  # fmt: skip
        store.record_file(
            repo_id, commit, "../../../../canary/evil", 18, good_etag, good_etag, False
        )
    hub.clear_requests()

    # ``models show`` shows such records as unsafe instead of failing on them.
    shown = workspace.hfdl("models", "show", repo_id, "--json")
    assert shown.returncode == 0, shown.stderr
    states = {file["path"]: file["state"] for file in json.loads(shown.stdout)["files"]}
    assert states["weights.bin"] == states["../../../../canary/evil"] == "unsafe-path"
    assert states["config.json"] == "present"

    result = verify(workspace, "--repair", "--json")

    assert result.returncode == 65, result.stderr
    assert "Traceback" not in result.stderr
    assert problems(json.loads(result.stdout), repo_id) == {
        "weights.bin": "unsafe-path",
        "../../../../canary/evil": "unsafe-path",
    }
    assert victim.read_bytes() == b"not the server's to delete\n"
    assert sorted(path.name for path in canary.iterdir()) == ["victim.txt"]
    assert hub.find_requests() == []  # nothing fetched for a record it cannot trust


def test_repair_refuses_a_blobs_folder_symlinked_outside_the_cache(
    workspace: Workspace, hub: HubServer
) -> None:
    [(repo_id, _commit)] = downloaded(workspace, hub)
    outside = workspace.root / "outside-blobs"
    blobs = workspace.repo_dir(repo_id) / "blobs"
    blobs.rename(outside)
    blobs.symlink_to(outside)
    flip_byte(outside / hub.file_entry(repo_id, "model.safetensors").etag)
    before = tree(outside)

    result = verify(workspace, "--repair", "--json")

    assert result.returncode == 65, result.stderr
    assert set(problems(json.loads(result.stdout), repo_id).values()) == {"unsafe-path"}
    assert tree(outside) == before
