"""Issue 13, hosts of a fleet: the host id on every row, session heartbeats by the database's
clock, stale sessions of other hosts, and the per-host summary behind ``status --fleet``.

Real SQLite files and a real PostgreSQL (``database_url`` runs each test on both backends);
``tests/e2e/test_fleet_status.py`` runs real ``hfdl`` processes as two hosts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hfdl.catalog import catalog_from_document
from hfdl.store import Store
from hfdl.store.clock import db_epoch
from hfdl.store.fleet import FleetReader
from hfdl.store.reader import StateReader
from hfdl.store.staleness import heartbeat_stale, stale_after_seconds
from tests.postgres import run_sql

HOST_A = "gpu-a"
HOST_B = "gpu-b"
LEASE = 60.0


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def sync(store: Store, *names: str) -> None:
    document = {"models": [{"name": name, "enabled": True} for name in names]}
    store.sync_catalog(catalog_from_document(document, Path("models.json")))


@pytest.fixture
def host_a(database_url: str) -> Iterator[Store]:
    with Store(database_url, host_id=HOST_A) as store:
        sync(store, "org/a", "org/b", "org/c")
        yield store


@pytest.fixture
def host_b(database_url: str, host_a: Store) -> Iterator[Store]:
    with Store(database_url, host_id=HOST_B) as store:
        yield store


def age_heartbeat(database_url: str, session_id: int, seconds: float) -> None:
    """Move a session's heartbeat ``seconds`` into the past (a host that stopped beating)."""
    run_sql(
        database_url,
        "UPDATE sessions SET heartbeat_at = heartbeat_at - :seconds WHERE id = :id",
        seconds=seconds,
        id=session_id,
    )


# -- the database's clock ------------------------------------------------------------------------


def test_db_epoch_is_the_database_clock_in_epoch_seconds(host_a: Store) -> None:
    with host_a._read() as connection:
        first = connection.execute(select(db_epoch())).scalar_one()
        time.sleep(0.05)
        second = connection.execute(select(db_epoch())).scalar_one()
    assert isinstance(first, float)
    # The test database runs on this machine: its clock is this one's.
    assert abs(first - time.time()) < 5
    assert second > first  # the statement's time, not the transaction's start
    assert abs(host_a.database_now() - time.time()) < 5


# -- host ids on every row -----------------------------------------------------------------------


def test_the_host_id_is_recorded_on_sessions_attempts_and_model_states(
    database_url: str, host_a: Store, host_b: Store
) -> None:
    session = host_b.start_session("manual", None, HOST_B, os.getpid(), None)
    attempt = host_b.start_attempt(session, "org/a")
    host_b.set_model_status("org/a", "downloading")
    host_a.set_model_status("org/b", "failed", last_error="boom")
    host_a.set_bytes_on_disk("org/c", 12)

    assert run_sql(database_url, "SELECT host FROM sessions WHERE id = :id", id=session) == [
        (HOST_B,)
    ]
    assert run_sql(database_url, "SELECT host FROM attempts WHERE id = :id", id=attempt) == [
        (HOST_B,)
    ]
    assert run_sql(database_url, "SELECT name, host FROM models ORDER BY name") == [
        ("org/a", HOST_B),
        ("org/b", HOST_A),
        ("org/c", HOST_A),
    ]
    # Finishing the session puts its model back to pending as the host that did it.
    host_a.finish_session(session, "interrupted")
    assert run_sql(database_url, "SELECT host FROM models WHERE name = 'org/a'") == [(HOST_A,)]


def test_store_host_id_defaults_to_the_host_name(database_url: str) -> None:
    import socket

    with Store(database_url) as store:
        assert store.host_id == socket.gethostname()


# -- heartbeats ----------------------------------------------------------------------------------


