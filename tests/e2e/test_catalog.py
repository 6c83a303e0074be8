"""Tests of the model catalog (hfdl.catalog) and size strings (hfdl.sizes)."""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hfdl.catalog import (
    add_model,
    catalog_from_document,
    load_catalog,
    remove_model,
    save_catalog_document,
    update_model,
    validate_catalog_document,
)
from hfdl.errors import (
    EX_DATAERR,
    EX_NOINPUT,
    CatalogError,
    CatalogNotFound,
    DuplicateModel,
    ModelNotFound,
)
from hfdl.sizes import format_size, parse_size

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CATALOG = REPO_ROOT / "config" / "models.json"
LAST_UPDATED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def base_document() -> dict[str, Any]:
    return {
        "models": [
            {
                "name": "sentence-transformers/all-MiniLM-L6-v2",
                "enabled": True,
                "description": "embeddings, petit modèle",
                "size_estimate": "100MB",
                "priority": "high",
                "tags": ["nlp", "embeddings"],
                "allow_patterns": ["*.json", "*.safetensors"],
            },
            {
                "name": "google-bert/bert-base-uncased",
                "enabled": False,
                "status": "completed",
                "revision": "v1.0",
            },
            {"name": "gpt2", "enabled": True, "ignore_patterns": ["*.h5", "onnx/*"]},
        ],
        "settings": {"auto_cleanup": False, "cleanup_age_days": 30, "max_total_size": "500GB"},
        "metadata": {
            "version": "1.0",
            "created": "2026-01-01T00:00:00Z",
            "last_updated": "2026-01-01T00:00:00Z",
        },
    }


def write_document(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    return write_document(tmp_path / "models.json", base_document())


def problems_of(document: Any) -> list[str]:
    """Validate ``document`` as models.json and return each problem as 'path: message'."""
    return [f"{p.path}: {p.message}" for p in validate_catalog_document(document, "models.json")]


def with_model(**entry: Any) -> dict[str, Any]:
    """A valid document whose only model is ``entry`` (name/enabled defaulted)."""
    model = {"name": "org/model", "enabled": True} | entry
    return {"models": [model]}


# -- sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.6GB", 1_600_000_000),
        ("440MB", 440_000_000),
        ("1024KB", 1_024_000),
        ("12B", 12),
        ("12", 12),
        ("2TB", 2 * 10**12),
        ("1GiB", 2**30),
        ("512MiB", 512 * 2**20),
        ("1.5 gib", 3 * 2**29),
        ("0B", 0),
        (" 3 kib ", 3072),
    ],
)
def test_parse_size_accepts_decimal_and_binary_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected a number and a unit"),
        ("lots", "expected a number and a unit"),
        ("-1GB", "expected a number and a unit"),
        ("10XB", "unknown unit 'XB'"),
        ("1.5B", "whole number"),
        (10, "must be a string"),
    ],
)
def test_parse_size_rejects_bad_input_with_a_clear_message(text: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        parse_size(text)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (3 * 2**29, "1.5 GiB"),
        (2**20 - 1, "1.0 MiB"),
        (2 * 2**40, "2.0 TiB"),
    ],
)
def test_format_size_uses_binary_units(size: int, expected: str) -> None:
    assert format_size(size) == expected


def test_format_size_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_size(-1)


# -- loading ----------------------------------------------------------------------------


def test_load_catalog_fills_defaults(catalog_path: Path) -> None:
    catalog = load_catalog(catalog_path)
    assert catalog.path == catalog_path
    assert catalog.names() == [
        "sentence-transformers/all-MiniLM-L6-v2",
        "google-bert/bert-base-uncased",
        "gpt2",
    ]
    first, second, third = catalog.models
    assert first.size_estimate_bytes == 100_000_000
    assert first.tags == ("nlp", "embeddings")
    assert first.allow_patterns == ("*.json", "*.safetensors")
    assert first.ignore_patterns is None
    assert first.status is None
    assert second.status == "completed"
    assert second.revision == "v1.0"
    assert third.priority == "medium"
    assert third.revision == "main"
    assert third.description == ""
    assert third.index == 2
    assert catalog.settings.max_total_size_bytes == 500 * 10**9
    assert catalog.settings.check_frequency == "daily"
    assert catalog.metadata["version"] == "1.0"
    assert catalog.get("gpt2") is third
    assert catalog.get("missing") is None


