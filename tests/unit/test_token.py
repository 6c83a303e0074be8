"""hfdl.token: where the Hugging Face token is found, and that it is never shown.

Real token files in tmp_path and explicit environments; the token never reaches the settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hfdl.config import dump_settings_yaml
from hfdl.errors import ConfigError
from hfdl.token import FoundToken, find_token, mask_secret, read_token
from tests.config_files import load, write_config

SECRET = "hf_SECRETtokenVALUE0123456789abcdef"


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
