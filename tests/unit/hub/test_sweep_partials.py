"""Sweeping partial downloads no longer wanted takes a ranged transfer's progress record too."""

from __future__ import annotations

from pathlib import Path

from hfdl.hub.cache import RepoCache

WANTED = "a" * 64
GONE = "b" * 64


def test_sweep_removes_unwanted_partials_and_their_parts_records(tmp_path: Path) -> None:
    cache = RepoCache(tmp_path, "org/model")
    cache.blobs.mkdir(parents=True)
    for etag in (WANTED, GONE):
        (cache.blobs / f"{etag}.incomplete").write_bytes(b"x")
        (cache.blobs / f"{etag}.incomplete.parts").write_text("{}")
    (cache.blobs / "notes.parts").write_text("not ours")  # no partial's name: left alone

    removed = cache.sweep_partials({WANTED})

    assert sorted(path.name for path in removed) == [
        f"{GONE}.incomplete",
        f"{GONE}.incomplete.parts",
    ]
    assert sorted(path.name for path in cache.blobs.iterdir()) == [
        f"{WANTED}.incomplete",
        f"{WANTED}.incomplete.parts",
        "notes.parts",
    ]
