"""hfdl.config.loader: which configuration file is read, and when a missing one is an error.

Real files in tmp_path and explicit environments, as in ``test_loader.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hfdl.config import find_config_file
from hfdl.errors import EX_CONFIG, ConfigFileNotFound
from tests.config_files import USER, load, write_config


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
