"""hfdl.config.yaml_io: reading YAML with precise errors, and writing settings back.

Each test writes a real file in tmp_path and loads it, so the reported location is the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hfdl.config import dump_settings_yaml
from hfdl.errors import EX_CONFIG, ConfigError, Problem
from tests.config_files import load, problems_of, write_config


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