def test_a_session_starts_with_a_heartbeat_and_renews_it_while_running(
    database_url: str, host_b: Store
) -> None:
    session = host_b.start_session("manual", None, HOST_B, os.getpid(), None)
    ((first,),) = run_sql(database_url, "SELECT heartbeat_at FROM sessions")
    assert first is not None and abs(float(first) - host_b.database_now()) < 5

    age_heartbeat(database_url, session, 1000)
    assert host_b.heartbeat(session) is True
    ((renewed,),) = run_sql(database_url, "SELECT heartbeat_at FROM sessions")
    assert abs(float(renewed) - host_b.database_now()) < 5

    host_b.finish_session(session, "completed")
    assert host_b.heartbeat(session) is False  # a finished session is left alone


# -- stale sessions of other hosts ---------------------------------------------------------------


def test_a_stale_session_of_another_host_reads_interrupted_and_is_recovered(
    database_url: str, host_a: Store, host_b: Store
) -> None:
    # Host B's run: its pid is alive *here* (this process), which must not matter to host A.
    session = host_b.start_session("timer", "nightly", HOST_B, os.getpid(), None)
    attempt = host_b.start_attempt(session, "org/a")
    host_b.update_attempt_progress(attempt, 5000, 10_000)
    host_b.set_model_status("org/a", "downloading")
    age_heartbeat(database_url, session, stale_after_seconds(LEASE) + 30)

    with StateReader(database_url, host=HOST_A, lease_seconds=LEASE) as reader:
        assert reader.interrupted_session_ids() == {session}
        assert reader.running_session() is None
        latest = reader.latest_session()
        assert latest is not None and latest.status == "interrupted"
        assert latest.error is not None and "no heartbeat for over 120s" in latest.error
        assert latest.bytes_downloaded == 5000
        (seen,) = reader.attempts_for_session(session)
        assert seen.status == "interrupted"
        assert reader.model_states()["org/a"].status == "pending"
        assert reader.count_models_by_status()["downloading"] == 0
    # A longer lease: the same heartbeat is still fresh enough.
    with StateReader(database_url, host=HOST_A, lease_seconds=LEASE * 10) as reader:
        assert reader.interrupted_session_ids() == frozenset()
        running = reader.running_session()
        assert running is not None and running.id == session

    # Host A's next run recovers it, though host A holds only its own run lock.
    assert host_a.recover_interrupted(all_running=True, lease_seconds=LEASE) == [session]
    recorded = host_a.get_session(session)
    assert recorded is not None and recorded.status == "interrupted"
    assert recorded.ended_at is not None and recorded.models_total == 1
    assert recorded.error is not None and f"on {HOST_B}" in recorded.error
    assert run_sql(database_url, "SELECT status FROM attempts WHERE id = :id", id=attempt) == [
        ("interrupted",)
    ]
    assert run_sql(database_url, "SELECT status, host FROM models WHERE name = 'org/a'") == [
        ("pending", HOST_A)
    ]
    assert host_a.recover_interrupted(all_running=True, lease_seconds=LEASE) == []


def test_a_fresh_session_of_another_host_stays_running(
    database_url: str, host_a: Store, host_b: Store
) -> None:
    # A dead pid: host A cannot and must not check another host's pids.
    session = host_b.start_session("manual", None, HOST_B, dead_pid(), None)
    host_b.start_attempt(session, "org/b")
    host_b.set_model_status("org/b", "downloading")
    age_heartbeat(database_url, session, stale_after_seconds(LEASE) - 30)

    with StateReader(database_url, host=HOST_A, lease_seconds=LEASE) as reader:
        assert reader.interrupted_session_ids() == frozenset()
        assert reader.model_states()["org/b"].status == "downloading"
    assert host_a.recover_interrupted(all_running=True, lease_seconds=LEASE) == []
    assert run_sql(database_url, "SELECT status FROM models WHERE name = 'org/b'") == [
        ("downloading",)
    ]
    # Seen from host B itself, the pid rule applies: its process is gone.
    with StateReader(database_url, host=HOST_B, lease_seconds=LEASE) as reader:
        assert reader.interrupted_session_ids() == {session}
    assert host_b.recover_interrupted(lease_seconds=LEASE) == [session]


