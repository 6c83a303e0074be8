"""Checking configuration values against the schema, collecting every problem at once.

Values arrive either as YAML data (already typed: ``int``, ``bool``, ``str``...) or as text
from an environment variable or the command line; :func:`parse_text` turns text into the
YAML-level value so that both go through the same :func:`check_value` rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from hfdl.config.schema import (
    FIELDS,
    FIELDS_BY_KEY,
    SECTIONS,
    SettingField,
)
from hfdl.config.sections import TIME_PATTERN, WEEKDAY_NAMES
from hfdl.database_url import check_database_url
from hfdl.errors import Problem
from hfdl.unitsafe import unsafe_value_problem

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})
_FULL_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(TIME_PATTERN)


class InvalidValue(ValueError):
    """One value breaks its setting's rules; the message says how, without saying where."""


def describe(value: object) -> str:
    """Return how a value read from YAML is named in an error message (``the boolean true``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _check_integer(setting_field: SettingField, value: object) -> int:
    if isinstance(value, bool):
        # YAML 1.1 reads yes/no/on/off as booleans, a common surprise.
        raise InvalidValue(
            f"must be an integer, got {describe(value)} (YAML reads yes/no/on/off as booleans)"
        )
    if not isinstance(value, int):
        raise InvalidValue(f"must be an integer, got {describe(value)}")
    low, high = setting_field.minimum, setting_field.maximum
    if low is not None and high is not None and not low <= value <= high:
        raise InvalidValue(f"must be between {low} and {high}, got {value}")
    if low is not None and value < low:
        raise InvalidValue(f"must be at least {low}, got {value}")
    if high is not None and value > high:
        raise InvalidValue(f"must be at most {high}, got {value}")
    return value


def _check_boolean(setting_field: SettingField, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"must be true or false, got {describe(value)}")
    return value


def _check_string(setting_field: SettingField, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"must be a string, got {describe(value)}")
    if setting_field.pattern is not None and not re.fullmatch(setting_field.pattern, value):
        allowed = setting_field.pattern_doc or f"match {setting_field.pattern}"
        raise InvalidValue(f"must be {allowed}, got {describe(value)}")
    return value


def _check_path(setting_field: SettingField, value: object) -> str:
    # Expansion and resolution need the environment and a base directory: the loader does it.
    if not isinstance(value, str):
        raise InvalidValue(f"must be a path written as a string, got {describe(value)}")
    if not value.strip():
        raise InvalidValue("must not be empty")
    # Paths are written into the generated systemd units (ReadWritePaths=, ExecStart=): refuse
    # here, when the value is set or the file validated, what rendering would refuse later.
    problem = unsafe_value_problem(value)
    if problem is not None:
        raise InvalidValue(
            f"must be a single-line path without '=' (it goes into systemd units): {problem}"
        )
    return value


def _check_choice(setting_field: SettingField, value: object) -> str:
    choices = ", ".join(setting_field.choices)
    if isinstance(value, str):
        for choice in setting_field.choices:
            if value.strip().casefold() == choice.casefold():
                return choice
    raise InvalidValue(f"must be one of {choices}, got {describe(value)}")


def _check_time(setting_field: SettingField, value: object) -> str:
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidValue(
            f'must be a time of day written as "HH:MM" (00:00 to 23:59), got {describe(value)}'
        )
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _check_url(setting_field: SettingField, value: object) -> str:
    problem = (
        f"must be an http:// or https:// URL such as https://huggingface.co, got {describe(value)}"
    )
    if not isinstance(value, str) or any(character.isspace() for character in value):
        raise InvalidValue(problem)
    try:
        parts = urlsplit(value)
    except ValueError as error:  # e.g. an unbalanced "[" in the host
        raise InvalidValue(problem) from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue(problem)
    return value.rstrip("/")


def _check_database_url(setting_field: SettingField, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"must be a database URL written as a string, got {describe(value)}")
    try:
        return check_database_url(value)
    except ValueError as error:
        raise InvalidValue(str(error)) from None


def _check_weekday(setting_field: SettingField, value: object) -> int:
    problem = f"must be a day of the week: 0-6 (Monday = 0) or mon..sun, got {describe(value)}"
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 6:
            return value
        raise InvalidValue(problem)
    if isinstance(value, str):
        name = value.strip().casefold()
        if name.isdigit() and 0 <= int(name) <= 6:
            return int(name)
        for names in (WEEKDAY_NAMES, _FULL_WEEKDAY_NAMES):
            if name in names:
                return names.index(name)
    raise InvalidValue(problem)


_CHECKS: dict[str, Callable[[SettingField, object], object]] = {
    "int": _check_integer,
    "bool": _check_boolean,
    "str": _check_string,
    "path": _check_path,
    "choice": _check_choice,
    "time": _check_time,
    "url": _check_url,
    "database_url": _check_database_url,
    "weekday": _check_weekday,
}


def check_value(setting_field: SettingField, value: object) -> object:
    """Check one YAML-level value against its setting's rules.

    Args:
        setting_field: the setting the value is for.
        value: the value as YAML produced it (or as :func:`parse_text` produced it).

    Returns:
        The normalised value: ``log_level`` upper case, ``time`` zero-padded, ``day`` as 0-6,
        ``endpoint`` without a trailing slash. Paths stay unexpanded text.

    Raises:
        InvalidValue: the value has the wrong type or breaks a constraint.
    """
    return _CHECKS[setting_field.kind](setting_field, value)


def parse_text(setting_field: SettingField, text: str) -> object:
    """Turn text from an environment variable or the command line into a YAML-level value.

    Args:
        setting_field: the setting the text is for.
        text: the text, e.g. ``"5"`` or ``"yes"``.

    Returns:
        An ``int`` for integer settings, a ``bool`` for boolean ones, the stripped text
        otherwise; pass it on to :func:`check_value`.

    Raises:
        InvalidValue: the text cannot be read as the setting's type.
    """
    stripped = text.strip()
    if setting_field.kind == "int":
        if not _INTEGER_TEXT.fullmatch(stripped):
            raise InvalidValue(f"must be an integer, got {text!r}")
        return int(stripped)
    if setting_field.kind == "bool":
        word = stripped.casefold()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise InvalidValue(f"must be true or false (or yes/no, on/off, 1/0), got {text!r}")
    if setting_field.kind == "weekday" and _INTEGER_TEXT.fullmatch(stripped):
        return int(stripped)
    return stripped


def _suggestion(key: str, prefix: str) -> str:
    """Return ``; did you mean 'x'?`` for a mistyped key, or an empty string."""
    import difflib  # only needed when something is wrong

    siblings = [
        candidate[len(prefix) :]
        for candidate in (*FIELDS_BY_KEY, *SECTIONS)
        if candidate.startswith(prefix) and "." not in candidate[len(prefix) :]
    ]
    close = difflib.get_close_matches(key, siblings, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    # A known key written at the wrong level, such as `time` at the top instead of under
    # `default_schedule`.
    elsewhere = [
        candidate
        for candidate in FIELDS_BY_KEY
        if difflib.get_close_matches(key, [candidate.rpartition(".")[2]], n=1, cutoff=0.8)
    ]
    if elsewhere:
        return f"; did you mean '{elsewhere[0]}'?"
    return ""


def _walk(
    mapping: Mapping[Any, object],
    prefix: str,
    location: str,
    values: dict[str, object],
    problems: list[Problem],
) -> None:
    """Check one YAML mapping (the top level or a section), recursing into sections."""
    for raw_key, value in mapping.items():
        key = str(raw_key)
        dotted = prefix + key
        if isinstance(raw_key, str) and dotted in SECTIONS:
            if value is None:
                continue  # a section whose keys are all commented out
            if not isinstance(value, Mapping):
                problems.append(
                    Problem(
                        location,
                        dotted,
                        f"must be a mapping of keys to values, got {describe(value)}",
                    )
                )
                continue
            _walk(value, dotted + ".", location, values, problems)
        elif isinstance(raw_key, str) and dotted in FIELDS_BY_KEY:
            setting_field = FIELDS_BY_KEY[dotted]
            if value is None and setting_field.accepts_null:
                continue  # null means "use the default"
            try:
                values[dotted] = check_value(setting_field, value)
            except InvalidValue as error:
                problems.append(Problem(location, dotted, str(error)))
        else:
            problems.append(
                Problem(location, dotted, f"unknown key '{key}'{_suggestion(key, prefix)}")
            )


def parse_document(data: object, location: str) -> tuple[dict[str, object], list[Problem]]:
    """Check a whole configuration document and collect its values.

    Args:
        data: what the YAML file contained (``None`` for an empty file).
        location: where the document came from, used in every :class:`Problem`.

    Returns:
        The normalised values that were set, by dotted key (keys set to ``null`` are left
        out, meaning "use the default"; paths are unexpanded text), and every problem found
        in individual values. Rules that involve several keys are checked by
        :func:`check_consistency`.
    """
    values: dict[str, object] = {}
    problems: list[Problem] = []
    if data is None:
        return values, problems
    if not isinstance(data, Mapping):
        problems.append(
            Problem(
                location,
                "",
                f"the top level must be a mapping of keys to values, got {describe(data)}",
            )
        )
        return values, problems
    _walk(data, "", location, values, problems)
    return values, problems


def check_consistency(
    values: Mapping[str, object],
    location_of: Callable[[str], str],
    skip: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Check the rules that involve several settings.

    Args:
        values: effective values by dotted key.
        location_of: returns where a key's value came from, for the :class:`Problem`.
        skip: keys already reported as invalid; rules involving them are not checked, so
            one mistake is not reported twice.

    Returns:
        The problems found (empty when consistent).
    """
    problems: list[Problem] = []
    type_key, day_key = "default_schedule.type", "default_schedule.day"
    if type_key in skip or day_key in skip:
        return problems
    schedule_type, day = values.get(type_key), values.get(day_key)
    if schedule_type == "weekly" and day is None:
        problems.append(
            Problem(
                location_of(type_key),
                day_key,
                "a weekly schedule needs a day: 0-6 (Monday = 0) or mon..sun",
            )
        )
    elif schedule_type == "daily" and day is not None:
        problems.append(
            Problem(
                location_of(day_key),
                day_key,
                f"is only used by weekly schedules; remove it or set {type_key} to weekly",
            )
        )
    return problems


def validate_document(data: Mapping[str, object], location: str) -> list[Problem]:
    """Return every problem in a configuration document, as ``hfdl config set`` needs.

    Settings the document leaves out count as their defaults for the rules that involve
    several keys (a ``day`` without ``type: weekly`` is a problem). Paths are checked for
    type only: expanding them needs the environment, which :func:`load_settings` has.

    Args:
        data: the parsed YAML document (a mapping; anything else is reported).
        location: the file path (or other origin) to put in each :class:`Problem`.

    Returns:
        The problems, in document order; empty when the document is valid.
    """
    values, problems = parse_document(data, location)
    effective = {
        setting_field.key: setting_field.default
        for setting_field in FIELDS
        if setting_field.default_factory is None
    }
    effective.update(values)
    skip = frozenset(problem.path for problem in problems)
    problems.extend(check_consistency(effective, lambda key: location, skip))
    return problems
