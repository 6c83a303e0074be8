"""Tests of hfdl.config, hfdl.paths and hfdl.token: real files in tmp_path, explicit environments.

Every test passes its own ``environ`` (with ``HOME`` inside tmp_path) and ``euid``, so neither
the developer's environment nor running the suite as root changes the outcome.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml

from hfdl import paths
from hfdl.config import (
    FIELDS,
    FIELDS_BY_KEY,
    ScheduleSettings,
    ServiceSettings,
    Settings,
    check_value,
    dump_settings_yaml,
    find_config_file,
    load_settings,
    parse_text,
    render_reference_markdown,
    validate_document,
)
from hfdl.errors import EX_CONFIG, ConfigError, ConfigFileNotFound, Problem
from hfdl.token import FoundToken, find_token, mask_secret, read_token

REPOSITORY = Path(__file__).resolve().parent.parent
USER = 1000  # an ordinary user id, so that defaults are the per-user ones
SECRET = "hf_SECRETtokenVALUE0123456789abcdef"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    directory = tmp_path / "home"
    directory.mkdir()
    return directory


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory: no ./config/default.yaml to find."""
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


@pytest.fixture
def environ(home: Path) -> dict[str, str]:
    """A minimal environment: only HOME, pointing into tmp_path."""
    return {"HOME": str(home)}


def write_config(directory: Path, text: str, name: str = "config.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(
    environ: Mapping[str, str],
    cwd: Path,
    config_path: Path | None = None,
    euid: int = USER,
) -> Settings:
    return load_settings(config_path, environ=environ, cwd=cwd, euid=euid)


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


