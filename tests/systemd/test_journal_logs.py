"""hfdl's logging: the journal under systemd, stderr plus hfdl.log elsewhere; ``hfdl logs``."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hfdl.engine.events import fields
from hfdl.errors import ConfigError, UsageError
from hfdl.logs.journald import JournalHandler, journald_reachable, running_under_systemd
from hfdl.logs.reader import FileSource, LogQuery, read_logs
from hfdl.logs.setup import (
    LOG_FILE_MODE,
    JsonLinesFormatter,
    LogFileHandler,
    configure_logging,
    parse_file_line,
)
from hfdl.logs.timespec import parse_since
from tests.e2e.test_imports import heavy, imported
from tests.e2e.test_imports import hfdl as hfdl_module
from tests.hubserver import HubServer
from tests.systemd_harness import SystemdUser
from tests.tiers import unavailable
from tests.workspace import Workspace

TOKEN = "hf_journalSecretToken0123456789abcd"
WEIGHTS = "model.safetensors"
LINE_PATTERN = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (DEBUG|INFO|NOTICE|WARNING|ERROR|CRITICAL) "
)
JSON_KEYS = {"time", "level", "message", "session_id", "model", "event", "bytes"}


def small_repo(hub: HubServer, base: str = "org/logs", **options: Any) -> str:
    """A repo with a config and a small LFS file; returns its id."""
    repo_id = hub.unique_repo_id(base)
    hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 20_000}, **options)
    return repo_id


def session_ids(workspace: Workspace) -> list[int]:
    """The ids of the workspace's sessions, oldest first."""
    return [row["id"] for row in workspace.query("SELECT id FROM sessions ORDER BY id")]


