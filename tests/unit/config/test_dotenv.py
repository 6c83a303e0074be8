"""hfdl.config.dotenv and the loader's use of it: what a .env line may be, and precedence
(real environment > .env > configuration file > defaults).

Every test passes its own ``environ`` and working directory (in tmp_path), so the loader
never touches this process's environment: that path is covered by tests/e2e/test_dotenv.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hfdl.config.dotenv import dotenv_variables, parse_dotenv
from hfdl.errors import ConfigError
from tests.config_files import load, problems_of, write_config

# --- the format -------------------------------------------------------------------------


def test_plain_quoted_and_exported_values_with_comments_and_blank_lines() -> None:
    text = (
        "# a comment line\n"
        "\n"
        "PLAIN=value\n"
        "SPACED = spaced out   # a trailing comment\n"
        'DOUBLE="two words # not a comment"\n'
        "SINGLE='${NOT_EXPANDED}'  # comment after quotes\n"
        "export EXPORTED=yes\n"
        "EMPTY=\n"
        "  INDENTED=1\n"
        "HASH=a#b\n"
    )

    assert parse_dotenv(text, ".env") == {
        "PLAIN": "value",
        "SPACED": "spaced out",
        "DOUBLE": "two words # not a comment",
        "SINGLE": "${NOT_EXPANDED}",
        "EXPORTED": "yes",
        "EMPTY": "",
        "INDENTED": "1",
        "HASH": "a#b",
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("NO_EQUALS_SIGN", "expected KEY=VALUE"),
        ("1BAD=x", "is not a variable name"),
        ("BAD-NAME=x", "is not a variable name"),
        ('OPEN="never closed', "never closed"),
        ("OPEN='never closed", "never closed"),
        ('AFTER="quoted" junk', "unexpected text after the closing"),
        ("MIXED=it's", "a quote inside an unquoted value"),
    ],
)
def test_a_malformed_line_is_a_config_error_naming_the_file_and_line(
    line: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_dotenv(f"# first line\nGOOD=1\n{line}\n", ".env")

    (problem,) = problems_of(error)
    assert problem.startswith(".env:3: ")
    assert message in problem
    assert error.value.exit_code == 78


def test_every_malformed_line_is_reported_and_a_repeated_key_too() -> None:
    with pytest.raises(ConfigError) as error:
        parse_dotenv("A=1\nbroken\nA=2\nB='x\n", "/w/.env")

    assert problems_of(error) == [
        "/w/.env:2: expected KEY=VALUE (no '=' on this line)",
        "/w/.env:3: A: set again (first set on line 1)",
        "/w/.env:4: B: the value's opening ' is never closed on this line",
    ]


def test_variables_already_set_win_even_when_empty(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SET=from-dotenv\nEMPTY=from-dotenv\nNEW=from-dotenv\n")

    added = dotenv_variables(tmp_path, {"SET": "real", "EMPTY": ""})

    assert added == {"NEW": "from-dotenv"}


def test_no_file_adds_nothing_and_systemd_services_ignore_it(tmp_path: Path) -> None:
    assert dotenv_variables(tmp_path, {}) == {}
    (tmp_path / ".env").write_text("NEW=1\n")
    # Started by systemd (INVOCATION_ID): the unit's environment is the whole story.
    assert dotenv_variables(tmp_path, {"INVOCATION_ID": "0123abcd"}) == {}


def test_only_the_working_directory_is_searched(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FROM_PARENT=1\n")
    child = tmp_path / "child"
    child.mkdir()

    assert dotenv_variables(child, {}) == {}


# --- precedence in the loader -----------------------------------------------------------


def test_dotenv_beats_the_file_and_the_environment_beats_dotenv(
    environ: dict[str, str], workdir: Path
) -> None:
    config = write_config(workdir, "log_level: ERROR\nmax_retries: 2\ntimeout_seconds: 10\n")
    (workdir / ".env").write_text("HFDL_LOG_LEVEL=DEBUG\nHFDL_MAX_RETRIES=7\n")

    settings = load({**environ, "HFDL_MAX_RETRIES": "9"}, workdir, config)

    assert settings.log_level == "DEBUG"
    assert settings.sources["log_level"] == ".env:HFDL_LOG_LEVEL"
    assert settings.max_retries == 9
    assert settings.sources["max_retries"] == "env:HFDL_MAX_RETRIES"
    assert settings.timeout_seconds == 10
    assert settings.sources["timeout_seconds"] == str(config)
    assert settings.concurrent_downloads == 2
    assert settings.sources["concurrent_downloads"] == "default"


def test_dotenv_can_name_the_configuration_file(environ: dict[str, str], workdir: Path) -> None:
    config = write_config(workdir / "elsewhere", "max_retries: 3\n")
    (workdir / ".env").write_text(f"HFDL_CONFIG_PATH='{config}'\n")

    settings = load(environ, workdir)

    assert settings.config_file == config
    assert settings.max_retries == 3


def test_an_invalid_value_in_dotenv_is_reported_as_from_dotenv(
    environ: dict[str, str], workdir: Path
) -> None:
    (workdir / ".env").write_text("HFDL_MAX_RETRIES=many\n")

    with pytest.raises(ConfigError) as error:
        load(environ, workdir)

    (problem,) = problems_of(error)
    assert problem.startswith(".env:HFDL_MAX_RETRIES: max_retries: ")


def test_a_malformed_dotenv_stops_loading(environ: dict[str, str], workdir: Path) -> None:
    (workdir / ".env").write_text("HFDL_LOG_LEVEL DEBUG\n")

    with pytest.raises(ConfigError) as error:
        load(environ, workdir)

    assert problems_of(error) == [f"{workdir / '.env'}:1: expected KEY=VALUE (no '=' on this line)"]
