"""hfdl.config.validation: every problem found at once, each explained with its key.

Documents are checked directly with ``validate_document``, or loaded from a real file in
tmp_path when the location in the message matters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hfdl.config import FIELDS_BY_KEY, parse_text, validate_document
from hfdl.errors import EX_CONFIG, ConfigError, Problem
from tests.config_files import load, problems_of, write_config


def test_all_problems_are_reported_at_once(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    config = write_config(
        tmp_path,
        """\
        max_retries: -1
        timeout_seconds: "abc"
        concurent_downloads: 3
        log_level: LOUD
        endpoint: ftp://example.com
        default_schedule:
          time: "25:00"
          type: monthly
          enabled: maybe
        service:
          nice: 30
        """,
    )
    environ["HFDL_STALL_TIMEOUT"] = "soon"

    with pytest.raises(ConfigError) as error:
        load(environ, workdir, config)

    assert problems_of(error) == [
        f"{config}: max_retries: must be at least 0, got -1",
        f"{config}: timeout_seconds: must be an integer, got 'abc'",
        f"{config}: concurent_downloads: unknown key 'concurent_downloads'; "
        "did you mean 'concurrent_downloads'?",
        f"{config}: log_level: must be one of DEBUG, INFO, WARNING, ERROR, got 'LOUD'",
        f"{config}: endpoint: must be an http:// or https:// URL such as "
        "https://huggingface.co, got 'ftp://example.com'",
        f'{config}: default_schedule.time: must be a time of day written as "HH:MM" '
        "(00:00 to 23:59), got '25:00'",
        f"{config}: default_schedule.type: must be one of daily, weekly, got 'monthly'",
        f"{config}: default_schedule.enabled: must be true or false, got 'maybe'",
        f"{config}: service.nice: must be between -20 and 19, got 30",
        "env:HFDL_STALL_TIMEOUT: stall_timeout_seconds: must be an integer, got 'soon'",
    ]
    assert error.value.exit_code == EX_CONFIG
    assert str(error.value).startswith("invalid configuration: 10 problems\n")
    assert error.value.problems[0] == Problem(
        str(config), "max_retries", "must be at least 0, got -1"
    )


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ("tmeout_seconds: 5\n", "tmeout_seconds", "did you mean 'timeout_seconds'?"),
        (
            "default_schedule:\n  tme: '03:00'\n",
            "default_schedule.tme",
            "did you mean 'time'?",
        ),
        ("time: '03:00'\n", "time", "did you mean 'default_schedule.time'?"),
        ("schedule:\n  time: '03:00'\n", "schedule", "did you mean 'default_schedule'?"),
        ("colour: blue\n", "colour", "unknown key 'colour'"),
    ],
)
def test_unknown_keys_suggest_the_closest_known_key(
    tmp_path: Path, document: str, path: str, message: str
) -> None:
    problems = validate_document(yaml.safe_load(document), "cfg.yaml")

    assert len(problems) == 1
    assert problems[0].location == "cfg.yaml"
    assert problems[0].path == path
    assert problems[0].message.endswith(message)
    if "did you mean" not in message:
        assert "did you mean" not in problems[0].message


def test_section_must_be_a_mapping() -> None:
    problems = validate_document({"service": "fast"}, "cfg.yaml")

    assert problems == [
        Problem("cfg.yaml", "service", "must be a mapping of keys to values, got 'fast'")
    ]


@pytest.mark.parametrize("written", ["24:00", "12:60", "noon", "1230", "12:3"])
def test_invalid_times_are_rejected(written: str) -> None:
    problems = validate_document({"default_schedule": {"time": written}}, "cfg.yaml")

    assert [problem.path for problem in problems] == ["default_schedule.time"]


@pytest.mark.parametrize(("written", "expected"), [("sun", 6), ("Monday", 0), (3, 3), ("4", 4)])
def test_weekly_schedule_day_is_normalised(
    environ: dict[str, str], tmp_path: Path, workdir: Path, written: object, expected: int
) -> None:
    config = write_config(
        tmp_path, f"default_schedule:\n  type: weekly\n  day: {json.dumps(written)}\n"
    )

    schedule = load(environ, workdir, config).default_schedule

    assert schedule.type == "weekly"
    assert schedule.day == expected


def test_weekly_schedule_needs_a_day_and_daily_allows_none() -> None:
    assert validate_document({"default_schedule": {"type": "weekly"}}, "cfg.yaml") == [
        Problem(
            "cfg.yaml",
            "default_schedule.day",
            "a weekly schedule needs a day: 0-6 (Monday = 0) or mon..sun",
        )
    ]
    assert validate_document({"default_schedule": {"day": "mon"}}, "cfg.yaml") == [
        Problem(
            "cfg.yaml",
            "default_schedule.day",
            "is only used by weekly schedules; remove it or set default_schedule.type to weekly",
        )
    ]
    assert validate_document({"default_schedule": {"day": 7, "type": "weekly"}}, "x") == [
        Problem(
            "x",
            "default_schedule.day",
            "must be a day of the week: 0-6 (Monday = 0) or mon..sun, got the integer 7",
        )
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("concurrent_downloads", 0, "must be between 1 and 64, got 0"),
        ("concurrent_downloads", 65, "must be between 1 and 64, got 65"),
        ("timeout_seconds", 0, "must be at least 1, got 0"),
        ("max_retries", 2.5, "must be an integer, got the number 2.5"),
        ("endpoint", "huggingface.co", "must be an http:// or https:// URL"),
        ("endpoint", "https://", "must be an http:// or https:// URL"),
        ("download_directory", 5, "must be a path written as a string, got the integer 5"),
        ("download_directory", "", "must not be empty"),
        ("log_level", None, "must be one of DEBUG, INFO, WARNING, ERROR, got null"),
    ],
)
def test_invalid_values_are_explained(key: str, value: object, message: str) -> None:
    *sections, name = key.split(".")
    document: dict[str, object] = {name: value}
    for section_name in reversed(sections):
        document = {section_name: document}

    problems = validate_document(document, "cfg.yaml")

    assert [problem.path for problem in problems] == [key]
    assert problems[0].message.startswith(message)


def test_valid_document_has_no_problems() -> None:
    document = {
        "log_level": "warning",
        "download_directory": "/srv/hub",
        "db_path": None,
        "default_schedule": {"type": "weekly", "day": "fri", "time": "23:00"},
        "service": None,
    }

    assert validate_document(document, "cfg.yaml") == []


def test_environment_values_use_the_same_rules(environ: dict[str, str], workdir: Path) -> None:
    environ.update(
        HFDL_CONCURRENT_DOWNLOADS="100",
        HFDL_LOG_LEVEL="verbose",
        HF_ENDPOINT="not a url",
        HFDL_DOWNLOAD_DIR="$NOPE/hub",
    )

    with pytest.raises(ConfigError) as error:
        load(environ, workdir)

    assert problems_of(error) == [
        "env:HFDL_DOWNLOAD_DIR: download_directory: uses $NOPE, which is not set in the "
        "environment",
        "env:HFDL_LOG_LEVEL: log_level: must be one of DEBUG, INFO, WARNING, ERROR, got 'verbose'",
        "env:HFDL_CONCURRENT_DOWNLOADS: concurrent_downloads: must be between 1 and 64, got 100",
        "env:HF_ENDPOINT: endpoint: must be an http:// or https:// URL such as "
        "https://huggingface.co, got 'not a url'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"), [("on", True), ("No", False), ("1", True), ("false", False)]
)
def test_boolean_text_is_parsed(text: str, expected: bool) -> None:
    assert parse_text(FIELDS_BY_KEY["default_schedule.enabled"], text) is expected
