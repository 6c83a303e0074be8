"""`hfdl run` when things go wrong: retries, permanent errors, disk admission, lock, resume."""

from __future__ import annotations

import json
import signal

import pytest

from tests.hubserver import HubServer
from tests.workspace import OVER_HTTP_AND_HTTPS, Workspace, sha256_of, wait_for

WEIGHTS = "model.safetensors"


def weights_repo(hub: HubServer, size: int = 400_000, base: str = "org/faulty") -> tuple[str, str]:
    """A repo with a config and one LFS weights file; returns (repo_id, commit)."""
    repo_id = hub.unique_repo_id(base)
    commit = hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: size})
    return repo_id, commit


def assert_complete(workspace: Workspace, hub: HubServer, repo_id: str, commit: str) -> None:
    """The weights are in the snapshot, byte-identical to the Hub's, and recorded completed."""
    path = workspace.snapshot_file(repo_id, commit, WEIGHTS)
    assert path.read_bytes() == hub.file_bytes(repo_id, WEIGHTS, commit)
    assert workspace.model_row(repo_id)["status"] == "completed"


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"status": 503, "retry_after": "1"}, id="503-retry-after"),
        pytest.param({"status": 429, "retry_after": "1"}, id="429"),
        pytest.param({"status": 500}, id="500"),
        pytest.param({"cut_after": 150_000}, id="cut-body"),
        pytest.param({"corrupt_byte_at": 200_000}, id="corrupt-byte"),
    ],
)
def test_transient_faults_recover(workspace: Workspace, hub: HubServer, fault: dict) -> None:
    repo_id, commit = weights_repo(hub)
    injected = hub.inject((repo_id, WEIGHTS), methods=("GET",), times=1, **fault)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    assert injected.hits == 1
    assert f"retry {repo_id} (1/4)" in result.stderr
    assert_complete(workspace, hub, repo_id, commit)
    attempt = workspace.query("SELECT * FROM attempts WHERE model_name = ?", (repo_id,))[0]
    assert attempt["retries"] == 1


