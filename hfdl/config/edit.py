"""Editing the YAML configuration file as text, so that ``hfdl config set`` keeps its comments.

PyYAML cannot write a document back with its comments, so a value is changed in the text
itself: the file is composed into nodes, which know where each value starts and ends, and
only those characters are replaced. A missing key is inserted at the end of its section (a
missing section at the end of the file), with the schema's description as a comment. The
edited text is parsed again and must give exactly the intended document; when it does not,
or the file uses a form this editor does not handle (flow mappings ``{a: 1}``, block
scalars), the whole file is rewritten from the data as clean YAML with the schema's
descriptions as comments, and the caller says so.
"""

from __future__ import annotations

import copy
import re
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hfdl.config.schema import FIELDS, FIELDS_BY_KEY, SECTIONS
from hfdl.config.yaml_io import parse_yaml_text, yaml_scalar
from hfdl.fileio import write_atomically as _write_file_atomically

# A configuration file hfdl creates: readable by the service's group, not by everyone.
NEW_CONFIG_FILE_MODE = 0o640
_COMMENT_WIDTH = 92
# Candidates for an unquoted string: no YAML indicator characters, no spaces.
_PLAIN = re.compile(r"[A-Za-z0-9_/.~$][A-Za-z0-9_/.~$@+-]*")


def comment_lines(text: str, indent: str = "") -> list[str]:
    """Wrap ``text`` into ``# ...`` comment lines at ``indent``."""
    return textwrap.wrap(
        text, width=_COMMENT_WIDTH, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
    )


def defaults_document() -> dict[str, Any]:
    """Every setting at its default, nested as in the file.

    Computed defaults (paths that depend on the user, the environment or the file's
    location) are written as ``null``, which means "compute the default", so the file stays
    right wherever and by whomever it is used.
    """
    document: dict[str, Any] = {}
    for setting_field in FIELDS:
        value = None if setting_field.default_factory is not None else setting_field.default
        set_in(document, setting_field.key, value)
    return document


def set_in(document: dict[str, Any], key: str, value: object) -> None:
    """Set a dotted key in a nested document, creating (or replacing a null) section."""
    *parents, name = key.split(".")
    target = document
    for parent in parents:
        if not isinstance(target.get(parent), dict):
            target[parent] = {}
        target = target[parent]
    target[name] = value


def get_in(document: Mapping[str, Any], key: str) -> tuple[bool, object]:
    """Return ``(present, value)`` of a dotted key in a nested document."""
    target: object = document
    for part in key.split("."):
        if not isinstance(target, Mapping) or part not in target:
            return False, None
        target = target[part]
    return True, target


def render_document(document: Mapping[str, Any], header: Sequence[str] = ()) -> str:
    """Write a configuration document as clean YAML, each key under its description.

    Args:
        document: the nested document; keys in it that the schema does not know are left
            out (validation refuses such documents before they get here).
        header: comment lines (without ``#``) to put first.

    Returns:
        The YAML text, keys in schema order, ending with a newline.
    """
    lines = [f"# {line}".rstrip() for line in header]
    current_section: str | None = None
    for setting_field in FIELDS:
        present, value = get_in(document, setting_field.key)
        if not present:
            continue
        section, _, name = setting_field.key.rpartition(".")
        indent = "  " if section else ""
        if section and section != current_section:
            lines.append("")
            lines.extend(comment_lines(SECTIONS[section][1]))
            lines.append(f"{section}:")
        elif not section:
            lines.append("")
        current_section = section or None
        lines.extend(comment_lines(setting_field.description, indent))
        lines.append(f"{indent}{name}: {scalar_text(value)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def apply_changes(
    text: str, document: Mapping[str, Any], changes: Mapping[str, object]
) -> tuple[str, bool]:
    """Return the file's text with ``changes`` applied, and whether its comments were kept.

    Args:
        text: the file's current text ("" for a new file); it must parse to ``document``.
        document: the parsed current document.
        changes: new YAML-level values by dotted key (``None`` writes ``null``).

    Returns:
        ``(new_text, True)`` when the text was edited in place, comments and layout kept;
        ``(clean_yaml, False)`` when it had to be rewritten from the data.
    """
    expected = copy.deepcopy(dict(document))
    for key, value in changes.items():
        set_in(expected, key, value)
    edited: str | None = text
    for key, value in changes.items():
        if edited is None:
            break
        edited = edit_text(edited, key, value)
    if edited is not None:
        parsed, problems = parse_yaml_text(edited, "<edited>")
        if not problems and (parsed or {}) == expected:
            return edited, True
    header = ["hfdl configuration, rewritten by `hfdl config set`: its comments could not be kept."]
    return render_document(expected, header), False


