"""`hfdl run` against a hostile or broken Hub server: nothing outside the cache is ever touched.

Each case makes the test Hub lie about one value of one model (a file name with ``..``, a
commit that is a path, a blob id naming a local file, a redirect to ``file://``, ...). A canary
tree next to the cache (files, symlinks, folders with known bytes, modes and mtimes) must come
out of the run, and of ``hfdl models verify --repair`` after it, byte-for-byte unchanged; no
symlink of the cache may resolve outside it; the bad model fails with a plain message naming
the server, the model and the escaped value (exit 1 for the run, no traceback); and a good
model of the same run still completes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hfdl.errors import UnsafePath, UntrustedMetadata
from hfdl.hub.cache import RepoCache
from hfdl.hub.untrusted import MetadataValidator, check_redirect, shown
from tests.hubserver import HubServer
from tests.workspace import Workspace

CONFIG = "config.json"
CONFIG_BYTES = b'{"a": 1}'
WEIGHTS = "model.safetensors"
WEIGHTS_SIZE = 3000
VICTIM_BYTES = b"precious bytes the server must never reach\n"


@dataclass
class Hostile:
    """One lie: the ``model_info`` rewrite and/or ``resolve`` answer, and what to expect.

    ``shown`` is the escaped value the error message must contain.
    """

    shown: str
    info: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    resolve_status: int | None = None
    resolve_headers: dict[str, str] = field(default_factory=dict)


def _sibling(info: dict[str, Any], name: str) -> dict[str, Any]:
    return next(sibling for sibling in info["siblings"] if sibling["rfilename"] == name)


def set_field(name: str, key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A rewrite setting ``key`` of the sibling ``name`` (``lfs.size``: inside ``lfs``)."""

    def rewrite(info: dict[str, Any]) -> dict[str, Any]:
        target = _sibling(info, name)
        if key.startswith("lfs."):
            if "lfs" in target:  # resolve's answer (no file metadata) has no lfs
                target["lfs"][key.removeprefix("lfs.")] = value
        elif key in target or key == "rfilename":
            target[key] = value
        return info

    return rewrite


