"""``hfdl config show|set|reset|validate|export``, as real ``python -m hfdl`` processes.

Every refused change must leave the YAML file and the state database byte-for-byte as they
were; ``show`` must never print the token.
"""

from __future__ import annotations

import json
import os
import pty
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hfdl.config import FIELDS, load_settings
from hfdl.config.edit import apply_changes, edit_text
from hfdl.services.config_show import mask_url_credentials
from hfdl.services.configure import set_values, target_config_file
from hfdl.token import mask_secret
from tests.workspace import Workspace

SECRET = "hf_TOPsecretTOKENvalue0123456789abcdef"
COMMENTED_SUFFIX = """
# Schedules, commented by a person: this comment must survive `config set`.
default_schedule:
  enabled: true   # keep the timer on
  time: "02:00"   # quiet hours
"""


def file_bytes(*paths: Path) -> dict[Path, bytes | None]:
    """The content of each file (``None`` when absent), to prove nothing changed."""
    return {path: (path.read_bytes() if path.exists() else None) for path in paths}


def show(workspace: Workspace, **env: str) -> dict[str, Any]:
    result = workspace.hfdl("config", "show", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.fixture
def commented(workspace: Workspace) -> Iterator[Workspace]:
    """The workspace's config with person-written comments and mode 0600, and a real DB."""
    text = workspace.config_path.read_text() + COMMENTED_SUFFIX
    workspace.config_path.write_text("# Test installation, edited by hand.\n" + text)
    workspace.config_path.chmod(0o600)
    workspace.write_catalog([])
    assert workspace.hfdl("run").returncode == 0  # creates the database
    assert workspace.db_path.exists()
    yield workspace


# --- show -----------------------------------------------------------------------------------


def test_show_json_gives_each_source_and_never_the_token(workspace: Workspace) -> None:
    document = show(workspace, HF_TOKEN=SECRET, HFDL_TIMEOUT="99")
    settings = document["settings"]

    assert document["config_file"] == str(workspace.config_path)
    assert [*settings] == [setting_field.key for setting_field in FIELDS]
    # A value from the file, one from the environment, one default.
    assert settings["max_retries"] == {
        "value": 4,
        "source": str(workspace.config_path),
        "env": ["HFDL_MAX_RETRIES", "HF_DOWNLOADER_MAX_RETRIES"],
    }
    assert settings["timeout_seconds"]["value"] == 99
    assert settings["timeout_seconds"]["source"] == "env:HFDL_TIMEOUT"
    assert settings["service.nice"] == {"value": 10, "source": "default", "env": []}
    assert settings["db_path"]["value"] == str(workspace.db_path)
    # The token: where it comes from, masked; never its value.
    assert document["token"] == {"source": "env:HF_TOKEN", "value": mask_secret(SECRET)}


@pytest.mark.parametrize("form", [[], ["--json"], ["--yaml"]], ids=["table", "json", "yaml"])
def test_no_form_of_show_contains_the_token(workspace: Workspace, form: list[str]) -> None:
    result = workspace.hfdl("config", "show", *form, env={"HF_TOKEN": SECRET})

    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert SECRET[3:-4] not in result.stdout + result.stderr
    assert "env:HF_TOKEN" in result.stdout


def test_show_yaml_is_valid_yaml_of_the_effective_values(workspace: Workspace) -> None:
    result = workspace.hfdl("config", "show", "--yaml", env={"HFDL_LOG_LEVEL": "debug"})

    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["log_level"] == "DEBUG"
    assert data["default_schedule"]["time"] == "02:00"
    assert 'log_level: "DEBUG"  # env:HFDL_LOG_LEVEL' in result.stdout


def test_show_json_and_yaml_together_is_a_usage_error(workspace: Workspace) -> None:
    result = workspace.hfdl("config", "show", "--json", "--yaml")
    assert result.returncode == 2
    assert "--json and --yaml" in result.stderr


def test_show_masks_credentials_in_the_endpoint() -> None:
    assert mask_url_credentials("https://user:" + SECRET + "@mirror.example") == (
        f"https://user:{mask_secret(SECRET)}@mirror.example"
    )
    assert mask_url_credentials("https://mirror.example/x") == "https://mirror.example/x"


# --- set ------------------------------------------------------------------------------------


def test_set_changes_only_that_value_and_keeps_comments_and_mode(commented: Workspace) -> None:
    before = commented.config_path.read_text()
    database = file_bytes(commented.db_path)

    result = commented.hfdl("config", "set", "default_schedule.time", "22:30")

    assert result.returncode == 0, result.stderr
    after = commented.config_path.read_text()
    assert after == before.replace('time: "02:00"   # quiet hours', 'time: "22:30"   # quiet hours')
    assert commented.config_path.stat().st_mode & 0o777 == 0o600
    assert file_bytes(commented.db_path) == database
    setting = show(commented)["settings"]["default_schedule.time"]
    assert setting == {"value": "22:30", "source": str(commented.config_path), "env": []}
    assert '"02:00" -> "22:30"' in result.stderr


def test_set_several_dependent_values_at_once(commented: Workspace) -> None:
    result = commented.hfdl(
        "config",
        "set",
        "default_schedule.type",
        "weekly",
        "default_schedule.day",
        "sun",
        "service.nice",
        "-5",
    )

    assert result.returncode == 0, result.stderr
    settings = show(commented)["settings"]
    assert settings["default_schedule.type"]["value"] == "weekly"
    assert settings["default_schedule.day"]["value"] == 6
    assert settings["service.nice"]["value"] == -5
    text = commented.config_path.read_text()
    assert "# Schedules, commented by a person" in text
    assert "# Test installation, edited by hand." in text


def test_set_warns_when_an_environment_variable_still_wins(commented: Workspace) -> None:
    result = commented.hfdl("config", "set", "max_retries", "2", env={"HFDL_MAX_RETRIES": "7"})

    assert result.returncode == 0, result.stderr
    assert "HFDL_MAX_RETRIES is set and still overrides max_retries" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "messages"),
    [
        pytest.param(
            ["default_schedule.tme", "22:30"],
            [
                "<cli>: default_schedule.tme: unknown setting",
                "did you mean 'default_schedule.time'",
            ],
            id="unknown-key",
        ),
        pytest.param(["max_retries", "many"], ["max_retries: must be an integer"], id="wrong-type"),
        pytest.param(
            ["default_schedule.enabled", "maybe"],
            ["default_schedule.enabled: must be true or false"],
            id="wrong-type-boolean",
        ),
        pytest.param(
            ["default_schedule.time", "25:61"],
            ['default_schedule.time: must be a time of day written as "HH:MM"'],
            id="invalid-time",
        ),
        pytest.param(
            ["concurrent_downloads", "0"], ["must be between 1 and 64, got 0"], id="out-of-range"
        ),
        pytest.param(
            ["default_schedule.type", "weekly"],
            ["default_schedule.day: a weekly schedule needs a day"],
            id="inconsistent-document",
        ),
        pytest.param(
            ["log_level", "DEBUG", "max_retries", "-1"],
            ["max_retries: must be at least 0"],
            id="one-bad-of-two",
        ),
    ],
)
def test_invalid_set_exits_78_and_changes_nothing(
    commented: Workspace, arguments: list[str], messages: list[str]
) -> None:
    before = file_bytes(commented.config_path, commented.db_path)
    mode = commented.config_path.stat().st_mode

    result = commented.hfdl("config", "set", *arguments)

    assert result.returncode == 78, result.stderr
    for message in messages:
        assert message in result.stderr
    assert "nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr
    assert file_bytes(commented.config_path, commented.db_path) == before
    assert commented.config_path.stat().st_mode == mode
    assert [entry.name for entry in commented.root.iterdir() if ".tmp" in entry.name] == []


