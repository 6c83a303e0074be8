"""`hfdl run` downloads into the standard HF cache, as real processes against the test Hub."""

from __future__ import annotations

import json

from huggingface_hub import snapshot_download

from tests.hubserver import HubServer
from tests.workspace import OVER_HTTP_AND_HTTPS, Workspace

CONFIG_JSON = '{"hidden_size": 8}'


def make_model(hub: HubServer, base: str = "org/model", weights: int = 300_000) -> tuple[str, str]:
    """A repo with two LFS weight files and two regular files; returns (repo_id, commit)."""
    repo_id = hub.unique_repo_id(base)
    commit = hub.create_repo(
        repo_id,
        {
            "config.json": CONFIG_JSON,
            "README.md": "# test model\n",
            "model.safetensors": weights,
            "sub/extra.bin": 5000,
        },
    )
    return repo_id, commit


@OVER_HTTP_AND_HTTPS
def test_fresh_download_is_usable_offline_by_huggingface_hub(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id, commit = make_model(hub)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    # LFS files came through the CDN redirect, and the token-less client sent no auth there.
    cdn = hub.find_requests(origin="cdn", method="GET")
    assert {record.filename for record in cdn} >= {"model.safetensors", "sub/extra.bin"}
    snapshot = snapshot_download(repo_id, cache_dir=workspace.cache_dir, local_files_only=True)
    assert snapshot.endswith(commit)
    for path in ("config.json", "README.md", "model.safetensors", "sub/extra.bin"):
        assert (workspace.snapshot_file(repo_id, commit, path)).read_bytes() == hub.file_bytes(
            repo_id, path, commit
        )
    assert (workspace.repo_dir(repo_id) / "refs" / "main").read_text().strip() == commit
    # Nothing partial is left behind.
    assert not list((workspace.repo_dir(repo_id) / "blobs").glob("*.incomplete"))
    row = workspace.model_row(repo_id)
    assert row["status"] == "completed"
    assert row["commit_sha"] == commit
    sessions = workspace.query("SELECT * FROM sessions")
    assert [session["status"] for session in sessions] == ["completed"]
    attempts = workspace.query("SELECT * FROM attempts WHERE model_name = ?", (repo_id,))
    assert attempts[0]["status"] == "completed"
    assert attempts[0]["bytes_downloaded"] >= 305_000
    files = workspace.query("SELECT path FROM files WHERE model_name = ?", (repo_id,))
    assert sorted(file["path"] for file in files) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "sub/extra.bin",
    ]
    # Plain log lines, one per event, no progress bars off a terminal.
    assert f"done {repo_id}" in result.stderr
    assert "\r" not in result.stderr