def test_null_max_total_size_means_no_limit(tmp_path: Path) -> None:
    document = base_document()
    document["settings"]["max_total_size"] = None
    catalog = load_catalog(write_document(tmp_path / "models.json", document))
    assert catalog.settings.max_total_size_bytes is None
    assert catalog.settings.max_total_size is None


def test_shipped_catalog_is_valid() -> None:
    catalog = load_catalog(SHIPPED_CATALOG)
    assert 2 <= len(catalog.models) <= 3
    assert "sentence-transformers/all-MiniLM-L6-v2" in catalog.names()
    assert all(model.allow_patterns for model in catalog.models)


def test_missing_catalog_raises_catalog_not_found(tmp_path: Path) -> None:
    with pytest.raises(CatalogNotFound) as caught:
        load_catalog(tmp_path / "nope.json")
    assert str(tmp_path / "nope.json") in str(caught.value)
    assert caught.value.exit_code == EX_NOINPUT


def test_json_syntax_error_reports_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text('{\n  "models": [\n    {"name": "gpt2", "enabled": true,}\n  ]\n}\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    (problem,) = caught.value.problems
    assert problem.location == str(path)
    assert "line 3, column" in problem.message
    assert caught.value.exit_code == EX_DATAERR


def test_every_problem_is_reported_at_once_with_file_and_index_path(tmp_path: Path) -> None:
    document = base_document()
    document["models"][0]["priority"] = "urgent"
    document["models"][1]["status"] = "done"
    document["models"][2]["priority"] = "highest"
    document["models"][2]["size_estimate"] = "big"
    document["settings"]["check_frequency"] = "hourly"
    path = write_document(tmp_path / "models.json", document)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    rendered = [str(problem) for problem in caught.value.problems]
    assert f"{path}: models[2].priority: must be one of high, medium, low" in rendered
    assert f"{path}: models[0].priority: must be one of high, medium, low" in rendered
    assert (
        f"{path}: models[1].status: must be one of pending, downloading, completed, failed"
        in rendered
    )
    assert any(line.startswith(f"{path}: models[2].size_estimate: ") for line in rendered)
    assert f"{path}: settings.check_frequency: must be one of daily, weekly, monthly" in rendered
    assert len(rendered) == 5
    assert "5 problems" in str(caught.value)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a/b/c",
        "/model",
        "org/",
        "-model",
        "model-",
        ".model",
        "org/model.",
        "a--b",
        "a..b",
        "has space",
        "café",
        "x" * 97,
        "org/" + "x" * 97,
        "model.git",
        12,
        None,
    ],
)
def test_invalid_model_names_are_rejected(name: Any) -> None:
    problems = problems_of(with_model(name=name))
    assert problems, f"{name!r} was accepted"
    assert all(problem.startswith("models[0].name: ") for problem in problems)