def json_lines(text: str) -> list[dict[str, Any]]:
    """Parse JSON-lines output."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def without_journal(command: Sequence[str]) -> list[str]:
    """``command`` run where no journald is reachable (hidden by a nested tmpfs when needed).

    Skips the test when journald is reachable and cannot be hidden (not root).
    """
    if not journald_reachable():
        return list(command)
    if os.geteuid() == 0 and shutil.which("unshare"):
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            'mount -t tmpfs tmpfs /run/systemd && exec "$@"',
            "sh",
            *command,
        ]
    unavailable("this test", "journald is reachable here and only root can hide it")


def hfdl_without_journal(
    workspace: Workspace, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run hfdl to completion where there is no journal."""
    return subprocess.run(
        without_journal(workspace.command(*arguments)),
        cwd=workspace.root,
        env=workspace.environment(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- outside systemd: stderr and hfdl.log ---------------------------------------------------


def test_run_outside_systemd_logs_to_stderr_and_a_json_lines_file(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    done_lines = [line for line in result.stderr.splitlines() if f"done {repo_id}" in line]
    assert len(done_lines) == 1 and LINE_PATTERN.match(done_lines[0]), result.stderr
    log_file = workspace.state_dir / "hfdl.log"
    assert log_file.stat().st_mode & 0o777 == LOG_FILE_MODE
    lines = [parse_file_line(line) for line in log_file.read_text().splitlines()]
    assert all(line is not None for line in lines)
    records = [line for line in lines if line is not None]
    (session_id,) = session_ids(workspace)
    (done,) = [record for record in records if record.get("event") == "done"]
    assert done["model"] == repo_id
    assert done["session_id"] == session_id
    assert done["level"] == "INFO"
    assert done["bytes"] >= 20_000
    assert done["message"].startswith(f"done {repo_id} at ")
    datetime.fromisoformat(done["time"])  # parseable, with its offset
    events = [record.get("event") for record in records]
    assert events[0] == "session-start" and events[-1] == "session-end"
    # Same message on stderr as in the file: nothing is lost, nothing is doubled.
    assert sum(done["message"] in line for line in result.stderr.splitlines()) == 1


@pytest.fixture
def hfdl_logger() -> Iterator[logging.Logger]:
    """The ``hfdl`` logger, restored after a test that configures it in-process."""
    logger = logging.getLogger("hfdl")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    for handler in logger.handlers:
        handler.close()
    logger.handlers[:], logger.level, logger.propagate = saved


def test_forced_stderr_target_under_a_journal_stream_keeps_stderr(
    tmp_path: Path, hfdl_logger: logging.Logger
) -> None:
    # JOURNAL_STREAM that matches the stream is "under systemd"; one that does not (a leaked
    # variable in a terminal) is not; INVOCATION_ID counts only off a terminal.
    stream_file = tmp_path / "stream"
    with open(stream_file, "w") as stream:
        status = os.fstat(stream.fileno())
        matching = {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}
        assert running_under_systemd(stream, matching)
        assert not running_under_systemd(stream, {"JOURNAL_STREAM": f"{status.st_dev}:1"})
        assert running_under_systemd(stream, {"INVOCATION_ID": "abc"})
        assert not running_under_systemd(stream, {})
        target = configure_logging(
            "INFO",
            state_directory=tmp_path / "state",
            environ={**matching, "HFDL_LOG_TARGET": "stderr"},
            stream=stream,
        )
        assert target == "stderr"
        logging.getLogger("hfdl.test").info("hello", extra=fields("done", model="a/b"))
    # Under a journal stream the line carries no timestamp (journald adds one).
    assert stream_file.read_text() == "INFO hello\n"
    (line,) = (tmp_path / "state" / "hfdl.log").read_text().splitlines()
    assert json.loads(line)["model"] == "a/b"


def test_forced_journal_without_journald_falls_back_with_one_warning(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])

    result = hfdl_without_journal(workspace, "run", env={"HFDL_LOG_TARGET": "journal"})

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "journald is not reachable" in line]
    assert len(warnings) == 1
    assert f"done {repo_id}" in result.stderr
    logged = (workspace.state_dir / "hfdl.log").read_text()
    assert "journald is not reachable" in logged and f"done {repo_id}" in logged


def test_unknown_log_target_is_a_configuration_error(
    workspace: Workspace, hfdl_logger: logging.Logger
) -> None:
    with pytest.raises(ConfigError, match="HFDL_LOG_TARGET"):
        configure_logging("INFO", environ={"HFDL_LOG_TARGET": "syslog"})

    result = workspace.hfdl("run", env={"HFDL_LOG_TARGET": "syslog"})

    assert result.returncode == 78
    assert "HFDL_LOG_TARGET: must be one of auto, journal, stderr" in result.stderr


def test_journal_handler_sends_only_hfdl_fields_with_syslog_priority() -> None:
    sent: list[list[str]] = []
    handler = JournalHandler(sender=lambda arguments: sent.append(list(arguments)))
    logger = logging.getLogger("hfdl.test.journal")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        logger.error(
            "failed %s: %s",
            "org/m",
            "boom",
            extra=fields("failed", session_id=7, model="org/m", nbytes=12),
        )
        logger.debug("plain %s", "note")
    finally:
        logger.handlers.clear()

    failed = dict(argument.split("=", 1) for argument in sent[0])
    assert failed["MESSAGE"] == "failed org/m: boom"
    assert failed["PRIORITY"] == "3"
    assert failed["SYSLOG_IDENTIFIER"] == "hfdl"
    assert (failed["HFDL_EVENT"], failed["HFDL_SESSION_ID"], failed["HFDL_MODEL"]) == (
        "failed",
        "7",
        "org/m",
    )
    assert failed["HFDL_BYTES"] == "12"
    # Only the documented fields: not the record's arguments or other attributes.
    assert set(failed) == {
        "MESSAGE",
        "PRIORITY",
        "SYSLOG_IDENTIFIER",
        "LOGGER",
        "CODE_FILE",
        "CODE_LINE",
        "CODE_FUNC",
        "THREAD_NAME",
        "HFDL_EVENT",
        "HFDL_SESSION_ID",
        "HFDL_MODEL",
        "HFDL_BYTES",
    }
    plain = dict(argument.split("=", 1) for argument in sent[1])
    assert plain["PRIORITY"] == "7"
    assert not any(name.startswith("HFDL_") for name in plain)


def test_journal_handler_falls_back_to_the_stream_when_journald_refuses() -> None:
    def refuse(arguments: Sequence[str]) -> None:
        raise ConnectionRefusedError("no journald")

    fallback = io.StringIO()
    handler = JournalHandler(sender=refuse, fallback=fallback)
    handler.handle(logging.makeLogRecord({"msg": "kept", "levelno": 30, "levelname": "WARNING"}))

    assert fallback.getvalue() == "WARNING kept\n"


def test_log_file_rotates_by_size_and_is_read_across_generations(tmp_path: Path) -> None:
    handler = LogFileHandler(tmp_path / "state" / "hfdl.log")
    handler.maxBytes = 400  # the real limit is 10 MiB
    logger = logging.getLogger("hfdl.test.rotation")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for number in range(12):
            logger.info("record %d", number, extra=fields("progress", session_id=1, model="o/m"))
    finally:
        logger.handlers.clear()
        handler.close()

    generations = sorted(path.name for path in (tmp_path / "state").iterdir())
    assert generations == ["hfdl.log", "hfdl.log.1", "hfdl.log.2", "hfdl.log.3"]
    for path in (tmp_path / "state").iterdir():
        assert path.stat().st_mode & 0o777 == LOG_FILE_MODE
    messages = [
        record.message for record in FileSource(tmp_path / "state" / "hfdl.log", LogQuery()).read()
    ]
    # The oldest generation fell off the end; what remains is in order and complete.
    numbers = [int(message.split()[1]) for message in messages]
    assert numbers == list(range(numbers[0], 12))
    assert len(numbers) >= 8


def test_unwritable_log_file_warns_once_and_the_command_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    handler = LogFileHandler(blocker / "hfdl.log")
    for number in range(3):
        handler.handle(logging.makeLogRecord({"msg": f"m{number}", "levelno": 20}))

    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1
    assert warnings[0].startswith("hfdl: warning: not writing the log file:")


def test_parse_since_accepts_what_journalctl_accepts() -> None:
    now = datetime(2026, 11, 29, 2, 30, 15, tzinfo=UTC).astimezone()
    local_midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)

    assert parse_since("1h ago", now) == now - timedelta(hours=1)
    assert parse_since("1h 30min ago", now) == now - timedelta(minutes=90)
    assert parse_since("-2d", now) == now - timedelta(days=2)
    assert parse_since("+5min", now) == now + timedelta(minutes=5)
    assert parse_since("2 weeks ago", now) == now - timedelta(weeks=2)
    assert parse_since("today", now) == local_midnight
    assert parse_since("yesterday", now) == local_midnight - timedelta(days=1)
    assert parse_since("now", now) == now
    assert parse_since("2026-11-29 01:00", now) == datetime(2026, 11, 29, 1, 0).astimezone()
    assert (
        parse_since("Sun 2026-11-29 01:00:05", now) == datetime(2026, 11, 29, 1, 0, 5).astimezone()
    )
    assert parse_since("2026-11-28", now) == datetime(2026, 11, 28).astimezone()
    assert parse_since("2026-11-29 01:00 UTC", now) == datetime(2026, 11, 29, 1, tzinfo=UTC)
    assert parse_since("2026-11-29T01:00:00+01:00", now) == datetime(2026, 11, 29, 0, tzinfo=UTC)
    assert parse_since("01:15", now) == local_midnight.replace(hour=1, minute=15)
    assert parse_since("@1795917055", now) == datetime.fromtimestamp(1795917055, tz=UTC)
    for bad in ("", "soon", "1 fortnight ago", "2026-13-01", "25:00", "ago"):
        with pytest.raises(UsageError, match="--since"):
            parse_since(bad, now)


