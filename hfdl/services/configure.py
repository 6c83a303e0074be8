"""``hfdl config set|reset|export``: the configuration as data, and changes to its file.

Everything goes through the one schema (:mod:`hfdl.config.schema`): values given on the
command line are read with the same :func:`~hfdl.config.parse_text` and
:func:`~hfdl.config.check_value` as environment variables, and the document to be written is
checked with :func:`~hfdl.config.validate_document` before a byte is written. A refused
change writes nothing. ``hfdl config validate`` is :mod:`hfdl.services.config_check`,
``hfdl config show`` :mod:`hfdl.services.config_show`.

Which file ``set`` and ``reset`` change: the one hfdl loads (``--config``,
``$HFDL_CONFIG_PATH``, ``./config/default.yaml``, then the per-user or system file); when
none exists, the per-user file (``$XDG_CONFIG_HOME/hfdl/config.yaml``) or, as root,
``/etc/hfdl/config.yaml``, created with mode 0640. They never load the settings first, so
that they can repair a file that no longer loads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hfdl import paths
from hfdl.config import (
    FIELDS_BY_KEY,
    InvalidValue,
    Settings,
    check_value,
    dump_settings_yaml,
    find_config_file,
    parse_text,
    validate_document,
)
from hfdl.config.edit import (
    apply_changes,
    defaults_document,
    get_in,
    render_document,
    write_atomically,
)

# Re-exported for the CLI, which prints values the way the file spells them.
from hfdl.config.yaml_io import yaml_scalar as yaml_scalar
from hfdl.database_url import mask_password
from hfdl.errors import ConfigError, Problem

COMMAND_LINE = "<cli>"
EXPORT_FORMATS = ("json", "yaml")
_NOTHING_CHANGED = "nothing was changed"
_RESET_HEADER = (
    "hfdl configuration: every setting at its default, written by `hfdl config reset`.",
    "null means the default is computed (from the user, the environment and this file's",
    "directory). The full reference is docs/configuration.md. The Hugging Face token never",
    "goes in here.",
)


def target_config_file(
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    *,
    euid: int | None = None,
) -> Path:
    """Return the configuration file that ``config set`` and ``config reset`` change.

    Args:
        config_path: the file named with ``--config``, if any.
        environ, cwd, euid: as for :func:`hfdl.config.find_config_file` (``None``: this
            process's).

    Returns:
        The file hfdl loads, else the default location for this user (it may not exist).

    Raises:
        ConfigFileNotFound: a file named explicitly does not exist.
    """
    found = find_config_file(config_path, environ, cwd, euid=euid)
    return found if found is not None else paths.default_config_file(environ, euid)


# --- set ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One setting changed by ``config set``: old and new values as written in the file.

    ``was_set`` is false when the file did not have the key (its default applied).
    ``overridden_by`` names the environment variable that will still win over the file.
    """

    key: str
    was_set: bool
    old: object
    new: object
    overridden_by: str | None


@dataclass(frozen=True)
class SetResult:
    """What ``config set`` did to which file."""

    path: Path
    changes: tuple[Change, ...]
    created: bool
    comments_kept: bool


def parse_assignment(key: str, text: str, *, cwd: Path, environ: Mapping[str, str]) -> object:
    """Read one ``KEY VALUE`` from the command line with the schema's rules.

    Args:
        key: a dotted key such as ``default_schedule.time``.
        text: the value as typed; ``null`` clears settings that accept null (their
            default is then used).
        cwd: what a relative path is relative to (as in a shell); it is written absolute.
        environ: used to check that ``$VARIABLES`` in a path are set.

    Returns:
        The YAML-level value to write.

    Raises:
        InvalidValue: unknown key, or a value of the wrong type or out of range.
    """
    from hfdl.catalog.validate import did_you_mean

    setting_field = FIELDS_BY_KEY.get(key)
    if setting_field is None:
        raise InvalidValue("unknown setting" + did_you_mean(key, FIELDS_BY_KEY))
    if text.strip() == "null":
        if setting_field.accepts_null:
            return None
        raise InvalidValue("cannot be null: it has no computed default")
    value = check_value(setting_field, parse_text(setting_field, text))
    if setting_field.kind == "path":
        try:
            expanded = paths.expand_path(str(value), environ)
        except ValueError as error:
            raise InvalidValue(str(error)) from error
        if not Path(expanded).is_absolute():
            # Relative to where the user typed it, not to where the file happens to live.
            value = os.path.normpath(cwd / str(value))
    return value


def set_values(
    path: Path,
    assignments: Sequence[tuple[str, str]],
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> SetResult:
    """Change settings in a configuration file, atomically, keeping its comments.

    Every value is checked, then the whole resulting document, before anything is written;
    several assignments make one change (a weekly schedule needs ``type`` and ``day``
    together).

    Args:
        path: the file (see :func:`target_config_file`); created (0640) when missing.
        assignments: ``(dotted key, value text)`` pairs, applied in order.
        cwd: what relative paths are relative to (``None``: the working directory).
        environ: the environment (``None``: this process's).

    Returns:
        What changed, and whether comments were kept.

    Raises:
        ConfigError: an unknown key, an invalid value, an existing file that cannot be read
            or parsed, or a resulting document that breaks the schema; nothing is written.
        OSError: the file cannot be written.
    """
    from hfdl.config.yaml_io import parse_yaml_text

    environment = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else cwd
    changes: dict[str, object] = {}
    problems: list[Problem] = []
    for key, text in assignments:
        try:
            changes[key] = parse_assignment(key, text, cwd=base, environ=environment)
        except InvalidValue as error:
            problems.append(Problem(COMMAND_LINE, key, str(error)))
    if problems:
        raise ConfigError(problems, hint=_NOTHING_CHANGED)

    location = str(path)
    created = not path.exists()
    text = ""
    if not created:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ConfigError([Problem(location, "", f"cannot read the file: {reason}")]) from None
    data, problems = parse_yaml_text(text, location)
    if data is not None and not isinstance(data, dict):
        problems.append(Problem(location, "", "the top level must be a mapping of keys to values"))
    if problems or (data is not None and not isinstance(data, dict)):
        raise ConfigError(problems, hint=f"fix {path} by hand first; {_NOTHING_CHANGED}")
    document: dict[str, Any] = data if isinstance(data, dict) else {}

    new_text, comments_kept = apply_changes(text, document, changes)
    new_document, _ = parse_yaml_text(new_text, location)
    problems = validate_document(new_document if isinstance(new_document, dict) else {}, location)
    if problems:
        raise ConfigError(
            problems,
            hint=f"{_NOTHING_CHANGED}. Settings that depend on each other are set together: "
            "hfdl config set default_schedule.type weekly default_schedule.day sun",
        )
    write_atomically(path, new_text)
    return SetResult(
        path=path,
        changes=tuple(
            _shown_change(
                Change(key, *get_in(document, key), value, _overriding_variable(key, environment))
            )
            for key, value in changes.items()
        ),
        created=created,
        comments_kept=comments_kept or created,
    )


def _shown_change(change: Change) -> Change:
    """The change as it may be printed: a password in ``database_url`` masked."""
    if FIELDS_BY_KEY[change.key].kind != "database_url":
        return change
    return dataclasses.replace(
        change,
        old=mask_password(change.old) if isinstance(change.old, str) else change.old,
        new=mask_password(change.new) if isinstance(change.new, str) else change.new,
    )


def _overriding_variable(key: str, environ: Mapping[str, str]) -> str | None:
    """The environment variable that overrides ``key`` right now, if any (set, non-blank)."""
    for name in FIELDS_BY_KEY[key].env:
        if environ.get(name, "").strip():
            return name
    return None


# --- reset --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResetResult:
    """What ``config reset`` wrote, and where the old file was kept (``None``: there was none)."""

    path: Path
    backup: Path | None


def defaults_text() -> str:
    """The configuration file ``config reset`` writes: every setting at its default."""
    return render_document(defaults_document(), _RESET_HEADER)


def reset_config(path: Path, *, now: datetime | None = None) -> ResetResult:
    """Restore the defaults, keeping the old file as ``<name>.bak-YYYYMMDDTHHMMSSZ``.

    Args:
        path: the configuration file (see :func:`target_config_file`).
        now: the time for the backup's name (default: now).

    Returns:
        The file written and its backup.

    Raises:
        OSError: the backup or the new file cannot be written (when the backup fails, the
            old file is left as it was).
    """
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup: Path | None = None
    if path.exists():
        backup = path.with_name(f"{path.name}.bak-{stamp}")
        counter = 1
        while backup.exists():  # two resets within one second
            backup = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
            counter += 1
        # copy2 keeps the mode: the backup is no more readable than the file was.
        shutil.copy2(os.path.realpath(path), backup)
    write_atomically(path, defaults_text())
    return ResetResult(path=path, backup=backup)


# --- export -------------------------------------------------------------------------------


def export_text(settings: Settings, export_format: str) -> str:
    """The effective configuration as a document that loads back to the same settings.

    Args:
        settings: the loaded settings.
        export_format: ``json`` or ``yaml`` (YAML with every description as a comment).

    Returns:
        The text, ending with a newline. The token is never part of it, nor a password in
        ``database_url`` (shown as ``***``: keep it in ``~/.pgpass``, see docs/fleet.md).

    Raises:
        ValueError: an unknown format.
    """
    settings = dataclasses.replace(settings, database_url=mask_password(settings.database_url))
    if export_format == "json":
        return json.dumps(settings.as_dict(), indent=2) + "\n"
    if export_format == "yaml":
        return dump_settings_yaml(settings)
    raise ValueError(f"unknown export format {export_format!r}: use json or yaml")


def write_export(path: Path, text: str) -> None:
    """Write an exported configuration (:func:`export_text`) to ``path`` atomically.

    Raises:
        OSError: the directory or file cannot be written; the message names the file.
    """
    write_atomically(path, text)
