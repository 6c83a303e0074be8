"""`hfdl models list/show/add/update/remove/validate` as real processes on real files.

Every command runs as ``python -m hfdl --config ...`` against a catalog, a SQLite state database
and an HF cache in a temporary directory (and the test Hub server for ``--check`` and
downloads). Refused commands must leave ``models.json`` and the database byte-for-byte as they
were.
"""

from __future__ import annotations

import itertools
import json
import re
import resource
import sqlite3
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hfdl.catalog import load_catalog
from hfdl.engine.lock import RunLock
from hfdl.sizes import format_size
from hfdl.store import Store
from hfdl.store.reader import StateReader
from tests.e2e.test_imports import heavy, imported
from tests.e2e.test_imports import hfdl as hfdl_module
from tests.hubserver import HubServer
from tests.workspace import Workspace

SUMMARY_KEYS = [
    "name",
    "enabled",
    "status",
    "priority",
    "tags",
    "revision",
    "commit_sha",
    "bytes_on_disk",
    "size_estimate",
    "last_success_at",
    "last_checked_at",
    "last_error",
    "attempts",
    "description",
    "allow_patterns",
    "ignore_patterns",
]


def models(workspace: Workspace, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``hfdl models ARGUMENTS``."""
    return workspace.hfdl("models", *arguments)


def ok(workspace: Workspace, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``hfdl models ARGUMENTS`` and insist that it succeeds."""
    result = models(workspace, *arguments)
    assert result.returncode == 0, result.stderr
    return result


def listed(workspace: Workspace, *arguments: str) -> list[dict[str, Any]]:
    """``hfdl models list --json ARGUMENTS``, parsed."""
    document = json.loads(ok(workspace, "list", "--json", *arguments).stdout)
    assert isinstance(document, list)
    return document


def state_bytes(workspace: Workspace) -> dict[str, bytes | None]:
    """The catalog and every file of the database, to prove a command changed nothing."""
    paths = [workspace.models_path, workspace.db_path]
    paths += [Path(f"{workspace.db_path}{suffix}") for suffix in ("-wal", "-journal")]
    return {str(path): (path.read_bytes() if path.exists() else None) for path in paths}


def sync(workspace: Workspace) -> None:
    """Bring the database in line with the catalog, as a run's first step does."""
    with Store(workspace.db_path) as store:
        store.sync_catalog(load_catalog(workspace.models_path))


def catalog_document(workspace: Workspace) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(workspace.models_path.read_text())
    return document


def make_repo(hub: HubServer, base: str = "org/models-cli", weights: int = 30_000) -> str:
    """A repo with two regular files and two LFS files; returns its id."""
    repo_id = hub.unique_repo_id(base)
    hub.create_repo(
        repo_id,
        {
            "config.json": '{"hidden_size": 8}',
            "README.md": "# test\n",
            "model.safetensors": weights,
            "onnx/model.onnx.bin": 7_000,
        },
    )
    return repo_id


def file_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder``: blobs and refs (snapshot links cost none)."""
    return sum(
        path.stat().st_size
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink()
    )


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file contents, and symlink targets."""
    entries: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            entries[relative] = str(path.readlink())
        elif path.is_file():
            entries[relative] = path.read_bytes()
    return entries


# -- the whole life of a model ------------------------------------------------------------------


def test_add_download_show_update_remove(workspace: Workspace, hub: HubServer) -> None:
    repo_id = make_repo(hub)
    workspace.write_catalog(
        [{"name": "org/existing", "enabled": False, "priority": "low", "tags": ["old"]}]
    )
    before = catalog_document(workspace)

    ok(
        workspace,
        "add",
        repo_id,
        "--description",
        "a test model",
        "--priority",
        "high",
        "--tag",
        "nlp",
        "--tag",
        "small",
        "--include",
        "*.json",
        "--include",
        "*.safetensors",
        "--size-estimate",
        "90MB",
    )

    document = catalog_document(workspace)
    assert list(document["models"][0].items()) == list(before["models"][0].items())
    entry = document["models"][1]
    assert list(entry) == [
        "name",
        "enabled",
        "description",
        "size_estimate",
        "priority",
        "tags",
        "allow_patterns",
    ]
    assert entry["tags"] == ["nlp", "small"]
    updated = datetime.fromisoformat(document["metadata"]["last_updated"])
    assert abs(datetime.now(UTC) - updated) < timedelta(minutes=1)
    row = workspace.model_row(repo_id)
    assert (row["status"], row["priority"], row["removed"]) == ("pending", "high", 0)

    assert workspace.hfdl("run").returncode == 0

    [summary] = listed(workspace, "--tag", "nlp")
    assert summary["status"] == "completed"
    assert summary["bytes_on_disk"] == 30_000 + len('{"hidden_size": 8}')
    assert summary["last_success_at"].endswith("Z")
    details = json.loads(ok(workspace, "show", repo_id, "--json").stdout)
    assert details["in_catalog"] is True
    assert details["catalog_entry"] == entry
    assert {file["path"]: file["state"] for file in details["files"]} == {
        "config.json": "present",
        "model.safetensors": "present",
    }
    assert all(file["verified_at"] for file in details["files"])
    assert [attempt["status"] for attempt in details["attempts"]] == ["completed"]
    text = ok(workspace, "show", repo_id).stdout
    assert "model.safetensors" in text and "present" in text and "completed" in text

    ok(workspace, "update", repo_id, "--priority", "low", "--tag", "x", "--disabled")
    entry = catalog_document(workspace)["models"][1]
    assert (entry["priority"], entry["tags"], entry["enabled"]) == ("low", ["x"], False)
    assert list(entry)[:4] == ["name", "enabled", "description", "size_estimate"]
    assert (workspace.model_row(repo_id)["priority"], workspace.model_row(repo_id)["enabled"]) == (
        "low",
        0,
    )

    result = ok(workspace, "remove", repo_id)
    assert "removed" in result.stderr
    assert [model["name"] for model in catalog_document(workspace)["models"]] == ["org/existing"]
    row = workspace.model_row(repo_id)
    assert (row["removed"], row["status"]) == (1, "completed")
    assert workspace.query("SELECT * FROM attempts WHERE model_name = ?", (repo_id,))
    # The files stay without --purge, and a removed model is still shown from its history.
    assert workspace.repo_dir(repo_id).is_dir()
    details = json.loads(ok(workspace, "show", repo_id, "--json").stdout)
    assert (details["in_catalog"], details["removed"], details["catalog_entry"]) == (
        False,
        True,
        None,
    )


def test_status_pending_makes_the_next_run_look_again(workspace: Workspace, hub: HubServer) -> None:
    repo_id = make_repo(hub)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    hub.clear_requests()
    # Completed and not due: a run asks the Hub nothing.
    assert workspace.hfdl("run").returncode == 0
    assert hub.find_requests() == []
    catalog_before = workspace.models_path.read_bytes()

    result = ok(workspace, "update", repo_id, "--status", "pending")

    assert "set to pending" in result.stderr
    assert workspace.models_path.read_bytes() == catalog_before  # the state lives in the DB
    assert workspace.model_row(repo_id)["status"] == "pending"
    assert workspace.hfdl("run").returncode == 0
    assert hub.find_requests(f"/api/models/{repo_id}")
    # Every blob was there: only relinked.
    assert hub.find_requests("/resolve/") == [] and hub.find_requests(origin="cdn") == []
    assert workspace.model_row(repo_id)["status"] == "completed"


def test_update_revision_sets_a_completed_model_pending(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = hub.unique_repo_id("org/revisions")
    first = hub.create_repo(repo_id, {"config.json": "{}", "model.safetensors": 2_000})
    hub.create_tag(repo_id, "v1", first)
    second = hub.commit(repo_id, {"config.json": '{"hidden_size": 16}'})
    workspace.write_catalog([{"name": repo_id, "revision": "v1"}])
    assert workspace.hfdl("run").returncode == 0

    result = ok(workspace, "update", repo_id, "--revision", "main")

    assert "set to pending" in result.stderr
    assert workspace.model_row(repo_id)["status"] == "pending"
    assert workspace.hfdl("run").returncode == 0
    assert workspace.model_row(repo_id)["commit_sha"] == second


def test_add_update_flag_changes_an_existing_entry(workspace: Workspace) -> None:
    workspace.write_catalog([{"name": "org/alpha", "description": "first", "priority": "low"}])

    duplicate = models(workspace, "add", "ORG/Alpha", "--priority", "high")
    assert duplicate.returncode == 65
    assert "already in the catalog" in duplicate.stderr

    ok(workspace, "add", "ORG/Alpha", "--priority", "high", "--update")
    [entry] = catalog_document(workspace)["models"]
    assert entry == {
        "name": "org/alpha",
        "enabled": True,
        "description": "first",
        "priority": "high",
    }
    text = workspace.models_path.read_bytes()
    again = ok(workspace, "add", "org/alpha", "--update")
    assert "already has these values" in again.stderr
    same = ok(workspace, "update", "org/alpha", "--priority", "high")
    assert "already has these values" in same.stderr
    assert workspace.models_path.read_bytes() == text  # not even last_updated moved


def test_update_clear_tags_and_patterns(workspace: Workspace) -> None:
    workspace.write_catalog(
        [
            {
                "name": "org/alpha",
                "tags": ["a"],
                "allow_patterns": ["*.json"],
                "ignore_patterns": ["x"],
            }
        ]
    )
    ok(workspace, "update", "org/alpha", "--clear-tags", "--clear-patterns", "--enabled")
    assert catalog_document(workspace)["models"] == [{"name": "org/alpha", "enabled": True}]


# -- list ----------------------------------------------------------------------------------------


def filter_catalog(workspace: Workspace) -> None:
    workspace.write_catalog(
        [
            {"name": "org/alpha", "priority": "high", "tags": ["nlp", "small"]},
            {"name": "org/beta", "tags": ["cv"], "enabled": False, "size_estimate": "1.6GB"},
            {"name": "org/gamma", "priority": "low", "tags": ["nlp"], "status": "completed"},
            {"name": "org/delta", "priority": "low", "status": "downloading"},
        ]
    )


def names(summaries: Sequence[dict[str, Any]]) -> list[str]:
    return [summary["name"] for summary in summaries]


def test_list_reads_the_catalog_without_creating_a_database(workspace: Workspace) -> None:
    filter_catalog(workspace)

    summaries = listed(workspace)

    assert not workspace.db_path.exists()
    assert names(summaries) == ["org/alpha", "org/beta", "org/gamma", "org/delta"]
    # Not seen by the database: the status the next sync will give them.
    assert [summary["status"] for summary in summaries] == [
        "pending",
        "pending",
        "completed",
        "pending",
    ]


def test_list_filters_merge_catalog_and_database(workspace: Workspace) -> None:
    filter_catalog(workspace)
    sync(workspace)
    with Store(workspace.db_path) as store:
        store.set_model_status("org/alpha", "failed", last_error="boom\nsecond line")
        store.set_model_status(
            "org/gamma", "completed", commit_sha="a" * 40, bytes_on_disk=123_456_789
        )
    # A catalog edit not yet synced: list shows the file's fields with the database's state.
    document = catalog_document(workspace)
    document["models"][2]["priority"] = "medium"
    workspace.models_path.write_text(json.dumps(document))
    before = state_bytes(workspace)

    assert names(listed(workspace, "--status", "failed")) == ["org/alpha"]
    assert names(listed(workspace, "--tag", "nlp")) == ["org/alpha", "org/gamma"]
    assert names(listed(workspace, "--priority", "low")) == ["org/delta"]
    assert names(listed(workspace, "--priority", "medium", "--status", "completed")) == [
        "org/gamma"
    ]
    assert names(listed(workspace, "--disabled")) == ["org/beta"]
    assert names(listed(workspace, "--enabled", "--tag", "nlp", "--status", "pending")) == []
    table = ok(workspace, "list").stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "ENABLED",
        "STATUS",
        "PRIORITY",
        "TAGS",
        "REVISION",
        "SIZE",
        "LAST",
        "SUCCESS",
        "LAST",
        "ERROR",
    ]
    rows = {line.split()[0]: line for line in table[1:]}
    assert "failed" in rows["org/alpha"] and "boom" in rows["org/alpha"]
    assert "second line" not in rows["org/alpha"]
    assert "117.7 MiB" in rows["org/gamma"]
    assert "~1.5 GiB" in rows["org/beta"]  # the estimate "1.6GB", shown as every size is
    empty = ok(workspace, "list", "--tag", "nothing")
    assert "no models match" in empty.stderr
    # Reading wrote nothing.
    assert state_bytes(workspace) == before


def test_list_json_shape(workspace: Workspace) -> None:
    workspace.write_catalog(
        [
            {
                "name": "org/alpha",
                "description": "Alpha",
                "size_estimate": "90MB",
                "priority": "high",
                "tags": ["nlp"],
                "revision": "v1",
                "allow_patterns": ["*.json"],
                "ignore_patterns": ["onnx/*"],
            },
            {"name": "org/beta"},
        ]
    )
    sync(workspace)
    with Store(workspace.db_path) as store:
        store.set_model_status("org/alpha", "completed", commit_sha="b" * 40, bytes_on_disk=42)

    alpha, beta = listed(workspace)

    assert list(alpha) == SUMMARY_KEYS
    assert list(beta) == SUMMARY_KEYS
    assert alpha | {"last_success_at": None, "last_checked_at": None} == {
        "name": "org/alpha",
        "enabled": True,
        "status": "completed",
        "priority": "high",
        "tags": ["nlp"],
        "revision": "v1",
        "commit_sha": "b" * 40,
        "bytes_on_disk": 42,
        "size_estimate": "90MB",
        "last_success_at": None,
        "last_checked_at": None,
        "last_error": None,
        "attempts": 0,
        "description": "Alpha",
        "allow_patterns": ["*.json"],
        "ignore_patterns": ["onnx/*"],
    }
    assert datetime.fromisoformat(alpha["last_success_at"]).tzinfo is not None
    assert beta == {
        "name": "org/beta",
        "enabled": True,
        "status": "pending",
        "priority": "medium",
        "tags": [],
        "revision": "main",
        "commit_sha": None,
        "bytes_on_disk": None,
        "size_estimate": None,
        "last_success_at": None,
        "last_checked_at": None,
        "last_error": None,
        "attempts": 0,
        "description": "",
        "allow_patterns": None,
        "ignore_patterns": None,
    }
    # The same names as the database row's to_dict().
    with Store(workspace.db_path) as store:
        row = store.get_model("org/alpha")
    assert row is not None
    assert set(SUMMARY_KEYS) <= set(row.to_dict())


def test_list_json_of_10000_models_within_a_second(workspace: Workspace) -> None:
    entries = [
        {
            "name": f"org{index % 50}/model-{index}",
            "enabled": index % 7 != 0,
            "description": f"model number {index}",
            "size_estimate": "1.6GB",
            "priority": ("high", "medium", "low")[index % 3],
            "tags": ["nlp", f"group-{index % 10}"],
            "allow_patterns": ["*.json", "*.safetensors"],
        }
        for index in range(10_000)
    ]
    workspace.write_catalog(entries)
    sync(workspace)
    # Every third model downloaded; one bulk UPDATE (10,000 store calls would take a while).
    connection = sqlite3.connect(workspace.db_path)
    with connection:
        connection.execute(
            "UPDATE models SET status = 'completed', commit_sha = ?, bytes_on_disk = id - 1,"
            " last_success_at = '2026-11-29T01:02:03.000000Z' WHERE (id - 1) % 3 = 0",
            ("c" * 40,),
        )
    connection.close()

    cpu_times = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = ok(workspace, "list", "--json")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_times.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))

    # CPU time, not wall-clock time, and the best of three: the budget is hfdl's own work,
    # not whatever else the test machine is busy with (other tests, other processes).
    assert min(cpu_times) <= 1.0, f"models list --json took {min(cpu_times):.2f}s of CPU"
    summaries = json.loads(result.stdout)
    assert len(summaries) == 10_000
    assert summaries[3]["status"] == "completed" and summaries[3]["bytes_on_disk"] == 3
    assert summaries[3]["last_success_at"] == "2026-11-29T01:02:03Z"
    assert summaries[4]["status"] == "pending"


