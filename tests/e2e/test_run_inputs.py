"""`hfdl run` with bad input changes nothing; tokens, user agent, sweeping and the terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hubserver import HubServer
from tests.workspace import Workspace

WEIGHTS = "model.safetensors"


def snapshot_bytes(*paths: Path) -> dict[Path, bytes | None]:
    """The content of each file (None when absent), to prove nothing changed."""
    return {path: (path.read_bytes() if path.exists() else None) for path in paths}


def small_repo(hub: HubServer, base: str = "org/inputs") -> tuple[str, str]:
    repo_id = hub.unique_repo_id(base)
    return repo_id, hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 20_000})


@pytest.mark.parametrize(
    ("config_text", "code", "messages"),
    [
        pytest.param(
            "concurent_downloads: 3\nmax_retries: -1\n",
            78,
            [
                "concurent_downloads: unknown key",
                "did you mean 'concurrent_downloads'",
                "max_retries",
            ],
            id="unknown-key-and-negative",
        ),
        pytest.param(
            "default_schedule:\n  time: '25:99'\n  type: hourly\n",
            78,
            ["default_schedule.time", "default_schedule.type"],
            id="schedule-time-and-type",
        ),
        pytest.param("timeout_seconds: [1\n", 78, ["line"], id="yaml-syntax"),
    ],
)
def test_invalid_config_exits_78_and_changes_nothing(
    workspace: Workspace, hub: HubServer, config_text: str, code: int, messages: list[str]
) -> None:
    repo_id, _ = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    before = snapshot_bytes(workspace.models_path, workspace.db_path)
    good_config = workspace.config_path.read_text()
    workspace.config_path.write_text(good_config + config_text)
    hub.clear_requests()

    result = workspace.hfdl("run")

    assert result.returncode == code
    for message in messages:
        assert message in result.stderr
    assert str(workspace.config_path) in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot_bytes(workspace.models_path, workspace.db_path) == before
    assert hub.find_requests() == []


def test_environment_override_error_names_the_variable(workspace: Workspace) -> None:
    workspace.write_catalog([])
    result = workspace.hfdl("run", env={"HFDL_MAX_RETRIES": "many"})
    assert result.returncode == 78
    assert "env:HFDL_MAX_RETRIES" in result.stderr
    assert not workspace.db_path.exists()


def test_missing_explicit_config_exits_78(workspace: Workspace) -> None:
    workspace.config_path.unlink()
    result = workspace.hfdl("run")
    assert result.returncode == 78
    assert str(workspace.config_path) in result.stderr


@pytest.mark.parametrize(
    ("catalog", "messages"),
    [
        pytest.param(
            {
                "models": [
                    {"name": "a/ok", "enabled": True},
                    {"name": "b/ok", "enabled": True},
                    {"name": "c/bad", "enabled": True, "priority": "urgent"},
                ]
            },
            ["models[2].priority: must be one of high, medium, low"],
            id="priority",
        ),
        pytest.param(
            {
                "models": [
                    {"name": "bad--name", "enabled": True},
                    {"name": "x/y", "enabled": "yes"},
                    {"name": "x/z", "enabled": True, "size_estimate": "lots"},
                ]
            },
            ["models[0].name", "models[1].enabled", "models[2].size_estimate"],
            id="all-errors-at-once",
        ),
        pytest.param(
            {"models": [{"name": "x/y", "enabled": True, "statuss": "pending"}]},
            ["models[0].statuss", "did you mean 'status'"],
            id="unknown-key",
        ),
    ],
)
def test_invalid_catalog_exits_65_and_changes_nothing(
    workspace: Workspace, hub: HubServer, catalog: dict, messages: list[str]
) -> None:
    repo_id, _ = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    workspace.models_path.write_text(json.dumps(catalog))
    before = snapshot_bytes(workspace.models_path, workspace.db_path)

    result = workspace.hfdl("run")

    assert result.returncode == 65
    for message in messages:
        assert message in result.stderr
    assert str(workspace.models_path) in result.stderr
    assert snapshot_bytes(workspace.models_path, workspace.db_path) == before


def test_missing_catalog_exits_66(workspace: Workspace) -> None:
    result = workspace.hfdl("run")
    assert result.returncode == 66
    assert str(workspace.models_path) in result.stderr


def test_db_status_wins_over_json_status(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = small_repo(hub)
    other_id, _ = small_repo(hub)
    # A JSON status seeds a model the DB has never seen. "completed" with no commit on disk
    # is not trusted: the run fetches and verifies it.
    workspace.write_catalog([{"name": repo_id}, {"name": other_id, "status": "completed"}])
    assert workspace.hfdl("run").returncode == 0
    assert workspace.model_row(repo_id)["status"] == "completed"
    assert workspace.model_row(other_id)["commit_sha"] is not None
    # ...and once the DB knows a model, the file's status does not override it.
    workspace.write_catalog([{"name": repo_id, "status": "pending"}])
    hub.clear_requests()
    assert workspace.hfdl("run").returncode == 0
    assert workspace.model_row(repo_id)["status"] == "completed"
    assert hub.find_requests() == []
    assert workspace.model_row(other_id)["removed"] == 1


def test_token_reaches_only_the_hub_and_is_never_stored(
    workspace: Workspace, hub: HubServer
) -> None:
    token = "hf_testSecretToken1234567890"
    repo_id = hub.unique_repo_id("org/private")
    commit = hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 30_000}, private=True)
    hub.grant(repo_id, token)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run", env={"HF_TOKEN": token, "HFDL_LOG_LEVEL": "DEBUG"})

    assert result.returncode == 0, result.stderr
    assert workspace.snapshot_file(repo_id, commit, WEIGHTS).exists()
    hub_requests = hub.find_requests(origin="hub")
    assert hub_requests and all(record.has_auth for record in hub_requests)
    assert not any(record.has_auth for record in hub.find_requests(origin="cdn"))
    assert all("hfdl/" in record.headers.get("user-agent", "") for record in hub_requests)
    assert token not in result.stderr + result.stdout
    for path in workspace.root.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_private_repo_without_token_is_not_found(workspace: Workspace, hub: HubServer) -> None:
    repo_id = hub.unique_repo_id("org/private")
    hub.create_repo(repo_id, {"config.json": "{}"}, private=True)
    workspace.write_catalog([{"name": repo_id}])
    result = workspace.hfdl("run")
    assert result.returncode == 1
    assert "was not found" in result.stderr
    assert "token" in result.stderr


def test_api_5xx_is_retried(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = small_repo(hub)
    fault = hub.inject(r"^/api/models/", status=502, times=1)
    workspace.write_catalog([{"name": repo_id}])
    result = workspace.hfdl("run")
    assert result.returncode == 0, result.stderr
    assert fault.hits == 1
    assert workspace.snapshot_file(repo_id, commit, WEIGHTS).exists()


def test_unwanted_partials_are_swept(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = small_repo(hub)
    blobs = workspace.repo_dir(repo_id) / "blobs"
    blobs.mkdir(parents=True)
    stale = blobs / ("0" * 64 + ".incomplete")
    stale.write_bytes(b"left over from a file the repo no longer has")
    workspace.write_catalog([{"name": repo_id}])

    assert workspace.hfdl("run").returncode == 0

    assert not stale.exists()
    assert workspace.snapshot_file(repo_id, commit, WEIGHTS).exists()


def test_cache_is_usable_offline_by_huggingface_hub(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    # A separate process in offline mode, as a loader (transformers) would run it.
    script = (
        "import sys; from huggingface_hub import hf_hub_download, snapshot_download;"
        f"p = hf_hub_download({repo_id!r}, {WEIGHTS!r}, cache_dir={str(workspace.cache_dir)!r});"
        f"s = snapshot_download({repo_id!r}, cache_dir={str(workspace.cache_dir)!r});"
        "print(p); print(s)"
    )
    environment = workspace.environment({"HF_HUB_OFFLINE": "1"})
    result = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    weights_path, snapshot = result.stdout.split()
    assert Path(weights_path).read_bytes() == hub.file_bytes(repo_id, WEIGHTS, commit)
    assert snapshot.endswith(commit)


def test_terminal_gets_progress_bars(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            workspace.command("run"),
            cwd=workspace.root,
            env=workspace.environment({"TERM": "xterm", "COLUMNS": "120"}),
            stdout=subprocess.DEVNULL,
            stderr=terminal,
        )
        os.close(terminal)
        output = b""
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:
                break
            if not data:
                break
            output += data
        assert process.wait(timeout=60) == 0
    finally:
        os.close(controller)
    text = output.decode(errors="replace")
    assert repo_id in text
    assert "\x1b[" in text  # rich's live display, not plain log lines


def test_verify_on_run_reports_and_repairs_damaged_files(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id, commit = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    blob = workspace.snapshot_file(repo_id, commit, WEIGHTS).resolve()
    damaged = bytearray(blob.read_bytes())
    damaged[100] ^= 0xFF
    blob.write_bytes(bytes(damaged))

    workspace.write_config(verify_on_run="report")
    reported = workspace.hfdl("run", "--check")
    assert reported.returncode == 1
    assert "damaged" in reported.stderr

    workspace.write_config(verify_on_run="repair")
    hub.clear_requests()
    repaired = workspace.hfdl("run", "--check")
    assert repaired.returncode == 0, repaired.stderr
    assert blob.read_bytes() == hub.file_bytes(repo_id, WEIGHTS, commit)
    fetched = {record.filename for record in hub.find_requests(method="GET", origin="cdn")}
    assert fetched == {WEIGHTS}


def test_auto_cleanup_runs_at_the_end_of_a_run(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = small_repo(hub)
    gone_id, _ = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}, {"name": gone_id}])
    assert workspace.hfdl("run").returncode == 0
    assert workspace.repo_dir(gone_id).exists()

    workspace.write_catalog([{"name": repo_id}], settings={"auto_cleanup": True})
    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    assert "auto cleanup" in result.stderr
    assert not (workspace.repo_dir(gone_id) / "snapshots").exists() or not any(
        (workspace.repo_dir(gone_id) / "snapshots").iterdir()
    )
    assert workspace.repo_dir(repo_id).exists()
