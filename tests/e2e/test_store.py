"""Tests of the state database (hfdl.store): real SQLite files in tmp_path, and (the tests
taking ``store``) also a real PostgreSQL database (tests/postgres.py). The schema and its
migrations are tested in test_schema.py."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hfdl.catalog import Catalog, catalog_from_document
from hfdl.errors import (
    DuplicateSchedule,
    InvalidSchedule,
    ModelNotFound,
    ScheduleNotFound,
    StoreError,
)
from hfdl.schedule import Schedule, parse_schedule
from hfdl.store import Store
from hfdl.store.db import BUSY_TIMEOUT_MS
from hfdl.store.reader import StateReader
from tests.postgres import PASSWORD, PostgresServer, run_sql

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = socket.gethostname()


def make_catalog(entries: list[dict[str, Any]], path: Path = Path("models.json")) -> Catalog:
    return catalog_from_document({"models": entries}, path)


def entry(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "enabled": True} | fields


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "hfdl.db"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A new store on each backend (the ``backend`` parameter): SQLite, then PostgreSQL."""
    with Store(database_url) as opened:
        yield opened


@pytest.fixture
def synced(store: Store) -> Store:
    store.sync_catalog(
        make_catalog(
            [
                entry("org/a", priority="high", tags=["nlp"]),
                entry("org/b", tags=["vision"], enabled=False),
                entry("org/c", tags=["nlp", "big"]),
            ]
        )
    )
    return store


def report(store: Store, query: str, *arguments: Any) -> Any:
    """Ask a fresh StateReader (the reports' read path) of the store's file."""
    with StateReader(store.target) as reader:
        return getattr(reader, query)(*arguments)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# -- opening ----------------------------------------------------------------------------