def test_model_states_match_the_full_rows(workspace: Workspace) -> None:
    """The fast read behind `models list` returns what the full rows hold."""
    filter_catalog(workspace)
    sync(workspace)
    with Store(workspace.db_path) as store:
        store.set_model_status("org/alpha", "failed", last_error="boom")
        store.set_model_status("org/gamma", "completed", commit_sha="d" * 40, bytes_on_disk=9)
        workspace.write_catalog([{"name": "org/alpha"}])
        store.sync_catalog(load_catalog(workspace.models_path))  # the others are now removed
        rows = store.list_models(include_removed=True)
    with StateReader(workspace.db_path) as reader:
        states = reader.model_states()

    assert set(states) == {row.name for row in rows}
    for row in rows:
        assert states[row.name]._asdict() == {
            field: getattr(row, field) for field in states[row.name]._fields
        }


def test_models_list_does_not_import_the_hub_client(workspace: Workspace) -> None:
    filter_catalog(workspace)
    sync(workspace)
    names = imported(workspace, *hfdl_module(workspace, "models", "list"))

    # With a database to read (the import-list test of the fast commands has none).
    assert "hfdl.services.models.queries" in names
    assert heavy(names) == []


# -- add --check ---------------------------------------------------------------------------------


def test_add_check_fills_the_size_of_the_selected_files(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = make_repo(hub, weights=1_234_567)
    workspace.write_catalog([])

    result = ok(workspace, "add", repo_id, "--check", "--exclude", "onnx/*", "--exclude", "*.md")

    size = 1_234_567 + len('{"hidden_size": 8}')
    [entry] = catalog_document(workspace)["models"]
    # The one size format: what --check says is what it writes and what `models list` shows.
    assert entry["size_estimate"] == format_size(size) == "1.2 MiB"
    assert "2 of 4 file(s) selected" in result.stderr
    # One API request, no file downloaded.
    [request] = hub.find_requests()
    assert request.path.startswith(f"/api/models/{repo_id}")
    assert "gated" not in result.stderr


def test_add_check_and_list_show_the_same_size_string(workspace: Workspace, hub: HubServer) -> None:
    repo_id = make_repo(hub, weights=5_000_000)  # "5MB" in the catalog's decimal units
    workspace.write_catalog([])

    added = ok(workspace, "add", repo_id, "--check", "--include", "model.safetensors")
    listed = ok(workspace, "list")
    shown = ok(workspace, "show", repo_id)

    assert "4.8 MiB" in added.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(repo_id)]
    assert "~4.8 MiB" in row
    assert "size estimate: 4.8 MiB" in " ".join(shown.stdout.split())


