"""The shipped configuration files are documented inline, key by key.

That they are valid and complete is tested in ``tests/e2e/test_config.py``
(``test_shipped_configuration_files_are_valid_and_complete``) and the sample catalog in
``tests/e2e/test_catalog.py`` (``test_shipped_catalog_is_valid``); this module checks what a
person reading them needs: a header saying what the file is for, and a comment on every key.
The file ``hfdl config reset`` writes is held to the same standard.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hfdl.config import FIELDS_BY_KEY, validate_document
from hfdl.services.configure import defaults_text

CONFIG_DIRECTORY = Path(__file__).resolve().parents[2] / "config"
SHIPPED = ["default.yaml", "development.yaml", "production.yaml"]
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[a-z_]+):(?P<rest>.*)$")


def undocumented_keys(text: str) -> list[str]:
    """Dotted keys whose line has no comment right above it (nor at its end)."""
    missing: list[str] = []
    lines = text.splitlines()
    section = ""
    for number, line in enumerate(lines):
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        key = match["key"] if not match["indent"] else f"{section}.{match['key']}"
        if not match["indent"]:
            section = match["key"]
        above = lines[number - 1].strip() if number else ""
        if not above.startswith("#") and "#" not in match["rest"]:
            missing.append(key)
    return missing


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_file_has_a_header_and_a_comment_on_every_key(name: str) -> None:
    text = (CONFIG_DIRECTORY / name).read_text(encoding="utf-8")

    assert text.startswith("# hfdl configuration")
    assert undocumented_keys(text) == []
    assert "token never goes in here" in text


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_file_quotes_its_times(name: str) -> None:
    # An unquoted 02:00 is a base-60 integer to YAML 1.1 readers other than hfdl.
    data = yaml.safe_load((CONFIG_DIRECTORY / name).read_text(encoding="utf-8"))
    assert isinstance(data["default_schedule"]["time"], str)


def test_reset_file_is_valid_complete_and_documented() -> None:
    text = defaults_text()
    data = yaml.safe_load(text)

    assert validate_document(data, "<reset>") == []
    flattened = {
        f"{section}.{key}" if isinstance(values, dict) else section
        for section, values in data.items()
        for key in (values if isinstance(values, dict) else [None])
    }
    assert flattened == set(FIELDS_BY_KEY)
    assert undocumented_keys(text) == []
