"""hfdl.config.schema: every field documented and consistent, and the Settings object."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from hfdl.config import FIELDS, FIELDS_BY_KEY, check_value
from tests.config_files import flatten, load

# --- the fields ---------------------------------------------------------------------------


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


def test_alias_prefix_is_accepted_for_every_hfdl_variable() -> None:
    for setting_field in FIELDS:
        for name in setting_field.env:
            if name.startswith("HFDL_"):
                assert "HF_DOWNLOADER_" + name.removeprefix("HFDL_") in setting_field.env


# --- the Settings object ------------------------------------------------------------------


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
