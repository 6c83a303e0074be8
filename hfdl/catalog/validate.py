"""Validation of a parsed ``models.json`` document.

Every check appends a :class:`~hfdl.errors.Problem` instead of raising, so that one run
reports everything wrong with the file at once, each with the file and a key path such as
``models[2].priority``.

For optional keys, JSON ``null`` means "not set, use the default" (for ``max_total_size``
the default is "no limit"). Required keys (``models``, ``models[i].name``,
``models[i].enabled``) may not be null.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from hfdl.catalog.model import (
    CHECK_FREQUENCIES,
    METADATA_KEYS,
    MODEL_KEYS,
    PRIORITIES,
    REQUIRED_MODEL_KEYS,
    SETTINGS_KEYS,
    STATUSES,
    TOP_LEVEL_KEYS,
)
from hfdl.errors import Problem
from hfdl.sizes import parse_size

# Mirrors huggingface_hub.utils._validators.validate_repo_id (huggingface_hub 2.4.0):
#   REPO_ID_REGEX = (\b[\w\-.]{1,96}\b/)? \b[\w\-.]{1,96}\b   with re.ASCII
#   plus: at most one "/", no "--" or "..", no trailing ".git".
# So each part (namespace, name) is 1-96 ASCII letters, digits, "_", "-" or "."; it must start
# and end with a letter, digit or "_" (the \b word boundaries). The Hub puts no limit on the
# total length beyond the two parts' limits, so neither do we. It is copied, not imported,
# because importing huggingface_hub costs start-up time that `hfdl models list` must not pay.
MAX_NAME_PART_LENGTH = 96
_NAME_PART_CHARS = re.compile(r"[A-Za-z0-9_.\-]+")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")

# Characters git refuses in ref names (git-check-ref-format(1)); a revision containing them
# can never exist on the Hub, so reject it before any network round trip.
_GIT_FORBIDDEN_REF_CHARS = frozenset("~^:?*[\\")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _one_of(choices: Sequence[str]) -> str:
    return "must be one of " + ", ".join(choices)


def model_name_problems(name: object) -> list[str]:
    """Check a Hub model id (``name`` or ``org/name``) the way the Hub client does.

    Args:
        name: the value of a ``name`` key.

    Returns:
        Messages describing what is wrong (empty when the name is valid).
    """
    if not isinstance(name, str):
        return [f"must be a string like 'org/model', not {_json_type(name)}"]
    if not name:
        return ["must not be empty"]
    if name.count("/") > 1:
        return [f"{name!r}: must be 'name' or 'org/name' (at most one '/')"]
    problems: list[str] = []
    for part in name.split("/"):
        if not part:
            problems.append(f"{name!r}: the part before and after '/' must not be empty")
        elif len(part) > MAX_NAME_PART_LENGTH:
            problems.append(
                f"{name!r}: {part[:20]!r}... is {len(part)} characters long,"
                f" at most {MAX_NAME_PART_LENGTH} are allowed"
            )
        elif not _NAME_PART_CHARS.fullmatch(part):
            problems.append(f"{name!r}: may only contain letters, digits, '-', '_' and '.'")
        elif not (_WORD_CHAR.match(part[0]) and _WORD_CHAR.match(part[-1])):
            problems.append(f"{name!r}: a name part must not start or end with '-' or '.'")
    if "--" in name or ".." in name:
        problems.append(f"{name!r}: must not contain '--' or '..'")
    if name.endswith(".git"):
        problems.append(f"{name!r}: must not end with '.git'")
    return problems


def revision_problems(revision: object) -> list[str]:
    """Check a revision: a branch, a tag or a 40-hex commit id.

    Args:
        revision: the value of a ``revision`` key.

    Returns:
        Messages describing what is wrong (empty when the revision is acceptable).
    """
    if not isinstance(revision, str):
        return [f"must be a string (branch, tag or commit), not {_json_type(revision)}"]
    if not revision:
        return ["must not be empty"]
    problems: list[str] = []
    if any(char.isspace() or not char.isprintable() for char in revision):
        problems.append(f"{revision!r}: must not contain whitespace or control characters")
    if ".." in revision:
        problems.append(f"{revision!r}: must not contain '..'")
    forbidden = sorted(set(revision) & _GIT_FORBIDDEN_REF_CHARS)
    if forbidden:
        shown = " ".join(forbidden)
        problems.append(f"{revision!r}: must not contain any of {shown} (not valid in git refs)")
    return problems


def pattern_problems(pattern: object) -> list[str]:
    """Check one ``allow_patterns``/``ignore_patterns`` glob.

    Args:
        pattern: one list item.

    Returns:
        Messages describing what is wrong (empty when the glob is usable by ``fnmatch``).
    """
    if not isinstance(pattern, str):
        return [f"must be a glob string like '*.json', not {_json_type(pattern)}"]
    return list(_glob_problems(pattern))


# Catalogs repeat the same few globs in every entry; translating each to a regex again made
# glob checks half of the time `hfdl models list` spent validating 10,000 models.
@functools.lru_cache(maxsize=4096)
def _glob_problems(pattern: str) -> tuple[str, ...]:
    if not pattern:
        return ("must not be empty",)
    if "\x00" in pattern or "\n" in pattern or "\r" in pattern:
        return (f"{pattern!r}: must not contain NUL or newline characters",)
    try:
        re.compile(fnmatch.translate(pattern))
    except re.error as error:
        return (f"{pattern!r}: not a valid glob: {error}",)
    return ()


def _json_type(value: object) -> str:
    """Name a value's JSON type, for messages written for people who edit JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Checker:
    """Collects problems for one document."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.location, path, message))

    def check_keys(self, path: str, obj: dict[str, Any], allowed: Sequence[str]) -> None:
        """Report unknown keys (with a suggestion) and keys the JSON text repeats."""
        prefix = f"{path}." if path else ""
        for key in obj:
            if key not in allowed:
                self.add(f"{prefix}{key}", "unknown key" + did_you_mean(key, allowed))
        # Set by hfdl.catalog.files when parsing: json.loads silently keeps the last value.
        for key in getattr(obj, "duplicate_keys", ()):
            self.add(f"{prefix}{key}", "key appears more than once in the same object")

    def check_bool(self, path: str, value: object) -> None:
        if not isinstance(value, bool):
            self.add(path, f"must be true or false, not {_json_type(value)}")

    def check_choice(self, path: str, value: object, choices: Sequence[str]) -> None:
        if value not in choices or not isinstance(value, str):
            self.add(path, _one_of(choices))

    def check_string(self, path: str, value: object) -> None:
        if not isinstance(value, str):
            self.add(path, f"must be a string, not {_json_type(value)}")

    def check_size(self, path: str, value: object) -> None:
        try:
            parse_size(value)  # type: ignore[arg-type]  # parse_size reports non-strings too
        except ValueError as error:
            self.add(path, str(error))

    def check_timestamp(self, path: str, value: object) -> None:
        if not isinstance(value, str):
            self.add(path, f"must be an ISO 8601 timestamp string, not {_json_type(value)}")
            return
        try:
            datetime.fromisoformat(value)
        except ValueError:
            self.add(path, f"{value!r} is not an ISO 8601 timestamp like '2026-01-01T00:00:00Z'")

    def check_messages(self, path: str, messages: list[str]) -> None:
        for message in messages:
            self.add(path, message)


def validate_catalog_document(data: object, location: str) -> list[Problem]:
    """Check a parsed ``models.json`` document against the catalog schema.

    Args:
        data: the result of ``json.loads`` on the file.
        location: the file path (or another label) to put in each problem.

    Returns:
        Every problem found, in document order; an empty list means the document is valid.
    """
    checker = _Checker(location)
    if not isinstance(data, dict):
        checker.add("", f"the top level must be a JSON object, not {_json_type(data)}")
        return checker.problems
    checker.check_keys("", data, TOP_LEVEL_KEYS)
    if "models" not in data:
        checker.add("models", "required key is missing")
    else:
        _check_models(checker, data["models"])
    settings = data.get("settings")
    if settings is not None:
        _check_settings(checker, settings)
    metadata = data.get("metadata")
    if metadata is not None:
        _check_metadata(checker, metadata)
    return checker.problems


def _check_models(checker: _Checker, models: object) -> None:
    if not isinstance(models, list):
        checker.add("models", f"must be a list of model entries, not {_json_type(models)}")
        return
    # Hub repo ids are case-insensitive (the Hub redirects other spellings), so two entries
    # differing only in case would download the same repository twice.
    first_index_by_name: dict[str, int] = {}
    for index, entry in enumerate(models):
        path = f"models[{index}]"
        if not isinstance(entry, dict):
            checker.add(
                path,
                f"must be an object with at least 'name' and 'enabled', not {_json_type(entry)}",
            )
            continue
        _check_model(checker, path, entry)
        name = entry.get("name")
        if isinstance(name, str) and name:
            folded = name.casefold()
            if folded in first_index_by_name:
                first = first_index_by_name[folded]
                checker.add(
                    f"{path}.name", f"duplicate model name {name!r} (already at models[{first}])"
                )
            else:
                first_index_by_name[folded] = index


def _check_model(checker: _Checker, path: str, entry: dict[str, Any]) -> None:
    checker.check_keys(path, entry, MODEL_KEYS)
    for key in REQUIRED_MODEL_KEYS:
        if key not in entry:
            checker.add(f"{path}.{key}", "required key is missing")
    if "name" in entry:
        checker.check_messages(f"{path}.name", model_name_problems(entry["name"]))
    if "enabled" in entry:
        checker.check_bool(f"{path}.enabled", entry["enabled"])

    def present(key: str) -> bool:
        return entry.get(key) is not None

    if present("status"):
        checker.check_choice(f"{path}.status", entry["status"], STATUSES)
    if present("description"):
        checker.check_string(f"{path}.description", entry["description"])
    if present("size_estimate"):
        checker.check_size(f"{path}.size_estimate", entry["size_estimate"])
    if present("priority"):
        checker.check_choice(f"{path}.priority", entry["priority"], PRIORITIES)
    if present("tags"):
        _check_tags(checker, f"{path}.tags", entry["tags"])
    if present("revision"):
        checker.check_messages(f"{path}.revision", revision_problems(entry["revision"]))
    for key in ("allow_patterns", "ignore_patterns"):
        if present(key):
            _check_patterns(checker, f"{path}.{key}", entry[key])


def _check_tags(checker: _Checker, path: str, tags: object) -> None:
    if not isinstance(tags, list):
        checker.add(path, f"must be a list of strings, not {_json_type(tags)}")
        return
    seen: set[str] = set()
    for index, tag in enumerate(tags):
        item_path = f"{path}[{index}]"
        if not isinstance(tag, str) or not tag.strip():
            checker.add(item_path, "must be a non-empty string")
        elif tag != tag.strip() or not tag.isprintable():
            # Tags are matched exactly by filters; invisible characters would never match.
            checker.add(
                item_path, f"{tag!r}: must not have surrounding spaces or control characters"
            )
        elif tag in seen:
            checker.add(item_path, f"duplicate tag {tag!r}")
        else:
            seen.add(tag)


def _check_patterns(checker: _Checker, path: str, patterns: object) -> None:
    if not isinstance(patterns, list):
        checker.add(path, f"must be a list of glob strings, not {_json_type(patterns)}")
        return
    if not patterns:
        # An empty allow list matches no file at all; almost certainly not what was meant.
        checker.add(path, "must not be an empty list (leave the key out to mean 'all files')")
        return
    for index, pattern in enumerate(patterns):
        checker.check_messages(f"{path}[{index}]", pattern_problems(pattern))


def _check_settings(checker: _Checker, settings: object) -> None:
    if not isinstance(settings, dict):
        checker.add("settings", f"must be an object, not {_json_type(settings)}")
        return
    checker.check_keys("settings", settings, SETTINGS_KEYS)
    if settings.get("auto_cleanup") is not None:
        checker.check_bool("settings.auto_cleanup", settings["auto_cleanup"])
    days = settings.get("cleanup_age_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        checker.add("settings.cleanup_age_days", "must be a whole number of days, 0 or more")
    if settings.get("max_total_size") is not None:
        checker.check_size("settings.max_total_size", settings["max_total_size"])
    if settings.get("check_frequency") is not None:
        checker.check_choice(
            "settings.check_frequency", settings["check_frequency"], CHECK_FREQUENCIES
        )


def _check_metadata(checker: _Checker, metadata: object) -> None:
    if not isinstance(metadata, dict):
        checker.add("metadata", f"must be an object, not {_json_type(metadata)}")
        return
    checker.check_keys("metadata", metadata, METADATA_KEYS)
    if metadata.get("version") is not None:
        checker.check_string("metadata.version", metadata["version"])
    for key in ("created", "last_updated"):
        if metadata.get(key) is not None:
            checker.check_timestamp(f"metadata.{key}", metadata[key])