@OVER_HTTP_AND_HTTPS
def test_cut_body_resumes_with_range_within_the_run(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = weights_repo(hub)
    hub.inject((repo_id, WEIGHTS), methods=("GET",), origin="cdn", cut_after=150_000, times=1)
    workspace.write_catalog([{"name": repo_id}])

    assert workspace.hfdl("run").returncode == 0

    gets = hub.find_requests(lambda record: record.filename == WEIGHTS, origin="cdn", method="GET")
    assert [record.range for record in gets] == [None, "bytes=150000-"]
    assert_complete(workspace, hub, repo_id, commit)


def test_corrupt_file_never_reaches_the_snapshot(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = weights_repo(hub)
    hub.inject((repo_id, WEIGHTS), methods=("GET",), corrupt_byte_at=10, times=None)
    workspace.write_config(max_retries=1)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    assert result.returncode == 1
    assert "failed verification" in result.stderr
    assert not workspace.snapshot_file(repo_id, commit, WEIGHTS).exists()
    blobs = workspace.repo_dir(repo_id) / "blobs"
    assert not [path for path in blobs.iterdir() if path.stat().st_size == 400_000]
    row = workspace.model_row(repo_id)
    assert row["status"] == "failed"
    assert "failed verification" in row["last_error"]


def test_permanent_errors_fail_at_once_and_others_complete(
    workspace: Workspace, hub: HubServer
) -> None:
    good_id, good_commit = weights_repo(hub, base="org/good")
    gated_id, _ = weights_repo(hub, base="org/gated")
    hub.get_repo(gated_id).gated = "manual"
    missing_id = hub.unique_repo_id("org/missing")
    workspace.write_catalog(
        [
            {"name": missing_id, "priority": "high"},
            {"name": gated_id, "priority": "high"},
            {"name": good_id, "priority": "low"},
        ]
    )

    result = workspace.hfdl("run", "--json")

    assert result.returncode == 1
    report = {model["name"]: model for model in json.loads(result.stdout)["models"]}
    assert report[missing_id]["status"] == "failed"
    assert "was not found" in report[missing_id]["error"]
    assert report[gated_id]["status"] == "failed"
    assert "gated" in report[gated_id]["error"]
    assert f"accept the terms at {hub.url}/{gated_id} " in report[gated_id]["hint"]
    assert report[good_id]["status"] == "completed"
    assert_complete(workspace, hub, good_id, good_commit)
    # Not retried: no request is repeated. (Like the real Hub, the test Hub shows a gated
    # repo's metadata to anyone and refuses only its files.)
    for repo_id in (missing_id, gated_id):
        paths = [
            record.path
            for record in hub.find_requests(lambda record, r=repo_id: record.repo_id == r)
        ]
        assert paths and len(paths) == len(set(paths))
    assert "did not complete" in result.stderr
    session = workspace.query("SELECT * FROM sessions")[0]
    assert session["status"] == "failed"


def test_revision_not_found(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = weights_repo(hub, size=1000)
    workspace.write_catalog([{"name": repo_id, "revision": "no-such-branch"}])

    result = workspace.hfdl("run")

    assert result.returncode == 1
    assert "revision 'no-such-branch' was not found" in result.stderr


def test_model_over_budget_is_refused_before_any_byte(workspace: Workspace, hub: HubServer) -> None:
    big_id, _ = weights_repo(hub, size=3_000_000, base="org/big")
    small_id, small_commit = weights_repo(hub, size=100_000, base="org/small")
    workspace.write_catalog(
        [{"name": big_id, "priority": "low"}, {"name": small_id, "priority": "high"}],
        settings={"max_total_size": "1MB"},
    )

    result = workspace.hfdl("run")

    assert result.returncode == 1
    assert "max_total_size" in result.stderr
    assert not hub.find_requests(lambda record: record.repo_id == big_id, origin="cdn")
    assert not workspace.repo_dir(big_id).exists()
    assert workspace.model_row(big_id)["status"] == "failed"
    assert_complete(workspace, hub, small_id, small_commit)


def test_second_run_is_locked_out_with_75(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = weights_repo(hub, size=300_000)
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(30_000, 0.2), times=None)
    workspace.write_catalog([{"name": repo_id}])
    first = workspace.spawn("run")
    try:
        wait_for(lambda: hub.find_requests(origin="cdn"), timeout=30)

        second = workspace.hfdl("run")

        assert second.returncode == 75
        assert "another hfdl run is already working" in second.stderr
    finally:
        first.wait(timeout=60)
    assert first.returncode == 0
    assert len(workspace.query("SELECT * FROM sessions")) == 1
    assert_complete(workspace, hub, repo_id, commit)


def test_wait_queues_behind_the_running_run(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = weights_repo(hub, size=100_000)
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(20_000, 0.2), times=None)
    workspace.write_catalog([{"name": repo_id}])
    first = workspace.spawn("run")
    try:
        wait_for(lambda: hub.find_requests(origin="cdn"), timeout=30)
        second = workspace.hfdl("run", "--wait")
    finally:
        first.wait(timeout=60)
    assert second.returncode == 0, second.stderr
    assert [
        row["status"] for row in workspace.query("SELECT status FROM sessions ORDER BY id")
    ] == [
        "completed",
        "completed",
    ]


@OVER_HTTP_AND_HTTPS
def test_sigkill_mid_file_resumes_with_range_next_run(workspace: Workspace, hub: HubServer) -> None:
    size = 2_000_000
    repo_id, commit = weights_repo(hub, size=size, base="org/resume")
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(100_000, 0.1), times=1)
    workspace.write_catalog([{"name": repo_id}])
    # The weights' own partial file: a glob of *.incomplete could stat config.json's just
    # as it is renamed into place.
    partial = (
        workspace.repo_dir(repo_id)
        / "blobs"
        / f"{hub.file_entry(repo_id, WEIGHTS).etag}.incomplete"
    )

    process = workspace.spawn("run")

    def partial_size() -> int:
        try:
            return partial.stat().st_size
        except FileNotFoundError:
            return 0

    wait_for(lambda: partial_size() >= 500_000, timeout=60)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    kept = partial_size()
    assert 500_000 <= kept < size
    assert workspace.model_row(repo_id)["status"] == "downloading"
    hub.clear_requests()

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    gets = hub.find_requests(lambda record: record.filename == WEIGHTS, origin="cdn", method="GET")
    assert [record.range for record in gets] == [f"bytes={kept}-"]
    assert hub.bytes_sent < size  # only the rest of the file travelled again
    snapshot = workspace.snapshot_file(repo_id, commit, WEIGHTS)
    assert sha256_of(snapshot) == hub.file_entry(repo_id, WEIGHTS, commit).etag
    statuses = [row["status"] for row in workspace.query("SELECT status FROM sessions ORDER BY id")]
    assert statuses == ["interrupted", "completed"]
    interrupted_attempt = workspace.query("SELECT status FROM attempts ORDER BY id")[0]
    assert interrupted_attempt["status"] == "interrupted"


def test_stalled_transfer_is_aborted_and_retried(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = weights_repo(hub, size=300_000)
    hub.inject((repo_id, WEIGHTS), origin="cdn", stall_after=100_000, times=1)
    workspace.write_config(stall_timeout_seconds=1)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    assert "stalled" in result.stderr
    gets = hub.find_requests(lambda record: record.filename == WEIGHTS, origin="cdn", method="GET")
    assert [record.range for record in gets] == [None, "bytes=100000-"]
    assert_complete(workspace, hub, repo_id, commit)


def test_attempt_timeout_bounds_a_model(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = weights_repo(hub, size=300_000)
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(10_000, 0.2), times=None)
    workspace.write_config(timeout_seconds=2)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    # A timed-out transfer is temporary (75): the partial file stays, so systemd's restart of
    # a scheduled run resumes it and a large model completes over several attempts.
    assert result.returncode == 75
    assert "time limit" in result.stderr
    assert workspace.model_row(repo_id)["status"] == "failed"
