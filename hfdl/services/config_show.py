"""``hfdl config show``: every effective setting with its source, secrets masked.

The Hugging Face token appears only as its source and masked form; credentials in the
endpoint URL and a password in ``database_url`` are masked too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hfdl.config import FIELDS, Settings
from hfdl.database_url import mask_password
from hfdl.errors import ConfigError


@dataclass(frozen=True)
class ShownSetting:
    """One effective setting: JSON-safe value, where it came from, the variables for it."""

    key: str
    value: object
    source: str
    env: tuple[str, ...]


@dataclass(frozen=True)
class ConfigView:
    """What ``hfdl config show`` prints. It never holds the token, only its masked form."""

    config_file: Path | None
    settings: tuple[ShownSetting, ...]
    token_source: str | None
    token_masked: str | None
    token_error: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``config show --json``."""
        token: dict[str, Any] | None = None
        if self.token_source is not None or self.token_error is not None:
            token = {"source": self.token_source, "value": self.token_masked}
            if self.token_error is not None:
                token["error"] = self.token_error
        return {
            "config_file": None if self.config_file is None else str(self.config_file),
            "settings": {
                shown.key: {"value": shown.value, "source": shown.source, "env": list(shown.env)}
                for shown in self.settings
            },
            "token": token,
        }


def mask_url_credentials(url: str) -> str:
    """Hide a password (or a lone user name, often a token) written into a URL."""
    from hfdl.token import mask_secret

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    hidden = f"{user}:{mask_secret(password)}" if has_password else mask_secret(user)
    return urlunsplit(parts._replace(netloc=f"{hidden}@{host}"))


def show_config(settings: Settings, environ: Mapping[str, str] | None = None) -> ConfigView:
    """Describe the effective configuration, every value with its source.

    Args:
        settings: the loaded settings (``sources`` filled in by the loader).
        environ: where the token is looked up (``None``: this process's environment).

    Returns:
        The view; the token appears only as its source and masked form.
    """
    from hfdl.token import find_token, mask_secret

    shown = []
    for setting_field in FIELDS:
        value = settings.get(setting_field.key)
        if isinstance(value, Path):
            value = str(value)
        if setting_field.kind == "url" and isinstance(value, str):
            value = mask_url_credentials(value)
        if setting_field.kind == "database_url" and isinstance(value, str):
            value = mask_password(value)
        source = settings.sources.get(setting_field.key, "default")
        shown.append(ShownSetting(setting_field.key, value, source, setting_field.env))
    token_source = token_masked = token_error = None
    try:
        found = find_token(environ)
    except ConfigError as error:
        token_error = "; ".join(str(problem) for problem in error.problems)
    else:
        if found is not None:
            token_source, token_masked = found.source, mask_secret(found.value)
    return ConfigView(settings.config_file, tuple(shown), token_source, token_masked, token_error)