def test_a_session_without_heartbeat_is_stale_once_started_long_ago(
    database_url: str, host_a: Store, host_b: Store
) -> None:
    old = host_b.start_session("manual", None, HOST_B, os.getpid(), None)
    recent = host_b.start_session("manual", None, HOST_B, os.getpid(), None)
    long_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    run_sql(database_url, "UPDATE sessions SET heartbeat_at = NULL")
    run_sql(database_url, "UPDATE sessions SET started_at = :t WHERE id = :id", t=long_ago, id=old)

    with StateReader(database_url, host=HOST_A, lease_seconds=LEASE) as reader:
        assert reader.interrupted_session_ids() == {old}
    assert host_a.recover_interrupted(lease_seconds=LEASE) == [old]
    assert run_sql(database_url, "SELECT id, status FROM sessions ORDER BY id") == [
        (old, "interrupted"),
        (recent, "running"),
    ]


def test_heartbeat_stale_rule() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    now = started.timestamp() + 1000
    assert heartbeat_stale(now - 121, None, now, 60) is True
    assert heartbeat_stale(now - 119, None, now, 60) is False
    assert heartbeat_stale(None, started, now, 60) is True
    assert heartbeat_stale(None, started, started.timestamp() + 100, 60) is False


# -- the fleet summary ---------------------------------------------------------------------------


def test_fleet_reader_summarises_each_host(database_url: str, host_a: Store, host_b: Store) -> None:
    done = host_a.start_session("timer", "nightly", HOST_A, os.getpid(), None)
    attempt = host_a.start_attempt(done, "org/a")
    host_a.finish_attempt(attempt, "failed", bytes_downloaded=10, error="boom")
    host_a.set_model_status("org/a", "failed", last_error="boom")
    host_a.finish_session(done, "failed")
    live = host_b.start_session("manual", None, HOST_B, os.getpid(), None)
    progress = host_b.start_attempt(live, "org/b", 1000)
    host_b.update_attempt_progress(progress, 400)

    with FleetReader(database_url, host=HOST_A, lease_seconds=LEASE) as reader:
        first, second = reader.hosts()
    assert first.host == HOST_A and second.host == HOST_B
    assert first.last_session is not None and first.last_session.id == done
    assert first.last_session.status == "failed"
    assert first.running_session is None and first.running_attempts == ()
    assert first.failed_models == ("org/a",)
    assert first.last_seen is not None and first.last_ended_at is not None
    assert second.running_session is not None and second.running_session.id == live
    assert [(a.model_name, a.bytes_downloaded) for a in second.running_attempts] == [("org/b", 400)]
    assert second.failed_models == ()
    assert second.heartbeat_age_seconds is not None and second.heartbeat_age_seconds < 5

    # Host B stops beating: its session reads interrupted, and it has no running session.
    age_heartbeat(database_url, live, stale_after_seconds(LEASE) + 1)
    with FleetReader(database_url, host=HOST_A, lease_seconds=LEASE) as reader:
        _first, second = reader.hosts()
    assert second.running_session is None
    assert second.last_session is not None and second.last_session.status == "interrupted"
    assert second.heartbeat_age_seconds is not None and second.heartbeat_age_seconds > 120


def test_the_run_heartbeat_renews_until_stopped(database_url: str, host_b: Store) -> None:
    from hfdl.services.heartbeat import Heartbeat

    session = host_b.start_session("manual", None, HOST_B, os.getpid(), None)
    age_heartbeat(database_url, session, 1000)
    with Heartbeat(host_b, session, lease_seconds=0.3) as heartbeat:  # a beat every 0.1 s
        assert heartbeat.interval == pytest.approx(0.1)
        deadline = time.monotonic() + 10
        while heartbeat.beats < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert heartbeat.beats >= 3
    ((renewed,),) = run_sql(database_url, "SELECT heartbeat_at FROM sessions")
    assert abs(float(renewed) - host_b.database_now()) < 5
    stopped_at = heartbeat.beats
    time.sleep(0.3)
    assert heartbeat.beats == stopped_at  # no beat after the session's end