def flatten(data: Mapping[str, object], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in data.items():
        if isinstance(value, Mapping):
            keys |= flatten(value, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


# --- defaults -----------------------------------------------------------------------------


def test_defaults_apply_when_no_file_and_no_variables(
    environ: dict[str, str], home: Path, workdir: Path
) -> None:
    settings = load(environ, workdir)

    assert settings.config_file is None
    assert settings.download_directory == home / ".cache" / "huggingface" / "hub"
    assert settings.state_directory == home / ".local" / "state" / "hfdl"
    assert settings.db_path == home / ".local" / "state" / "hfdl" / "hfdl.db"
    assert settings.models_file == home / ".config" / "hfdl" / "models.json"
    assert settings.log_level == "INFO"
    assert settings.max_retries == 5
    assert settings.timeout_seconds == 3600
    assert settings.stall_timeout_seconds == 60
    assert settings.concurrent_downloads == 2
    assert settings.endpoint == "https://huggingface.co"
    assert settings.default_schedule == ScheduleSettings(
        enabled=True, type="daily", time="02:00", day=None, max_concurrent_downloads=2
    )
    assert settings.service == ServiceSettings(
        timeout_start_seconds=21600, randomized_delay_seconds=300, nice=10
    )
    assert set(settings.sources) == set(FIELDS_BY_KEY)
    assert set(settings.sources.values()) == {"default"}


def test_defaults_follow_xdg_variables(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    environ.update(
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "conf"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    settings = load(environ, workdir)

    assert settings.state_directory == tmp_path / "state" / "hfdl"
    assert settings.db_path == tmp_path / "state" / "hfdl" / "hfdl.db"
    assert settings.models_file == tmp_path / "conf" / "hfdl" / "models.json"
    assert settings.download_directory == tmp_path / "cache" / "huggingface" / "hub"


def test_relative_xdg_variables_are_ignored(environ: dict[str, str], home: Path) -> None:
    # The XDG Base Directory specification says relative values are invalid.
    environ.update(XDG_STATE_HOME="relative/state", XDG_CONFIG_HOME="relative/conf")

    assert paths.default_state_directory(environ, USER) == home / ".local" / "state" / "hfdl"
    assert paths.default_config_file(environ, USER) == home / ".config" / "hfdl" / "config.yaml"


def test_root_uses_system_state_but_the_standard_hf_cache(
    environ: dict[str, str], home: Path, workdir: Path
) -> None:
    settings = load(environ, workdir, euid=0)

    assert settings.state_directory == Path("/var/lib/hfdl")
    assert settings.db_path == Path("/var/lib/hfdl/hfdl.db")
    assert settings.models_file == Path("/etc/hfdl/models.json")
    # Not /var/lib/hfdl/hub: loaders look in the Hugging Face cache.
    assert settings.download_directory == home / ".cache" / "huggingface" / "hub"
    assert paths.default_config_file(environ, 0) == Path("/etc/hfdl/config.yaml")


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"HF_HUB_CACHE": "{tmp}/explicit"}, "{tmp}/explicit"),
        ({"HUGGINGFACE_HUB_CACHE": "{tmp}/legacy"}, "{tmp}/legacy"),
        ({"HF_HUB_CACHE": "{tmp}/new", "HUGGINGFACE_HUB_CACHE": "{tmp}/old"}, "{tmp}/new"),
        ({"HF_HOME": "{tmp}/hfhome", "XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/hfhome/hub"),
        ({"XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/xdg/huggingface/hub"),
        ({"HF_HOME": "~/hf"}, "{home}/hf/hub"),
        ({}, "{home}/.cache/huggingface/hub"),
    ],
)
def test_download_directory_default_follows_the_hf_cache_rules(
    environ: dict[str, str],
    tmp_path: Path,
    home: Path,
    workdir: Path,
    variables: dict[str, str],
    expected: str,
) -> None:
    for name, value in variables.items():
        environ[name] = value.format(tmp=tmp_path)
    settings = load(environ, workdir)

    assert settings.download_directory == Path(expected.format(tmp=tmp_path, home=home))
    assert settings.sources["download_directory"] == "default"


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"HF_HOME": "{tmp}/hfhome"},
        {"XDG_CACHE_HOME": "{tmp}/xdg", "HF_TOKEN_PATH": "{tmp}/tokens/t"},
        {"HF_HUB_CACHE": "{tmp}/hub", "HF_HOME": "{tmp}/hfhome"},
    ],
)
def test_hf_paths_match_huggingface_hub_itself(
    tmp_path: Path, home: Path, variables: dict[str, str]
) -> None:
    # hfdl.paths re-implements huggingface_hub's rules to avoid importing it; ask the real
    # library, in a clean interpreter, for the same environment.
    environment = {"HOME": str(home), "PATH": os.environ.get("PATH", "")}
    environment.update({name: value.format(tmp=tmp_path) for name, value in variables.items()})
    script = "import huggingface_hub.constants as c; print(c.HF_HUB_CACHE); print(c.HF_TOKEN_PATH)"
    output = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()

    assert paths.hf_hub_cache(environment) == Path(output[0])
    assert paths.hf_token_path(environment) == Path(output[1])


# --- priority: default < file < environment ----------------------------------------------


