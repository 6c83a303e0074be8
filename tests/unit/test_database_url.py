"""hfdl.database_url: which database a setting names, and its password masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from hfdl.database_url import database_target, mask_password


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://hfdl:pw@db:5433/hfdl", "postgresql+psycopg://hfdl:***@db:5433/hfdl"),
        ("postgresql+psycopg://hfdl:p@ss/w@db/hfdl?x=1", "postgresql+psycopg://hfdl:***@db/hfdl?x=1"),
        ("postgresql+psycopg://db/hfdl?user=u&password=pw", "postgresql+psycopg://db/hfdl?user=u&password=***"),
        ("postgresql+psycopg://hfdl@db/hfdl", "postgresql+psycopg://hfdl@db/hfdl"),
        ("sqlite:////var/lib/hfdl/a@b.db", "sqlite:////var/lib/hfdl/a@b.db"),
        ("", ""),
    ],
)  # fmt: skip
def test_mask_password(url: str, masked: str) -> None:
    assert mask_password(url) == masked


def test_paths_and_sqlite_urls_name_a_file() -> None:
    assert database_target(Path("/x/hfdl.db")).path == Path("/x/hfdl.db")
    assert database_target("relative.db").path == Path("relative.db")
    absolute = database_target("sqlite:////var/lib/hfdl/hfdl.db")
    assert (absolute.path, absolute.dialect, absolute.exists()) == (
        Path("/var/lib/hfdl/hfdl.db"),
        "sqlite",
        False,
    )
    assert database_target("sqlite:///state/hfdl.db").path == Path("state/hfdl.db")


def test_a_server_url_keeps_its_password_for_the_driver_only() -> None:
    target = database_target("postgresql+psycopg://hfdl:pw@db/hfdl")
    assert (target.path, target.dialect, target.exists()) == (None, "postgresql", True)
    assert target.libpq_url() == "postgresql://hfdl:pw@db/hfdl"
    assert str(target) == target.display == "postgresql+psycopg://hfdl:***@db/hfdl"
    assert "pw" not in repr(target)


@pytest.mark.parametrize("url", ["mysql://u@h/d", "sqlite://", "sqlite:///:memory:"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        database_target(url)
