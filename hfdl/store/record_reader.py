"""Turning the rows of plain SQL queries into the store's records (:mod:`hfdl.store.rows`),
for the SQLAlchemy-free readers (:mod:`hfdl.store.reader`, :mod:`hfdl.store.fleet`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from hfdl.store.rows import external_name, stored_timestamp


def _converter(annotation: str) -> Callable[[Any], Any] | None:
    """How to turn a stored column into the record field annotated ``annotation``.

    The storage conventions are those of :mod:`hfdl.store.tables`: timestamps as ISO text,
    string lists as JSON text, booleans as 0/1.
    """
    if annotation.startswith("datetime"):
        return stored_timestamp
    if annotation.startswith("tuple[str"):
        return lambda text: None if text is None else tuple(json.loads(text))
    if annotation == "bool":
        return bool
    return None


class RecordReader:
    """SELECT list and row conversion for one record type, derived from its fields."""

    def __init__(self, record: type[Any], table: str) -> None:
        fields = dataclasses.fields(record)
        self.record = record
        self.columns = ", ".join(f"{table}.{external_name(field)}" for field in fields)
        self.select = f"SELECT {self.columns} FROM {table}"
        self._converters = [_converter(str(field.type)) for field in fields]

    def build(self, row: tuple[Any, ...]) -> Any:
        """The record of one row selected with :attr:`columns` (or :attr:`select`)."""
        values = [
            value if convert is None else convert(value)
            for convert, value in zip(self._converters, row, strict=True)
        ]
        return self.record(*values)