def test_new_database_file_is_private_even_with_a_permissive_umask(db_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        with Store(db_path) as store:
            store.sync_catalog(make_catalog([entry("org/a")]))
            for suffix in ("", "-wal", "-shm"):
                mode = stat.S_IMODE(Path(f"{db_path}{suffix}").stat().st_mode)
                assert mode == 0o600, f"{db_path}{suffix} has mode {oct(mode)}"
    finally:
        os.umask(old_umask)
    assert db_path.parent.is_dir()


def test_connection_settings(db_path: Path) -> None:
    store = Store(db_path)
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with store._read() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_corrupt_database_raises_store_error_naming_the_file(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not an SQLite database\n" * 200)
    with pytest.raises(StoreError) as caught:
        Store(db_path)
    assert str(db_path) in str(caught.value)
    assert caught.value.hint


def test_unusable_directory_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=str(blocker)):
        Store(blocker / "hfdl.db")


# -- catalog sync ---------------------------------------------------------------------------


def test_sync_inserts_new_models_with_catalog_fields(synced: Store) -> None:
    model = synced.get_model("org/a")
    assert model is not None
    assert (model.status, model.priority, model.tags, model.enabled) == (
        "pending",
        "high",
        ("nlp",),
        True,
    )
    assert model.catalog_index == 0
    assert model.removed is False
    assert model.created_at.tzinfo is not None
    json.dumps(model.to_dict())  # JSON-ready
    assert model.to_dict()["created_at"].endswith("Z")


def test_sync_reports_added_updated_removed_unchanged(synced: Store) -> None:
    report = synced.sync_catalog(
        make_catalog(
            [
                entry("org/c", tags=["nlp", "big"]),  # moved to the front only
                entry("org/a", priority="low", tags=["nlp"]),  # changed
                entry("org/d", revision="v1"),  # new
            ]
        )
    )
    assert report.added == ("org/d",)
    assert report.updated == ("org/a",)
    assert report.removed == ("org/b",)
    assert report.unchanged == ("org/c",)
    org_a = synced.get_model("org/a")
    org_b = synced.get_model("org/b")
    org_c = synced.get_model("org/c")
    assert org_a is not None and org_a.priority == "low"
    assert org_b is not None and org_b.removed
    assert org_c is not None and org_c.catalog_index == 0
    assert [row.name for row in synced.list_models()] == ["org/c", "org/a", "org/d"]
    assert [row.name for row in synced.list_models(include_removed=True)][-1] == "org/b"
    again = synced.sync_catalog(
        make_catalog(
            [
                entry("org/c", tags=["nlp", "big"]),
                entry("org/a", priority="low", tags=["nlp"]),
                entry("org/d", revision="v1"),
            ]
        )
    )
    assert again.removed == () and again.added == () and again.updated == ()


def test_database_status_wins_over_the_catalog_status(store: Store) -> None:
    store.sync_catalog(
        make_catalog([entry("org/a", status="completed"), entry("org/b", status="downloading")])
    )
    org_a = store.get_model("org/a")
    org_b = store.get_model("org/b")
    assert org_a is not None and org_a.status == "completed"  # never seen: the file's status
    assert org_b is not None and org_b.status == "pending"  # nothing is downloading it
    store.set_model_status("org/a", "failed", last_error="boom")
    store.sync_catalog(make_catalog([entry("org/a", status="completed"), entry("org/b")]))
    org_a = store.get_model("org/a")
    assert org_a is not None and org_a.status == "failed"


def test_readding_a_removed_model_restores_it_with_its_history(synced: Store) -> None:
    synced.set_model_status("org/b", "completed", commit_sha="b" * 40)
    synced.sync_catalog(make_catalog([entry("org/a"), entry("org/c")]))
    assert [row.name for row in synced.list_models()] == ["org/a", "org/c"]
    report = synced.sync_catalog(make_catalog([entry("org/a"), entry("org/b", status="pending")]))
    assert report.added == ("org/b",)
    assert report.removed == ("org/c",)
    restored = synced.get_model("org/b")
    assert restored is not None
    assert restored.removed is False
    assert (restored.status, restored.commit_sha) == ("completed", "b" * 40)


def test_list_models_filters_and_counts(synced: Store) -> None:
    assert [row.name for row in synced.list_models(tag="nlp")] == ["org/a", "org/c"]
    assert [row.name for row in synced.list_models(priority="high")] == ["org/a"]
    assert [row.name for row in synced.list_models(enabled=False)] == ["org/b"]
    synced.set_model_status("org/c", "completed")
    assert [row.name for row in synced.list_models(status="completed")] == ["org/c"]
    assert report(synced, "count_models_by_status") == {
        "pending": 2,
        "downloading": 0,
        "completed": 1,
        "failed": 0,
    }


def test_set_model_status_defaults_and_errors(synced: Store) -> None:
    synced.set_model_status("org/a", "failed", last_error="timeout")
    failed = synced.set_model_status("org/a", "failed", last_error="timeout again")
    assert (failed.attempts, failed.last_error) == (2, "timeout again")
    assert failed.last_checked_at is not None and failed.last_success_at is None
    done = synced.set_model_status("org/a", "completed", commit_sha="c" * 40, bytes_on_disk=123)
    assert (done.attempts, done.last_error, done.bytes_on_disk) == (0, None, 123)
    assert done.last_success_at is not None
    with pytest.raises(ModelNotFound):
        synced.set_model_status("org/missing", "pending")
    with pytest.raises(ValueError, match="model status"):
        synced.set_model_status("org/a", "done")


def test_record_file_replaces_the_previous_record(synced: Store) -> None:
    commit = "d" * 40
    synced.record_file("org/a", commit, "config.json", 10, "1" * 40, "1" * 40, False)
    synced.record_file("org/a", commit, "model.safetensors", 99, "2" * 64, "2" * 64, True)
    synced.record_file("org/a", commit, "config.json", 11, "3" * 40, "3" * 40, False)
    records = synced.files_for("org/a", commit)
    assert [(record.path, record.size, record.is_lfs) for record in records] == [
        ("config.json", 11, False),
        ("model.safetensors", 99, True),
    ]
    assert synced.files_for("org/a", "e" * 40) == []
    with pytest.raises(ModelNotFound):
        synced.record_file("org/missing", commit, "x", 1, "4", "4", False)


# -- sessions and attempts -------------------------------------------------------------------


def test_session_and_attempt_lifecycle_with_computed_counts(synced: Store) -> None:
    session_id = synced.start_session("timer", "nightly", HOST, os.getpid(), "abc123")
    assert report(synced, "running_session") == synced.get_session(session_id)
    first = synced.start_attempt(session_id, "org/a", bytes_total=1000)
    synced.update_attempt_progress(first, 400)
    synced.update_attempt_progress(first, 600, bytes_total=1200)
    time.sleep(0.01)
    failed_then_ok = synced.finish_attempt(
        first, "failed", bytes_downloaded=600, retries=2, error="reset"
    )
    assert failed_then_ok.duration_seconds is not None and failed_then_ok.duration_seconds > 0
    assert failed_then_ok.bytes_total == 1200
    second = synced.start_attempt(session_id, "org/a")
    synced.finish_attempt(second, "completed", bytes_downloaded=1200, commit_sha="a" * 40)
    third = synced.start_attempt(session_id, "org/b")
    synced.finish_attempt(third, "failed", bytes_downloaded=5, error="gated")
    skipped = synced.start_attempt(session_id, "org/c")
    synced.finish_attempt(skipped, "skipped", bytes_downloaded=0)
    synced.sync_catalog(
        make_catalog([entry("org/a"), entry("org/b"), entry("org/c"), entry("org/d")])
    )
    left_running = synced.start_attempt(session_id, "org/d")
    synced.set_model_status("org/d", "downloading")

    finished = synced.finish_session(session_id, "failed", error="1 model failed")
    assert (finished.status, finished.error) == ("failed", "1 model failed")
    assert finished.ended_at is not None
    assert (
        finished.models_total,
        finished.models_completed,
        finished.models_failed,
        finished.models_skipped,
    ) == (4, 1, 1, 1)
    assert finished.bytes_downloaded == 600 + 1200 + 5
    assert report(synced, "running_session") is None
    assert report(synced, "latest_session") == finished
    attempts = report(synced, "attempts_for_session", session_id)
    assert [attempt.id for attempt in attempts] == [first, second, third, skipped, left_running]
    assert attempts[-1].status == "interrupted" and attempts[-1].ended_at is not None
    org_d = synced.get_model("org/d")
    assert org_d is not None and org_d.status == "pending"
    assert [attempt.id for attempt in synced.attempts_for_model("org/a", limit=1)] == [second]
    # Current failures only: org/a failed, then completed in the same session.
    synced.set_model_status("org/a", "completed", commit_sha="a" * 40)
    synced.set_model_status("org/b", "failed", last_error="gated")
    assert [attempt.id for attempt in report(synced, "current_failures", 10)] == [third]
    json.dumps(finished.to_dict())


def test_session_argument_errors(synced: Store) -> None:
    with pytest.raises(ValueError, match="trigger"):
        synced.start_session("cron", None, HOST, 1, None)
    session_id = synced.start_session("manual", None, HOST, os.getpid(), None)
    with pytest.raises(ModelNotFound):
        synced.start_attempt(session_id, "org/missing")
    with pytest.raises(ValueError, match="no session"):
        synced.start_attempt(session_id + 100, "org/a")
    with pytest.raises(ValueError, match="end status"):
        synced.finish_session(session_id, "running")
    assert synced.get_session(session_id + 100) is None


def test_recover_interrupted_closes_sessions_of_dead_processes(synced: Store) -> None:
    dead = synced.start_session("timer", "nightly", HOST, dead_pid(), None)
    dead_attempt = synced.start_attempt(dead, "org/a")
    synced.set_model_status("org/a", "downloading")
    alive = synced.start_session("manual", None, HOST, os.getpid(), None)
    synced.start_attempt(alive, "org/b")
    synced.set_model_status("org/b", "downloading")
    elsewhere = synced.start_session("manual", None, "other-host", dead_pid(), None)

    assert synced.recover_interrupted() == [dead]
    session = synced.get_session(dead)
    assert session is not None
    assert session.status == "interrupted" and session.ended_at is not None
    assert session.error is not None and "ended without finishing" in session.error
    (attempt,) = report(synced, "attempts_for_session", dead)
    assert (attempt.id, attempt.status) == (dead_attempt, "interrupted")
    org_a = synced.get_model("org/a")
    org_b = synced.get_model("org/b")
    assert org_a is not None and org_a.status == "pending"
    assert org_b is not None and org_b.status == "downloading"  # its run is alive
    assert synced.recover_interrupted() == []

    # The run lock is this host's: all_running says nothing about another host's session,
    # whose heartbeat (written at its start) is fresh.
    assert synced.recover_interrupted(all_running=True) == [alive]
    org_b = synced.get_model("org/b")
    assert org_b is not None and org_b.status == "pending"  # its session was recovered
    elsewhere_session = synced.get_session(elsewhere)
    assert elsewhere_session is not None and elsewhere_session.status == "running"
    running = report(synced, "running_session")
    assert running is not None and running.id == elsewhere


def test_concurrent_progress_updates_from_threads(synced: Store) -> None:
    session_id = synced.start_session("manual", None, HOST, os.getpid(), None)
    attempt_ids = [synced.start_attempt(session_id, name) for name in ("org/a", "org/b", "org/c")]
    errors: list[BaseException] = []

    def work(attempt_id: int) -> None:
        try:
            for step in range(1, 51):
                synced.update_attempt_progress(attempt_id, step * 10)
                synced.get_session(session_id)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(attempt_id,)) for attempt_id in attempt_ids * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    progress = report(synced, "attempts_for_session", session_id)
    assert {attempt.bytes_downloaded for attempt in progress} == {500}


