"""The model catalog: ``models.json``, the list of models hfdl keeps downloaded.

Public API (import from ``hfdl.catalog``):

* :func:`load_catalog` reads and validates a file into a :class:`Catalog`.
* :func:`validate_catalog_document` checks a parsed document and lists every problem.
* :func:`save_catalog_document` validates and atomically writes a document.
* :func:`add_model`, :func:`update_model`, :func:`remove_model` edit one entry in place.

This package never imports ``huggingface_hub`` (start-up time); the Hub's repo-id rule is
mirrored in :mod:`hfdl.catalog.validate`.
"""

from hfdl.catalog.edit import add_model, remove_model, update_model
from hfdl.catalog.files import (
    catalog_from_document,
    load_catalog,
    parse_catalog_text,
    read_catalog_document,
    render_catalog_document,
    save_catalog_document,
    utc_timestamp,
)
from hfdl.catalog.model import (
    CHECK_FREQUENCIES,
    PRIORITIES,
    STATUSES,
    Catalog,
    CatalogModel,
    CatalogSettings,
)
from hfdl.catalog.validate import (
    model_name_problems,
    pattern_problems,
    revision_problems,
    validate_catalog_document,
)

__all__ = [
    "CHECK_FREQUENCIES",
    "PRIORITIES",
    "STATUSES",
    "Catalog",
    "CatalogModel",
    "CatalogSettings",
    "add_model",
    "catalog_from_document",
    "load_catalog",
    "model_name_problems",
    "parse_catalog_text",
    "pattern_problems",
    "read_catalog_document",
    "remove_model",
    "render_catalog_document",
    "revision_problems",
    "save_catalog_document",
    "update_model",
    "utc_timestamp",
    "validate_catalog_document",
]