def test_sizes_are_formatted_only_by_format_size() -> None:
    """No module formats a byte count with its own unit table or unit suffix."""
    import ast

    package = Path(__file__).resolve().parents[2] / "hfdl"
    unit = re.compile(r"^\s?(?:[KMGTPE]i?B|bytes?)(?:/s)?\b")
    offenders: list[str] = []
    for source in sorted(package.rglob("*.py")):
        if source.name == "sizes.py":
            continue
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            where = f"{source.relative_to(package.parent)}:{getattr(node, 'lineno', '?')}"
            # A unit table: ("MB", 10**6) or "GiB" on its own.
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"[KMGTPE]i?B", node.value)
            ):
                offenders.append(f"{where}: unit name {node.value!r}")
            # f"{size / 1e6:.2f}MB": a number formatted, then a unit right after it.
            if isinstance(node, ast.JoinedStr):
                parts = node.values
                for before, after in itertools.pairwise(parts):
                    if (
                        isinstance(before, ast.FormattedValue)
                        and isinstance(before.value, ast.BinOp)
                        and isinstance(after, ast.Constant)
                        and isinstance(after.value, str)
                        and unit.match(after.value)
                    ):
                        offenders.append(f"{where}: {ast.unparse(node)}")
    assert offenders == []


def test_add_check_says_a_repository_is_gated(workspace: Workspace, hub: HubServer) -> None:
    repo_id = hub.unique_repo_id("org/gated")
    hub.create_repo(repo_id, {"config.json": "{}"}, gated=True)
    workspace.write_catalog([])

    result = ok(workspace, "add", repo_id, "--check", "--size-estimate", "1KB")

    assert "is gated" in result.stderr and f"{hub.url}/{repo_id}" in result.stderr
    assert catalog_document(workspace)["models"][0]["size_estimate"] == "1KB"


