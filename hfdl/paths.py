"""Well-known file-system locations, computed without importing ``huggingface_hub``.

``hfdl status`` must start quickly, and importing ``huggingface_hub`` costs a noticeable
fraction of a second, so the Hugging Face cache layout rules are re-implemented here. They
follow ``huggingface_hub.constants`` exactly so that the files hfdl downloads are found by
``transformers``, ``diffusers`` and every other Hub-aware loader without extra settings.

Every function takes the environment as an explicit mapping (``None`` means ``os.environ``)
so that tests and ``hfdl config show`` can compute paths for an environment other than the
current process's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

# Where a system-wide (root) installation keeps its state and configuration.
SYSTEM_STATE_DIRECTORY = Path("/var/lib/hfdl")
SYSTEM_CONFIG_DIRECTORY = Path("/etc/hfdl")

APP_NAME = "hfdl"
CONFIG_FILE_NAME = "config.yaml"
MODELS_FILE_NAME = "models.json"
DATABASE_FILE_NAME = "hfdl.db"

# $NAME or ${NAME}, as understood by the POSIX shell and os.path.expandvars.
_VARIABLE_PATTERN = re.compile(r"\$(?:(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|\{(?P<braced>[^}]*)\})")


def _environment(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """Return ``environ``, or the process environment when it is ``None``."""
    return os.environ if environ is None else environ


def effective_uid() -> int:
    """Return the effective user id, or -1 on platforms without one (never root there)."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid() if geteuid is not None else -1


def is_root(euid: int | None = None) -> bool:
    """Return whether hfdl runs as root and should use system-wide locations.

    Args:
        euid: the effective user id to judge; ``None`` means this process's.
    """
    return (effective_uid() if euid is None else euid) == 0


def home_directory(environ: Mapping[str, str] | None = None) -> Path:
    """Return the user's home directory: ``$HOME`` when set, else the password database's."""
    home = _environment(environ).get("HOME")
    return Path(home) if home else Path.home()


def expand_path(text: str, environ: Mapping[str, str] | None = None, *, strict: bool = True) -> str:
    """Expand a leading ``~`` and ``$NAME``/``${NAME}`` variables in ``text``.

    Args:
        text: a path as a user wrote it.
        environ: the environment to take ``$HOME`` and variables from (``None``: this process's).
        strict: when true, an unset variable is an error; when false it is left as written,
            which is what ``os.path.expandvars`` (and so ``huggingface_hub``) does.

    Returns:
        The expanded text; it may still be relative.

    Raises:
        ValueError: ``strict`` is true and ``text`` uses a variable that is not set.
    """
    environment = _environment(environ)

    def substitute(match: re.Match[str]) -> str:
        name = match.group("plain") or match.group("braced")
        if name in environment:
            return environment[name]
        if strict:
            raise ValueError(f"uses ${name}, which is not set in the environment")
        return match.group(0)

    expanded = _VARIABLE_PATTERN.sub(substitute, text)
    if expanded == "~" or expanded.startswith("~/"):
        expanded = str(home_directory(environment)) + expanded[1:]
    elif expanded.startswith("~"):
        # ~otheruser/...: only the password database knows that home directory.
        expanded = os.path.expanduser(expanded)
    return expanded


