"""A Hub-compatible HTTP server for tests and benchmarks, driven by the real huggingface_hub.

Pure standard library. Typical use::

    with HubServer(tmp_path) as server:
        server.create_repo("org/model", {"config.json": b"{}", "model.safetensors": 1 << 20})
        huggingface_hub.snapshot_download("org/model", cache_dir=..., endpoint=server.url)

See :class:`HubServer` (serving, request log, faults, auth) and :class:`RepoBuilder`
(content-addressed repos on disk).
"""

from .faults import Fault, FaultMatch, FaultSet
from .hostile import InfoRewrite, MetadataOverride
from .repos import (
    DEFAULT_LFS_PATTERNS,
    DEFAULT_LFS_THRESHOLD,
    Blob,
    Commit,
    FileContent,
    FileEntry,
    Repo,
    RepoBuilder,
    TreeEntry,
    git_blob_sha1,
)
from .server import HubServer, RecordFilter, RequestRecord

__all__ = [
    "DEFAULT_LFS_PATTERNS",
    "DEFAULT_LFS_THRESHOLD",
    "Blob",
    "Commit",
    "Fault",
    "FaultMatch",
    "FaultSet",
    "FileContent",
    "FileEntry",
    "HubServer",
    "InfoRewrite",
    "MetadataOverride",
    "RecordFilter",
    "Repo",
    "RepoBuilder",
    "RequestRecord",
    "TreeEntry",
    "git_blob_sha1",
]
