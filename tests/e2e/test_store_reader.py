"""Tests of the reports' read path (hfdl.store.reader.StateReader), on real SQLite files and
(the tests taking ``database_url``) a real PostgreSQL database too.

The reader repeats a few of the Store's reads in plain SQL so that `hfdl status` and `hfdl
models list` need not import SQLAlchemy; these tests hold the two to the same answers on the
same file, and check that the reader never creates or writes a database by itself.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hfdl.catalog import catalog_from_document
from hfdl.engine.lock import RunLock
from hfdl.errors import StoreError
from hfdl.schedule import Schedule, parse_schedule
from hfdl.store import Store
from hfdl.store.liveness import process_start, run_lock_held
from hfdl.store.reader import StateReader
from hfdl.store.rows import AttemptRow, ScheduleRow, SessionRow, external_name
from hfdl.store.schema import HEAD_REVISION
from hfdl.store.tables import metadata as table_metadata
from tests.postgres import PASSWORD, PostgresServer, run_sql

HOST = socket.gethostname()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "hfdl.db"


def daily(name: str, time: str) -> Schedule:
    return parse_schedule(
        name=name, schedule_type="daily", time=time, day=None, concurrent_downloads=1
    )


def _catalog(*entries: dict[str, Any]) -> Any:
    models = [{"enabled": True} | entry for entry in entries]
    return catalog_from_document({"models": models}, Path("models.json"))


def _populate(store: Store) -> dict[str, Any]:
    """Models in every state, two sessions with attempts, two schedules; return some ids."""
    store.sync_catalog(
        _catalog(
            {"name": "org/a", "tags": ["nlp", "ünï"], "priority": "high"},
            {"name": "org/b", "enabled": False, "allow_patterns": ["*.json"]},
            {"name": "org/c"},
            {"name": "org/gone"},
        )
    )
    store.set_model_status("org/a", "completed", commit_sha="a" * 40, bytes_on_disk=1000)
    store.set_model_status("org/b", "failed", last_error="gated")
    store.set_model_status("org/gone", "completed", commit_sha="g" * 40, bytes_on_disk=5)
    store.sync_catalog(_catalog({"name": "org/a"}, {"name": "org/b"}, {"name": "org/c"}))
    finished = store.start_session("timer", "nightly", HOST, os.getpid(), "inv-1")
    failed = store.start_attempt(finished, "org/b", bytes_total=10)
    store.finish_attempt(failed, "failed", bytes_downloaded=3, retries=2, error="gated")
    done = store.start_attempt(finished, "org/a")
    store.finish_attempt(done, "completed", bytes_downloaded=1000, commit_sha="a" * 40)
    store.finish_session(finished, "failed", error="1 model failed")
    running = store.start_session("manual", None, HOST, os.getpid(), None)
    in_progress = store.start_attempt(running, "org/c", bytes_total=50)
    store.update_attempt_progress(in_progress, 20)
    store.create_schedule(
        parse_schedule(
            name="weekend",
            schedule_type="weekly",
            time="03:30",
            day="Sat",
            concurrent_downloads=1,
            tags=["nlp"],
        )
    )
    store.create_schedule(daily("nightly", "02:00"))
    return {"finished": finished, "running": running, "attempts": [failed, done, in_progress]}


def test_reader_answers_what_the_store_holds(database_url: str) -> None:
    with Store(database_url) as store:
        ids = _populate(store)
        models = store.list_models()
        all_models = store.list_models(include_removed=True)
        sessions = {key: store.get_session(ids[key]) for key in ("finished", "running")}
        (completed_attempt,) = store.attempts_for_model("org/a")
        failures = store.attempts_for_model("org/b")
        schedules = store.list_schedules()

    with StateReader(database_url) as reader:
        assert reader.running_session() == sessions["running"]
        assert reader.latest_session() == sessions["running"]
        finished_attempts = reader.attempts_for_session(ids["finished"])
        assert [row.id for row in finished_attempts] == ids["attempts"][:2]
        assert finished_attempts[1] == completed_attempt
        assert reader.current_failures(5) == failures
        assert reader.list_schedules() == schedules
        assert [row.name for row in schedules] == ["nightly", "weekend"]
        assert reader.count_models_by_status() == {
            "pending": 1,
            "downloading": 0,
            "completed": 1,
            "failed": 1,
        }
        assert reader.bytes_on_disk() == sum(row.bytes_on_disk or 0 for row in models) == 1000
        states = reader.model_states()

    assert set(states) == {row.name for row in all_models}
    for row in all_models:
        assert states[row.name]._asdict() == {
            field: getattr(row, field) for field in states[row.name]._fields
        }


def test_records_convert_every_column_type(database_url: str) -> None:
    with Store(database_url) as store:
        ids = _populate(store)
    with StateReader(database_url) as reader:
        (schedule, _) = reader.list_schedules()[::-1]
        session = reader.running_session()
        (attempt,) = reader.attempts_for_session(ids["running"])
    assert isinstance(schedule, ScheduleRow)
    assert (schedule.name, schedule.day, schedule.tags) == ("weekend", "Sat", ("nlp",))
    assert schedule.enabled is True and schedule.active is False
    assert isinstance(session, SessionRow) and session.started_at.tzinfo is not None
    assert isinstance(attempt, AttemptRow)
    assert (attempt.bytes_downloaded, attempt.bytes_total) == (20, 50)
    assert attempt.progress_updated_at is not None and attempt.ended_at is None


def test_reader_sql_matches_the_schema() -> None:
    for record, table in (
        (SessionRow, "sessions"),
        (AttemptRow, "attempts"),
        (ScheduleRow, "schedules"),
    ):
        columns = set(table_metadata.tables[table].columns.keys())
        assert {external_name(field) for field in dataclasses.fields(record)} <= columns


def test_one_snapshot_for_the_reader_lifetime(database_url: str) -> None:
    with Store(database_url) as store:
        _populate(store)
        with StateReader(database_url) as reader:
            before = reader.latest_session()
            newer = store.start_session("manual", None, HOST, os.getpid(), None)
            assert reader.latest_session() == before  # the write is not in its snapshot
        with StateReader(database_url) as fresh:
            latest = fresh.latest_session()
            assert latest is not None and latest.id == newer


def test_missing_database_is_never_created(db_path: Path) -> None:
    with pytest.raises(StoreError, match=str(db_path)):
        StateReader(db_path)
    assert not db_path.exists()


def test_corrupt_database_raises_store_error_naming_the_file(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not an SQLite database\n" * 200)
    with pytest.raises(StoreError) as caught:
        StateReader(db_path)
    assert str(db_path) in str(caught.value)
    assert caught.value.hint


def test_newer_schema_is_refused_like_the_store_does(database_url: str) -> None:
    Store(database_url).close()
    run_sql(database_url, "UPDATE alembic_version SET version_num = 'f00d'")
    with pytest.raises(StoreError, match="schema revision f00d, newer than this hfdl"):
        StateReader(database_url)


def test_database_without_schema_is_migrated_first(db_path: Path) -> None:
    """An empty SQLite file (no tables yet) reads as an empty, current database."""
    db_path.parent.mkdir(parents=True)
    sqlite3.connect(db_path).close()
    with StateReader(db_path) as reader:
        assert reader.latest_session() is None
        assert reader.list_schedules() == []
    assert run_sql(db_path, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_empty_server_database_is_initialised_first(postgres_url: str) -> None:
    """An empty PostgreSQL database (created by its administrator) reads as a current one."""
    with StateReader(postgres_url) as reader:
        assert reader.latest_session() is None
        assert reader.count_models_by_status()["pending"] == 0
    assert run_sql(postgres_url, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_unreachable_server_is_a_store_error_without_the_password(
    postgres: PostgresServer,
) -> None:
    url = postgres.url("no_such_database", password=PASSWORD)
    with pytest.raises(StoreError) as caught:
        StateReader(url)
    message = f"{caught.value} {caught.value.hint}"
    assert "no_such_database" in message and "***" in message
    assert PASSWORD not in message


def test_reader_does_not_import_sqlalchemy(db_path: Path) -> None:
    Store(db_path).close()
    code = (
        "import sys; from pathlib import Path; from hfdl.store.reader import StateReader;"
        f" StateReader(Path({str(db_path)!r})).close();"
        " print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert output.strip() == "[]"


# -- runs that died: reported interrupted at read time, never written -------------------------


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _running_session_of(store: Store, pid: int, host: str = HOST) -> dict[str, int]:
    """org/a completed and org/c downloading in a session left running by ``pid``."""
    session = store.start_session("manual", None, host, pid, None)
    done = store.start_attempt(session, "org/a")
    store.finish_attempt(done, "completed", bytes_downloaded=1000, commit_sha="a" * 40)
    store.set_model_status("org/a", "completed", commit_sha="a" * 40, bytes_on_disk=1000)
    in_progress = store.start_attempt(session, "org/c", bytes_total=50)
    store.update_attempt_progress(in_progress, 20)
    store.set_model_status("org/c", "downloading")
    return {"session": session, "in_progress": in_progress}


def _synced(store: Store) -> None:
    store.sync_catalog(_catalog({"name": "org/a"}, {"name": "org/b"}, {"name": "org/c"}))


def test_session_of_a_dead_process_reads_interrupted_and_nothing_is_written(
    db_path: Path,
) -> None:
    with Store(db_path) as store:
        _synced(store)
        ids = _running_session_of(store, _dead_pid())
    before = db_path.read_bytes()

    with StateReader(db_path) as reader:
        assert reader.interrupted_session_ids() == {ids["session"]}
        assert reader.running_session() is None
        latest = reader.latest_session()
        (_, attempt) = reader.attempts_for_session(ids["session"])
        states = reader.model_states()
        counts = reader.count_models_by_status()

    assert latest is not None and latest.id == ids["session"]
    assert latest.status == "interrupted"
    assert latest.error is not None and "ended without finishing" in latest.error
    assert (latest.models_total, latest.models_completed, latest.bytes_downloaded) == (2, 1, 1020)
    assert (attempt.id, attempt.status) == (ids["in_progress"], "interrupted")
    assert states["org/c"].status == "pending"  # what recovery will set
    assert counts == {"pending": 2, "downloading": 0, "completed": 1, "failed": 0}
    assert db_path.read_bytes() == before
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT status FROM sessions").fetchall() == [("running",)]
        assert raw.execute("SELECT status FROM models WHERE name = 'org/c'").fetchall() == [
            ("downloading",)
        ]


def test_live_run_reads_running_and_another_hosts_session_as_recorded(database_url: str) -> None:
    with Store(database_url) as store:
        _synced(store)
        elsewhere = store.start_session("timer", "nightly", "other-host", _dead_pid(), None)
        live = _running_session_of(store, os.getpid())["session"]

    with StateReader(database_url) as reader:
        running = reader.running_session()
        assert running is not None and running.id == live
        assert reader.interrupted_session_ids() == frozenset()
        assert reader.model_states()["org/c"].status == "downloading"
    with StateReader(database_url, host="other-host") as reader:
        # Seen from "other-host", the dead pid is checked; this process's session is not.
        assert reader.interrupted_session_ids() == {elsewhere}
        latest = reader.latest_session()
        assert latest is not None and (latest.id, latest.status) == (live, "running")


def test_pid_reused_by_another_process_is_not_taken_for_the_run(database_url: str) -> None:
    with Store(database_url) as store:
        _synced(store)
        session = _running_session_of(store, os.getpid())["session"]
    ((recorded,),) = run_sql(database_url, "SELECT process_start FROM sessions")
    assert recorded == process_start(os.getpid()) and recorded is not None
    # The same pid, started at another time: a later process that reuses the pid.
    boot_id, _ticks = recorded.split("/")
    run_sql(database_url, "UPDATE sessions SET process_start = :start", start=f"{boot_id}/1")

    with StateReader(database_url) as reader:
        assert reader.interrupted_session_ids() == {session}
        assert reader.running_session() is None


def test_run_lock_decides_for_a_session_without_a_start_time(db_path: Path) -> None:
    """A session recorded before process_start existed: the run lock tells (pid alive)."""
    lock_path = db_path.parent / "run.lock"
    with Store(db_path) as store:
        _synced(store)
        session = _running_session_of(store, os.getpid())["session"]
    with sqlite3.connect(db_path) as raw:
        raw.execute("UPDATE sessions SET process_start = NULL")

    with StateReader(db_path, run_lock=lock_path) as reader:
        assert reader.interrupted_session_ids() == frozenset()  # no lock file: unknown
    lock_path.write_text("")
    assert run_lock_held(lock_path) is False
    with StateReader(db_path, run_lock=lock_path) as reader:
        assert reader.interrupted_session_ids() == {session}  # free: no run is working
    descriptor = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # what a run holds
        assert run_lock_held(lock_path) is True
        with StateReader(db_path, run_lock=lock_path) as reader:
            running = reader.running_session()
            assert running is not None and running.id == session
    finally:
        os.close(descriptor)
    # The probe took nothing: a run can still lock at once.
    with RunLock(db_path.parent):
        pass


def test_current_failures_leave_out_models_that_succeeded_or_were_removed(
    database_url: str,
) -> None:
    with Store(database_url) as store:
        store.sync_catalog(_catalog({"name": "org/a"}, {"name": "org/b"}, {"name": "org/c"}))
        first = store.start_session("manual", None, HOST, os.getpid(), None)
        failed = {name: store.start_attempt(first, name) for name in ("org/a", "org/b", "org/c")}
        for name, attempt in failed.items():
            store.finish_attempt(attempt, "failed", bytes_downloaded=0, error=f"{name} broke")
            store.set_model_status(name, "failed", last_error=f"{name} broke")
        store.finish_session(first, "failed")
        second = store.start_session("manual", None, HOST, os.getpid(), None)
        fixed = store.start_attempt(second, "org/a")
        store.finish_attempt(fixed, "completed", bytes_downloaded=5, commit_sha="a" * 40)
        store.set_model_status("org/a", "completed", commit_sha="a" * 40)
        store.finish_session(second, "completed")
        store.sync_catalog(_catalog({"name": "org/a"}, {"name": "org/c"}))  # org/b removed

    with StateReader(database_url) as reader:
        assert [row.model_name for row in reader.current_failures()] == ["org/c"]
        assert reader.current_failures()[0].id == failed["org/c"]
        # A catalog edited since the last run: org/c is gone from the file too.
        assert reader.current_failures(catalog_names={"org/a"}) == []


def test_latest_session_of_each_schedule(database_url: str) -> None:
    with Store(database_url) as store:
        _synced(store)
        store.create_schedule(daily("nightly", "02:00"))
        store.create_schedule(daily("never", "03:00"))
        old = store.start_session("timer", "nightly", HOST, os.getpid(), None)
        store.finish_session(old, "completed")
        dead = store.start_session("timer", "nightly", HOST, _dead_pid(), None)
    with StateReader(database_url) as reader:
        latest = reader.latest_sessions_by_schedule()
    assert set(latest) == {"nightly"}
    assert (latest["nightly"].id, latest["nightly"].status) == (dead, "interrupted")