# -- schedules -------------------------------------------------------------------------------


def daily(name: str, time: str, **fields: Any) -> Schedule:
    """A daily schedule, parsed as the services parse the command line."""
    return parse_schedule(
        **{
            "name": name,
            "schedule_type": "daily",
            "time": time,
            "day": None,
            "concurrent_downloads": 1,
        }
        | fields
    )


def test_schedule_crud(store: Store) -> None:
    nightly = store.create_schedule(daily("nightly", "3:30", tags=["nlp"]))
    assert (nightly.time, nightly.day, nightly.tags, nightly.enabled, nightly.active) == (
        "03:30",
        None,
        ("nlp",),
        True,
        False,
    )
    weekly = store.create_schedule(
        daily("weekend", "22:00", schedule_type="weekly", day="saturday", concurrent_downloads=4)
    )
    assert (weekly.day, weekly.concurrent_downloads) == ("Sat", 4)
    # The concurrency keeps its column's name in the database and its key in JSON.
    stored = run_sql(
        store.target, "SELECT max_concurrent_downloads FROM schedules WHERE name = 'weekend'"
    )
    assert stored == [(4,)]
    assert weekly.to_dict()["max_concurrent_downloads"] == 4
    assert [row.name for row in store.list_schedules()] == ["nightly", "weekend"]
    assert store.get_schedule(nightly.id) == nightly
    assert store.get_schedule("nightly") == nightly
    assert store.get_schedule(str(weekly.id)) == weekly
    assert store.get_schedule("nope") is None

    with pytest.raises(DuplicateSchedule, match="already exists"):
        store.create_schedule(daily("nightly", "04:00"))
    with pytest.raises(DuplicateSchedule, match="already exists"):
        store.update_schedule(
            "weekend", schedule=dataclasses.replace(weekly.definition, name="nightly")
        )

    as_daily = dataclasses.replace(weekly.definition, type="daily", day=None)
    changed = store.update_schedule("weekend", schedule=as_daily, active=True)
    assert (changed.type, changed.day, changed.active, changed.time) == (
        "daily",
        None,
        True,
        "22:00",
    )
    assert changed.updated_at >= changed.created_at
    renamed = store.update_schedule(
        changed.id, schedule=dataclasses.replace(changed.definition, name="late")
    )
    assert store.get_schedule("late") == renamed
    assert renamed.active  # only the definition was given: the state is kept

    deleted = store.delete_schedule("nightly")
    assert deleted.name == "nightly"
    assert [row.name for row in store.list_schedules()] == ["late"]
    with pytest.raises(ScheduleNotFound, match="no schedule"):
        store.delete_schedule("nightly")
    with pytest.raises(ScheduleNotFound, match="no schedule"):
        store.update_schedule("nightly", enabled=False)


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"name": "bad name"}, "not a valid schedule"),
        ({"name": "Upper"}, "not a valid schedule"),
        ({"name": "2024"}, "digits only"),
        ({"schedule_type": "hourly"}, "not a schedule type"),
        ({"time": "24:00"}, "not a time"),
        ({"time": "3pm"}, "not a time"),
        ({"schedule_type": "weekly"}, "needs a day"),
        ({"schedule_type": "weekly", "day": "Funday"}, "not a day of the week"),
        ({"day": "Mon"}, "daily schedule"),
        ({"concurrent_downloads": 0}, "max_concurrent_downloads"),
        ({"tags": ["a", "a"]}, "duplicate"),
        ({"tags": ["a=b"]}, "="),
    ],
)
def test_invalid_schedules_never_reach_the_store(
    db_path: Path, arguments: dict[str, Any], fragment: str
) -> None:
    # The store takes only Schedule values, and there is no invalid one to give it (whatever
    # the backend: this runs on SQLite only).
    with Store(db_path) as store:
        with pytest.raises(InvalidSchedule, match=fragment):
            store.create_schedule(daily(**{"name": "x", "time": "03:00"} | arguments))
        assert store.list_schedules() == []


