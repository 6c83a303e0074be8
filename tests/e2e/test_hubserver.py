"""The fake Hub (tests/hubserver) against the real huggingface_hub client, unchanged."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import (
    HfApi,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.hubserver import HubServer, RepoBuilder, git_blob_sha1

CONFIG = b'{"model_type": "test", "hidden_size": 8}'


def _make_model(hub: HubServer, **kwargs: object) -> tuple[str, str]:
    """Create a small model repo: 2 plain git files, 2 LFS files (by suffix and by size)."""
    repo_id = hub.unique_repo_id("org/model")
    sha = hub.create_repo(
        repo_id,
        {
            "config.json": CONFIG,
            "tokenizer/vocab.txt": "hello\nworld\n",
            "model.safetensors": 300_000,
            "weights.data": 64_000,
        },
        lfs_threshold=50_000,
        **kwargs,  # type: ignore[arg-type]
    )
    return repo_id, sha


def _wait_until_done(hub: HubServer, origin: str, timeout: float = 3.0) -> None:
    """Wait until no request to ``origin`` is in flight (a stalled one ends on client close)."""
    deadline = time.monotonic() + timeout
    while any(r.end_time is None for r in hub.find_requests(origin=origin)):
        assert time.monotonic() < deadline, "a request is still in flight"
        time.sleep(0.01)


# -- downloads with the real client ----------------------------------------------------


def test_snapshot_download_then_offline(hub: HubServer, tmp_path: Path) -> None:
    repo_id, sha = _make_model(hub)

    folder = Path(snapshot_download(repo_id, cache_dir=tmp_path, endpoint=hub.url))

    assert folder.name == sha
    for name in ("config.json", "tokenizer/vocab.txt", "model.safetensors", "weights.data"):
        assert (folder / name).read_bytes() == hub.file_bytes(repo_id, name), name
    # LFS files: HEAD answered by a 302 to the CDN origin, body fetched from there.
    heads = {r.filename: r for r in hub.find_requests(method="HEAD")}
    assert heads["model.safetensors"].status == 302
    assert heads["weights.data"].status == 302
    assert heads["config.json"].status == 200
    cdn = hub.find_requests(origin="cdn")
    assert sorted(r.filename for r in cdn) == ["model.safetensors", "weights.data"]
    assert sum(r.bytes_sent for r in cdn) == 364_000
    assert hub.bytes_sent == sum(r.bytes_sent for r in hub.requests)

    hub.clear_requests()
    offline = snapshot_download(
        repo_id, cache_dir=tmp_path, endpoint=hub.url, local_files_only=True
    )
    assert Path(offline) == folder
    assert hub.requests == []


def test_hf_hub_download_by_tag_branch_and_commit(hub: HubServer, tmp_path: Path) -> None:
    repo_id, first = _make_model(hub)
    hub.create_tag(repo_id, "v1.0", first)
    second = hub.commit(repo_id, {"config.json": b"{}"}, deleted=["weights.data"])
    hub.create_branch(repo_id, "refs/pr/1", first)

    def download(revision: str) -> bytes:
        path = hf_hub_download(
            repo_id, "config.json", revision=revision, cache_dir=tmp_path, endpoint=hub.url
        )
        return Path(path).read_bytes()

    assert download("v1.0") == CONFIG
    assert download("main") == b"{}"
    assert download(first) == CONFIG
    assert download(second) == b"{}"
    assert download("refs/pr/1") == CONFIG
    paths = [r.path for r in hub.find_requests(method="HEAD")]
    assert f"/{repo_id}/resolve/v1.0/config.json" in paths
    assert f"/{repo_id}/resolve/refs%2Fpr%2F1/config.json" in paths
    # Unchanged files keep their blob across commits.
    assert (
        hub.file_entry(repo_id, "model.safetensors", first).etag
        == hub.file_entry(repo_id, "model.safetensors", second).etag
    )


def test_allow_patterns_skip_lfs_files(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = _make_model(hub)

    folder = Path(
        snapshot_download(repo_id, cache_dir=tmp_path, endpoint=hub.url, allow_patterns=["*.json"])
    )

    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["config.json"]
    assert hub.find_requests(origin="cdn") == []


def test_dataset_repo(hub: HubServer, tmp_path: Path) -> None:
    repo_id = hub.unique_repo_id("org/data")
    hub.create_repo(repo_id, {"train.csv": "a,b\n1,2\n", "data.bin": 1000}, repo_type="dataset")

    folder = snapshot_download(repo_id, repo_type="dataset", cache_dir=tmp_path, endpoint=hub.url)

    assert (Path(folder) / "train.csv").read_text() == "a,b\n1,2\n"
    assert {r.path.split("/")[1] for r in hub.find_requests(method="HEAD")} == {"datasets"}


def test_single_segment_repo_id(hub: HubServer, tmp_path: Path) -> None:
    repo_id = hub.unique_repo_id("tiny")
    hub.create_repo(repo_id, {"config.json": CONFIG, "pytorch_model.bin": 2000})

    folder = Path(snapshot_download(repo_id, cache_dir=tmp_path, endpoint=hub.url))

    assert (folder / "pytorch_model.bin").read_bytes() == hub.file_bytes(
        repo_id, "pytorch_model.bin"
    )
    assert HfApi(endpoint=hub.url).model_info(repo_id).id == repo_id


# -- metadata APIs ---------------------------------------------------------------------


def test_model_info_with_files_metadata(hub: HubServer) -> None:
    repo_id, sha = _make_model(hub)
    api = HfApi(endpoint=hub.url)

    info = api.model_info(repo_id, files_metadata=True)

    assert info.id == repo_id
    assert info.sha == sha
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert siblings["config.json"].size == len(CONFIG)
    assert siblings["config.json"].blob_id == git_blob_sha1(CONFIG)
    assert siblings["config.json"].lfs is None
    weights = siblings["model.safetensors"]
    assert weights.size == 300_000
    assert weights.lfs is not None
    assert (
        weights.lfs.sha256
        == hashlib.sha256(hub.file_bytes(repo_id, "model.safetensors")).hexdigest()
    )
    assert api.model_info(repo_id).siblings[0].size is None  # type: ignore[index]


def test_list_repo_tree_paginates(hub: HubServer) -> None:
    repo_id = hub.unique_repo_id("org/many")
    files = {f"dir{i % 3}/sub/file{i}.txt": f"{i}" for i in range(9)} | {"README.md": "hi"}
    hub.create_repo(repo_id, files)
    hub.tree_page_size = 4
    api = HfApi(endpoint=hub.url)

    entries = list(api.list_repo_tree(repo_id, recursive=True))

    dirs = {f"dir{i}" for i in range(3)} | {f"dir{i}/sub" for i in range(3)}
    assert {e.path for e in entries} == set(files) | dirs
    assert len(hub.find_requests("/tree/")) == 4  # 16 entries, 4 per page
    assert all(r.status == 200 for r in hub.find_requests("/tree/"))
    top = list(api.list_repo_tree(repo_id))
    assert sorted(e.path for e in top) == ["README.md", "dir0", "dir1", "dir2"]
    sub = list(api.list_repo_tree(repo_id, path_in_repo="dir1/sub"))
    assert sorted(e.path for e in sub) == [
        "dir1/sub/file1.txt",
        "dir1/sub/file4.txt",
        "dir1/sub/file7.txt",
    ]
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(repo_id, path_in_repo="nope"))
    infos = api.get_paths_info(repo_id, ["README.md", "dir0", "missing"])
    assert sorted(i.path for i in infos) == ["README.md", "dir0"]


def test_refs_and_whoami(hub: HubServer) -> None:
    repo_id, sha = _make_model(hub)
    hub.create_tag(repo_id, "v1", sha)
    hub.create_branch(repo_id, "refs/pr/3", sha)
    hub.grant(repo_id, "hf_reader", user="alice")
    api = HfApi(endpoint=hub.url)

    refs = api.list_repo_refs(repo_id, include_pull_requests=True)

    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", sha)]
    assert [(t.name, t.ref) for t in refs.tags] == [("v1", "refs/tags/v1")]
    assert [p.ref for p in refs.pull_requests or []] == ["refs/pr/3"]
    assert api.whoami(token="hf_reader")["name"] == "alice"
    with pytest.raises(HfHubHTTPError):
        api.whoami(token="hf_nobody")
    # Called by the `hf` CLI's user-agent code when telemetry is on: a plain 404 is fine.
    assert httpx2.get(f"{hub.url}/api/agent-harnesses").status_code == 404


def test_get_hf_file_metadata(hub: HubServer) -> None:
    repo_id, sha = _make_model(hub)

    lfs = get_hf_file_metadata(hf_hub_url(repo_id, "model.safetensors", endpoint=hub.url))
    plain = get_hf_file_metadata(hf_hub_url(repo_id, "config.json", endpoint=hub.url))

    entry = hub.file_entry(repo_id, "model.safetensors")
    assert (lfs.commit_hash, lfs.etag, lfs.size) == (sha, entry.blob.sha256, 300_000)
    assert lfs.location.startswith(hub.cdn_url + "/repos/")
    assert (plain.commit_hash, plain.etag, plain.size) == (sha, git_blob_sha1(CONFIG), len(CONFIG))
    assert plain.location == hf_hub_url(repo_id, "config.json", endpoint=hub.url)


def test_resolve_redirects_like_the_hub(hub: HubServer, tmp_path: Path) -> None:
    repo_id, sha = _make_model(hub)
    hub.resolve_redirects = True

    meta = get_hf_file_metadata(hf_hub_url(repo_id, "config.json", endpoint=hub.url))
    path = hf_hub_download(repo_id, "model.safetensors", cache_dir=tmp_path, endpoint=hub.url)

    assert meta.commit_hash == sha
    assert meta.location == f"{hub.url}/api/resolve-cache/models/{repo_id}/{sha}/config.json"
    assert Path(path).read_bytes() == hub.file_bytes(repo_id, "model.safetensors")
    assert [r.status for r in hub.find_requests(method="HEAD")] == [307, 200, 307, 302]


# -- raw HTTP: ranges, CDN URLs --------------------------------------------------------


def test_range_requests(hub: HubServer) -> None:
    repo_id, _ = _make_model(hub)
    data = hub.file_bytes(repo_id, "model.safetensors")
    url = hub.cdn_url_for(repo_id, "model.safetensors")

    with httpx2.Client() as client:
        middle = client.get(url, headers={"Range": "bytes=10-99"})
        tail = client.get(url, headers={"Range": "bytes=299000-"})
        suffix = client.get(url, headers={"Range": "bytes=-5"})
        beyond = client.get(url, headers={"Range": "bytes=300000-"})
        plain = client.get(hub.resolve_url(repo_id, "config.json"), headers={"Range": "bytes=2-"})

    assert middle.status_code == 206
    assert middle.headers["Content-Range"] == "bytes 10-99/300000"
    assert middle.content == data[10:100]
    assert (tail.status_code, tail.content) == (206, data[299000:])
    assert suffix.content == data[-5:]
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == "bytes */300000"
    assert (plain.status_code, plain.content) == (206, CONFIG[2:])
    assert [r.range for r in hub.requests][:2] == ["bytes=10-99", "bytes=299000-"]


def test_expired_or_tampered_cdn_urls_are_refused(hub: HubServer) -> None:
    repo_id, _ = _make_model(hub)
    good = hub.cdn_url_for(repo_id, "model.safetensors")
    hub.cdn_url_ttl = -1
    expired = hub.cdn_url_for(repo_id, "model.safetensors")

    assert httpx2.get(good).status_code == 200
    assert httpx2.get(expired).status_code == 403
    assert httpx2.get(good.replace("signature=", "signature=0")).status_code == 403


def test_authorization_is_not_sent_to_the_cdn(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = _make_model(hub)

    hf_hub_download(
        repo_id, "model.safetensors", cache_dir=tmp_path, endpoint=hub.url, token="hf_x"
    )
    # A plain client following the redirect itself drops it too (cross-origin redirect).
    httpx2.get(
        hub.resolve_url(repo_id, "weights.data"),
        headers={"Authorization": "Bearer hf_x"},
        follow_redirects=True,
    ).raise_for_status()

    assert all(r.has_auth for r in hub.find_requests(origin="hub"))
    cdn = hub.find_requests(origin="cdn")
    assert len(cdn) == 2
    assert not any(r.has_auth for r in cdn)


# -- errors ----------------------------------------------------------------------------


def test_gated_repo(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = _make_model(hub, gated=True)

    assert HfApi(endpoint=hub.url).model_info(repo_id).gated == "auto"  # metadata stays public
    with pytest.raises(GatedRepoError) as anonymous:
        hf_hub_download(repo_id, "config.json", cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(GatedRepoError) as refused:
        hf_hub_download(repo_id, "config.json", cache_dir=tmp_path, endpoint=hub.url, token="hf_no")
    hub.grant(repo_id, "hf_yes")
    path = hf_hub_download(
        repo_id, "config.json", cache_dir=tmp_path, endpoint=hub.url, token="hf_yes"
    )

    assert anonymous.value.response.status_code == 401
    assert refused.value.response.status_code == 403
    assert "restricted" in (refused.value.server_message or "")
    assert Path(path).read_bytes() == CONFIG


def test_private_and_missing_repos(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = _make_model(hub, private=True)
    api = HfApi(endpoint=hub.url)

    with pytest.raises(RepositoryNotFoundError) as anonymous:
        api.model_info(repo_id)
    with pytest.raises(RepositoryNotFoundError) as wrong_token:
        hf_hub_download(repo_id, "config.json", cache_dir=tmp_path, endpoint=hub.url, token="hf_no")
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download("org/does-not-exist", cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("single-name-missing", "x", cache_dir=tmp_path, endpoint=hub.url)
    hub.grant(repo_id, "hf_yes")

    assert anonymous.value.response.status_code == 401
    assert wrong_token.value.response.status_code == 404
    assert api.model_info(repo_id, token="hf_yes").private is True


def test_missing_revision_and_file(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = _make_model(hub)
    api = HfApi(endpoint=hub.url)

    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo_id, revision="nope")
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(repo_id, revision="v9", cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "config.json", revision="v9", cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "missing.json", cache_dir=tmp_path, endpoint=hub.url)
    assert hub.find_requests(method="HEAD")[-1].response_headers["X-Error-Code"] == "EntryNotFound"


# -- faults ----------------------------------------------------------------------------


def test_503_with_retry_after_is_retried(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = _make_model(hub)
    fault = hub.inject((repo_id, "config.json"), status=503, retry_after="0", times=2)

    path = hf_hub_download(repo_id, "config.json", cache_dir=tmp_path, endpoint=hub.url)

    assert Path(path).read_bytes() == CONFIG
    heads = hub.find_requests(method="HEAD")
    assert [r.status for r in heads] == [503, 503, 200]
    assert heads[0].response_headers["Retry-After"] == "0"
    assert (fault.hits, fault.times, hub.faults.active()) == (2, 0, [])


def test_cut_body_is_a_short_read_and_the_client_resumes(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = _make_model(hub)
    data = hub.file_bytes(repo_id, "model.safetensors")
    hub.inject((repo_id, "model.safetensors"), cut_after=1000, origin="cdn")

    received = bytearray()
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        httpx2.stream("GET", hub.cdn_url_for(repo_id, "model.safetensors")) as response,
    ):
        assert response.headers["Content-Length"] == "300000"
        for chunk in response.iter_bytes():
            received += chunk
    assert bytes(received) == data[:1000]

    # The client reads in DOWNLOAD_CHUNK_SIZE (10 MiB) chunks and only resumes from the last
    # complete chunk: a cut in the first 10 MiB restarts from 0 without a Range header.
    big_id = hub.unique_repo_id("org/big")
    hub.create_repo(big_id, {"model.safetensors": 12 << 20})
    hub.inject((big_id, "model.safetensors"), cut_after=11_000_000, origin="cdn")
    path = hf_hub_download(big_id, "model.safetensors", cache_dir=tmp_path, endpoint=hub.url)

    assert Path(path).read_bytes() == hub.file_bytes(big_id, "model.safetensors")
    cut, resumed = hub.find_requests(origin="cdn")[1:]
    assert (cut.bytes_sent, cut.fault) == (11_000_000, "cut_after=11000000")
    assert (resumed.range, resumed.status) == (f"bytes={10 << 20}-", 206)
    assert resumed.bytes_sent == (2 << 20)


def test_corrupt_byte_is_not_detected_by_the_client(hub: HubServer, tmp_path: Path) -> None:
    repo_id, _ = _make_model(hub)
    entry = hub.file_entry(repo_id, "model.safetensors")
    hub.inject((repo_id, "model.safetensors"), corrupt_byte_at=123_456)

    path = hf_hub_download(repo_id, "model.safetensors", cache_dir=tmp_path, endpoint=hub.url)

    got, want = Path(path).read_bytes(), entry.blob.read()
    assert len(got) == len(want)
    assert [i for i in range(len(want)) if got[i] != want[i]] == [123_456]
    assert hashlib.sha256(got).hexdigest() != entry.etag
    # Whole-body faults do not hit a HEAD: the 302 went through, the CDN GET was hit.
    assert [r.fault for r in hub.requests] == [None, "corrupt_byte_at=123456"]


def test_trickle_and_delay_slow_responses_down(hub: HubServer) -> None:
    repo_id, _ = _make_model(hub)
    url = hub.resolve_url(repo_id, "tokenizer/vocab.txt")
    hub.inject((repo_id, "tokenizer/vocab.txt"), trickle=(4, 0.05))

    started = time.monotonic()
    body = httpx2.get(url).content
    trickled = time.monotonic() - started

    hub.inject(r"/tokenizer/vocab\.txt$", delay_headers=0.5)
    with pytest.raises(httpx2.ReadTimeout):
        httpx2.get(url, timeout=0.1)

    assert body == b"hello\nworld\n"
    assert trickled >= 0.1  # 3 chunks, 2 pauses
    assert [r.fault for r in hub.requests] == ["trickle=(4, 0.05)", "delay_headers=0.5"]


def test_stall_hangs_until_the_client_gives_up(hub: HubServer) -> None:
    repo_id, _ = _make_model(hub)
    hub.inject((repo_id, "weights.data"), stall_after=4096, origin="cdn")

    received = bytearray()
    with (
        pytest.raises(httpx2.ReadTimeout),
        httpx2.stream(
            "GET", hub.cdn_url_for(repo_id, "weights.data"), timeout=httpx2.Timeout(5, read=0.3)
        ) as response,
    ):
        for chunk in response.iter_bytes():
            received += chunk

    _wait_until_done(hub, "cdn")
    assert len(received) == 4096
    (record,) = hub.find_requests(origin="cdn")
    assert record.bytes_sent == 4096
    assert record.duration is not None and record.duration >= 0.3


def test_faults_heal_and_reset(hub: HubServer) -> None:
    repo_id, _ = _make_model(hub)
    url = hub.resolve_url(repo_id, "config.json")
    fault = hub.inject(r"/config\.json$", status=500, times=None, headers={"X-Error-Code": "X"})

    statuses = [httpx2.get(url).status_code for _ in range(3)]
    hub.reset_faults()
    statuses.append(httpx2.get(url).status_code)

    assert statuses == [500, 500, 500, 200]
    assert fault.hits == 3
    assert hub.requests[0].response_headers["X-Error-Code"] == "X"
    with pytest.raises(ValueError):
        hub.inject(r".", status=500, cut_after=3)


# -- concurrency -----------------------------------------------------------------------


def test_max_concurrent_sees_parallel_downloads(hub: HubServer, tmp_path: Path) -> None:
    repo_id = hub.unique_repo_id("org/parallel")
    hub.create_repo(repo_id, {f"shard-{i}.safetensors": 30_000 for i in range(4)})
    hub.inject(r"^/repos/", trickle=(10_000, 0.05), times=None)

    snapshot_download(repo_id, cache_dir=tmp_path / "parallel", endpoint=hub.url, max_workers=4)
    parallel = hub.max_concurrent(origin="cdn")
    hub.clear_requests()
    snapshot_download(repo_id, cache_dir=tmp_path / "serial", endpoint=hub.url, max_workers=1)

    assert parallel >= 2
    assert hub.max_concurrent(origin="cdn") == 1
    assert hub.max_concurrent(r"\.safetensors$", method="HEAD") == 1


def test_repo_builder_streams_random_files(tmp_path: Path) -> None:
    builder = RepoBuilder(tmp_path, lfs_threshold=1 << 20)
    builder.create_repo("big", {"blob.data": (3 << 20) + 5, "small.txt": "x"})

    entry = builder.file_entry("big", "blob.data")
    data = entry.blob.read()
    assert entry.lfs and not builder.file_entry("big", "small.txt").lfs
    assert len(data) == (3 << 20) + 5
    assert hashlib.sha256(data).hexdigest() == entry.etag == entry.blob.path.name
    assert git_blob_sha1(data) == entry.blob.git_sha1
    assert data[: 1 << 20] != data[1 << 20 : 2 << 20]  # no repeated MiB
    with pytest.raises(ValueError):
        builder.create_repo("big", {})