def test_db_file_is_private(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = make_model(hub, weights=1000)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    assert workspace.db_path.stat().st_mode & 0o777 == 0o600


def test_pinned_tag_and_commit(workspace: Workspace, hub: HubServer) -> None:
    repo_id, first = make_model(hub, weights=2000)
    hub.create_tag(repo_id, "v1", first)
    second = hub.commit(repo_id, {"config.json": '{"hidden_size": 16}'})
    other_id, other_first = make_model(hub, weights=2000)
    hub.commit(other_id, {"config.json": '{"hidden_size": 32}'})
    workspace.write_catalog(
        [{"name": repo_id, "revision": "v1"}, {"name": other_id, "revision": other_first}]
    )

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    assert workspace.snapshot_file(repo_id, first, "config.json").read_text() == CONFIG_JSON
    assert not (workspace.repo_dir(repo_id) / "snapshots" / second).exists()
    assert (workspace.repo_dir(repo_id) / "refs" / "v1").read_text().strip() == first
    assert workspace.snapshot_file(other_id, other_first, "config.json").read_text() == CONFIG_JSON
    assert workspace.model_row(other_id)["commit_sha"] == other_first
    # A pinned commit needs no revision lookup afterwards: the next run asks nothing.
    hub.clear_requests()
    assert workspace.hfdl("run", "--model", other_id).returncode == 0
    assert hub.find_requests() == []


def test_allow_and_ignore_patterns(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = make_model(hub, weights=4000)
    workspace.write_catalog(
        [
            {
                "name": repo_id,
                "allow_patterns": ["*.json", "*.safetensors", "sub/*"],
                "ignore_patterns": ["*.bin"],
            }
        ]
    )

    assert workspace.hfdl("run").returncode == 0

    snapshot = workspace.repo_dir(repo_id) / "snapshots" / commit
    present = sorted(
        str(path.relative_to(snapshot)) for path in snapshot.rglob("*") if path.is_symlink()
    )
    assert present == ["config.json", "model.safetensors"]
    assert not hub.find_requests(lambda record: record.filename == "sub/extra.bin", method="GET")


def test_concurrent_models_overlap_up_to_the_limit_in_priority_order(
    workspace: Workspace, hub: HubServer
) -> None:
    repos = []
    for index in range(4):
        repo_id = hub.unique_repo_id(f"org/par{index}")
        hub.create_repo(repo_id, {"model.safetensors": 200_000})
        # Slow every body a little so transfers overlap long enough to observe.
        hub.inject((repo_id, "model.safetensors"), trickle=(50_000, 0.15), times=None, origin="cdn")
        repos.append(repo_id)
    workspace.write_config(concurrent_downloads=3)
    priorities = ["low", "high", "medium", "high"]
    workspace.write_catalog(
        [
            {"name": repo_id, "priority": priority}
            for repo_id, priority in zip(repos, priorities, strict=True)
        ]
    )

    assert workspace.hfdl("run").returncode == 0, "run failed"

    assert hub.max_concurrent(origin="cdn", method="GET") == 3
    # With one worker, the transfers start strictly in priority order.
    hub.clear_requests()
    serial = Workspace(root=workspace.root / "serial", endpoint=hub.url)
    serial.root.mkdir()
    serial.write_config(concurrent_downloads=1)
    serial.write_catalog(
        [
            {"name": repo_id, "priority": priority}
            for repo_id, priority in zip(repos, priorities, strict=True)
        ]
    )
    assert serial.hfdl("run").returncode == 0
    order = [record.repo_id for record in hub.find_requests(origin="cdn", method="GET")]
    assert order == [repos[1], repos[3], repos[2], repos[0]]


@OVER_HTTP_AND_HTTPS
def test_update_check_fetches_only_changed_files(workspace: Workspace, hub: HubServer) -> None:
    repo_id, first = make_model(hub, weights=50_000)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    second = hub.commit(repo_id, {"config.json": '{"hidden_size": 64}'})
    hub.clear_requests()

    # Not due yet (checked just now, daily): no request at all.
    assert workspace.hfdl("run").returncode == 0
    assert hub.find_requests() == []

    result = workspace.hfdl("run", "--check")

    assert result.returncode == 0, result.stderr
    downloads = hub.find_requests(
        method="GET",
        path_filter=lambda record: "/resolve/" in record.path or record.origin == "cdn",
    )
    assert {record.filename for record in downloads} == {"config.json"}
    assert (
        workspace.snapshot_file(repo_id, second, "config.json").read_text() == '{"hidden_size": 64}'
    )
    # The unchanged weights are the same blob, linked from both snapshots.
    old = workspace.snapshot_file(repo_id, first, "model.safetensors").resolve()
    new = workspace.snapshot_file(repo_id, second, "model.safetensors").resolve()
    assert old == new
    assert workspace.model_row(repo_id)["commit_sha"] == second
    assert (workspace.repo_dir(repo_id) / "refs" / "main").read_text().strip() == second


def test_up_to_date_check_costs_one_request(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = make_model(hub, weights=1000)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    hub.clear_requests()

    result = workspace.hfdl("run", "--check", "--json")

    assert result.returncode == 0, result.stderr
    assert len(hub.find_requests()) == 1
    report = json.loads(result.stdout)
    assert [model["status"] for model in report["models"]] == ["up-to-date"]


def test_dry_run_lists_sizes_and_downloads_nothing(workspace: Workspace, hub: HubServer) -> None:
    repo_id, _ = make_model(hub, weights=123_456)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run", "--dry-run", "--json")

    assert result.returncode == 0, result.stderr
    plans = json.loads(result.stdout)
    assert plans[0]["name"] == repo_id
    assert plans[0]["action"] == "download"
    assert plans[0]["bytes_missing"] == plans[0]["bytes_total"] > 123_456
    assert not hub.find_requests(method="GET", origin="cdn")
    assert not workspace.repo_dir(repo_id).exists()


def test_schedule_applies_its_tag_filter_and_concurrency(
    workspace: Workspace, hub: HubServer
) -> None:
    tagged_id, _ = make_model(hub, base="org/tagged", weights=2000)
    other_id, _ = make_model(hub, base="org/untagged", weights=2000)
    workspace.write_catalog(
        [{"name": tagged_id, "tags": ["cv"]}, {"name": other_id, "tags": ["nlp"]}]
    )
    created = workspace.hfdl(
        "schedule",
        "create",
        "--name",
        "vision",
        "--type",
        "daily",
        "--time",
        "03:00",
        "--tags",
        "cv",
        "--max-concurrent",
        "1",
    )
    assert created.returncode == 0, created.stderr

    result = workspace.hfdl("run", "--schedule", "vision", "--json")

    assert result.returncode == 0, result.stderr
    assert [model["name"] for model in json.loads(result.stdout)["models"]] == [tagged_id]
    assert workspace.model_row(other_id)["status"] == "pending"
    session = workspace.query("SELECT * FROM sessions")[0]
    assert session["schedule_name"] == "vision"
    assert session["trigger"] == "manual"  # started by hand, not by a timer


def test_hand_edited_revision_is_fetched_at_the_next_run(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id, first = make_model(hub, weights=2000)
    hub.create_tag(repo_id, "v1", first)
    second = hub.commit(repo_id, {"config.json": '{"hidden_size": 99}'})
    workspace.write_catalog([{"name": repo_id, "revision": "v1"}])
    assert workspace.hfdl("run").returncode == 0
    assert workspace.model_row(repo_id)["commit_sha"] == first

    # Edited by hand in models.json: not due for a periodic check, but fetched now.
    workspace.write_catalog([{"name": repo_id, "revision": "main"}])
    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    assert workspace.model_row(repo_id)["commit_sha"] == second
    config = workspace.snapshot_file(repo_id, second, "config.json")
    assert config.read_text() == '{"hidden_size": 99}'


def test_files_of_one_model_are_fetched_side_by_side_within_the_connection_cap(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = hub.unique_repo_id("org/manyfiles")
    names = [f"model-{index:05d}-of-00006.safetensors" for index in range(6)]
    commit = hub.create_repo(repo_id, {name: 300_000 + index for index, name in enumerate(names)})
    for name in names:
        # Slow every body a little so transfers overlap long enough to observe.
        hub.inject((repo_id, name), trickle=(50_000, 0.1), times=None, origin="cdn")
    workspace.write_config(max_connections=3)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    # Several files at once, never more connections to the host than max_connections.
    assert hub.max_concurrent(origin="cdn", method="GET") == 3
    for name in names:
        snapshot = workspace.snapshot_file(repo_id, commit, name)
        assert snapshot.read_bytes() == hub.file_bytes(repo_id, name, commit)
    attempt = workspace.query("SELECT * FROM attempts WHERE model_name = ?", (repo_id,))[0]
    assert attempt["status"] == "completed"
    assert attempt["bytes_downloaded"] == sum(300_000 + index for index in range(6))


def test_one_file_failing_for_good_stops_the_model_and_keeps_the_others_partials(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = hub.unique_repo_id("org/onebad")
    hub.create_repo(repo_id, {"a.safetensors": 2_000_000, "b.safetensors": 2_000_000})
    # a is slow (2 s); b is refused for good (403) while a streams.
    hub.inject((repo_id, "a.safetensors"), trickle=(100_000, 0.1), times=None, origin="cdn")
    hub.inject((repo_id, "b.safetensors"), status=403, times=None, methods=["GET"])
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    assert result.returncode != 0
    attempt = workspace.query("SELECT * FROM attempts WHERE model_name = ?", (repo_id,))[0]
    assert attempt["status"] == "failed"
    assert "b.safetensors" in attempt["error"]
    # a stopped where it was (well before its end) and its partial file stays for the next run.
    partials = list((workspace.repo_dir(repo_id) / "blobs").glob("*.incomplete"))
    assert len(partials) == 1
    assert 0 < partials[0].stat().st_size < 2_000_000