# -- scale and import cost -------------------------------------------------------------------


def test_sync_of_10000_models(store: Store) -> None:
    entries = [
        entry(f"org{index // 1000}/model-{index}", tags=["bulk"], size_estimate="1GB")
        for index in range(10_000)
    ]
    catalog = make_catalog(entries)
    started = time.perf_counter()
    report = store.sync_catalog(catalog)
    first_sync = time.perf_counter() - started
    assert len(report.added) == 10_000

    for index in range(0, 100):
        entries[index] = entries[index] | {"priority": "low"}
    del entries[-50:]
    started = time.perf_counter()
    report = store.sync_catalog(make_catalog(entries))
    second_sync = time.perf_counter() - started
    assert (len(report.added), len(report.updated), len(report.removed)) == (0, 100, 50)
    assert len(report.unchanged) == 9_850

    started = time.perf_counter()
    report = store.sync_catalog(make_catalog(entries))
    third_sync = time.perf_counter() - started
    assert len(report.unchanged) == 9_950
    counts = run_sql(
        store.target,
        "SELECT count(*), sum(CASE WHEN removed THEN 1 ELSE 0 END),"
        " sum(CASE WHEN priority = 'low' THEN 1 ELSE 0 END) FROM models",
    )
    assert counts == [(10_000, 50, 100)]
    print(
        f"\n10k sync ({store.target.dialect}): insert {first_sync:.3f}s,"
        f" 100 updated + 50 removed {second_sync:.3f}s, no change {third_sync:.3f}s"
    )


