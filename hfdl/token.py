"""Finding the Hugging Face access token, and masking secrets for display.

The token is deliberately kept out of :class:`hfdl.config.Settings`: settings are printed
(``hfdl config show``), dumped to YAML and logged, and a token must never be. Read it with
:func:`read_token` right where a request needs it, and show it only through
:func:`mask_secret`.

Lookup order, first found wins:

1. ``$HF_TOKEN`` (or the legacy ``$HUGGING_FACE_HUB_TOKEN``);
2. ``$CREDENTIALS_DIRECTORY/hf_token``: a systemd credential, so that a system service can
   get the token without it being in the unit file or the environment of every process;
3. the file ``hf auth login`` writes: ``$HF_TOKEN_PATH``, else ``$HF_HOME/token``, else
   ``~/.cache/huggingface/token``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hfdl import paths
from hfdl.errors import ConfigError, Problem

TOKEN_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
CREDENTIAL_NAME = "hf_token"

# Shorter secrets are hidden completely: showing 7 characters of a 10-character secret
# would give most of it away.
_SHORTEST_PARTLY_SHOWN = 12


@dataclass(frozen=True)
class FoundToken:
    """A token and where it was found. ``repr`` never shows the token itself."""

    value: str = field(repr=False)
    source: str

    def __str__(self) -> str:
        return f"{mask_secret(self.value)} (from {self.source})"


def _clean(value: str) -> str:
    # Files written by editors end with a newline; a token never contains whitespace.
    return value.strip()


def _read_token_file(path: Path) -> str | None:
    """Return the token stored in ``path``, or ``None`` when the file is absent or blank.

    Raises:
        ConfigError: the file exists but cannot be read. Going on without the token would
            surface later as a confusing "repository not found" for gated models.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(
            [Problem(str(path), "", f"cannot read the Hugging Face token file: {reason}")],
            hint="Make the file readable by the user hfdl runs as, or remove it.",
        ) from error
    return _clean(text) or None


def find_token(environ: Mapping[str, str] | None = None) -> FoundToken | None:
    """Find the Hugging Face token and say where it came from.

    Args:
        environ: the environment to read (``None``: this process's).

    Returns:
        The token and its source (``env:HF_TOKEN``, or a file path), or ``None`` when no
        token is configured (anonymous access).

    Raises:
        ConfigError: a token file exists but cannot be read.
    """
    environment = os.environ if environ is None else environ
    for name in TOKEN_ENV_VARS:
        value = _clean(environment.get(name, ""))
        if value:
            return FoundToken(value, f"env:{name}")
    credentials_directory = environment.get("CREDENTIALS_DIRECTORY", "")
    candidates: list[Path] = []
    if credentials_directory:
        candidates.append(Path(credentials_directory) / CREDENTIAL_NAME)
    candidates.append(paths.hf_token_path(environment))
    for candidate in candidates:
        stored = _read_token_file(candidate)
        if stored:
            return FoundToken(stored, str(candidate))
    return None


def read_token(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the Hugging Face token, or ``None`` for anonymous access.

    Args:
        environ: the environment to read (``None``: this process's).

    Raises:
        ConfigError: a token file exists but cannot be read.
    """
    found = find_token(environ)
    return found.value if found is not None else None


def mask_secret(value: str | None) -> str:
    """Return a secret in a form safe to print: ``hf_****wxyz``.

    Args:
        value: the secret, or ``None``.

    Returns:
        ``"(not set)"`` for ``None`` or an empty string; ``"****"`` for short secrets; else
        the first three and last four characters around ``****``, enough to tell tokens
        apart without revealing them.
    """
    if not value:
        return "(not set)"
    if len(value) < _SHORTEST_PARTLY_SHOWN:
        return "****"
    return f"{value[:3]}****{value[-4:]}"