def test_file_records_are_filtered_by_model_session_and_time(tmp_path: Path) -> None:
    formatter = JsonLinesFormatter()
    log_file = tmp_path / "hfdl.log"
    base = time.time() - 3600
    lines = []
    for offset, session, model in ((0, 1, "a/x"), (60, 1, "b/y"), (120, 2, "a/x"), (180, 2, None)):
        record = logging.makeLogRecord(
            {"msg": f"m{offset}", "levelno": 20, "levelname": "INFO", "created": base + offset}
        )
        for key, value in fields("done", session_id=session, model=model).items():
            setattr(record, key, value)
        lines.append(formatter.format(record))
    log_file.write_text("\n".join(lines) + "\n{truncated\n")

    def messages(query: LogQuery) -> list[str]:
        return [record.message for record in read_logs(query, log_file, use_journal=False).records]

    assert messages(LogQuery()) == ["m0", "m60", "m120", "m180"]
    assert messages(LogQuery(model="a/x")) == ["m0", "m120"]
    assert messages(LogQuery(session_id=2)) == ["m120", "m180"]
    assert messages(LogQuery(tail=1, model="a/x")) == ["m120"]
    since = datetime.fromtimestamp(base + 90, tz=UTC)
    assert messages(LogQuery(since=since)) == ["m120", "m180"]
    reading = read_logs(LogQuery(), log_file, use_journal=False)
    assert reading.notes == [f"no journal here; reading {log_file}"]


