"""The configuration reference, ``docs/configuration.md``, generated from the schema.

``uv run python -m hfdl.config > docs/configuration.md`` prints it
(:func:`render_reference_markdown`); a test checks that the committed file is current. The
generator sits above both :mod:`hfdl.config.schema` (what it describes) and
:mod:`hfdl.config.yaml_io` (how it writes the examples): it used to live in the schema, which
then had to import yaml_io, itself an importer of the schema.
"""

from __future__ import annotations

from hfdl import token
from hfdl.config.fields import SettingField
from hfdl.config.schema import FIELDS, SECTIONS
from hfdl.config.yaml_io import yaml_scalar


def _type_label(setting_field: SettingField) -> str:
    """Describe a setting's type and constraints for the reference."""
    low, high = setting_field.minimum, setting_field.maximum
    if setting_field.kind == "int":
        if low is not None and high is not None:
            return f"integer, {low} to {high}"
        if low is not None:
            return f"integer, at least {low}"
        return "integer"
    labels = {
        "path": "path",
        "bool": "boolean",
        "str": "string",
        "time": "time of day, `HH:MM` (00:00 to 23:59)",
        "url": "URL, `http://` or `https://`",
        "database_url": "database URL, `postgresql+psycopg://` or `sqlite:///`, or empty",
        "weekday": "day of the week: 0-6 (Monday = 0) or `mon`..`sun`",
    }
    if setting_field.kind == "choice":
        return "one of " + ", ".join(f"`{choice}`" for choice in setting_field.choices)
    return labels[setting_field.kind]


def _yaml_snippet(key: str, value: object) -> list[str]:
    """Show ``key: value`` as the YAML a user would write, nested under its sections."""
    *parents, name = key.split(".")
    lines = ["```yaml"]
    lines.extend(f"{'  ' * depth}{parent}:" for depth, parent in enumerate(parents))
    lines.append(f"{'  ' * len(parents)}{name}: {yaml_scalar(value)}")
    lines.append("```")
    return lines


def _environment_label(setting_field: SettingField) -> str:
    """Name the environment variables that set a setting, or say there are none."""
    if not setting_field.env:
        return "none (file only)"
    return ", ".join(f"`{name}`" for name in setting_field.env)


def _default_label(setting_field: SettingField) -> str:
    """Describe a setting's default: its documented text when computed, else the value."""
    if setting_field.default_doc is not None:
        return setting_field.default_doc
    default = setting_field.default
    if default is None:
        return "none"
    if default == "":
        return "empty"
    if isinstance(default, bool):
        return "`true`" if default else "`false`"
    return f"`{default}`"


_SHORT_TYPES = {
    "path": "path",
    "int": "integer",
    "bool": "boolean",
    "str": "string",
    "choice": "choice",
    "time": "HH:MM",
    "url": "URL",
    "database_url": "database URL",
    "weekday": "weekday",
}


# The comment's "hfdl/config/schema.py" names where the settings are defined, which is what
# a reader who wants to change the reference needs to edit.
_REFERENCE_INTRODUCTION = """\
<!-- Generated from the schema (hfdl/config/schema.py) by hfdl/config/docs.py; do not edit.
     Regenerate: uv run python -m hfdl.config > docs/configuration.md -->

## Configuration reference

hfdl takes each setting from the first of these that provides it:

1. an environment variable, when it is set to a non-empty value;
2. the YAML configuration file;
3. the built-in default.

### Which configuration file is read

1. the file given with `--config`;
2. else the file named by `HFDL_CONFIG_PATH` (alias `HF_DOWNLOADER_CONFIG_PATH`);
3. else `./config/default.yaml` relative to the working directory (a developer checkout),
   when it exists;
4. else `$XDG_CONFIG_HOME/hfdl/config.yaml` (`~/.config/hfdl/config.yaml`), or
   `/etc/hfdl/config.yaml` when running as root, when it exists;
5. else none: defaults and environment variables only.

A file named with `--config` or `HFDL_CONFIG_PATH` must exist (exit status 78 otherwise); a
file found by looking may be absent.

### Writing values

- Relative paths in the file are relative to the file's directory; relative paths in
  environment variables are relative to the working directory. `~` and `$VARIABLES` are
  expanded; a variable that is not set is an error.
- `null` for a path setting means "use the computed default".
- Every `HFDL_*` variable is also accepted as `HF_DOWNLOADER_*`; when both are set, the
  `HFDL_*` one wins. Booleans in the environment: `true`/`false`, `yes`/`no`, `on`/`off`,
  `1`/`0`.
- YAML reads unquoted `yes`, `no`, `on` and `off` as booleans: quote such strings. Quote
  times too (`time: "02:00"`).
- Keys are checked: a misspelt key is an error, with a suggestion. Every problem in the file
  and the environment is reported at once, with exit status 78.
"""


def render_reference_markdown() -> str:
    """Return the configuration reference (``docs/configuration.md``) as Markdown.

    The text depends only on the schema, never on the current environment, so the committed
    file can be compared with it. Regenerate with
    ``uv run python -m hfdl.config > docs/configuration.md``.

    Returns:
        The Markdown text, ending with a newline.
    """
    lines = [_REFERENCE_INTRODUCTION, "### Summary", ""]
    lines.append("| Key | Type | Default | Environment |")
    lines.append("|---|---|---|---|")
    for setting_field in FIELDS:
        default = "computed" if setting_field.default_doc else _default_label(setting_field)
        environment = setting_field.env[0] if setting_field.env else ""
        lines.append(
            f"| `{setting_field.key}` | {_SHORT_TYPES[setting_field.kind]} | {default} | "
            f"{f'`{environment}`' if environment else '-'} |"
        )
    lines.append("")
    current_section: str | None = None
    for setting_field in FIELDS:
        section_key = setting_field.key.rpartition(".")[0]
        if section_key != current_section:
            if section_key:
                heading = [f"### The `{section_key}` section", "", SECTIONS[section_key][1]]
            else:
                heading = ["### Top-level settings"]
            lines.extend([*heading, ""])
        current_section = section_key
        lines.extend([f"#### `{setting_field.key}`", "", setting_field.description, ""])
        lines.append(f"- Type: {_type_label(setting_field)}")
        lines.append(f"- Default: {_default_label(setting_field)}")
        lines.append(f"- Environment: {_environment_label(setting_field)}")
        lines.extend(["- Example:", ""])
        lines.extend(_yaml_snippet(setting_field.key, setting_field.example))
        lines.append("")
    token_variables = " or ".join(f"`{name}`" for name in token.TOKEN_ENV_VARS)
    lines.extend(
        [
            "### The Hugging Face token",
            "",
            "The token is not a setting and never belongs in the configuration file. hfdl "
            "reads it from the first of:",
            "",
            f"1. the environment variable {token_variables};",
            f"2. `$CREDENTIALS_DIRECTORY/{token.CREDENTIAL_NAME}`, a systemd credential "
            f"(`LoadCredential={token.CREDENTIAL_NAME}:/path/to/token` in the service unit);",
            "3. the Hugging Face token file: `$HF_TOKEN_PATH`, else `$HF_HOME/token`, else "
            "`~/.cache/huggingface/token` (written by `hf auth login`).",
            "",
        ]
    )
    return "\n".join(lines)
