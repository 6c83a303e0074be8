"""hfdl.engine.plan: disk admission, which refuses before any byte moves what cannot finish.

``admit`` measures the real filesystem of ``tmp_path`` and the real blobs of an HF cache
written there; plans are real ``ModelPlan`` objects. Sizes far from the disk's free space
(a few bytes, or an exbibyte) keep the outcome independent of the machine; the one test near
the free space leaves a margin of half the reserve on each side. The end-to-end test
``test_model_over_budget_is_refused_before_any_byte`` shows a whole run honouring a refusal.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hfdl.catalog import catalog_from_document
from hfdl.engine.plan import FREE_SPACE_RESERVE_BYTES, ModelPlan, admit, describe_plan
from hfdl.engine.select import Candidate
from hfdl.errors import DiskFullError
from hfdl.hub.cache import RepoCache

EXBIBYTE = 2**60


def download_plan(name: str, bytes_missing: int, action: str = "download") -> ModelPlan:
    """A plan that still has to fetch ``bytes_missing`` bytes of the model ``name``."""
    document = {"models": [{"name": name, "enabled": True}]}
    (model,) = catalog_from_document(document, Path("models.json")).models
    candidate = Candidate(model=model, reason="new", known_commit=None)
    return ModelPlan(candidate=candidate, action=action, bytes_missing=bytes_missing)


def write_blob(
    cache_dir: Path, repo_id: str, etag: str, size: int, *, partial: bool = False
) -> None:
    """Put a blob of ``size`` bytes (or its partial download) in the HF cache of ``repo_id``."""
    repo_cache = RepoCache(cache_dir, repo_id)
    path = repo_cache.incomplete_path(etag) if partial else repo_cache.blob_path(etag)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)


def outcome(plans: list[ModelPlan]) -> list[tuple[str, str]]:
    return [(plan.name, plan.action) for plan in plans]


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "hub"
    directory.mkdir()
    return directory


def test_downloads_that_fit_are_all_admitted(cache_dir: Path) -> None:
    plans = [download_plan("org/a", 1000), download_plan("org/b", 0)]

    admit(plans, cache_dir=cache_dir, max_total_size=None, managed_names=["org/a", "org/b"])

    assert outcome(plans) == [("org/a", "download"), ("org/b", "download")]
    assert [plan.error for plan in plans] == [None, None]


def test_a_download_larger_than_the_free_space_is_refused_and_the_rest_still_fit(
    cache_dir: Path,
) -> None:
    plans = [download_plan("org/huge", EXBIBYTE), download_plan("org/small", 1000)]

    admit(plans, cache_dir=cache_dir, max_total_size=None, managed_names=[])

    assert outcome(plans) == [("org/huge", "skip"), ("org/small", "download")]
    error = plans[0].error
    assert isinstance(error, DiskFullError)
    assert str(error).startswith("org/huge needs 1.0 EiB more but only ")
    assert f"is free on the filesystem of {cache_dir}" in str(error)
    assert "keeping 256.0 MiB in reserve" in str(error)
    assert error.hint is not None and "free disk space" in error.hint


def test_the_reserve_is_kept_free(cache_dir: Path) -> None:
    free = shutil.disk_usage(cache_dir).free
    half_reserve = FREE_SPACE_RESERVE_BYTES // 2
    # Into the reserve by half of it: refused. Short of it by half of it: admitted.
    into_reserve = download_plan("org/into-reserve", free - half_reserve)
    short_of_reserve = download_plan("org/short-of-reserve", free - 3 * half_reserve)

    admit([into_reserve], cache_dir=cache_dir, max_total_size=None, managed_names=[])
    admit([short_of_reserve], cache_dir=cache_dir, max_total_size=None, managed_names=[])

    assert into_reserve.action == "skip"
    assert short_of_reserve.action == "download"


def test_the_budget_goes_to_the_first_plans_and_a_refusal_uses_none_of_it(
    cache_dir: Path,
) -> None:
    # Plans arrive in priority order: the lower priorities are the ones refused.
    plans = [
        download_plan("org/first", 600),
        download_plan("org/second", 600),
        download_plan("org/third", 400),
        download_plan("org/fourth", 1),
    ]

    admit(plans, cache_dir=cache_dir, max_total_size=1000, managed_names=[])

    assert outcome(plans) == [
        ("org/first", "download"),
        ("org/second", "skip"),
        ("org/third", "download"),
        ("org/fourth", "skip"),
    ]
    error = plans[1].error
    assert isinstance(error, DiskFullError)
    assert str(error) == (
        "org/second needs 600 B more but only 400 B is left of settings.max_total_size (1000 B)"
    )
    assert error.hint is not None and "max_total_size" in error.hint
    assert str(plans[3].error).startswith("org/fourth needs 1 B more but only 0 B is left")


def test_bytes_already_in_the_cache_count_against_the_budget(cache_dir: Path) -> None:
    write_blob(cache_dir, "org/kept", "1" * 64, 600)
    write_blob(cache_dir, "org/kept", "2" * 64, 100, partial=True)
    # Not hfdl's: never counted, however large.
    write_blob(cache_dir, "org/someone-elses", "3" * 64, 5000)
    too_big, fits = download_plan("org/too-big", 301), download_plan("org/fits", 300)

    admit(
        [too_big, fits],
        cache_dir=cache_dir,
        max_total_size=1000,
        managed_names=["org/kept", "org/too-big", "org/fits"],
    )

    assert outcome([too_big, fits]) == [("org/too-big", "skip"), ("org/fits", "download")]
    assert "only 300 B is left" in str(too_big.error)


def test_a_budget_already_exceeded_shows_nothing_left(cache_dir: Path) -> None:
    write_blob(cache_dir, "org/kept", "1" * 64, 2000)
    plan = download_plan("org/more", 1)

    admit([plan], cache_dir=cache_dir, max_total_size=1000, managed_names=["org/kept"])

    assert plan.action == "skip"
    assert "only 0 B is left" in str(plan.error)


@pytest.mark.parametrize("action", ["link", "up-to-date", "error"])
def test_plans_that_fetch_nothing_are_left_alone(cache_dir: Path, action: str) -> None:
    plan = download_plan("org/m", EXBIBYTE, action=action)

    admit([plan], cache_dir=cache_dir, max_total_size=0, managed_names=["org/m"])

    assert plan.action == action
    assert plan.error is None


def test_a_download_directory_not_created_yet_is_measured_on_its_parent(tmp_path: Path) -> None:
    not_yet = tmp_path / "not" / "created" / "hub"
    plans = [download_plan("org/small", 1000), download_plan("org/huge", EXBIBYTE)]

    admit(plans, cache_dir=not_yet, max_total_size=None, managed_names=["org/small"])

    assert outcome(plans) == [("org/small", "download"), ("org/huge", "skip")]
    assert not not_yet.exists()


def test_the_plan_line_says_admitted_or_why_refused(cache_dir: Path) -> None:
    admitted, refused = download_plan("org/a", 600), download_plan("org/b", 600)

    admit([admitted, refused], cache_dir=cache_dir, max_total_size=1000, managed_names=[])

    assert describe_plan(admitted) == (
        "plan org/a: download (new), 0 request(s), 0 retries, admitted"
    )
    assert describe_plan(refused) == (
        "plan org/b: skip (new), 0 request(s), 0 retries, refused: org/b needs 600 B more but "
        "only 400 B is left of settings.max_total_size (1000 B)"
    )