def test_hfdl_logs_falls_back_to_the_log_file_and_says_so(
    workspace: Workspace, hub: HubServer
) -> None:
    first, second = small_repo(hub), small_repo(hub)
    missing = hub.unique_repo_id("org/missing")
    workspace.write_catalog([{"name": first}, {"name": second}, {"name": missing}])
    assert workspace.hfdl("run").returncode == 1
    assert workspace.hfdl("run", "--check").returncode == 1
    first_session, second_session = session_ids(workspace)

    plain = hfdl_without_journal(workspace, "logs", "--model", first)
    as_json = hfdl_without_journal(workspace, "logs", "--json")
    by_session = hfdl_without_journal(workspace, "logs", "--json", "--session", str(second_session))
    last = hfdl_without_journal(workspace, "logs", "--json", "--tail", "2")
    last_one = hfdl_without_journal(workspace, "logs", "--json", "--tail", "1")
    future = hfdl_without_journal(workspace, "logs", "--since", "tomorrow")

    assert plain.returncode == 0, plain.stderr
    assert f"hfdl: note: no journal here; reading {workspace.state_dir / 'hfdl.log'}" in (
        plain.stderr
    )
    plain_lines = plain.stdout.splitlines()
    assert len(plain_lines) == 3  # start and done, then "up to date" in the second session
    assert all(LINE_PATTERN.match(line) and f" {first}: " in line for line in plain_lines)
    assert f"INFO [session {first_session}] {first}: done {first} at " in plain_lines[1]
    assert f"INFO [session {second_session}] {first}: up to date {first}" in plain_lines[2]
    # A Hub request slower than a second (a loaded machine) adds a "waiting" notice: that
    # one is allowed in between, the events of the model's downloads are what is checked.
    records = [r for r in json_lines(as_json.stdout) if r["event"] != "waiting"]
    assert all(set(record) == JSON_KEYS for record in records)
    (failed, _again) = [record for record in records if record["event"] == "failed"]
    assert failed["level"] == "ERROR" and failed["model"] == missing
    assert failed["session_id"] == first_session
    assert {record["session_id"] for record in json_lines(by_session.stdout)} == {second_session}
    assert json_lines(last.stdout) == records[-2:]
    assert [record["event"] for record in json_lines(last_one.stdout)] == ["session-end"]
    assert future.returncode == 0 and future.stdout == ""


def test_hfdl_logs_follows_the_log_file(workspace: Workspace, hub: HubServer) -> None:
    repo_id = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])
    command = without_journal(workspace.command("logs", "--follow", "--json", "--model", repo_id))
    follower = subprocess.Popen(
        command,
        cwd=workspace.root,
        env=workspace.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)  # let it reach the end of the (missing) file first
        assert workspace.hfdl("run").returncode == 0
        assert follower.stdout is not None
        first = json.loads(follower.stdout.readline())
        second = json.loads(follower.stdout.readline())
        assert (first["event"], second["event"]) == ("start", "done")
        assert second["model"] == repo_id
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


def test_hfdl_logs_does_not_import_huggingface_hub(workspace: Workspace) -> None:
    names = imported(workspace, *hfdl_module(workspace, "logs"))

    assert "hfdl.logs.reader" in names
    assert heavy(names) == []


# -- under systemd: the journal ------------------------------------------------------------