def test_file_overrides_defaults_and_environment_overrides_file(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    config = write_config(
        tmp_path / "conf",
        """\
        max_retries: 3
        timeout_seconds: 100
        default_schedule:
          time: "04:15"
        """,
    )
    environ["HFDL_TIMEOUT"] = "200"
    settings = load(environ, workdir, config)

    assert settings.stall_timeout_seconds == 60
    assert settings.max_retries == 3
    assert settings.timeout_seconds == 200
    assert settings.default_schedule.time == "04:15"
    assert settings.sources["stall_timeout_seconds"] == "default"
    assert settings.sources["max_retries"] == str(config)
    assert settings.sources["default_schedule.time"] == str(config)
    assert settings.sources["timeout_seconds"] == "env:HFDL_TIMEOUT"
    assert settings.config_file == config


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_environment_variables_are_ignored(
    environ: dict[str, str], tmp_path: Path, workdir: Path, blank: str
) -> None:
    config = write_config(tmp_path / "conf", "timeout_seconds: 100\n")
    environ["HFDL_TIMEOUT"] = blank

    settings = load(environ, workdir, config)

    assert settings.timeout_seconds == 100
    assert settings.sources["timeout_seconds"] == str(config)


def _environment_text(example: object) -> str:
    return str(example).lower() if isinstance(example, bool) else str(example)


@pytest.mark.parametrize(
    ("key", "variable"),
    [(item.key, name) for item in FIELDS for name in item.env],
)
def test_every_environment_variable_and_alias_overrides_its_setting(
    environ: dict[str, str], workdir: Path, key: str, variable: str
) -> None:
    setting_field = FIELDS_BY_KEY[key]
    text = _environment_text(setting_field.example)
    environ[variable] = text

    settings = load(environ, workdir)

    expected = check_value(setting_field, parse_text(setting_field, text))
    if setting_field.kind == "path":
        expected = Path(str(expected))
    assert settings.get(key) == expected
    assert settings.get(key) != setting_field.default
    assert settings.sources[key] == f"env:{variable}"


def test_alias_prefix_is_accepted_for_every_hfdl_variable() -> None:
    for setting_field in FIELDS:
        for name in setting_field.env:
            if name.startswith("HFDL_"):
                assert "HF_DOWNLOADER_" + name.removeprefix("HFDL_") in setting_field.env


def test_hfdl_name_beats_hf_downloader_alias(environ: dict[str, str], workdir: Path) -> None:
    environ.update(HFDL_LOG_LEVEL="debug", HF_DOWNLOADER_LOG_LEVEL="ERROR")

    settings = load(environ, workdir)

    assert settings.log_level == "DEBUG"
    assert settings.sources["log_level"] == "env:HFDL_LOG_LEVEL"


def test_endpoint_variables_in_priority_order(environ: dict[str, str], workdir: Path) -> None:
    environ["HF_ENDPOINT"] = "https://mirror.example.com/"
    assert load(environ, workdir).endpoint == "https://mirror.example.com"

    environ["HF_DOWNLOADER_ENDPOINT"] = "https://alias.example.com"
    assert load(environ, workdir).endpoint == "https://alias.example.com"

    environ["HFDL_ENDPOINT"] = "http://hfdl.example.com:8080"
    settings = load(environ, workdir)
    assert settings.endpoint == "http://hfdl.example.com:8080"
    assert settings.sources["endpoint"] == "env:HFDL_ENDPOINT"


def test_invalid_hfdl_variable_is_reported_even_when_the_alias_is_valid(
    environ: dict[str, str], workdir: Path
) -> None:
    environ.update(HFDL_MAX_RETRIES="abc", HF_DOWNLOADER_MAX_RETRIES="2")

    with pytest.raises(ConfigError) as error:
        load(environ, workdir)

    assert problems_of(error) == [
        "env:HFDL_MAX_RETRIES: max_retries: must be an integer, got 'abc'"
    ]


# --- which file is read -------------------------------------------------------------------


@pytest.fixture
def candidate_files(tmp_path: Path, workdir: Path, environ: dict[str, str]) -> dict[str, Path]:
    """One configuration file at each place hfdl looks, each with a different log level."""
    environ["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    return {
        "explicit": write_config(tmp_path / "explicit", "log_level: ERROR\n"),
        "env": write_config(tmp_path / "fromenv", "log_level: WARNING\n"),
        "alias": write_config(tmp_path / "fromalias", "log_level: INFO\n"),
        "checkout": write_config(workdir / "config", "log_level: DEBUG\n", "default.yaml"),
        "user": write_config(tmp_path / "xdg" / "hfdl", "max_retries: 1\n"),
    }


def test_file_discovery_order(
    candidate_files: dict[str, Path], environ: dict[str, str], workdir: Path
) -> None:
    environ["HFDL_CONFIG_PATH"] = str(candidate_files["env"])
    environ["HF_DOWNLOADER_CONFIG_PATH"] = str(candidate_files["alias"])
    explicit = candidate_files["explicit"]
    assert load(environ, workdir, explicit).config_file == explicit
    assert load(environ, workdir).config_file == candidate_files["env"]

    del environ["HFDL_CONFIG_PATH"]
    assert load(environ, workdir).config_file == candidate_files["alias"]

    del environ["HF_DOWNLOADER_CONFIG_PATH"]
    settings = load(environ, workdir)
    assert settings.config_file == candidate_files["checkout"]
    assert settings.log_level == "DEBUG"

    candidate_files["checkout"].unlink()
    settings = load(environ, workdir)
    assert settings.config_file == candidate_files["user"]
    assert settings.max_retries == 1

    candidate_files["user"].unlink()
    assert load(environ, workdir).config_file is None


def test_user_config_defaults_to_dot_config(
    environ: dict[str, str], home: Path, workdir: Path
) -> None:
    config = write_config(home / ".config" / "hfdl", "max_retries: 7\n")

    settings = load(environ, workdir)

    assert settings.config_file == config
    assert settings.max_retries == 7
    assert settings.models_file == home / ".config" / "hfdl" / "models.json"


def test_relative_explicit_path_is_relative_to_cwd(environ: dict[str, str], workdir: Path) -> None:
    config = write_config(workdir / "mine", "max_retries: 9\n")

    settings = load(environ, workdir, Path("mine/config.yaml"))

    assert settings.config_file == config
    assert settings.max_retries == 9


def test_config_path_variable_expands_home(
    environ: dict[str, str], home: Path, workdir: Path
) -> None:
    config = write_config(home / "etc", "max_retries: 4\n")
    environ["HFDL_CONFIG_PATH"] = "~/etc/config.yaml"

    assert load(environ, workdir).config_file == config


def test_missing_explicit_file_is_an_error(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    missing = tmp_path / "nope.yaml"

    with pytest.raises(ConfigFileNotFound) as error:
        load(environ, workdir, missing)

    assert str(error.value) == f"configuration file {missing} (given with --config) does not exist"
    assert error.value.exit_code == EX_CONFIG


def test_missing_file_named_by_variable_is_an_error(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    environ["HF_DOWNLOADER_CONFIG_PATH"] = str(tmp_path / "nope.yaml")

    with pytest.raises(ConfigFileNotFound) as error:
        load(environ, workdir)

    assert "named by HF_DOWNLOADER_CONFIG_PATH" in str(error.value)
    assert error.value.hint is not None and "HF_DOWNLOADER_CONFIG_PATH" in error.value.hint


def test_directory_given_as_config_file_is_an_error(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    with pytest.raises(ConfigFileNotFound, match="is a directory"):
        load(environ, workdir, tmp_path)


def test_missing_implicit_files_mean_defaults(environ: dict[str, str], workdir: Path) -> None:
    assert find_config_file(None, environ, workdir, euid=USER) is None
    assert load(environ, workdir).max_retries == 5


def test_empty_file_means_defaults(environ: dict[str, str], tmp_path: Path, workdir: Path) -> None:
    config = write_config(tmp_path, "# nothing set yet\n")

    settings = load(environ, workdir, config)

    assert settings.config_file == config
    assert set(settings.sources.values()) == {"default"}


# --- paths --------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_file_directory(
    environ: dict[str, str], tmp_path: Path, home: Path, workdir: Path
) -> None:
    environ["DATA"] = str(tmp_path / "data")
    config = write_config(
        tmp_path / "conf" / "sub",
        """\
        download_directory: ../hub
        state_directory: ./state
        db_path: ~/db/hfdl.db
        models_file: ${DATA}/models.json
        """,
    )
    settings = load(environ, workdir, config)

    assert settings.download_directory == tmp_path / "conf" / "hub"
    assert settings.state_directory == tmp_path / "conf" / "sub" / "state"
    assert settings.db_path == home / "db" / "hfdl.db"
    assert settings.models_file == tmp_path / "data" / "models.json"


def test_relative_paths_from_the_environment_resolve_against_cwd(
    environ: dict[str, str], workdir: Path
) -> None:
    environ["HFDL_STATE_DIR"] = "var/state"

    settings = load(environ, workdir)

    assert settings.state_directory == workdir / "var" / "state"
    # The computed default follows the effective state directory.
    assert settings.db_path == workdir / "var" / "state" / "hfdl.db"


def test_db_path_follows_state_directory_from_file(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    config = write_config(tmp_path / "conf", "state_directory: /srv/hfdl\ndb_path: null\n")

    settings = load(environ, workdir, config)

    assert settings.db_path == Path("/srv/hfdl/hfdl.db")
    assert settings.sources["db_path"] == "default"
    assert settings.models_file == tmp_path / "conf" / "models.json"


def test_unset_variable_in_a_path_is_an_error(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    config = write_config(tmp_path, "download_directory: $NOT_SET/hub\n")

    with pytest.raises(ConfigError) as error:
        load(environ, workdir, config)

    assert problems_of(error) == [
        f"{config}: download_directory: uses $NOT_SET, which is not set in the environment"
    ]


# --- validation ---------------------------------------------------------------------------


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


def test_yaml_boolean_where_an_integer_is_wanted(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    config = write_config(tmp_path, "max_retries: yes\n")

    with pytest.raises(ConfigError) as error:
        load(environ, workdir, config)

    assert problems_of(error) == [
        f"{config}: max_retries: must be an integer, got the boolean true "
        "(YAML reads yes/no/on/off as booleans)"
    ]


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


def test_yaml_syntax_error_reports_line_and_column(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    config = write_config(tmp_path, "max_retries: 3\nlog_level: [INFO\ntimeout_seconds: 5\n")

    with pytest.raises(ConfigError) as error:
        load(environ, workdir, config)

    (problem,) = error.value.problems
    assert problem.location == str(config)
    assert problem.path == ""
    assert problem.message.startswith("YAML syntax error at line 3, column ")


def test_top_level_must_be_a_mapping(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    config = write_config(tmp_path, "- max_retries: 3\n")

    with pytest.raises(ConfigError) as error:
        load(environ, workdir, config)

    assert problems_of(error) == [
        f"{config}: the top level must be a mapping of keys to values, got a list"
    ]


def test_section_must_be_a_mapping() -> None:
    problems = validate_document({"service": "fast"}, "cfg.yaml")

    assert problems == [
        Problem("cfg.yaml", "service", "must be a mapping of keys to values, got 'fast'")
    ]


def test_duplicate_keys_are_reported(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    config = write_config(tmp_path, "max_retries: 3\nlog_level: INFO\nmax_retries: 4\n")

    with pytest.raises(ConfigError) as error:
        load(environ, workdir, config)

    assert problems_of(error) == [
        f"{config}: duplicate key 'max_retries' at line 3 (first at line 1)"
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [("12:30", "12:30"), ("2:05", "02:05"), ('"23:59"', "23:59"), ("'00:00'", "00:00")],
)
def test_unquoted_times_are_read_as_times(
    environ: dict[str, str], tmp_path: Path, workdir: Path, written: str, expected: str
) -> None:
    # Plain YAML 1.1 reads 12:30 as the base-60 integer 750.
    config = write_config(tmp_path, f"default_schedule:\n  time: {written}\n")

    assert load(environ, workdir, config).default_schedule.time == expected


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


# --- the Settings object --------------------------------------------------------------------


def test_settings_are_frozen(environ: dict[str, str], workdir: Path) -> None:
    settings = load(environ, workdir)

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_retries = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.default_schedule.time = "01:00"  # type: ignore[misc]


def test_as_dict_is_json_safe_and_nested(environ: dict[str, str], workdir: Path) -> None:
    settings = load(environ, workdir)

    data = json.loads(json.dumps(settings.as_dict()))

    assert data["download_directory"] == str(settings.download_directory)
    assert data["default_schedule"]["time"] == "02:00"
    assert data["service"]["nice"] == 10
    assert flatten(data) == set(FIELDS_BY_KEY)


def test_get_rejects_unknown_keys(environ: dict[str, str], workdir: Path) -> None:
    settings = load(environ, workdir)

    assert settings.get("service.nice") == 10
    with pytest.raises(KeyError):
        settings.get("service.volume")


def test_dumped_yaml_loads_back_to_the_same_settings(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    original_file = write_config(
        tmp_path / "a",
        """\
        log_level: debug
        endpoint: https://mirror.example.com/
        default_schedule:
          type: weekly
          day: sat
          time: 12:30
        """,
    )
    original = load(environ, workdir, original_file)

    for with_descriptions in (True, False):
        dumped = write_config(
            tmp_path / "b", dump_settings_yaml(original, with_descriptions=with_descriptions)
        )
        reloaded = load(environ, workdir, dumped)
        assert reloaded == original
        assert reloaded.default_schedule.day == 5
        assert set(reloaded.sources.values()) == {str(dumped)}


# --- shipped configuration files ----------------------------------------------------------


@pytest.mark.parametrize("name", ["default.yaml", "development.yaml", "production.yaml"])
def test_shipped_configuration_files_are_valid_and_complete(
    environ: dict[str, str], workdir: Path, name: str
) -> None:
    path = REPOSITORY / "config" / name

    settings = load(environ, workdir, path)

    assert settings.config_file == path
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert flatten(raw) == set(FIELDS_BY_KEY)


def test_checkout_configuration_stays_inside_the_repository(
    environ: dict[str, str],
) -> None:
    settings = load(environ, REPOSITORY)

    assert settings.config_file == REPOSITORY / "config" / "default.yaml"
    for key in ("download_directory", "state_directory", "db_path", "models_file"):
        value = settings.get(key)
        assert isinstance(value, Path)
        assert value.is_relative_to(REPOSITORY), key


def test_production_configuration_uses_system_paths(environ: dict[str, str], workdir: Path) -> None:
    settings = load(environ, workdir, REPOSITORY / "config" / "production.yaml", euid=0)

    assert settings.state_directory == Path("/var/lib/hfdl")
    assert settings.download_directory == Path("/var/cache/huggingface/hub")


# --- schema and reference -----------------------------------------------------------------


def test_every_field_is_documented_with_a_valid_example() -> None:
    for setting_field in FIELDS:
        assert setting_field.description.strip(), setting_field.key
        assert setting_field.example is not None, setting_field.key
        check_value(setting_field, setting_field.example)
        if setting_field.default_factory is None:
            assert setting_field.default_doc is None, setting_field.key
            if setting_field.default is not None:
                assert check_value(setting_field, setting_field.default) == setting_field.default
        else:
            assert setting_field.default_doc, setting_field.key


def test_reference_documentation_is_up_to_date() -> None:
    committed = (REPOSITORY / "docs" / "configuration.md").read_text(encoding="utf-8")

    assert committed == render_reference_markdown(), (
        "docs/configuration.md is stale: run `uv run python -m hfdl.config > docs/configuration.md`"
    )


def test_reference_mentions_every_key_and_variable() -> None:
    reference = render_reference_markdown()

    for setting_field in FIELDS:
        assert f"`{setting_field.key}`" in reference
        for name in setting_field.env:
            assert f"`{name}`" in reference


# --- token ----------------------------------------------------------------------------------


@pytest.fixture
def token_files(tmp_path: Path, home: Path) -> Iterator[dict[str, Path]]:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    files = {
        "credential": credentials / "hf_token",
        "token_path": tmp_path / "custom" / "token",
        "hf_home": tmp_path / "hfhome" / "token",
        "default": home / ".cache" / "huggingface" / "token",
    }
    for name, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"  hf_from_{name}  \n", encoding="utf-8")
    yield files


def test_token_lookup_order(token_files: dict[str, Path], environ: dict[str, str]) -> None:
    environ.update(
        HF_TOKEN="hf_from_env",
        HUGGING_FACE_HUB_TOKEN="hf_from_legacy_env",
        CREDENTIALS_DIRECTORY=str(token_files["credential"].parent),
        HF_TOKEN_PATH=str(token_files["token_path"]),
        HF_HOME=str(token_files["hf_home"].parent),
    )
    expected = [
        ("HF_TOKEN", "hf_from_env", "env:HF_TOKEN"),
        ("HUGGING_FACE_HUB_TOKEN", "hf_from_legacy_env", "env:HUGGING_FACE_HUB_TOKEN"),
        ("CREDENTIALS_DIRECTORY", "hf_from_credential", str(token_files["credential"])),
        ("HF_TOKEN_PATH", "hf_from_token_path", str(token_files["token_path"])),
        ("HF_HOME", "hf_from_hf_home", str(token_files["hf_home"])),
    ]
    for variable, value, source in expected:
        assert read_token(environ) == value
        assert find_token(environ) == FoundToken(value, source)
        del environ[variable]
    assert read_token(environ) == "hf_from_default"
    token_files["default"].unlink()
    assert read_token(environ) is None
    assert find_token(environ) is None


def test_blank_token_sources_are_skipped(
    token_files: dict[str, Path], environ: dict[str, str]
) -> None:
    token_files["credential"].write_text("\n", encoding="utf-8")
    environ.update(HF_TOKEN="  ", CREDENTIALS_DIRECTORY=str(token_files["credential"].parent))

    assert read_token(environ) == "hf_from_default"


def test_unreadable_token_file_is_an_error(tmp_path: Path, environ: dict[str, str]) -> None:
    # A directory where the file should be: unreadable even for root.
    (tmp_path / "credentials" / "hf_token").mkdir(parents=True)
    environ["CREDENTIALS_DIRECTORY"] = str(tmp_path / "credentials")

    with pytest.raises(ConfigError) as error:
        read_token(environ)

    (problem,) = error.value.problems
    assert problem.location == str(tmp_path / "credentials" / "hf_token")
    assert problem.message.startswith("cannot read the Hugging Face token file")


def test_token_never_appears_in_settings(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "hf_token").write_text(SECRET, encoding="utf-8")
    environ.update(HF_TOKEN=SECRET, CREDENTIALS_DIRECTORY=str(tmp_path / "credentials"))
    config = write_config(tmp_path / "conf", "log_level: DEBUG\n")

    settings = load(environ, workdir, config)

    assert read_token(environ) == SECRET
    for text in (
        repr(settings),
        str(settings),
        json.dumps(settings.as_dict()),
        json.dumps(settings.sources),
        dump_settings_yaml(settings),
    ):
        assert SECRET not in text
        assert "SECRET" not in text


def test_found_token_repr_and_str_hide_the_value() -> None:
    found = FoundToken(SECRET, "env:HF_TOKEN")

    assert SECRET not in repr(found)
    assert SECRET not in str(found)
    assert str(found) == "hf_****cdef (from env:HF_TOKEN)"


@pytest.mark.parametrize(
    ("value", "masked"),
    [(SECRET, "hf_****cdef"), ("short", "****"), ("", "(not set)"), (None, "(not set)")],
)
def test_mask_secret(value: str | None, masked: str) -> None:
    assert mask_secret(value) == masked


# --- start-up cost --------------------------------------------------------------------------


def test_loading_without_a_file_imports_neither_yaml_nor_huggingface_hub(
    tmp_path: Path, home: Path
) -> None:
    config = write_config(tmp_path / "conf", "max_retries: 2\n")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import hfdl.config, hfdl.paths, hfdl.token
        from hfdl.config import load_settings
        load_settings(environ={{"HOME": {str(home)!r}}}, cwd=Path({str(tmp_path)!r}), euid=1000)
        hfdl.token.read_token({{"HOME": {str(home)!r}}})
        print("yaml" in sys.modules, "huggingface_hub" in sys.modules, "typer" in sys.modules)
        load_settings(Path({str(config)!r}), environ={{"HOME": {str(home)!r}}}, euid=1000)
        print("yaml" in sys.modules)
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()

    assert output == ["False", "False", "False", "True"]


def test_yaml_nested_too_deeply_is_a_configuration_error(
    environ: dict[str, str], tmp_path: Path, workdir: Path
) -> None:
    # 200,000 levels: PyYAML recursed past Python's limit (RecursionError, exit 70).
    depth = 200_000
    path = tmp_path / "deep.yaml"
    path.write_text("log_level: " + "[" * depth + "]" * depth + "\n")

    with pytest.raises(ConfigError) as error:
        load(environ, workdir, path)

    assert error.value.problems == [
        Problem(str(path), "", "YAML nested too deeply (collections inside each other)")
    ]
    assert error.value.exit_code == EX_CONFIG