def resolve_path(text: str, base_directory: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Turn a user-written path into an absolute, normalised path.

    Args:
        text: the path as written (``~`` and ``$VARS`` allowed).
        base_directory: what a relative path is relative to (a YAML file's directory for
            paths written in that file, the working directory for environment variables).
        environ: the environment used for expansion (``None``: this process's).

    Returns:
        An absolute path with ``.`` and ``..`` removed; symbolic links are not resolved, so
        the path shown to users is the one they wrote.

    Raises:
        ValueError: the text is empty or uses an unset variable.
    """
    if not text.strip():
        raise ValueError("must not be empty")
    expanded = Path(expand_path(text, environ))
    absolute = expanded if expanded.is_absolute() else base_directory / expanded
    return Path(os.path.normpath(absolute))


def _xdg_directory(environ: Mapping[str, str], variable: str, fallback: tuple[str, ...]) -> Path:
    """Return ``$variable`` when it is an absolute path, else ``~/<fallback>``.

    The XDG Base Directory specification says relative values must be ignored.
    """
    value = environ.get(variable, "")
    if value and Path(value).is_absolute():
        return Path(value)
    return home_directory(environ).joinpath(*fallback)


def _hf_expand(text: str, environ: Mapping[str, str], cwd: Path | None) -> Path:
    """Expand a Hugging Face path variable the way ``huggingface_hub`` does, made absolute."""
    expanded = Path(expand_path(text, environ, strict=False))
    if not expanded.is_absolute():
        expanded = (cwd if cwd is not None else Path.cwd()) / expanded
    return Path(os.path.normpath(expanded))


def hf_home(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """Return the Hugging Face home: ``$HF_HOME``, else ``$XDG_CACHE_HOME/huggingface``, else
    ``~/.cache/huggingface``.

    Args:
        environ: the environment to read (``None``: this process's).
        cwd: what a relative ``$HF_HOME`` is relative to (``None``: the working directory).
    """
    environment = _environment(environ)
    configured = environment.get("HF_HOME")
    if configured:
        return _hf_expand(configured, environment, cwd)
    # huggingface_hub uses $XDG_CACHE_HOME as written, even when relative.
    xdg_cache = environment.get("XDG_CACHE_HOME")
    if xdg_cache:
        return _hf_expand(os.path.join(xdg_cache, "huggingface"), environment, cwd)
    return home_directory(environment) / ".cache" / "huggingface"


def hf_hub_cache(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """Return the Hugging Face hub cache directory that Hub-aware loaders read from.

    Order: ``$HF_HUB_CACHE``, the legacy ``$HUGGINGFACE_HUB_CACHE``, then ``<hf_home>/hub``.
    Running as root changes nothing here on purpose: the files must be where loaders look.

    Args:
        environ: the environment to read (``None``: this process's).
        cwd: what a relative variable value is relative to (``None``: the working directory).
    """
    environment = _environment(environ)
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        configured = environment.get(variable)
        if configured:
            return _hf_expand(configured, environment, cwd)
    return hf_home(environment, cwd) / "hub"


def hf_token_path(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """Return the file ``huggingface-cli login`` stores the token in.

    ``$HF_TOKEN_PATH``, else ``<hf_home>/token``.
    """
    environment = _environment(environ)
    configured = environment.get("HF_TOKEN_PATH")
    if configured:
        return _hf_expand(configured, environment, cwd)
    return hf_home(environment, cwd) / "token"


def default_state_directory(
    environ: Mapping[str, str] | None = None, euid: int | None = None
) -> Path:
    """Return where hfdl keeps its lock file, logs and database by default.

    ``/var/lib/hfdl`` for root (what systemd's ``StateDirectory=hfdl`` creates), else
    ``$XDG_STATE_HOME/hfdl``, else ``~/.local/state/hfdl``.
    """
    if is_root(euid):
        return SYSTEM_STATE_DIRECTORY
    return _xdg_directory(_environment(environ), "XDG_STATE_HOME", (".local", "state")) / APP_NAME


def default_config_directory(
    environ: Mapping[str, str] | None = None, euid: int | None = None
) -> Path:
    """Return the directory of the per-user or system configuration file.

    ``/etc/hfdl`` for root, else ``$XDG_CONFIG_HOME/hfdl``, else ``~/.config/hfdl``.
    """
    if is_root(euid):
        return SYSTEM_CONFIG_DIRECTORY
    return _xdg_directory(_environment(environ), "XDG_CONFIG_HOME", (".config",)) / APP_NAME


def default_config_file(environ: Mapping[str, str] | None = None, euid: int | None = None) -> Path:
    """Return the configuration file looked for when none is named and none is in ``./config``."""
    return default_config_directory(environ, euid) / CONFIG_FILE_NAME
