"""Reading ``./.env``: environment variables for development, kept out of the shell profile.

A ``.env`` file in the working directory supplies variables that are not set in the real
environment; it never overrides one that is (even one set to an empty value). Precedence,
first wins: the real environment, then ``.env``, then the configuration file, then the
built-in defaults. :func:`hfdl.config.load_settings` is the one place that reads it.

The format is deliberately small and strict, so that a typo is an error (exit 78, naming
``.env:LINE``) instead of a variable silently set to something else:

* blank lines and lines starting with ``#`` are ignored;
* every other line is ``KEY=VALUE``, optionally preceded by ``export``, with spaces allowed
  around ``=``; ``KEY`` is letters, digits and ``_``, not starting with a digit;
* ``VALUE`` is unquoted (surrounding spaces dropped; `` #`` starts a comment; no quote
  characters inside), or wholly in ``"double"`` or ``'single'`` quotes (taken literally,
  ``#`` included; only a comment may follow the closing quote);
* no escapes, no ``${VARIABLE}`` expansion, no values spanning lines; a key set twice is an
  error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from hfdl.errors import ConfigError, Problem

DOTENV_FILE_NAME = ".env"
# Set by systemd for every service it starts: a unit's environment is what the unit says,
# so a run started by a timer never picks up a .env from the service's working directory
# (a user service's is the home directory).
SYSTEMD_SERVICE_MARKER = "INVOCATION_ID"

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXPORT_PREFIX = "export "
_COMMENT_AFTER_VALUE = re.compile(r"\s+#")
_QUOTES = ("'", '"')

# The variables a .env file put into this process's environment, and their values: they
# keep ".env" as their source when the settings are loaded again in the same process.
_applied_to_process: dict[str, str] = {}


def _parse_value(text: str) -> str:
    """The value after ``=``, unquoted; raises ``ValueError`` saying what is wrong."""
    if text[:1] in _QUOTES:
        quote = text[0]
        closing = text.find(quote, 1)
        if closing < 0:
            raise ValueError(f"the value's opening {quote} is never closed on this line")
        rest = text[closing + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise ValueError(f"unexpected text after the closing {quote}: {rest!r}")
        return text[1:closing]
    value = _COMMENT_AFTER_VALUE.split(text, maxsplit=1)[0].strip()
    if any(quote in value for quote in _QUOTES):
        raise ValueError("a quote inside an unquoted value: quote the whole value instead")
    return value


def parse_dotenv(text: str, location: str) -> dict[str, str]:
    """Parse the text of a ``.env`` file (the format is in this module's docstring).

    Args:
        text: the file's content.
        location: the file's name for messages; problems are reported at ``LOCATION:LINE``.

    Returns:
        The variables, in the order of the file.

    Raises:
        ConfigError: one or more lines are malformed; every problem is listed.
    """
    values: dict[str, str] = {}
    first_line: dict[str, int] = {}
    problems: list[Problem] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(_EXPORT_PREFIX):
            line = line[len(_EXPORT_PREFIX) :].lstrip()
        key, equals, rest = line.partition("=")
        key = key.strip()
        where = f"{location}:{number}"
        if not equals:
            problems.append(Problem(where, "", "expected KEY=VALUE (no '=' on this line)"))
            continue
        if not _KEY.fullmatch(key):
            problems.append(
                Problem(where, "", f"{key!r} is not a variable name (letters, digits, '_')")
            )
            continue
        if key in first_line:
            problems.append(Problem(where, key, f"set again (first set on line {first_line[key]})"))
            continue
        try:
            values[key] = _parse_value(rest.strip())
        except ValueError as error:
            problems.append(Problem(where, key, str(error)))
            continue
        first_line[key] = number
    if problems:
        raise ConfigError(
            problems,
            hint="Fix the lines named above: .env takes KEY=VALUE lines, comments starting "
            "with '#', and values optionally in quotes (see .env.example).",
        )
    return values


def read_dotenv(path: Path) -> dict[str, str]:
    """Read and parse a ``.env`` file; an absent file gives no variables.

    Args:
        path: the file (``<working directory>/.env``).

    Returns:
        Its variables.

    Raises:
        ConfigError: the file cannot be read or is malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(
            [Problem(str(path), "", f"cannot read the .env file: {reason}")],
            hint="Make the file a readable UTF-8 text file, or remove it.",
        ) from error
    return parse_dotenv(text, str(path))


def dotenv_variables(working_directory: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables ``<working_directory>/.env`` adds to ``environ``: the ones not set there.

    Args:
        working_directory: where to look for ``.env`` (only there: no parent directories).
        environ: the real environment; a variable set in it, even to an empty value, wins.

    Returns:
        The variables to add; none under systemd (see :data:`SYSTEMD_SERVICE_MARKER`).

    Raises:
        ConfigError: the file cannot be read or is malformed.
    """
    if environ.get(SYSTEMD_SERVICE_MARKER):
        return {}
    found = read_dotenv(working_directory / DOTENV_FILE_NAME)
    return {name: value for name, value in found.items() if name not in environ}


def apply_to_process(variables: Mapping[str, str], environ: MutableMapping[str, str]) -> None:
    """Put ``.env``'s variables into this process's environment (``os.environ``).

    Done because more than the settings read the environment: the token lookup, the Hugging
    Face paths (``HF_HOME``) and ``huggingface_hub`` itself, when imported.

    Args:
        variables: from :func:`dotenv_variables` (so none is set already).
        environ: ``os.environ``.
    """
    for name, value in variables.items():
        environ.setdefault(name, value)
        _applied_to_process[name] = value


def names_from_dotenv(variables: Mapping[str, str], *, process_environment: bool) -> set[str]:
    """The names whose value comes from ``.env`` (so that ``config show`` says so).

    Args:
        variables: from :func:`dotenv_variables`.
        process_environment: whether the settings are loaded from this process's
            environment, where an earlier :func:`apply_to_process` may have put variables
            (they are then set already, and :func:`dotenv_variables` leaves them out).

    Returns:
        ``variables``' names, and the names applied earlier whose value is unchanged.
    """
    if not process_environment:
        return set(variables)
    earlier = {name for name, value in _applied_to_process.items() if os.environ.get(name) == value}
    return set(variables) | earlier
