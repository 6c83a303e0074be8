"""hfdl.config.docs: the generated reference is the committed docs/configuration.md."""

from __future__ import annotations

from hfdl.config import FIELDS
from hfdl.config.docs import render_reference_markdown
from tests.config_files import REPOSITORY


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