# -- remove --purge ------------------------------------------------------------------------------


def test_remove_purge_frees_the_models_folder_only(workspace: Workspace, hub: HubServer) -> None:
    from huggingface_hub import snapshot_download

    purged_id, kept_id, foreign_id, unmanaged_id = (make_repo(hub) for _ in range(4))
    workspace.write_catalog([{"name": purged_id}, {"name": kept_id}])
    assert workspace.hfdl("run").returncode == 0
    # Folders hfdl did not download, in the same cache: one not in the catalog at all, one
    # listed by hand but never seen by the database.
    for repo_id in (foreign_id, unmanaged_id):
        snapshot_download(repo_id, cache_dir=workspace.cache_dir, endpoint=hub.url)
    document = catalog_document(workspace)
    document["models"].append({"name": unmanaged_id, "enabled": False})
    workspace.models_path.write_text(json.dumps(document))
    others = {
        repo_id: tree(workspace.repo_dir(repo_id))
        for repo_id in (kept_id, foreign_id, unmanaged_id)
    }
    expected_bytes = file_bytes(workspace.repo_dir(purged_id))

    result = ok(workspace, "remove", purged_id, "--purge", "--json")

    report = json.loads(result.stdout)
    assert report["purged"] is True
    assert report["bytes_freed"] == expected_bytes > 30_000
    assert not workspace.repo_dir(purged_id).exists()
    assert "freed" in result.stderr
    row = workspace.model_row(purged_id)
    assert (row["removed"], row["status"], row["commit_sha"], row["bytes_on_disk"]) == (
        1,
        "pending",
        None,
        None,
    )
    assert workspace.query("SELECT * FROM attempts WHERE model_name = ?", (purged_id,))

    unmanaged = ok(workspace, "remove", unmanaged_id, "--purge", "--json")

    assert json.loads(unmanaged.stdout) | {"notes": []} == {
        "name": unmanaged_id,
        "catalog_path": str(workspace.models_path),
        "purged": False,
        "bytes_freed": 0,
        "cache_path": str(workspace.repo_dir(unmanaged_id)),
        "notes": [],
    }
    assert "left alone" in unmanaged.stderr
    assert names(listed(workspace)) == [kept_id]
    for repo_id, entries in others.items():
        assert tree(workspace.repo_dir(repo_id)) == entries, repo_id