def run_as_unit(
    systemd: SystemdUser,
    workspace: Workspace,
    *arguments: str,
    environment: dict[str, str] | None = None,
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Run ``hfdl ARGUMENTS`` as a transient service, as a timer would; return its unit name."""
    unit = f"hfdl-logs-{uuid.uuid4().hex[:8]}"
    completed = systemd.run_unit(
        str(systemd.python),
        "-m",
        "hfdl",
        "--config",
        str(workspace.config_path),
        *arguments,
        unit=unit,
        environment={"HF_HOME": os.environ["HF_HOME"], **(environment or {})},
        # What the shipped units do: the service's own stderr lines also say "hfdl".
        properties=["SyslogIdentifier=hfdl"],
        working_directory=workspace.root,
    )
    return f"{unit}.service", completed


@pytest.fixture
def journal_run(
    systemd: SystemdUser, workspace: Workspace, hub: HubServer
) -> Iterator[dict[str, Any]]:
    """One real ``hfdl run`` as a transient unit, with a token: a good and a missing model."""
    repo_id = small_repo(hub, "org/journal", private=True)
    hub.grant(repo_id, TOKEN)
    missing = hub.unique_repo_id("org/missing")
    workspace.write_catalog([{"name": repo_id}, {"name": missing}])
    unit, completed = run_as_unit(
        systemd, workspace, "run", environment={"HF_TOKEN": TOKEN, "HFDL_LOG_LEVEL": "DEBUG"}
    )
    records = systemd.wait_for_records(_SYSTEMD_UNIT=unit, HFDL_EVENT="session-end")
    yield {
        "unit": unit,
        "completed": completed,
        "repo_id": repo_id,
        "missing": missing,
        "session_id": session_ids(workspace)[0],
        "session_end": records[0],
    }


@pytest.mark.systemd
def test_run_under_systemd_sends_structured_records_to_the_journal(
    systemd: SystemdUser, workspace: Workspace, journal_run: dict[str, Any]
) -> None:
    assert journal_run["completed"].returncode == 1  # the missing model failed
    unit, repo_id = journal_run["unit"], journal_run["repo_id"]
    session_id = str(journal_run["session_id"])

    entries = systemd.journal_records(_SYSTEMD_UNIT=unit)
    (done,) = systemd.journal_records(
        SYSLOG_IDENTIFIER="hfdl", HFDL_MODEL=repo_id, HFDL_EVENT="done"
    )
    (failed,) = systemd.journal_records(HFDL_MODEL=journal_run["missing"], HFDL_EVENT="failed")

    assert done["_SYSTEMD_UNIT"] == unit
    assert done["PRIORITY"] == "6"
    assert done["HFDL_SESSION_ID"] == session_id
    attempt = workspace.query("SELECT * FROM attempts WHERE model_name = ?", (repo_id,))[0]
    assert int(done["HFDL_BYTES"]) == attempt["bytes_downloaded"] > 0
    assert done["MESSAGE"].startswith(f"done {repo_id} at ")
    assert done["_TRANSPORT"] == "journal"
    assert failed["PRIORITY"] == "3" and failed["HFDL_SESSION_ID"] == session_id
    events = [entry.get("HFDL_EVENT") for entry in entries if entry.get("HFDL_EVENT")]
    assert events[0] == "session-start" and events[-1] == "session-end"
    assert {entry["HFDL_SESSION_ID"] for entry in entries if "HFDL_SESSION_ID" in entry} == {
        session_id
    }
    # Not twice: nothing hfdl logged came through the service's stderr as well, and under
    # systemd no log file is written.
    from_stderr = [entry for entry in entries if entry.get("_TRANSPORT") == "stdout"]
    assert not [entry for entry in from_stderr if repo_id in entry.get("MESSAGE", "")]
    assert not (workspace.state_dir / "hfdl.log").exists()


@pytest.mark.systemd
def test_no_token_reaches_the_journal(
    systemd: SystemdUser, workspace: Workspace, hub: HubServer, journal_run: dict[str, Any]
) -> None:
    # The token was used (the repo is private), at DEBUG level.
    assert workspace.model_row(journal_run["repo_id"])["status"] == "completed"
    assert hub.find_requests(origin="hub")
    everything = systemd.journalctl("-o", "json", "--all")
    assert everything.returncode == 0
    assert journal_run["repo_id"].encode() in everything.stdout.encode()
    assert TOKEN not in everything.stdout


@pytest.mark.systemd
def test_hfdl_logs_reads_and_filters_the_journal(
    systemd: SystemdUser, workspace: Workspace, journal_run: dict[str, Any]
) -> None:
    repo_id, missing = journal_run["repo_id"], journal_run["missing"]
    second_unit, second = run_as_unit(
        systemd, workspace, "run", "--check", environment={"HF_TOKEN": TOKEN}
    )
    assert second.returncode == 1  # the missing model again
    systemd.wait_for_records(_SYSTEMD_UNIT=second_unit, HFDL_EVENT="session-end")
    first_session, second_session = session_ids(workspace)

    plain = workspace.hfdl("logs", "--model", repo_id, env=systemd.env)
    as_json = workspace.hfdl("logs", "--model", repo_id, "--json", env=systemd.env)
    by_session = workspace.hfdl("logs", "--json", "--session", str(second_session), env=systemd.env)
    tail = workspace.hfdl("logs", "--json", "--model", missing, "--tail", "1", env=systemd.env)
    recent = workspace.hfdl("logs", "--model", repo_id, "--since", "10 min ago", env=systemd.env)
    future = workspace.hfdl("logs", "--model", repo_id, "--since", "+1h", env=systemd.env)

    assert plain.returncode == 0, plain.stderr
    assert "no journal" not in plain.stderr
    lines = plain.stdout.splitlines()
    assert lines and all(LINE_PATTERN.match(line) and f" {repo_id}: " in line for line in lines)
    assert f"INFO [session {first_session}] {repo_id}: done {repo_id} at " in plain.stdout
    assert f"INFO [session {second_session}] {repo_id}: up to date {repo_id} at " in plain.stdout
    # A Hub request slower than a second (a loaded machine) adds a "waiting" notice: that
    # one is allowed in between, the events of the model's downloads are what is checked.
    records = [r for r in json_lines(as_json.stdout) if r["event"] != "waiting"]
    assert all(set(record) == JSON_KEYS for record in records)
    assert {record["model"] for record in records} == {repo_id}
    assert [record["event"] for record in records] == ["start", "done", "done"]
    assert records[1]["bytes"] > 0 and records[1]["level"] == "INFO"
    assert [record["session_id"] for record in records] == [first_session] * 2 + [second_session]
    # Other workspaces' sessions may share the number; all shown are that session's.
    session_records = json_lines(by_session.stdout)
    assert {record["session_id"] for record in session_records} == {second_session}
    assert {"session-start", "done", "failed", "session-end"} <= {
        record["event"] for record in session_records
    }
    (last,) = json_lines(tail.stdout)
    assert (last["event"], last["session_id"], last["level"]) == ("failed", second_session, "ERROR")
    assert recent.stdout == plain.stdout
    assert future.returncode == 0 and future.stdout == ""


@pytest.mark.systemd
def test_hfdl_logs_follow_shows_new_journal_records(
    systemd: SystemdUser, workspace: Workspace
) -> None:
    from systemd import journal

    model = f"org/follow-{uuid.uuid4().hex[:8]}"
    journal.send("before", SYSLOG_IDENTIFIER="hfdl", HFDL_MODEL=model, HFDL_EVENT="start")
    systemd.wait_for_records(HFDL_MODEL=model)
    follower = workspace.spawn("logs", "--follow", "--json", "--model", model, env=systemd.env)
    try:
        assert follower.stdout is not None
        assert json.loads(follower.stdout.readline())["message"] == "before"
        journal.send(
            "after", SYSLOG_IDENTIFIER="hfdl", HFDL_MODEL=model, HFDL_EVENT="done", HFDL_BYTES="5"
        )
        journal.send("other model", SYSLOG_IDENTIFIER="hfdl", HFDL_MODEL="org/other")
        after = json.loads(follower.stdout.readline())
        assert (after["message"], after["event"], after["bytes"]) == ("after", "done", 5)
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0
        assert follower.stdout.read() == ""
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


@pytest.mark.systemd
def test_log_target_can_be_forced_either_way(
    systemd: SystemdUser, workspace: Workspace, hub: HubServer
) -> None:
    repo_id = small_repo(hub)
    workspace.write_catalog([{"name": repo_id}])

    # From a shell, HFDL_LOG_TARGET=journal sends to the journal and not to stderr or the file.
    forced = workspace.hfdl("run", env={**systemd.env, "HFDL_LOG_TARGET": "journal"})
    # Under systemd, HFDL_LOG_TARGET=stderr writes plain lines (the journal gets them as the
    # service's output, without fields) and the log file.
    unit, completed = run_as_unit(
        systemd, workspace, "run", "--check", environment={"HFDL_LOG_TARGET": "stderr"}
    )

    assert forced.returncode == 0, forced.stderr
    assert repo_id not in forced.stderr
    # Exactly one structured "done": the forced run's; the stderr-target run sent none.
    (done,) = systemd.wait_for_records(HFDL_MODEL=repo_id, HFDL_EVENT="done")
    assert done["_TRANSPORT"] == "journal"
    assert completed.returncode == 0, completed.stderr
    lines = systemd.wait_for_records(_SYSTEMD_UNIT=unit, _TRANSPORT="stdout", count=3)
    assert any(f"up to date {repo_id}" in line["MESSAGE"] for line in lines)
    assert not [line for line in lines if "HFDL_EVENT" in line]
    file_records = [
        parse_file_line(line)
        for line in (workspace.state_dir / "hfdl.log").read_text().splitlines()
    ]
    assert [record["event"] for record in file_records if record] == [
        "session-start",
        "done",
        "session-end",
    ]