def test_row_types_import_without_sqlalchemy() -> None:
    code = (
        "import sys; from hfdl.store import ModelRow, SyncReport; "
        "print(sorted(m for m in ('huggingface_hub', 'sqlalchemy', 'typer') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "[]"


def test_recover_interrupted_sees_through_a_reused_pid(synced: Store) -> None:
    """This process's pid, recorded by an earlier process (another start time): recovered."""
    session = synced.start_session("manual", None, HOST, os.getpid(), None)
    assert synced.recover_interrupted() == []  # the recorded process is this one: alive
    run_sql(
        synced.target,
        "UPDATE sessions SET process_start = 'another-boot/1' WHERE id = :id",
        id=session,
    )
    assert synced.recover_interrupted() == [session]


# -- PostgreSQL specifics ------------------------------------------------------------------


def test_a_lock_held_past_the_timeout_on_postgresql_is_busy_not_damage(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another host holding a table lock: lock_timeout ends the wait, DatabaseBusy (exit 75)."""
    import psycopg

    from hfdl.database_url import database_target
    from hfdl.errors import DatabaseBusy
    from hfdl.store import db as db_module

    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 300)
    with Store(postgres_url) as store:
        with psycopg.connect(database_target(postgres_url).libpq_url()) as other:
            other.execute("LOCK TABLE models IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            with pytest.raises(DatabaseBusy, match="busy") as caught:
                store.sync_catalog(make_catalog([entry("org/a")]))
            assert time.monotonic() - started < 10
            assert caught.value.exit_code == 75
            other.rollback()
        assert store.sync_catalog(make_catalog([entry("org/a")])).added == ("org/a",)


def test_an_unreachable_server_is_a_store_error_without_the_password(
    postgres: PostgresServer,
) -> None:
    url = postgres.url("no_such_database", password=PASSWORD)
    with pytest.raises(StoreError) as caught:
        Store(url)
    message = f"{caught.value} {caught.value.hint}"
    assert "no_such_database" in message and ":***@" in message
    assert PASSWORD not in message
    assert caught.value.exit_code == 73