def test_remove_purge_waits_for_no_run(workspace: Workspace) -> None:
    workspace.write_catalog([{"name": "org/alpha"}])
    sync(workspace)
    before = state_bytes(workspace)

    with RunLock(workspace.state_dir):
        result = models(workspace, "remove", "org/alpha", "--purge")

    assert result.returncode == 75
    assert "another hfdl run" in result.stderr
    assert state_bytes(workspace) == before


# -- refused input changes nothing ---------------------------------------------------------------

CATALOG = [
    {"name": "org/alpha", "priority": "high", "tags": ["nlp"]},
    {"name": "org/beta", "enabled": False},
]


@pytest.mark.parametrize(
    ("arguments", "code", "messages"),
    [
        pytest.param(
            ["update", "org/alpah", "--priority", "low"],
            65,
            ["'org/alpah' is not in the catalog", "did you mean 'org/alpha'"],
            id="update-unknown-model",
        ),
        pytest.param(["remove", "org/nope"], 65, ["not in the catalog"], id="remove-unknown"),
        pytest.param(["remove", "org/nope", "--purge"], 65, ["not in"], id="purge-unknown"),
        pytest.param(["show", "org/nope"], 65, ["not in the catalog"], id="show-unknown"),
        pytest.param(
            ["add", "org/new", "--priority", "urgent"],
            65,
            ["priority: must be one of high, medium, low"],
            id="add-bad-priority",
        ),
        pytest.param(
            ["update", "org/alpha", "--priority", "urgent"],
            65,
            ["priority: must be one of high, medium, low"],
            id="update-bad-priority",
        ),
        pytest.param(
            ["update", "org/alpha", "--status", "done"],
            65,
            ["status: must be one of pending, completed, failed"],
            id="update-bad-status",
        ),
        pytest.param(
            ["update", "org/alpha", "--status", "downloading"],
            65,
            ["set by a run"],
            id="update-status-downloading",
        ),
        pytest.param(
            ["list", "--status", "done", "--priority", "urgent"],
            65,
            ["invalid model filter: 2 problems", "status: must be", "priority: must be"],
            id="list-bad-filters",
        ),
        pytest.param(
            ["add", "org/new", "--size-estimate", "1.6XB"],
            65,
            ["size_estimate: invalid size '1.6XB': unknown unit 'XB'"],
            id="add-bad-size",
        ),
        pytest.param(
            ["update", "org/alpha", "--size-estimate", "lots"],
            65,
            ["size_estimate: invalid size 'lots'"],
            id="update-bad-size",
        ),
        pytest.param(
            ["add", "org/new", "--include", "*.json\nREADME", "--exclude", "ok/*", "--exclude", ""],
            65,
            [
                "2 problems",
                "allow_patterns[0]: '*.json\\nREADME': must not contain NUL or newline",
                "ignore_patterns[1]: must not be empty",
            ],
            id="add-bad-globs",
        ),
        pytest.param(
            ["add", "bad//name", "--revision", "a b"],
            65,
            ["2 problems", "name: 'bad//name'", "revision: 'a b'"],
            id="add-bad-name-and-revision",
        ),
        pytest.param(
            ["add", "org/new", "--tag", "nlp", "--tag", "nlp"],
            65,
            ["tags[1]: duplicate tag 'nlp'"],
            id="add-duplicate-tag",
        ),
        pytest.param(
            ["add", "Org/Alpha"], 65, ["'org/alpha' is already in the catalog"], id="duplicate"
        ),
        pytest.param(["update", "org/alpha"], 2, ["nothing to change"], id="update-nothing"),
        pytest.param(
            ["update", "org/alpha", "--tag", "a", "--clear-tags"],
            2,
            ["contradict"],
            id="update-contradiction",
        ),
    ],
)
def test_refused_input_changes_nothing(
    workspace: Workspace, arguments: list[str], code: int, messages: list[str]
) -> None:
    workspace.write_catalog(CATALOG)
    sync(workspace)
    before = state_bytes(workspace)

    result = models(workspace, *arguments)

    assert result.returncode == code, result.stderr
    for message in messages:
        assert message in result.stderr
    assert result.stderr.startswith("hfdl: error: ")
    assert "Traceback" not in result.stderr
    assert state_bytes(workspace) == before


