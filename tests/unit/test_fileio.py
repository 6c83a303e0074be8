"""New files hfdl writes in the cache follow the umask, as blobs and huggingface_hub do."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hfdl.fileio import mode_for_new_file, process_umask
from hfdl.hub.cache import RepoCache

COMMIT = "a" * 40


@pytest.fixture
def service_umask() -> Iterator[int]:
    """The system service's UMask=0027 for the test's duration (restored after)."""
    previous = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(previous)


def test_process_umask_reads_the_mask_without_changing_it(service_umask: int) -> None:
    assert process_umask() == service_umask
    assert process_umask() == service_umask  # reading twice: nothing was reset in between
    assert mode_for_new_file() == 0o640
    assert mode_for_new_file(0o600) == 0o600


def test_a_new_ref_is_not_world_readable_under_the_service_umask(
    tmp_path: Path, service_umask: int
) -> None:
    cache = RepoCache(tmp_path, "org/model")

    cache.write_ref("main", COMMIT)

    ref = cache.ref_path("main")
    assert ref.read_text() == COMMIT
    assert stat.S_IMODE(ref.stat().st_mode) == 0o640


def test_an_existing_ref_keeps_its_mode(tmp_path: Path, service_umask: int) -> None:
    cache = RepoCache(tmp_path, "org/model")
    cache.write_ref("main", COMMIT)
    cache.ref_path("main").chmod(0o644)  # chosen by the admin

    cache.write_ref("main", "b" * 40)

    assert stat.S_IMODE(cache.ref_path("main").stat().st_mode) == 0o644
