"""Reading configuration YAML (with precise errors) and writing settings back as YAML.

PyYAML is imported only inside the functions that read a file, so that commands which find
no configuration file never pay for it.
"""

from __future__ import annotations

import functools
import json
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hfdl.config.schema import FIELDS, SECTIONS, Settings
from hfdl.errors import Problem

if TYPE_CHECKING:
    import yaml

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# YAML 1.1 integers and floats as PyYAML resolves them, minus the base-60 forms: PyYAML reads
# an unquoted `time: 12:30` as the integer 750, which no one writing a time means.
_INT_PATTERN = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_FLOAT_PATTERN = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


@functools.cache
def _loader_class() -> type[yaml.SafeLoader]:
    """Build (once) a safe YAML loader that keeps ``12:30`` a string and notes duplicate keys."""
    import yaml

    class ConfigLoader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            # (key, line, line of the first occurrence); PyYAML silently keeps the last one.
            self.duplicate_keys: list[tuple[str, int, int]] = []

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                first_lines: dict[str, int] = {}
                for key_node, _value_node in node.value:
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                        continue
                    line = key_node.start_mark.line + 1
                    if key_node.value in first_lines:
                        self.duplicate_keys.append(
                            (key_node.value, line, first_lines[key_node.value])
                        )
                    else:
                        first_lines[key_node.value] = line
            return super().construct_mapping(node, deep=deep)

    ConfigLoader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    ConfigLoader.add_implicit_resolver(_INT_TAG, _INT_PATTERN, list("-+0123456789"))
    ConfigLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_PATTERN, list("-+0123456789."))
    return ConfigLoader


def parse_yaml_text(text: str, location: str) -> tuple[object, list[Problem]]:
    """Parse one YAML document.

    Args:
        text: the document.
        location: where it came from, for the problems.

    Returns:
        The data (``None`` when the document is empty or cannot be parsed) and the problems:
        a syntax error with its line and column, or duplicate keys.
    """
    import yaml

    loader: Any = _loader_class()(text)  # a ConfigLoader, with duplicate_keys
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = error.problem or error.context or "cannot parse"
        if error.context and error.problem:
            detail = f"{error.problem} ({error.context})"
        return None, [Problem(location, "", f"YAML syntax error{where}: {detail}")]
    except yaml.YAMLError as error:
        return None, [Problem(location, "", f"YAML syntax error: {error}")]
    except RecursionError:
        # PyYAML recurses once per level of nesting; a configuration is two levels deep.
        return None, [
            Problem(location, "", "YAML nested too deeply (collections inside each other)")
        ]
    finally:
        loader.dispose()
    problems = [
        Problem(location, "", f"duplicate key '{key}' at line {line} (first at line {first})")
        for key, line, first in loader.duplicate_keys
    ]
    return data, problems


def read_yaml_file(path: Path) -> tuple[object, list[Problem]]:
    """Read and parse a YAML configuration file.

    Args:
        path: the file.

    Returns:
        The data (``None`` when empty or unusable) and every problem found while reading:
        unreadable file, invalid UTF-8, YAML syntax error, duplicate keys.
    """
    location = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return None, [Problem(location, "", f"is not UTF-8 text (byte {error.start})")]
    except OSError as error:
        return None, [Problem(location, "", f"cannot read the file: {error.strerror or error}")]
    return parse_yaml_text(text, location)


def yaml_scalar(value: object) -> str:
    """Write one value as a YAML scalar that reads back as the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A JSON string is a valid double-quoted YAML scalar, and quoting keeps "02:00" a string.
    return json.dumps(str(value), ensure_ascii=False)


def _comment(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, width=92, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
    )


def dump_settings_yaml(settings: Settings, *, with_descriptions: bool = True) -> str:
    """Write the effective settings as a YAML configuration file.

    Args:
        settings: the settings to write.
        with_descriptions: put each setting's description above it as a comment.

    Returns:
        YAML text that :func:`hfdl.config.load_settings` reads back into equal settings
        (paths are written absolute). The Hugging Face token is never part of it.
    """
    lines: list[str] = []
    open_sections: list[str] = []
    for setting_field in FIELDS:
        *parents, name = setting_field.key.split(".")
        # Open sections this key is in, when they are not already open.
        for depth, parent in enumerate(parents):
            section_key = ".".join(parents[: depth + 1])
            if open_sections[: depth + 1] != parents[: depth + 1]:
                del open_sections[depth:]
                open_sections.append(parent)
                indent = "  " * depth
                if with_descriptions:
                    lines.append("")
                    lines.extend(_comment(SECTIONS[section_key][1], indent))
                lines.append(f"{indent}{parent}:")
        if len(open_sections) > len(parents):
            del open_sections[len(parents) :]
        indent = "  " * len(parents)
        if with_descriptions:
            if not parents:
                lines.append("")
            lines.extend(_comment(setting_field.description, indent))
        lines.append(f"{indent}{name}: {yaml_scalar(settings.get(setting_field.key))}")
    return "\n".join(lines).lstrip("\n") + "\n"
