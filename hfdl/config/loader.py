"""Finding the configuration file and merging defaults, the file and the environment.

Priority, later wins: built-in defaults, then the YAML file, then environment variables
(only those set to a non-empty value), which come from the real environment or, for the
variables it does not set, from ``./.env`` (:mod:`hfdl.config.dotenv`). The Hugging Face
token is not configuration and is read separately by :mod:`hfdl.token`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hfdl import paths
from hfdl.config.dotenv import apply_to_process, dotenv_variables, names_from_dotenv
from hfdl.config.fields import DefaultContext
from hfdl.config.schema import (
    CONFIG_PATH_ENV,
    FIELDS,
    FIELDS_BY_KEY,
    SECTIONS,
    Settings,
)
from hfdl.config.validation import check_consistency, check_value, parse_document, parse_text
from hfdl.errors import ConfigError, ConfigFileNotFound, Problem

DEFAULT_SOURCE = "default"
# The configuration of a developer checkout, looked for relative to the working directory.
CHECKOUT_CONFIG_FILE = Path("config") / "default.yaml"

_CONFIG_ERROR_HINT = (
    "Fix the values listed above. docs/configuration.md describes every setting, its type "
    "and its environment variable."
)


def _first_set(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    """Return ``(name, value)`` of the first variable set to non-blank text, or ``None``."""
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return None


def _explicit_file(path: Path, how: str, hint: str) -> Path:
    """Check that a configuration file someone named exists; return it."""
    if path.is_dir():
        raise ConfigFileNotFound(f"configuration file {path} ({how}) is a directory", hint=hint)
    if not path.exists():
        raise ConfigFileNotFound(f"configuration file {path} ({how}) does not exist", hint=hint)
    return path


def find_config_file(
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    *,
    euid: int | None = None,
) -> Path | None:
    """Decide which configuration file to read.

    Order: ``config_path`` (``--config``), else ``$HFDL_CONFIG_PATH`` (alias
    ``$HF_DOWNLOADER_CONFIG_PATH``), else ``./config/default.yaml`` when it exists, else
    ``$XDG_CONFIG_HOME/hfdl/config.yaml`` (``/etc/hfdl/config.yaml`` as root) when it exists.

    Args:
        config_path: the file named on the command line, if any; relative to ``cwd``.
        environ: the environment (``None``: this process's).
        cwd: the working directory (``None``: this process's).
        euid: the effective user id (``None``: this process's); root uses ``/etc/hfdl``.

    Returns:
        The absolute path of the file to read, or ``None`` when no file applies and only
        defaults and the environment count.

    Raises:
        ConfigFileNotFound: a file named explicitly (argument or variable) does not exist.
    """
    environment = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else cwd.absolute()
    if config_path is not None:
        named = paths.resolve_path(str(config_path), base, environment)
        return _explicit_file(named, "given with --config", "Check the path given to --config.")
    found = _first_set(environment, CONFIG_PATH_ENV)
    if found is not None:
        name, value = found
        try:
            named = paths.resolve_path(value, base, environment)
        except ValueError as error:
            raise ConfigError([Problem(f"env:{name}", "", str(error))]) from error
        return _explicit_file(
            named, f"named by {name}", f"Fix {name}, or unset it to use the default locations."
        )
    for candidate in (base / CHECKOUT_CONFIG_FILE, paths.default_config_file(environment, euid)):
        if candidate.is_file():
            return candidate
    return None


def _read_file(
    config_file: Path, environ: Mapping[str, str]
) -> tuple[dict[str, object], list[Problem]]:
    """Read the YAML file's values, with paths resolved against the file's directory."""
    from hfdl.config.yaml_io import read_yaml_file

    location = str(config_file)
    data, problems = read_yaml_file(config_file)
    values, value_problems = parse_document(data, location)
    problems.extend(value_problems)
    for key, value in list(values.items()):
        if FIELDS_BY_KEY[key].kind == "path":
            try:
                values[key] = paths.resolve_path(str(value), config_file.parent, environ)
            except ValueError as error:
                del values[key]
                problems.append(Problem(location, key, str(error)))
    return values, problems


def _read_environment(
    environ: Mapping[str, str], cwd: Path, dotenv_names: set[str]
) -> tuple[dict[str, object], dict[str, str], list[Problem]]:
    """Read the override variables; return values, their sources and problems.

    A source is ``env:NAME``, or ``.env:NAME`` for a variable in ``dotenv_names``.
    """
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    for setting_field in FIELDS:
        found = _first_set(environ, setting_field.env)
        if found is None:
            continue
        # The first variable set wins even when invalid: silently falling back to an
        # alias would hide the mistake.
        name, text = found
        source = f".env:{name}" if name in dotenv_names else f"env:{name}"
        try:
            value = check_value(setting_field, parse_text(setting_field, text))
            if setting_field.kind == "path":
                value = paths.resolve_path(str(value), cwd, environ)
        except ValueError as error:
            problems.append(Problem(source, setting_field.key, str(error)))
            continue
        values[setting_field.key] = value
        sources[setting_field.key] = source
    return values, sources, problems


def _build(cls: type, prefix: str, values: Mapping[str, object]) -> Any:
    """Construct a settings dataclass (and its sections) from values by dotted key."""
    arguments: dict[str, Any] = {}
    for attribute in dataclasses.fields(cls):
        key = prefix + attribute.name
        if key in SECTIONS:
            arguments[attribute.name] = _build(SECTIONS[key][0], key + ".", values)
        elif key in values:
            arguments[attribute.name] = values[key]
    return cls(**arguments)


def load_settings(
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    *,
    euid: int | None = None,
) -> Settings:
    """Load the effective settings: defaults, then the YAML file, then the environment.

    ``<cwd>/.env`` first adds the variables it sets that the environment does not (see
    :mod:`hfdl.config.dotenv`); when ``environ`` is ``None`` they are also put into this
    process's environment, where the token lookup and ``huggingface_hub`` find them.

    Args:
        config_path: the file named with ``--config``; see :func:`find_config_file` for
            what is read when it is ``None``.
        environ: the environment (``None``: this process's). Only variables set to
            non-blank text override anything.
        cwd: the working directory (``None``: this process's); relative paths from the
            environment and ``./config/default.yaml`` are found relative to it.
        euid: the effective user id (``None``: this process's); root gets system defaults.

    Returns:
        The frozen :class:`Settings`, with ``config_file`` and ``sources`` filled in.

    Raises:
        ConfigFileNotFound: a file named explicitly does not exist.
        ConfigError: the file, ``.env`` or the environment holds invalid values; every
            problem found is reported at once (a malformed ``.env`` line alone first).
    """
    process_environment = environ is None
    environment = dict(os.environ if environ is None else environ)
    base = Path.cwd() if cwd is None else cwd.absolute()
    user_id = paths.effective_uid() if euid is None else euid
    from_dotenv = dotenv_variables(base, environment)
    if process_environment:
        apply_to_process(from_dotenv, os.environ)
    environment.update(from_dotenv)
    dotenv_names = names_from_dotenv(from_dotenv, process_environment=process_environment)

    config_file = find_config_file(config_path, environment, base, euid=user_id)
    file_values: dict[str, object] = {}
    problems: list[Problem] = []
    if config_file is not None:
        file_values, problems = _read_file(config_file, environment)
    environment_values, environment_sources, environment_problems = _read_environment(
        environment, base, dotenv_names
    )
    problems.extend(environment_problems)

    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for setting_field in FIELDS:
        key = setting_field.key
        if key in environment_values:
            values[key], sources[key] = environment_values[key], environment_sources[key]
        elif key in file_values:
            values[key], sources[key] = file_values[key], str(config_file)
        else:
            context = DefaultContext(environment, user_id, base, config_file, values)
            values[key], sources[key] = setting_field.default_for(context), DEFAULT_SOURCE

    invalid = frozenset(problem.path for problem in problems)
    problems.extend(check_consistency(values, lambda key: sources[key], invalid))
    if problems:
        raise ConfigError(problems, hint=_CONFIG_ERROR_HINT)

    settings: Settings = _build(Settings, "", values)
    return dataclasses.replace(settings, config_file=config_file, sources=sources)
