"""`hfdl run` against a thin Hub-compatible mirror (issue 11), and how odd error answers map.

The thin mirror (``tests/hubserver/thin.py``) lists files by name only and has an empty or no
tree endpoint; its resolve URLs answer honestly. hfdl must then take each file's size, ETag
and commit from a HEAD on its resolve URL, as ``hf download`` does, and the core scenarios
(fresh download, update, up-to-date check, resume after SIGKILL, verify and repair) must give
the same cache as against a full Hub. A HEAD answer without ETag or size fails the model with a
plain message; error pages without the Hub's headers map to the closest error.
"""

from __future__ import annotations

import json
import signal

import httpx2
import pytest
from huggingface_hub import snapshot_download
from huggingface_hub.utils import hf_raise_for_status

from hfdl.errors import EntryNotFound, GatedRepo, HubError, HubUnavailable, RepoNotFound
from hfdl.hub.client import translate_error
from hfdl.hub.untrusted import is_hex_name
from tests.hubserver import HubServer
from tests.hubserver.thin import ThinMirror
from tests.workspace import Workspace, wait_for

FILES: dict[str, str | int] = {
    "config.json": '{"hidden_size": 8}',
    "README.md": "# thin\n",
    "model.safetensors": 300_000,  # LFS: redirected to the CDN
    "sub/extra.bin": 5_000,  # LFS by pattern
}
WEIGHTS = "model.safetensors"

MIRRORS = {
    "full": None,
    "thin-tree-empty": ThinMirror(tree="empty"),
    "thin-tree-missing": ThinMirror(tree="missing"),
}


@pytest.fixture(params=["thin-tree-empty", "thin-tree-missing"])
def mirror(request: pytest.FixtureRequest, hub: HubServer) -> HubServer:
    """The test Hub in thin-mirror mode (turned off again by the ``hub`` fixture)."""
    hub.thin = MIRRORS[request.param]
    return hub


def thin_repo(hub: HubServer, base: str = "org/thin") -> tuple[str, str]:
    repo_id = hub.unique_repo_id(base)
    return repo_id, hub.create_repo(repo_id, FILES)


def heads(hub: HubServer, repo_id: str) -> list[str]:
    """The files hfdl asked about with a HEAD (sorted)."""
    return sorted(
        record.filename or ""
        for record in hub.find_requests(lambda r: r.repo_id == repo_id, method="HEAD")
    )


def assert_snapshot(workspace: Workspace, hub: HubServer, repo_id: str, commit: str) -> None:
    """Every file byte-identical, usable offline by huggingface_hub, blobs named by hex."""
    snapshot = snapshot_download(repo_id, cache_dir=workspace.cache_dir, local_files_only=True)
    assert snapshot.endswith(commit)
    for path in FILES:
        assert workspace.snapshot_file(repo_id, commit, path).read_bytes() == hub.file_bytes(
            repo_id, path, commit
        )
    blobs = sorted(entry.name for entry in (workspace.repo_dir(repo_id) / "blobs").iterdir())
    assert blobs == sorted(hub.file_entry(repo_id, path, commit).etag for path in FILES)
    assert all(is_hex_name(name) for name in blobs)


@pytest.mark.parametrize("mode", list(MIRRORS))
def test_fresh_download_matches_a_full_hub(workspace: Workspace, hub: HubServer, mode: str) -> None:
    hub.thin = MIRRORS[mode]
    repo_id, commit = thin_repo(hub)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    assert_snapshot(workspace, hub, repo_id, commit)
    assert workspace.model_row(repo_id)["status"] == "completed"
    assert workspace.model_row(repo_id)["commit_sha"] == commit
    api = hub.find_requests(r"^/api/", method="GET")
    assert len(api) == 1  # model_info only: the tree endpoint is never needed
    # A full Hub lists everything in that one answer; a thin mirror costs a HEAD per file.
    assert heads(hub, repo_id) == ([] if mode == "full" else sorted(FILES))
    # Each HEAD asked at the listed commit, never at the moving branch.
    for record in hub.find_requests(method="HEAD"):
        assert f"/resolve/{commit}/" in record.path


def test_dry_run_sizes_come_from_heads(workspace: Workspace, mirror: HubServer) -> None:
    repo_id, commit = thin_repo(mirror)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run", "--dry-run", "--json", env={"HFDL_LOG_LEVEL": "DEBUG"})

    assert result.returncode == 0, result.stderr
    [plan] = json.loads(result.stdout)
    expected = sum(mirror.file_entry(repo_id, path, commit).size for path in FILES)
    assert plan["bytes_total"] == plan["bytes_missing"] == expected
    # The plan's line counts the HEADs with the listing: 1 + one per file.
    assert f"plan {repo_id}: download (new), {1 + len(FILES)} request(s)" in result.stderr
    assert f"thin file list: {len(FILES)} HEAD request(s)" in result.stderr
    assert not mirror.find_requests(method="GET", origin="cdn")
    assert not workspace.repo_dir(repo_id).exists()