def add_siblings(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A rewrite adding copies of ``config.json``'s sibling under other names."""

    def rewrite(info: dict[str, Any]) -> dict[str, Any]:
        honest = _sibling(info, CONFIG)
        info["siblings"].extend({**honest, "rfilename": name} for name in names)
        return info

    return rewrite


def set_sha(value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def rewrite(info: dict[str, Any]) -> dict[str, Any]:
        info["sha"] = value
        return info

    return rewrite


def upper_sha(info: dict[str, Any]) -> dict[str, Any]:
    info["sha"] = info["sha"].upper()
    return info


def short_sha(info: dict[str, Any]) -> dict[str, Any]:
    info["sha"] = info["sha"][:12]
    return info


def drop_rfilename(info: dict[str, Any]) -> dict[str, Any]:
    del _sibling(info, CONFIG)["rfilename"]
    return info


def file_name(value: Any) -> Hostile:
    return Hostile(shown(value), info=set_field(CONFIG, "rfilename", value))


# Each case gets the canary folder (next to the cache) and returns its lie. From
# snapshots/<commit>/, "../../../../canary" is the canary; from blobs/, "../../../canary".
CASES: dict[str, Callable[[Path], Hostile]] = {
    "dotdot": lambda canary: file_name("../../../../canary/evil"),
    "dotdot-inside": lambda canary: file_name("a/../../../../../canary/evil"),
    "absolute": lambda canary: file_name(str(canary / "absolute")),
    "absolute-victim": lambda canary: file_name(str(canary / "victim.txt")),
    "backslash": lambda canary: file_name("..\\..\\..\\..\\canary\\evil"),
    "nul": lambda canary: file_name("conf\x00ig.json"),
    "control-char": lambda canary: file_name("bad\x1b[2Jname"),
    "empty-name": lambda canary: file_name(""),
    "dot": lambda canary: file_name("."),
    "trailing-slash": lambda canary: file_name("folder/"),
    "double-slash": lambda canary: file_name("a//b.json"),
    "overlong-segment": lambda canary: file_name("x" * 300),
    "overlong-path": lambda canary: file_name("/".join(["d" * 200] * 6)),
    "name-not-string": lambda canary: file_name(12345),
    "duplicate-name": lambda canary: Hostile(shown(CONFIG), info=add_siblings(CONFIG)),
    "file-and-folder": lambda canary: Hostile(shown("dir"), info=add_siblings("dir", "dir/x")),
    "commit-dotdot": lambda canary: Hostile(
        shown("../../../canary/x"), info=set_sha("../../../canary/x")
    ),
    "commit-uppercase": lambda canary: Hostile("", info=upper_sha),
    "commit-short": lambda canary: Hostile("", info=short_sha),
    "commit-missing": lambda canary: Hostile(shown(None), info=set_sha(None)),
    "blob-id-dotdot": lambda canary: Hostile(
        shown("../../../canary/victim.txt"),
        info=lambda info: set_field(CONFIG, "size", len(VICTIM_BYTES))(
            set_field(CONFIG, "blobId", "../../../canary/victim.txt")(info)
        ),
    ),
    "blob-id-absolute": lambda canary: Hostile(
        shown(str(canary / "victim.txt")),
        info=lambda info: set_field(CONFIG, "size", len(VICTIM_BYTES))(
            set_field(CONFIG, "blobId", str(canary / "victim.txt"))(info)
        ),
    ),
    "blob-id-uppercase": lambda canary: Hostile(
        shown("A" * 40), info=set_field(CONFIG, "blobId", "A" * 40)
    ),
    "blob-id-missing": lambda canary: Hostile(shown(None), info=set_field(CONFIG, "blobId", None)),
    "sha256-dotdot": lambda canary: Hostile(
        shown("../../../canary/victim.txt"),
        info=set_field(WEIGHTS, "lfs.sha256", "../../../canary/victim.txt"),
    ),
    "sha256-short": lambda canary: Hostile(
        shown("ab" * 20), info=set_field(WEIGHTS, "lfs.sha256", "ab" * 20)
    ),
    "size-negative": lambda canary: Hostile(shown(-5), info=set_field(CONFIG, "size", -5)),
    "size-huge": lambda canary: Hostile(shown(2**60), info=set_field(WEIGHTS, "lfs.size", 2**60)),
    "size-string": lambda canary: Hostile(shown("12"), info=set_field(CONFIG, "size", "12")),
    "size-float": lambda canary: Hostile(shown(1.5), info=set_field(CONFIG, "size", 1.5)),
    "size-bool": lambda canary: Hostile(shown(True), info=set_field(CONFIG, "size", True)),
    "malformed-answer": lambda canary: Hostile("malformed answer", info=drop_rfilename),
    "redirect-file-scheme": lambda canary: Hostile(
        shown(f"file://{canary / 'victim.txt'}"),
        resolve_status=302,
        resolve_headers={"Location": f"file://{canary / 'victim.txt'}"},
    ),
    "redirect-ftp": lambda canary: Hostile(
        shown("ftp://127.0.0.1/x"),
        resolve_status=302,
        resolve_headers={"Location": "ftp://127.0.0.1/x"},
    ),
    "redirect-no-host": lambda canary: Hostile(
        shown("https:///etc/passwd"),
        resolve_status=307,
        resolve_headers={"Location": "https:///etc/passwd"},
    ),
    "redirect-unix-socket": lambda canary: Hostile(
        shown("http+unix://%2Frun%2Fx/y"),
        resolve_status=302,
        resolve_headers={"Location": "http+unix://%2Frun%2Fx/y"},
    ),
}


def build_canary(canary: Path) -> None:
    """Files, a symlink to a file, a symlink to a folder, a subfolder; fixed modes and mtimes."""
    (canary / "sub").mkdir(parents=True)
    (canary / "victim.txt").write_bytes(VICTIM_BYTES)
    (canary / "sub" / "deep.bin").write_bytes(bytes(range(256)) * 4)
    (canary / "evil").write_bytes(b"an existing file where a hostile link would go\n")
    os.symlink("victim.txt", canary / "link-to-victim")
    os.symlink("sub", canary / "link-to-sub")
    os.chmod(canary / "victim.txt", 0o640)
    for path in [*sorted(canary.rglob("*"), reverse=True), canary]:
        os.utime(path, ns=(1_000_000_000, 1_000_000_000), follow_symlinks=False)


def tree_state(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root``: type, mode, mtime, and bytes or link target."""
    state: dict[str, tuple[Any, ...]] = {}
    for directory, folders, files in os.walk(root):
        for name in [*folders, *files, "."] if directory == str(root) else [*folders, *files]:
            path = Path(directory) / name
            info = os.lstat(path)
            kind = stat.S_IFMT(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                payload: Any = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                payload = path.read_bytes()
            else:
                payload = None
            state[os.path.relpath(path, root)] = (kind, info.st_mode, info.st_mtime_ns, payload)
    return state


def symlinks_leaving(cache: Path) -> list[str]:
    """The symlinks under ``cache`` that resolve outside it."""
    real_cache = os.path.realpath(cache)
    leaving = []
    for directory, folders, files in os.walk(cache):
        for name in folders + files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                real = os.path.realpath(path)
                if not real.startswith(real_cache + os.sep):
                    leaving.append(f"{path} -> {real}")
    return leaving


def hostile_repo(hub: HubServer) -> tuple[str, str]:
    repo_id = hub.unique_repo_id("evil/model")
    commit = hub.create_repo(repo_id, {CONFIG: CONFIG_BYTES, WEIGHTS: WEIGHTS_SIZE})
    return repo_id, commit


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_metadata_touches_nothing_outside_the_cache(
    workspace: Workspace, hub: HubServer, case: str
) -> None:
    canary = workspace.root / "canary"
    build_canary(canary)
    before = tree_state(canary)
    bad, _ = hostile_repo(hub)
    good = hub.unique_repo_id("org/good")
    good_commit = hub.create_repo(good, {CONFIG: "{}", "weights.bin": 2048})
    lie = CASES[case](canary)
    hub.override_metadata(
        bad,
        info=lie.info,
        resolve_status=lie.resolve_status,
        resolve_headers=lie.resolve_headers,
        # Like the audit's server: the config's bytes for any URL, so that a lie about a name,
        # commit or blob id is "verified" and, on the old code, linked where it points.
        serve_unknown=CONFIG_BYTES,
    )
    # The bad model first: priority high, so it is planned and fetched before the good one.
    workspace.write_catalog([{"name": bad, "priority": "high"}, {"name": good}])

    result = workspace.hfdl("run")

    assert tree_state(canary) == before
    assert symlinks_leaving(workspace.cache_dir) == []
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    failure = next(line for line in result.stderr.splitlines() if bad in line and "fail" in line)
    assert hub.url in failure
    assert lie.shown in failure
    assert workspace.model_row(bad)["status"] == "failed"
    assert workspace.model_row(good)["status"] == "completed"
    assert workspace.snapshot_file(good, good_commit, CONFIG).read_bytes() == b"{}"

    repair = workspace.hfdl("models", "verify", "--repair")

    assert repair.returncode in (0, 1), repair.stderr
    assert "Traceback" not in repair.stderr
    assert tree_state(canary) == before
    assert symlinks_leaving(workspace.cache_dir) == []


def test_untrusted_metadata_exits_65_and_is_not_retried(
    workspace: Workspace, hub: HubServer
) -> None:
    """A lone bad model: its error is permanent (one request, no retry) and exits 1 for the run."""
    bad, _ = hostile_repo(hub)
    hub.override_metadata(bad, info=set_field(CONFIG, "rfilename", "../../x"))
    workspace.write_catalog([{"name": bad}])

    result = workspace.hfdl("run")

    assert result.returncode == 1
    assert "retry" not in result.stderr
    api_calls = hub.find_requests(lambda record: record.repo_id == bad and "/api/" in record.path)
    assert len(api_calls) == 1
    assert UntrustedMetadata.exit_code == 65
    assert not UntrustedMetadata("x").retryable


# -- the validator ------------------------------------------------------------------------

GOOD_PATHS = ["config.json", "sub/dir/model-00001-of-00002.safetensors", "é/ü.txt", "a" * 255]
BAD_PATHS = [
    "", ".", "..", "../x", "a/../../x", "/etc/passwd", "a\\b", "a\x00b", "a\nb", "a\x7fb",
    "a\x85b", "dir/", "/", "a//b", "./a", "x" * 256, "/".join(["d" * 200] * 6), "\ud800",
    None, 5, b"bytes",
]  # fmt: skip


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_validator_accepts_good_paths(path: str) -> None:
    assert MetadataValidator("https://hub.example", "org/m").path(path) == path


@pytest.mark.parametrize("path", BAD_PATHS)
def test_validator_refuses_bad_paths(path: Any) -> None:
    with pytest.raises(UntrustedMetadata) as caught:
        MetadataValidator("https://hub.example", "org/m").path(path)
    message = str(caught.value)
    assert "https://hub.example" in message and "org/m" in message
    assert shown(path) in message
    assert "\x00" not in message and "\n" not in message and "\x1b" not in message


def test_validator_hashes_commits_and_sizes() -> None:
    check = MetadataValidator("https://hub.example", "org/m")
    assert check.commit("0123456789abcdef0123456789abcdef01234567")
    assert check.blob_id("f" * 40, "p") == "f" * 40
    assert check.sha256("0" * 64, "p") == "0" * 64
    assert check.size(0, "p") == 0 and check.size(2**50, "p") == 2**50
    check.unique_paths(["a/b", "a/c", "b"])
    refused: list[Callable[[], object]] = [
        lambda: check.commit("0123456789ABCDEF0123456789ABCDEF01234567"),
        lambda: check.commit("0123456789ab"),
        lambda: check.commit("../../x"),
        lambda: check.commit(None),
        lambda: check.blob_id("f" * 64, "p"),
        lambda: check.blob_id("../../../etc/x", "p"),
        lambda: check.sha256("F" * 64, "p"),
        lambda: check.sha256("0" * 40, "p"),
        lambda: check.size(-1, "p"),
        lambda: check.size(2**50 + 1, "p"),
        lambda: check.size("12", "p"),
        lambda: check.size(1.0, "p"),
        lambda: check.size(True, "p"),
        lambda: check.unique_paths(["a", "a"]),
        lambda: check.unique_paths(["a", "a/b"]),
    ]
    for attempt in refused:
        with pytest.raises(UntrustedMetadata):
            attempt()


def test_shown_escapes_and_truncates() -> None:
    assert shown("a\x00\x1b[2J\n") == "'a\\x00\\x1b[2J\\n'"
    assert len(shown("x" * 10_000)) == 80 and shown("x" * 10_000).endswith("...")


@pytest.mark.parametrize(
    "target",
    ["file:///etc/passwd", "ftp://host/x", "https:///etc/passwd", "http+unix://%2Frun/x", "x"],
)
def test_redirect_targets_must_be_http_with_a_host(target: str) -> None:
    with pytest.raises(UntrustedMetadata, match=r"127\.0\.0\.1:1"):
        check_redirect("http://127.0.0.1:1/org/m/resolve/c/f", target)
    assert (
        check_redirect("http://h/a", "https://cdn.example/x?sig=1") == "https://cdn.example/x?sig=1"
    )


# -- RepoCache.contained --------------------------------------------------------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ETAG = "a" * 64


def test_contained_accepts_the_cache_layout(tmp_path: Path) -> None:
    cache = RepoCache(tmp_path / "hub", "org/m")
    assert cache.blob_path(ETAG) == cache.blobs / ETAG
    assert cache.incomplete_path(ETAG).name == f"{ETAG}.incomplete"
    assert cache.lock_path(ETAG) == cache.locks / f"{ETAG}.lock"
    assert cache.pointer_path(COMMIT, "a/b.json") == cache.snapshot_dir(COMMIT) / "a" / "b.json"
    assert cache.ref_path("refs/pr/1") == cache.storage / "refs" / "refs" / "pr" / "1"
    cache.blobs.mkdir(parents=True)
    (cache.blobs / ETAG).write_bytes(b"x")
    cache.link(COMMIT, "a/b.json", ETAG)
    pointer = cache.pointer_path(COMMIT, "a/b.json")
    assert os.readlink(pointer) == f"../../../blobs/{ETAG}" and pointer.read_bytes() == b"x"


@pytest.mark.parametrize(
    "use",
    [
        lambda cache: cache.blob_path("../../../x"),
        lambda cache: cache.blob_path(""),
        lambda cache: cache.incomplete_path("/etc/passwd"),
        lambda cache: cache.lock_path("../../x"),
        lambda cache: cache.snapshot_dir("../../x"),
        lambda cache: cache.snapshot_dir(COMMIT.upper()),
        lambda cache: cache.pointer_path(COMMIT, ""),
        lambda cache: cache.pointer_path(COMMIT, "../../../../x"),
        lambda cache: cache.pointer_path(COMMIT, "/etc/passwd"),
        lambda cache: cache.ref_path("../../x"),
        lambda cache: cache.contained(cache.storage / ".." / "x"),
        lambda cache: cache.contained(cache.cache_dir / "models--org--other" / "blobs"),
        lambda cache: cache.contained(cache.locks.parent / "models--org--other" / "x.lock"),
    ],
)
def test_contained_refuses_paths_leaving_the_model_folder(tmp_path: Path, use: Any) -> None:
    with pytest.raises(UnsafePath):
        use(RepoCache(tmp_path / "hub", "org/m"))
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # nothing was created


@pytest.mark.parametrize("folder", ["blobs", "snapshots"])
def test_contained_refuses_a_folder_symlinked_outside(tmp_path: Path, folder: str) -> None:
    cache = RepoCache(tmp_path / "hub", "org/m")
    outside = tmp_path / "outside"
    outside.mkdir()
    cache.storage.mkdir(parents=True)
    (cache.storage / folder).symlink_to(outside)
    with pytest.raises(UnsafePath, match="outside"):
        cache.link(COMMIT, "config.json", ETAG)
    assert list(outside.iterdir()) == []
    if folder == "blobs":
        (outside / ETAG).write_bytes(b"12")
        assert not cache.has_blob(ETAG, 2)  # an unsafe blob is never "present"
        assert cache.sweep_partials(set()) == []


def test_contained_refuses_a_blob_symlinked_outside(tmp_path: Path) -> None:
    cache = RepoCache(tmp_path / "hub", "org/m")
    victim = tmp_path / "victim"
    victim.write_bytes(b"12")
    cache.blobs.mkdir(parents=True)
    (cache.blobs / ETAG).symlink_to(victim)
    (cache.blobs / f"{'b' * 64}.incomplete").symlink_to(victim)
    with pytest.raises(UnsafePath):
        cache.blob_path(ETAG)
    with pytest.raises(UnsafePath):
        cache.incomplete_path("b" * 64)
    # Sweeping unlinks the symlink itself (inside blobs/), never the file it points at.
    assert [path.name for path in cache.sweep_partials(set())] == [f"{'b' * 64}.incomplete"]
    assert victim.read_bytes() == b"12"