def test_set_with_a_missing_value_is_a_usage_error(commented: Workspace) -> None:
    before = file_bytes(commented.config_path, commented.db_path)

    result = commented.hfdl("config", "set", "log_level")

    assert result.returncode == 2
    assert "KEY VALUE" in result.stderr
    assert file_bytes(commented.config_path, commented.db_path) == before


def test_set_refuses_a_file_that_does_not_parse(workspace: Workspace) -> None:
    workspace.config_path.write_text("log_level: [DEBUG\n")
    before = file_bytes(workspace.config_path)

    result = workspace.hfdl("config", "set", "log_level", "INFO")

    assert result.returncode == 78
    assert "YAML syntax error" in result.stderr
    assert file_bytes(workspace.config_path) == before


def test_set_creates_the_per_user_file_when_none_exists(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    work = tmp_path / "work"
    work.mkdir()

    path = target_config_file(None, environ, work, euid=1000)
    result = set_values(
        path, [("log_level", "debug"), ("download_directory", "models")], cwd=work, environ=environ
    )

    assert path == tmp_path / "xdg" / "hfdl" / "config.yaml"
    assert result.created
    assert path.stat().st_mode & 0o777 == 0o640
    settings = load_settings(None, environ, work, euid=1000)
    assert settings.config_file == path
    assert settings.log_level == "DEBUG"
    # A relative path typed on the command line is relative to where it was typed.
    assert settings.download_directory == work / "models"
    assert target_config_file(None, environ, work, euid=0) == Path("/etc/hfdl/config.yaml")


def test_edit_keeps_layout_inserts_missing_keys_and_falls_back_to_clean_yaml() -> None:
    text = "# top\nlog_level: INFO  # why\ndefault_schedule:\n  time: '03:00'\ndb_path:\n"
    document = yaml.safe_load(text)

    edited, kept = apply_changes(
        text, document, {"log_level": "DEBUG", "default_schedule.day": 2, "db_path": "/x"}
    )

    assert kept
    assert edited.startswith("# top\nlog_level: DEBUG  # why\ndefault_schedule:\n  time: '03:00'\n")
    assert yaml.safe_load(edited) == {
        "log_level": "DEBUG",
        "default_schedule": {"time": "03:00", "day": 2},
        "db_path": "/x",
    }
    # Flow mappings cannot be edited in place: clean YAML, with the schema's descriptions.
    assert (
        edit_text("default_schedule: {time: '03:00'}\n", "default_schedule.time", "04:00") is None
    )
    rewritten, kept = apply_changes(
        "default_schedule: {time: '03:00'}\n",
        {"default_schedule": {"time": "03:00"}},
        {"default_schedule.time": "04:00"},
    )
    assert not kept
    assert yaml.safe_load(rewritten) == {"default_schedule": {"time": "04:00"}}
    assert "# Local time of day at which a scheduled run starts" in rewritten


# --- reset ----------------------------------------------------------------------------------


def test_reset_without_yes_and_without_a_terminal_refuses(commented: Workspace) -> None:
    before = file_bytes(commented.config_path, commented.db_path)

    result = commented.hfdl("config", "reset")

    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert file_bytes(commented.config_path, commented.db_path) == before
    assert not list(commented.root.glob("config.yaml.bak-*"))


def test_reset_with_yes_keeps_a_timestamped_backup(commented: Workspace) -> None:
    old = commented.config_path.read_bytes()

    result = commented.hfdl("config", "reset", "--yes")

    assert result.returncode == 0, result.stderr
    (backup,) = commented.root.glob("config.yaml.bak-*")
    assert re.fullmatch(r"config\.yaml\.bak-\d{8}T\d{6}Z", backup.name)
    assert backup.read_bytes() == old
    assert backup.stat().st_mode & 0o777 == 0o600
    assert commented.config_path.stat().st_mode & 0o777 == 0o600
    settings = show(commented)["settings"]
    assert settings["max_retries"]["value"] == 5
    assert settings["endpoint"]["value"] == "https://huggingface.co"
    # Computed defaults stay computed (null in the file), so they follow the environment.
    assert settings["state_directory"]["source"] == "default"
    assert commented.hfdl("config", "validate").returncode == 0


@pytest.mark.parametrize(("answer", "code"), [("n", 1), ("y", 0)])
def test_reset_asks_on_a_terminal(commented: Workspace, answer: str, code: int) -> None:
    before = commented.config_path.read_bytes()
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            commented.command("config", "reset"),
            cwd=commented.root,
            env=commented.environment(),
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.write(controller, f"{answer}\n".encode())
        _, stderr = process.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)

    assert process.returncode == code, stderr
    assert (commented.config_path.read_bytes() == before) == (answer == "n")
    assert bool(list(commented.root.glob("config.yaml.bak-*"))) == (answer == "y")