@pytest.mark.parametrize(
    ("arguments", "messages"),
    [
        pytest.param(["add", "{repo}", "--check", "--revision", "v9"], ["revision 'v9'"], id="rev"),
        pytest.param(["add", "org/absent-repo", "--check"], ["was not found"], id="repo"),
        pytest.param(
            ["update", "{repo}", "--check", "--include", "*.gguf"],
            ["select none of the 4 files"],
            id="patterns-select-nothing",
        ),
    ],
)
def test_refused_hub_check_changes_nothing(
    workspace: Workspace, hub: HubServer, arguments: list[str], messages: list[str]
) -> None:
    repo_id = make_repo(hub)
    workspace.write_catalog([*CATALOG, {"name": repo_id}] if "update" in arguments else CATALOG)
    sync(workspace)
    before = state_bytes(workspace)

    result = models(workspace, *(argument.format(repo=repo_id) for argument in arguments))

    assert result.returncode == (65 if "update" in arguments else 69), result.stderr
    for message in messages:
        assert message in result.stderr
    assert state_bytes(workspace) == before


@pytest.mark.parametrize(
    ("content", "code", "messages"),
    [
        pytest.param(
            '{"models": [{"name": "org/alpha", "enabled": true, "priority": "urgent"}]}',
            65,
            ["models[0].priority: must be one of high, medium, low"],
            id="invalid-entry",
        ),
        pytest.param('{"models": [', 65, ["invalid JSON at line 1"], id="invalid-json"),
        pytest.param(b'{"models": ["\xff"]}', 65, ["not UTF-8"], id="unreadable"),
        pytest.param(None, 66, ["catalog file not found"], id="missing"),
    ],
)
@pytest.mark.parametrize(
    "arguments",
    [
        ["list"],
        ["show", "org/alpha"],
        ["add", "org/new"],
        ["update", "org/alpha", "--priority", "low"],
        ["remove", "org/alpha", "--purge"],
        ["validate"],
    ],
    ids=lambda arguments: arguments[0],
)
def test_a_bad_catalog_is_refused(
    workspace: Workspace,
    arguments: list[str],
    content: str | bytes | None,
    code: int,
    messages: list[str],
) -> None:
    workspace.write_catalog(CATALOG)
    sync(workspace)
    if content is None:
        workspace.models_path.unlink()
    elif isinstance(content, bytes):
        workspace.models_path.write_bytes(content)
    else:
        workspace.models_path.write_text(content)
    before = state_bytes(workspace)

    result = models(workspace, *arguments)

    assert result.returncode == code, result.stderr
    for message in messages:
        assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert state_bytes(workspace) == before


def test_debug_shows_a_traceback(workspace: Workspace) -> None:
    workspace.write_catalog(CATALOG)
    result = workspace.hfdl("--debug", "models", "show", "org/nope")
    assert result.returncode == 65
    assert "Traceback" in result.stderr


def test_validate_reports_a_good_catalog(workspace: Workspace) -> None:
    workspace.write_catalog(CATALOG)
    result = ok(workspace, "validate")
    assert f"{workspace.models_path} is valid: 2 model(s)" in result.stderr
    assert result.stdout == ""


def test_a_catalog_nested_too_deeply_exits_65(workspace: Workspace) -> None:
    depth = 200_000
    workspace.models_path.write_text('{"models": ' + "[" * depth + "]" * depth + "}")

    for arguments in (["validate"], ["list"]):
        result = models(workspace, *arguments)
        assert result.returncode == 65, result.stderr
        assert "nested too deeply" in result.stderr
        assert "Traceback" not in result.stderr