def test_patterns_limit_the_heads_to_wanted_files(workspace: Workspace, mirror: HubServer) -> None:
    repo_id, commit = thin_repo(mirror)
    workspace.write_catalog([{"name": repo_id, "allow_patterns": ["*.json", "*.safetensors"]}])

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    assert heads(mirror, repo_id) == ["config.json", WEIGHTS]
    snapshot = workspace.repo_dir(repo_id) / "snapshots" / commit
    linked = sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_symlink())
    assert linked == ["config.json", WEIGHTS]


def test_update_fetches_only_changed_files(workspace: Workspace, mirror: HubServer) -> None:
    repo_id, first = thin_repo(mirror)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    # Nothing moved: the check costs one request, no HEAD.
    mirror.clear_requests()
    assert workspace.hfdl("run", "--check").returncode == 0
    assert len(mirror.find_requests()) == 1
    second = mirror.commit(repo_id, {"config.json": '{"hidden_size": 64}'})
    mirror.clear_requests()

    result = workspace.hfdl("run", "--check")

    assert result.returncode == 0, result.stderr
    gets = mirror.find_requests(
        lambda record: "/resolve/" in record.path or record.origin == "cdn", method="GET"
    )
    assert {record.filename for record in gets} == {"config.json"}
    assert heads(mirror, repo_id) == sorted(FILES)
    new_config = workspace.snapshot_file(repo_id, second, "config.json")
    assert new_config.read_text() == '{"hidden_size": 64}'
    old = workspace.snapshot_file(repo_id, first, WEIGHTS).resolve()
    assert workspace.snapshot_file(repo_id, second, WEIGHTS).resolve() == old
    assert workspace.model_row(repo_id)["commit_sha"] == second


def test_sigkill_mid_file_resumes_on_a_thin_mirror(workspace: Workspace, hub: HubServer) -> None:
    hub.thin = ThinMirror()
    size = 2_000_000
    repo_id = hub.unique_repo_id("org/thin-resume")
    commit = hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: size})
    hub.inject((repo_id, WEIGHTS), origin="cdn", trickle=(100_000, 0.1), times=1)
    workspace.write_catalog([{"name": repo_id}])
    blobs = workspace.repo_dir(repo_id) / "blobs"
    # Named by the sha256 the HEAD gave, never by an empty value. (Only this file is watched:
    # config.json's own partial file comes and goes in a flash.)
    partial = blobs / f"{hub.file_entry(repo_id, WEIGHTS, commit).etag}.incomplete"

    def partial_size() -> int:
        try:
            return partial.stat().st_size
        except FileNotFoundError:
            return 0

    process = workspace.spawn("run")
    wait_for(lambda: partial_size() >= 500_000, timeout=60)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    kept = partial_size()
    assert 500_000 <= kept < size
    assert sorted(path.name for path in blobs.glob("*.incomplete")) == [partial.name]
    hub.clear_requests()

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    gets = hub.find_requests(lambda record: record.filename == WEIGHTS, origin="cdn", method="GET")
    assert [record.range for record in gets] == [f"bytes={kept}-"]
    path = workspace.snapshot_file(repo_id, commit, WEIGHTS)
    assert path.read_bytes() == hub.file_bytes(repo_id, WEIGHTS, commit)


def test_verify_and_repair_on_a_thin_mirror(workspace: Workspace, mirror: HubServer) -> None:
    repo_id, commit = thin_repo(mirror)
    workspace.write_catalog([{"name": repo_id}])
    assert workspace.hfdl("run").returncode == 0
    blob = workspace.repo_dir(repo_id) / "blobs" / mirror.file_entry(repo_id, WEIGHTS).etag
    data = bytearray(blob.read_bytes())
    data[1000] ^= 0xFF
    blob.write_bytes(bytes(data))

    found = workspace.hfdl("models", "verify", "--json")
    repaired = workspace.hfdl("models", "verify", "--repair", "--json")

    assert found.returncode != 0
    assert json.loads(found.stdout)["bad_files"] == 1
    assert repaired.returncode == 0, repaired.stderr
    assert json.loads(repaired.stdout)["repaired_files"] == 1
    assert_snapshot(workspace, mirror, repo_id, commit)


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        pytest.param({"ETag": ""}, "gave no ETag of 'README.md'", id="no-etag"),
        pytest.param({"X-Linked-Size": ""}, f"gave no size of '{WEIGHTS}'", id="no-size"),
        pytest.param(
            {"ETag": '"../../../canary"'}, "is neither 40 nor 64 lowercase hex", id="etag-path"
        ),
        pytest.param({"X-Repo-Commit": "f" * 40}, "is not the commit asked for", id="commit"),
    ],
)
def test_head_without_usable_metadata_fails_plainly(
    workspace: Workspace, hub: HubServer, headers: dict[str, str], says: str
) -> None:
    hub.thin = ThinMirror()
    repo_id, _ = thin_repo(hub, base="org/thinner")
    good_id, good_commit = thin_repo(hub, base="org/good")
    hub.override_metadata(repo_id, resolve_headers=headers)
    workspace.write_catalog([{"name": repo_id}, {"name": good_id}])

    result = workspace.hfdl("run", "--json")

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = {model["name"]: model for model in json.loads(result.stdout)["models"]}
    error = report[repo_id]["error"]
    assert says in error and hub.url in error and repo_id in error
    assert report[good_id]["status"] == "completed"
    assert_snapshot(workspace, hub, good_id, good_commit)
    # Refused before any byte was written, and not retried (a permanent answer).
    assert not workspace.repo_dir(repo_id).exists()
    assert "retry" not in result.stderr
    assert len(hub.find_requests(lambda r: r.repo_id == repo_id, method="GET")) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "token"])
