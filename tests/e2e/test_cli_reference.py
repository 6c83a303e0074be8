"""The README's command reference is generated from the app and must be current."""

from __future__ import annotations

from pathlib import Path

from hfdl.cli import reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_command_and_option_has_help() -> None:
    assert reference.missing_help() == []


def test_readme_reference_is_current() -> None:
    text = README.read_text()
    assert reference.BEGIN_MARKER in text and reference.END_MARKER in text
    expected = reference.replace_between_markers(text, reference.render())
    assert text == expected, "run: uv run python -m hfdl.cli.reference --write README.md"


def test_reference_mentions_every_command() -> None:
    rendered = reference.render()
    for path, _command in reference.walk(reference.root_command()):
        assert f"### `{' '.join(path)}" in rendered
