"""Where the state database lives: a SQLite file, or a PostgreSQL server named by a URL.

A shared leaf (configuration validation, the store and the services use it), plain standard
library (no SQLAlchemy): the fast reports (:mod:`hfdl.store.reader`) parse it too. A URL may
carry a password: :attr:`DatabaseTarget.display` is the form every message, log and report
uses, with the password replaced by ``***``; the full URL is only handed to the driver.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
POSTGRESQL_SCHEMES = ("postgresql+psycopg",)
MASK = "***"


def mask_password(url: str) -> str:
    """``url`` with the password of its authority (if any) replaced by ``***``.

    The user information ends at the last ``@`` before the query, so a password with an
    unencoded ``@`` or ``/`` is masked whole too; a ``password=`` query parameter is masked.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    before_query, question, query = rest.partition("?")
    # libpq also takes the password as a parameter: ?password=...
    query = "&".join(
        f"password={MASK}" if parameter.lower().startswith("password=") else parameter
        for parameter in query.split("&")
    )
    userinfo, at, location = before_query.rpartition("@")
    if at and ":" in userinfo:
        before_query = f"{userinfo.split(':', 1)[0]}:{MASK}@{location}"
    return f"{scheme}://{before_query}{question}{query}"


@dataclass(frozen=True)
class DatabaseTarget:
    """One state database.

    Attributes:
        path: the SQLite file, or ``None`` for a server database.
        url: the server URL, password included (``None`` for SQLite); hand it to the driver
            only, never to a message.
        display: how messages name it: the path, or the URL with its password masked.
    """

    path: Path | None
    url: str | None = field(default=None, repr=False)
    display: str = ""

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "sqlite" if self.path is not None else "postgresql"

    def exists(self) -> bool:
        """Whether there may be state to read: the SQLite file exists, or it is a server
        (whose database exists as soon as hfdl can connect; an empty one is initialised)."""
        return self.path.exists() if self.path is not None else True

    def libpq_url(self) -> str:
        """The server URL as libpq takes it (``postgresql://...``, the driver name dropped)."""
        if self.url is None:
            raise ValueError("a SQLite database has no server URL")
        return "postgresql" + self.url[self.url.index("://") :]

    def __str__(self) -> str:
        return self.display


def database_target(where: Path | str | DatabaseTarget) -> DatabaseTarget:
    """Interpret ``where``: a path (``Path``, or a string without ``://``) is a SQLite file;
    ``sqlite:///relative`` and ``sqlite:////absolute`` URLs name one too; a
    ``postgresql+psycopg://`` URL is a server database.

    Raises:
        ValueError: a URL of another kind (the configuration validates ``database_url`` with
            a better message first).
    """
    if isinstance(where, DatabaseTarget):
        return where
    if isinstance(where, Path) or "://" not in where:
        return DatabaseTarget(path=Path(where), display=str(where))
    scheme, _, rest = where.partition("://")
    scheme = scheme.lower()
    if scheme in SQLITE_SCHEMES:
        file_name = urllib.parse.unquote(rest[1:].split("?", 1)[0]) if rest.startswith("/") else ""
        if not file_name or file_name == ":memory:":
            raise ValueError("a sqlite URL must name a database file: sqlite:////path/to/hfdl.db")
        return DatabaseTarget(path=Path(file_name), display=file_name)
    if scheme in POSTGRESQL_SCHEMES or scheme == "postgresql":
        if scheme == "postgresql":
            where = "postgresql+psycopg://" + rest
        return DatabaseTarget(path=None, url=where, display=mask_password(where))
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:/// or postgresql+psycopg://"
    )


def check_database_url(text: str) -> str:
    """Check a ``database_url`` setting; messages show the URL with its password masked.

    Args:
        text: the setting's value.

    Returns:
        The URL stripped of surrounding blanks; ``""`` (SQLite at ``db_path``) stays ``""``.

    Raises:
        ValueError: not a URL SQLAlchemy parses, not a ``postgresql+psycopg`` or ``sqlite``
            one, a SQLite URL naming no file, or a server URL naming no database.
    """
    text = text.strip()
    if not text:
        return ""
    shown = mask_password(text)
    from sqlalchemy.engine import make_url  # only when set: the fast commands skip SQLAlchemy
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        # Not echoed: where a URL cannot be parsed, neither can its password be found to mask.
        raise ValueError(
            "must be a SQLAlchemy URL such as postgresql+psycopg://hfdl@db.example.com/hfdl"
            " (the value is not shown: it may hold a password)"
        ) from None
    if url.drivername not in (*POSTGRESQL_SCHEMES, *SQLITE_SCHEMES):
        raise ValueError(
            f"must be a postgresql+psycopg:// or sqlite:/// URL, got {url.drivername}:// in"
            f" {shown!r}"
        )
    if url.drivername in SQLITE_SCHEMES and (url.database or ":memory:") == ":memory:":
        raise ValueError(f"a sqlite URL must name a file (sqlite:////path/to/hfdl.db): {shown!r}")
    if url.drivername in POSTGRESQL_SCHEMES and not url.database:
        raise ValueError(f"must name the database: .../DATABASE at the end of {shown!r}")
    if any(character.isspace() or not character.isprintable() for character in text):
        raise ValueError(f"must not contain spaces or control characters: {shown!r}")
    return text