# --- validate -------------------------------------------------------------------------------


def test_validate_accepts_a_good_installation(workspace: Workspace) -> None:
    workspace.write_catalog([{"name": "org/model"}])

    result = workspace.hfdl("config", "validate")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("valid")
    assert "catalog" in result.stdout


def test_validate_reports_every_problem_with_its_location(workspace: Workspace) -> None:
    blocker = workspace.root / "not-a-directory"
    blocker.write_text("a file where a directory should be\n")
    workspace.write_config(download_directory=str(blocker / "hub"))
    workspace.write_catalog([{"name": "org/model", "priority": "urgent"}, {"name": "bad name!"}])

    result = workspace.hfdl("config", "validate", "--json")

    assert result.returncode == 78
    report = json.loads(result.stdout)
    assert not report["valid"]
    found = {(item["check"], item["location"], item["path"]) for item in report["problems"]}
    assert ("catalog", str(workspace.models_path), "models[0].priority") in found
    assert ("catalog", str(workspace.models_path), "models[1].name") in found
    assert ("storage", str(workspace.config_path), "download_directory") in found
    text = workspace.hfdl("config", "validate")
    assert text.returncode == 78
    assert f"{workspace.models_path}: models[0].priority" in text.stdout
    assert "problem(s) found" in text.stderr