@pytest.mark.parametrize(
    "name",
    [
        "gpt2",
        "google-bert/bert-base-uncased",
        "_private_model",
        "Org.Name/Model_v1.5",
        "x" * 96,
        # The Hub limits each part to 96 characters, not the whole id.
        "o" * 96 + "/" + "n" * 96,
    ],
)
def test_valid_model_names_are_accepted(name: str) -> None:
    assert problems_of(with_model(name=name)) == []


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"status": "done"}, "models[0].status: must be one of pending, downloading, completed"),
        ({"size_estimate": "1.6 gigabytes"}, "models[0].size_estimate: invalid size"),
        ({"size_estimate": 1600}, "models[0].size_estimate: size must be a string"),
        ({"enabled": "yes"}, "models[0].enabled: must be true or false"),
        ({"tags": "nlp"}, "models[0].tags: must be a list of strings"),
        ({"tags": ["nlp", ""]}, "models[0].tags[1]: must be a non-empty string"),
        ({"tags": ["nlp", "nlp"]}, "models[0].tags[1]: duplicate tag 'nlp'"),
        ({"revision": ""}, "models[0].revision: must not be empty"),
        ({"revision": "my branch"}, "models[0].revision: 'my branch': must not contain whitespace"),
        ({"revision": "main\n"}, "models[0].revision: 'main\\n': must not contain whitespace"),
        ({"revision": "v1..v2"}, "models[0].revision: 'v1..v2': must not contain '..'"),
        ({"allow_patterns": []}, "models[0].allow_patterns: must not be an empty list"),
        ({"allow_patterns": "*.json"}, "models[0].allow_patterns: must be a list of glob"),
        ({"allow_patterns": ["*.json", ""]}, "models[0].allow_patterns[1]: must not be empty"),
        ({"ignore_patterns": ["a\nb"]}, "models[0].ignore_patterns[0]: 'a\\nb': must not contain"),
        (
            {"ignore_patterns": ["a\x00"]},
            "models[0].ignore_patterns[0]: 'a\\x00': must not contain",
        ),
        ({"ignore_patterns": [3]}, "models[0].ignore_patterns[0]: must be a glob string"),
        ({"priorty": "high"}, "models[0].priorty: unknown key (did you mean 'priority'?)"),
        ({"allow_pattern": ["*"]}, "did you mean 'allow_patterns'?"),
    ],
)
def test_each_kind_of_entry_error_is_reported(entry: dict[str, Any], expected: str) -> None:
    problems = problems_of(with_model(**entry))
    assert any(expected in problem for problem in problems), problems


def test_required_keys_and_top_level_shape() -> None:
    assert problems_of([]) == [": the top level must be a JSON object, not a list"]
    assert problems_of({}) == ["models: required key is missing"]
    assert problems_of({"models": [{}]}) == [
        "models[0].name: required key is missing",
        "models[0].enabled: required key is missing",
    ]
    assert problems_of({"models": ["gpt2"]}) == [
        "models[0]: must be an object with at least 'name' and 'enabled', not a string"
    ]
    assert problems_of({"models": [], "setings": {}}) == [
        "setings: unknown key (did you mean 'settings'?)"
    ]


def test_settings_and_metadata_errors() -> None:
    document = {
        "models": [],
        "settings": {
            "auto_cleanup": "no",
            "cleanup_age_days": -1,
            "max_total_size": "lots",
            "check_frequency": "hourly",
        },
        "metadata": {"version": 1, "created": "yesterday", "author": "me"},
    }
    problems = problems_of(document)
    assert "settings.auto_cleanup: must be true or false, not a string" in problems
    assert "settings.cleanup_age_days: must be a whole number of days, 0 or more" in problems
    assert any(problem.startswith("settings.max_total_size: invalid size") for problem in problems)
    assert "settings.check_frequency: must be one of daily, weekly, monthly" in problems
    assert "metadata.version: must be a string, not a number" in problems
    assert any(problem.startswith("metadata.created: 'yesterday'") for problem in problems)
    assert "metadata.author: unknown key" in problems
    assert len(problems) == 7


def test_duplicate_model_names_are_errors_even_in_another_case() -> None:
    document = {
        "models": [
            {"name": "gpt2", "enabled": True},
            {"name": "org/model", "enabled": True},
            {"name": "gpt2", "enabled": False},
            {"name": "ORG/Model", "enabled": True},
        ]
    }
    assert problems_of(document) == [
        "models[2].name: duplicate model name 'gpt2' (already at models[0])",
        "models[3].name: duplicate model name 'ORG/Model' (already at models[1])",
    ]


def test_keys_repeated_in_the_json_text_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text('{"models": [{"name": "gpt2", "enabled": true, "enabled": false}]}')
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{path}: models[0].enabled: key appears more than once in the same object"
    ]


# -- writing and editing ----------------------------------------------------------------