def test_missing_repo_on_a_mirror_with_odd_errors(
    workspace: Workspace, hub: HubServer, status: int, with_token: bool
) -> None:
    hub.thin = ThinMirror(missing_repo_status=status)  # type: ignore[arg-type]
    missing_id = hub.unique_repo_id("org/absent")
    workspace.write_catalog([{"name": missing_id}])
    env = {"HF_TOKEN": "hf_thin_test_token"} if with_token else None

    result = workspace.hfdl("run", "--json", env=env)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    [model] = json.loads(result.stdout)["models"]
    assert model["status"] == "failed"
    assert missing_id in model["error"] and f"HTTP {status}" in model["error"]
    assert "<html" not in model["error"].lower()
    assert ("token hfdl sent was refused" in model["hint"]) == with_token
    assert "retry" not in result.stderr  # permanent: asked once


def test_gated_repo_behind_html_errors_says_gated(workspace: Workspace, hub: HubServer) -> None:
    hub.thin = ThinMirror()
    repo_id, _ = thin_repo(hub, base="org/gated")
    hub.get_repo(repo_id).gated = "manual"
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run", "--json")

    assert result.returncode == 1, result.stderr
    [model] = json.loads(result.stdout)["models"]
    assert "gated" in model["error"]
    assert f"accept the terms at {hub.url}/{repo_id}" in model["hint"]


def raised(
    status: int,
    *,
    url: str = "https://mirror.example/api/models/org/m/revision/main",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    token: bool = False,
) -> Exception:
    """The exception ``huggingface_hub`` raises for such an answer."""
    request_headers = {"authorization": "Bearer hf_x"} if token else {}
    request = httpx2.Request("GET", url, headers=request_headers)
    response = httpx2.Response(status, headers=headers or {}, content=body, request=request)
    try:
        hf_raise_for_status(response)
    except Exception as error:
        return error
    raise AssertionError("no error raised")


HTML = {"Content-Type": "text/html"}
RESOLVE = "https://mirror.example/org/m/resolve/" + "a" * 40 + "/w.bin"
PAGE = b"<html><body><h1>Error</h1>" + b"x" * 5000 + b"</body></html>"


@pytest.mark.parametrize(
    ("error", "path", "kind", "words"),
    [
        pytest.param(
            raised(401, headers=HTML, body=PAGE), None, RepoNotFound, "HTTP 401", id="401"
        ),
        pytest.param(raised(403, body=PAGE), None, RepoNotFound, "refused", id="403"),
        pytest.param(
            raised(404, headers=HTML, body=PAGE), None, RepoNotFound, "HTTP 404", id="404"
        ),
        pytest.param(raised(404, url=RESOLVE), "w.bin", EntryNotFound, "w.bin", id="404-file"),
        pytest.param(
            raised(403, url=RESOLVE, body=b"Access to model org/m is restricted"),
            "w.bin",
            GatedRepo,
            "gated",
            id="403-gated-text",
        ),
        pytest.param(
            raised(401, url=RESOLVE, headers={"X-Error-Message": "This repo is gated"}),
            "w.bin",
            GatedRepo,
            "gated",
            id="401-gated-header",
        ),
        pytest.param(raised(502, headers=HTML, body=PAGE), None, HubUnavailable, "502", id="502"),
        pytest.param(raised(418, headers=HTML, body=PAGE), None, HubError, "HTTP 418", id="418"),
    ],
)
def test_error_table_maps_odd_answers(
    error: Exception, path: str | None, kind: type[HubError], words: str
) -> None:
    mapped = translate_error(
        error, repo_id="org/m", revision="main", endpoint="https://mirror.example", path=path
    )

    assert type(mapped) is kind
    assert words in str(mapped)
    assert "<html" not in str(mapped) and len(str(mapped)) < 400


def test_token_hint_depends_on_whether_a_token_was_sent() -> None:
    anonymous = translate_error(raised(401), repo_id="org/m", revision="main", endpoint="e")
    with_token = translate_error(
        raised(401, token=True), repo_id="org/m", revision="main", endpoint="e"
    )

    assert isinstance(anonymous, RepoNotFound) and isinstance(with_token, RepoNotFound)
    assert anonymous.hint is not None and "give hfdl a token" in anonymous.hint
    assert with_token.hint is not None and "token hfdl sent was refused" in with_token.hint