def test_validate_reports_an_invalid_configuration(workspace: Workspace) -> None:
    workspace.write_config(max_retries=-1, default_schedule={"time": "25:00"})

    result = workspace.hfdl("config", "validate")

    assert result.returncode == 78
    assert f"{workspace.config_path}: max_retries: must be at least 0" in result.stdout
    assert "default_schedule.time" in result.stdout


# --- export ---------------------------------------------------------------------------------


def test_export_round_trips_and_never_contains_the_token(workspace: Workspace) -> None:
    environment = {"HF_TOKEN": SECRET, "HFDL_CONCURRENT_DOWNLOADS": "5"}
    as_json = workspace.hfdl("config", "export", "--format", "json", env=environment)
    exported = workspace.root / "exported.yaml"
    as_yaml = workspace.hfdl(
        "config", "export", "--format", "yaml", "--output", str(exported), env=environment
    )

    assert as_json.returncode == 0, as_json.stderr
    assert as_yaml.returncode == 0, as_yaml.stderr
    data = json.loads(as_json.stdout)
    assert data["concurrent_downloads"] == 5
    assert data["download_directory"] == str(workspace.cache_dir)
    assert exported.stat().st_mode & 0o777 == 0o640
    for text in (as_json.stdout, exported.read_text()):
        assert SECRET not in text
    reloaded = load_settings(exported, environ={"HOME": str(workspace.root)}, cwd=workspace.root)
    assert reloaded.as_dict() == data
    assert not [entry for entry in workspace.root.iterdir() if entry.name.endswith(".tmp")]


def test_export_needs_a_known_format(workspace: Workspace) -> None:
    result = workspace.hfdl("config", "export", "--format", "xml")
    assert result.returncode == 2


# --- values that would break a systemd unit ---------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("download_directory", "/a\nb", "contains the control character U+000A"),
        ("download_directory", "/a=b", "contains '='"),
        ("state_directory", "/var/lib/hfdl\\", "ends with a backslash"),
    ],
)
def test_set_refuses_a_path_no_unit_file_can_carry(
    commented: Workspace, key: str, value: str, message: str
) -> None:
    before = file_bytes(commented.config_path, commented.db_path)

    result = commented.hfdl("config", "set", key, value)

    assert result.returncode == 78, result.stderr
    assert f"{key}: must be a single-line path without '='" in result.stderr
    assert message in result.stderr
    assert "nothing was changed" in result.stderr
    assert file_bytes(commented.config_path, commented.db_path) == before


def test_validate_reports_a_path_no_unit_file_can_carry(workspace: Workspace) -> None:
    workspace.write_config(download_directory="/srv/a\nb", db_path="/srv/x=y.db")

    result = workspace.hfdl("config", "validate")

    assert result.returncode == 78, result.stderr
    where = f"{workspace.config_path}: "
    assert f"{where}download_directory: must be a single-line path" in result.stdout
    assert f"{where}db_path: must be a single-line path" in result.stdout
    assert "contains '='" in result.stdout


def test_validate_reports_yaml_nested_too_deeply(workspace: Workspace) -> None:
    # 200,000 levels: PyYAML recursed past Python's limit, an internal error (exit 70).
    depth = 200_000
    workspace.config_path.write_text("log_level: " + "[" * depth + "]" * depth + "\n")

    result = workspace.hfdl("config", "validate")
    run = workspace.hfdl("run", "--dry-run")

    assert result.returncode == 78, result.stderr
    assert f"{workspace.config_path}: YAML nested too deeply" in result.stdout
    assert run.returncode == 78, run.stderr
    assert "Traceback" not in result.stderr + run.stderr


def test_validate_reports_a_schedule_edited_by_hand_in_the_database(
    workspace: Workspace,
) -> None:
    """A stored schedule is checked as a Schedule value before its calendar is built."""
    workspace.write_catalog([{"name": "org/model"}])
    created = workspace.hfdl(
        "schedule", "create", "--name", "nightly", "--type", "daily", "--time", "02:00"
    )
    assert created.returncode == 0, created.stderr
    with sqlite3.connect(workspace.db_path) as connection:
        connection.execute("UPDATE schedules SET time = '25:99' WHERE name = 'nightly'")
    connection.close()

    result = workspace.hfdl("config", "validate", "--json")

    assert result.returncode == 78, result.stderr
    found = {(item["path"], item["message"]) for item in json.loads(result.stdout)["problems"]}
    messages = [message for path, message in found if path == "schedules[nightly]"]
    # The Schedule's own message (before this check, on_calendar built "*-*-* 25:99:00").
    assert len(messages) == 1 and "'25:99' is not a time" in messages[0]
    assert "Traceback" not in result.stderr
