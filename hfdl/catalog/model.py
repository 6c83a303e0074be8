"""The catalog's data types and the vocabulary (allowed values and defaults) of ``models.json``.

This module only describes data; it does no I/O and imports nothing heavy, so renderers and
the CLI can import it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("pending", "downloading", "completed", "failed")
PRIORITIES = ("high", "medium", "low")
CHECK_FREQUENCIES = ("daily", "weekly", "monthly")

DEFAULT_PRIORITY = "medium"
DEFAULT_REVISION = "main"
DEFAULT_CHECK_FREQUENCY = "daily"
DEFAULT_CLEANUP_AGE_DAYS = 30

TOP_LEVEL_KEYS = ("models", "settings", "metadata")
MODEL_KEYS = (
    "name",
    "enabled",
    "status",
    "description",
    "size_estimate",
    "priority",
    "tags",
    "revision",
    "allow_patterns",
    "ignore_patterns",
)
REQUIRED_MODEL_KEYS = ("name", "enabled")
SETTINGS_KEYS = ("auto_cleanup", "cleanup_age_days", "max_total_size", "check_frequency")
METADATA_KEYS = ("version", "created", "last_updated")


@dataclass(frozen=True)
class CatalogModel:
    """One validated ``models[i]`` entry, with defaults filled in.

    ``status`` is the status written in the JSON file (``None`` when absent); the state
    database's status wins over it once the model has been seen (see ``Store.sync_catalog``).
    ``allow_patterns``/``ignore_patterns`` are ``None`` when absent (download every file).
    ``index`` is the entry's position in the ``models`` list.
    """

    name: str
    enabled: bool
    status: str | None
    description: str
    size_estimate: str | None
    size_estimate_bytes: int | None
    priority: str
    tags: tuple[str, ...]
    revision: str
    allow_patterns: tuple[str, ...] | None
    ignore_patterns: tuple[str, ...] | None
    index: int


@dataclass(frozen=True)
class CatalogSettings:
    """The validated ``settings`` object, with defaults filled in.

    ``max_total_size``/``max_total_size_bytes`` are ``None`` when there is no size limit.
    """

    auto_cleanup: bool = False
    cleanup_age_days: int = DEFAULT_CLEANUP_AGE_DAYS
    max_total_size_bytes: int | None = None
    max_total_size: str | None = None
    check_frequency: str = DEFAULT_CHECK_FREQUENCY


@dataclass(frozen=True)
class Catalog:
    """A validated catalog file.

    ``raw`` is the parsed JSON document exactly as read (key order kept), which the edit
    helpers modify and write back; ``metadata`` is its ``metadata`` object (empty if absent).
    """

    path: Path
    models: list[CatalogModel]
    settings: CatalogSettings
    metadata: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    def get(self, name: str) -> CatalogModel | None:
        """Return the model called exactly ``name``, or ``None``."""
        for model in self.models:
            if model.name == name:
                return model
        return None

    def names(self) -> list[str]:
        """The model names in file order."""
        return [model.name for model in self.models]
