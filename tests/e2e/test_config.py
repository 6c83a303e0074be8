"""Configuration tests that run a separate Python, or read the shipped configuration files.

The pure tests of hfdl.config, hfdl.paths and hfdl.token are in the unit tier
(``tests/unit/config/``, ``tests/unit/test_paths.py``, ``tests/unit/test_token.py``). Every
test passes its own ``environ`` (with ``HOME`` inside tmp_path) and ``euid``, so neither the
developer's environment nor running the suite as root changes the outcome.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from hfdl import paths
from hfdl.config import FIELDS_BY_KEY
from tests.config_files import REPOSITORY, flatten, load, write_config

# --- hfdl.paths agrees with huggingface_hub -----------------------------------------------


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


# --- start-up cost ------------------------------------------------------------------------


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