def scalar_text(value: object) -> str:
    """Write a value as a YAML scalar, unquoted when that reads back the same everywhere.

    A string stays plain (``type: weekly``) only when both hfdl's loader and PyYAML's
    standard one read it back unchanged, so ``"yes"`` (a boolean) and ``"10"`` keep their
    quotes; so does anything with a colon, such as a time (``22:30`` is a base-60 integer
    to YAML 1.1 readers).
    """
    quoted = yaml_scalar(value)
    if not isinstance(value, str) or not _PLAIN.fullmatch(value) or ":" in value:
        return quoted
    import yaml

    parsed, problems = parse_yaml_text(f"key: {value}\n", "<scalar>")
    try:
        standard = yaml.safe_load(f"key: {value}\n")
    except yaml.YAMLError:
        return quoted
    if problems or parsed != {"key": value} or standard != {"key": value}:
        return quoted
    return value


def edit_text(text: str, key: str, value: object) -> str | None:
    """Set one dotted key in YAML text, changing nothing else; ``None`` when not feasible."""
    import yaml

    scalar = scalar_text(value)
    try:
        # Nodes only (no values are constructed), for their positions in the text.
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    *parents, name = key.split(".")
    if root is None:
        return _append_top_level(text, parents, name, scalar)
    node = root
    for depth, parent in enumerate(parents):
        if not _is_block_mapping(node):
            return None
        child = _lookup(node, parent)
        if child is None:
            if depth == 0:
                return _append_top_level(text, parents, name, scalar)
            return None
        node = child
    if not _is_block_mapping(node):
        return None
    value_node = _lookup(node, name)
    if value_node is None:
        if node is root:
            return _append_top_level(text, parents, name, scalar)
        return _append_to_section(text, node, key, name, scalar)
    if not isinstance(value_node, yaml.ScalarNode) or value_node.style in ("|", ">"):
        return None
    start, end = value_node.start_mark.index, value_node.end_mark.index
    if start == end:
        # `key:` with nothing after it (null): the mark is right after the colon.
        if start == 0 or text[start - 1] != ":":
            return None
        scalar = " " + scalar
    return text[:start] + scalar + text[end:]


def _is_block_mapping(node: Any) -> bool:
    import yaml

    return isinstance(node, yaml.MappingNode) and not node.flow_style


def _lookup(mapping: Any, name: str) -> Any:
    """The value node of ``name`` in a mapping node (the last one, as PyYAML keeps)."""
    found = None
    for key_node, value_node in mapping.value:
        if getattr(key_node, "value", None) == name:
            found = value_node
    return found


def _append_top_level(text: str, parents: list[str], name: str, scalar: str) -> str:
    """Append a top-level key, or a new section holding the key, at the end of the text."""
    lines: list[str] = [""]
    key = ".".join([*parents, name])
    if parents:
        lines.extend(comment_lines(SECTIONS[parents[0]][1]))
        lines.append(f"{parents[0]}:")
        lines.extend(comment_lines(FIELDS_BY_KEY[key].description, "  "))
        lines.append(f"  {name}: {scalar}")
    else:
        lines.extend(comment_lines(FIELDS_BY_KEY[key].description))
        lines.append(f"{name}: {scalar}")
    prefix = text if not text or text.endswith("\n") else text + "\n"
    body = "\n".join(lines) + "\n"
    return prefix + (body.lstrip("\n") if not prefix.strip() else body)


def _append_to_section(text: str, section: Any, key: str, name: str, scalar: str) -> str | None:
    """Insert ``name: scalar`` after the last key of an existing block section."""
    import yaml

    if not section.value:
        return None
    first_key, _ = section.value[0]
    _, last_value = section.value[-1]
    if not isinstance(last_value, yaml.ScalarNode):
        return None
    indent = " " * first_key.start_mark.column
    line_end = text.find("\n", last_value.end_mark.index)
    position = len(text) if line_end == -1 else line_end
    lines = [*comment_lines(FIELDS_BY_KEY[key].description, indent), f"{indent}{name}: {scalar}"]
    return text[:position] + "\n" + "\n".join(lines) + text[position:]


def write_atomically(path: Path, text: str, *, new_file_mode: int = NEW_CONFIG_FILE_MODE) -> None:
    """Write a config file atomically (:func:`hfdl.fileio.write_atomically`); new files 0640.

    Raises:
        OSError: the directory or file cannot be written; the message names the file.
    """
    _write_file_atomically(path, text, new_file_mode=new_file_mode)