def test_save_writes_formatted_json_with_fresh_last_updated(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    document = base_document()
    original = copy.deepcopy(document)
    catalog = save_catalog_document(path, document)
    assert document == original, "the caller's document must not be modified"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert "embeddings, petit modèle" in text, "non-ASCII must be written as is"
    written = json.loads(text)
    assert LAST_UPDATED.match(written["metadata"]["last_updated"])
    assert written["metadata"]["last_updated"] != "2026-01-01T00:00:00Z"
    assert list(written) == ["models", "settings", "metadata"]
    assert written["models"] == document["models"]
    assert catalog.metadata["last_updated"] == written["metadata"]["last_updated"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["models.json"]


def test_save_adds_metadata_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    save_catalog_document(path, {"models": []})
    written = json.loads(path.read_text())
    assert list(written) == ["models", "metadata"]
    assert LAST_UPDATED.match(written["metadata"]["last_updated"])


def test_save_refuses_an_invalid_document_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    with pytest.raises(CatalogError):
        save_catalog_document(path, with_model(priority="urgent"))
    assert os.listdir(tmp_path) == []


def test_save_keeps_the_file_mode_and_follows_symlinks(catalog_path: Path) -> None:
    catalog_path.chmod(0o640)
    link = catalog_path.parent / "link.json"
    link.symlink_to(catalog_path.name)
    save_catalog_document(link, base_document())
    assert link.is_symlink()
    assert stat.S_IMODE(catalog_path.stat().st_mode) == 0o640
    assert LAST_UPDATED.match(json.loads(catalog_path.read_text())["metadata"]["last_updated"])


def test_failed_write_leaves_the_old_file_and_no_temp_file(
    catalog_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = catalog_path.read_bytes()

    def failing_replace(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(CatalogError, match="No space left on device"):
        add_model(catalog_path, {"name": "new/model", "enabled": True})
    assert catalog_path.read_bytes() == before
    assert os.listdir(catalog_path.parent) == ["models.json"]


def entries_by_name(path: Path) -> dict[str, Any]:
    return {entry["name"]: entry for entry in json.loads(path.read_text())["models"]}


def test_add_model_appends_and_keeps_other_entries(catalog_path: Path) -> None:
    before = entries_by_name(catalog_path)
    catalog = add_model(catalog_path, {"name": "new/model", "enabled": True, "priority": "low"})
    after = json.loads(catalog_path.read_text())
    assert [entry["name"] for entry in after["models"]][-1] == "new/model"
    assert list(after["models"][-1]) == ["name", "enabled", "priority"]
    for name, entry in before.items():
        assert entries_by_name(catalog_path)[name] == entry
        assert list(entries_by_name(catalog_path)[name]) == list(entry), "key order changed"
    assert LAST_UPDATED.match(after["metadata"]["last_updated"])
    assert after["metadata"]["last_updated"] != "2026-01-01T00:00:00Z"
    assert catalog.get("new/model") is not None
    assert os.listdir(catalog_path.parent) == ["models.json"]


def test_add_model_refuses_duplicates_and_invalid_entries_without_writing(
    catalog_path: Path,
) -> None:
    before = catalog_path.read_bytes()
    with pytest.raises(DuplicateModel, match="models\\[2\\]"):
        add_model(catalog_path, {"name": "GPT2", "enabled": True})
    with pytest.raises(CatalogError) as caught:
        add_model(catalog_path, {"name": "bad--name", "enabled": True, "priority": "top"})
    rendered = [str(problem) for problem in caught.value.problems]
    assert f"{catalog_path}: models[3].priority: must be one of high, medium, low" in rendered
    assert any(line.startswith(f"{catalog_path}: models[3].name: ") for line in rendered)
    assert catalog_path.read_bytes() == before


def test_update_model_changes_one_entry_in_place(catalog_path: Path) -> None:
    before = entries_by_name(catalog_path)
    update_model(
        catalog_path,
        "sentence-transformers/all-MiniLM-L6-v2",
        {"priority": "low", "allow_patterns": None, "revision": "v2"},
    )
    after = entries_by_name(catalog_path)
    changed = after["sentence-transformers/all-MiniLM-L6-v2"]
    assert list(changed) == [
        "name",
        "enabled",
        "description",
        "size_estimate",
        "priority",
        "tags",
        "revision",
    ]
    assert changed["priority"] == "low"
    assert changed["revision"] == "v2"
    assert "allow_patterns" not in changed
    assert [name for name in after] == list(before), "entry order changed"
    for name in ("google-bert/bert-base-uncased", "gpt2"):
        assert after[name] == before[name]
        assert list(after[name]) == list(before[name])


def test_update_model_errors_leave_the_file_byte_for_byte(catalog_path: Path) -> None:
    before = catalog_path.read_bytes()
    with pytest.raises(ModelNotFound, match="did you mean 'gpt2'"):
        update_model(catalog_path, "gpt3", {"enabled": False})
    with pytest.raises(DuplicateModel):
        update_model(catalog_path, "gpt2", {"name": "google-bert/bert-base-uncased"})
    with pytest.raises(CatalogError, match=re.escape("models[2].priority: must be one of")):
        update_model(catalog_path, "gpt2", {"priority": "urgent"})
    with pytest.raises(CatalogError, match=re.escape("models[2].enabled: required key")):
        update_model(catalog_path, "gpt2", {"enabled": None})
    assert catalog_path.read_bytes() == before


def test_update_model_can_rename(catalog_path: Path) -> None:
    catalog = update_model(catalog_path, "gpt2", {"name": "openai-community/gpt2"})
    assert catalog.names()[2] == "openai-community/gpt2"


def test_remove_model_deletes_only_that_entry(catalog_path: Path) -> None:
    before = entries_by_name(catalog_path)
    catalog = remove_model(catalog_path, "google-bert/bert-base-uncased")
    after = entries_by_name(catalog_path)
    assert list(after) == ["sentence-transformers/all-MiniLM-L6-v2", "gpt2"]
    for name, entry in after.items():
        assert entry == before[name]
        assert list(entry) == list(before[name])
    assert [model.index for model in catalog.models] == [0, 1]
    raw_before = catalog_path.read_bytes()
    with pytest.raises(ModelNotFound):
        remove_model(catalog_path, "google-bert/bert-base-uncased")
    assert catalog_path.read_bytes() == raw_before


def test_editing_an_invalid_catalog_is_refused(tmp_path: Path) -> None:
    document = base_document()
    document["models"][1]["priority"] = "urgent"
    path = write_document(tmp_path / "models.json", document)
    before = path.read_bytes()
    with pytest.raises(CatalogError, match=re.escape("models[1].priority")):
        remove_model(path, "gpt2")
    assert path.read_bytes() == before


def test_catalog_from_document_matches_load(catalog_path: Path) -> None:
    loaded = load_catalog(catalog_path)
    built = catalog_from_document(json.loads(catalog_path.read_text()), catalog_path)
    assert built.models == loaded.models
    assert built.settings == loaded.settings


def test_catalog_import_does_not_load_huggingface_hub_or_sqlalchemy() -> None:
    code = (
        "import sys, hfdl.catalog, hfdl.sizes; "
        "print(sorted(m for m in ('huggingface_hub', 'sqlalchemy', 'typer') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("opening", ["[", '{"a": '])
def test_json_nested_too_deeply_is_invalid_data_not_a_crash(tmp_path: Path, opening: str) -> None:
    """200,000 levels: Python's decoder recursed past its limit (RecursionError, exit 70)."""
    depth = 200_000
    closing = "]" if opening == "[" else "}"
    path = tmp_path / "models.json"
    path.write_text('{"models": ' + opening * depth + "1" + closing * depth + "}")

    with pytest.raises(CatalogError) as caught:
        load_catalog(path)

    (problem,) = caught.value.problems
    assert problem.location == str(path)
    assert "nested too deeply" in problem.message
    assert caught.value.exit_code == EX_DATAERR
