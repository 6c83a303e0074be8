"""hfdl.config.loader: where each setting comes from (default < file < environment).

Real files in tmp_path and explicit environments: every test passes its own ``environ`` (with
``HOME`` inside tmp_path) and ``euid``, so neither the developer's environment nor running the
suite as root changes the outcome. Which file is read is in ``test_loader_file_discovery.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hfdl import paths
from hfdl.config import (
    FIELDS,
    FIELDS_BY_KEY,
    ScheduleSettings,
    ServiceSettings,
    check_value,
    parse_text,
)
from hfdl.errors import ConfigError
from tests.config_files import load, problems_of, write_config

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


# --- priority: default < file < environment -----------------------------------------------


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
