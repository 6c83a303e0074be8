"""Validating what a Hub server says before hfdl uses any of it.

An endpoint is configured by the user (the Hub, a mirror, a proxy, a plain-http LAN cache) and
hfdl often runs unattended as root: every value the server supplies that ends up in a file
name, a URL or an allocation is checked here first, in one place. A value of the wrong form
makes the whole model fail with :class:`~hfdl.errors.UntrustedMetadata` (permanent, exit 65),
naming the server, the model and the value (escaped and truncated, so a hostile value cannot
forge log lines or flood a terminal). The other models of the run go on.

What is accepted:

* a file path: relative POSIX path of non-empty segments, none ``.`` or ``..``, no NUL or
  other control character, no backslash, at most ``MAX_PATH_BYTES`` in UTF-8 and
  ``MAX_SEGMENT_BYTES`` per segment; no two files with the same path, and no file whose path
  is also a folder of another file;
* a commit: 40 lowercase hex; a git blob id: 40 lowercase hex; a sha256: 64 lowercase hex;
* a size: an integer (not a bool, float or string), 0 ≤ size ≤ ``MAX_FILE_SIZE``;
* a redirect target: an ``http`` or ``https`` URL with a host;
* for a file the listing describes by name only (a thin mirror, see ``docs/mirrors.md``), the
  answer to a ``HEAD`` on its resolve URL: an ETag of 40 or 64 lowercase hex (never empty: an
  empty value would name the ``blobs/`` folder itself), a size as above, and the commit asked
  for. A missing ETag or size fails the model with a message that says so.

This module is import-light (no ``huggingface_hub``): :mod:`hfdl.hub.cache` reuses
:func:`path_problem` for its own checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from hfdl.errors import UntrustedMetadata

MAX_PATH_BYTES = 1024
MAX_SEGMENT_BYTES = 255
MAX_FILE_SIZE = 2**50  # 1 PiB: far above any real file, far below what breaks arithmetic
MAX_SHOWN_CHARACTERS = 80

_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HINT = (
    "the server at this endpoint is broken or hostile; hfdl refuses to use its answer for this "
    "model and touched nothing on disk for it. Check the endpoint setting (prefer https)."
)
_THIN_HINT = (
    "the server lists this file without size or hash, and its answer to a HEAD on the file's "
    "resolve URL lacks them too (ETag or X-Linked-Etag, Content-Length or X-Linked-Size). "
    "hfdl needs them to name and verify the file; see docs/mirrors.md, or use another endpoint."
)


def shown(value: object) -> str:
    """Return ``value`` escaped like ``repr()`` and truncated, safe to put in a message."""
    text = repr(value)
    if len(text) > MAX_SHOWN_CHARACTERS:
        text = text[: MAX_SHOWN_CHARACTERS - 3] + "..."
    return text


def path_problem(path: object) -> str | None:
    """Say what is wrong with a repository file path, or return ``None`` when it is safe.

    Args:
        path: the value the server gave as a file name.

    Returns:
        A short reason (``"has a '..' segment"``, ...) or ``None``.
    """
    if not isinstance(path, str):
        return f"is a {type(path).__name__}, not a string"
    if not path:
        return "is empty"
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode"
    if len(encoded) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    if any(ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F for character in path):
        return "contains a NUL or control character"
    if "\\" in path:
        return "contains a backslash"
    if path.startswith("/"):
        return "is absolute"
    for segment in path.split("/"):
        if not segment:
            return "has an empty segment (leading, trailing or double slash)"
        if segment in (".", ".."):
            return f"has a {segment!r} segment"
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            return f"has a segment longer than {MAX_SEGMENT_BYTES} bytes"
    return None


def is_hex_name(value: object) -> bool:
    """Whether ``value`` is a blob name hfdl can use: 40 or 64 lowercase hex."""
    return isinstance(value, str) and bool(_COMMIT.fullmatch(value) or _SHA256.fullmatch(value))


def redirect_problem(url: str) -> str | None:
    """Say what is wrong with a redirect target, or ``None`` for an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "is not an http or https URL"
    if not host:
        return "has no host"
    return None


class MetadataValidator:
    """Checks the values one server sent about one model; raises on the first bad one.

    Args:
        endpoint: the server (named in the error).
        repo_id: the model (named in the error).
    """

    def __init__(self, endpoint: str, repo_id: str) -> None:
        self.endpoint = endpoint
        self.repo_id = repo_id

    def refuse(self, what: str, value: object, reason: str) -> UntrustedMetadata:
        """Build the error for a refused value (the caller raises it)."""
        return UntrustedMetadata(
            f"{self.endpoint} sent untrusted metadata for {self.repo_id}: "
            f"{what} {shown(value)} {reason}",
            hint=_HINT,
        )

    def commit(self, value: object) -> str:
        """Return ``value`` when it is a 40-lowercase-hex commit sha.

        Raises:
            UntrustedMetadata: anything else.
        """
        if isinstance(value, str) and _COMMIT.fullmatch(value):
            return value
        raise self.refuse("commit sha", value, "is not 40 lowercase hex digits")

    def path(self, value: object) -> str:
        """Return ``value`` when it is a safe relative file path (see :func:`path_problem`).

        Raises:
            UntrustedMetadata: anything else.
        """
        problem = path_problem(value)
        if problem is not None:
            raise self.refuse("file name", value, problem)
        assert isinstance(value, str)
        return value

    def blob_id(self, value: object, path: str) -> str:
        """Return ``value`` when it is a 40-lowercase-hex git blob id.

        Raises:
            UntrustedMetadata: anything else.
        """
        if isinstance(value, str) and _COMMIT.fullmatch(value):
            return value
        raise self.refuse(f"git blob id of {shown(path)}", value, "is not 40 lowercase hex digits")

    def sha256(self, value: object, path: str) -> str:
        """Return ``value`` when it is a 64-lowercase-hex sha256.

        Raises:
            UntrustedMetadata: anything else.
        """
        if isinstance(value, str) and _SHA256.fullmatch(value):
            return value
        raise self.refuse(f"sha256 of {shown(path)}", value, "is not 64 lowercase hex digits")

    def size(self, value: object, path: str) -> int:
        """Return ``value`` when it is an integer in ``[0, MAX_FILE_SIZE]``.

        Raises:
            UntrustedMetadata: anything else (a bool, a float, a string, out of range).
        """
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.refuse(f"size of {shown(path)}", value, "is not an integer")
        if not 0 <= value <= MAX_FILE_SIZE:
            raise self.refuse(f"size of {shown(path)}", value, f"is not in 0..{MAX_FILE_SIZE}")
        return value

    def head_etag(self, value: object, path: str) -> str:
        """Return the ETag of a ``HEAD`` answer when it can name a blob (40 or 64 lowercase hex).

        A 40-hex ETag is the git blob sha1 of a regular file, a 64-hex one the sha256 of an LFS
        file (``huggingface_hub`` names blobs the same way).

        Raises:
            UntrustedMetadata: no ETag at all (``None`` or empty), or one of another form.
        """
        if value is None or value == "":
            raise self.missing(f"ETag of {shown(path)}")
        if is_hex_name(value):
            assert isinstance(value, str)
            return value
        raise self.refuse(
            f"ETag of {shown(path)}", value, "is neither 40 nor 64 lowercase hex digits"
        )

    def head_size(self, value: object, path: str) -> int:
        """Return the size of a ``HEAD`` answer (see :meth:`size`).

        Raises:
            UntrustedMetadata: no size at all, or a bad one.
        """
        if value is None:
            raise self.missing(f"size of {shown(path)}")
        return self.size(value, path)

    def head_commit(self, value: object, path: str, expected: str) -> None:
        """Check the ``X-Repo-Commit`` of a ``HEAD`` answer: absent, or the commit asked for.

        Raises:
            UntrustedMetadata: a commit of the wrong form, or another commit than ``expected``.
        """
        if value is None or value == "":
            return  # the URL named the commit already; some mirrors do not repeat it
        if self.commit(value) != expected:
            raise self.refuse(
                f"commit of {shown(path)}", value, f"is not the commit asked for ({expected})"
            )

    def missing(self, what: str) -> UntrustedMetadata:
        """Build the error for a value neither the listing nor a ``HEAD`` gave (caller raises)."""
        return UntrustedMetadata(
            f"{self.endpoint} gave no {what} for {self.repo_id}, neither in its file list nor "
            "in the answer to a HEAD on the file's resolve URL",
            hint=_THIN_HINT,
        )

    def unique_paths(self, paths: Iterable[str]) -> None:
        """Refuse a listing with a path twice, or a path that is also a folder of another.

        Raises:
            UntrustedMetadata: the first such path.
        """
        seen: set[str] = set()
        folders: set[str] = set()
        for path in paths:
            if path in seen:
                raise self.refuse("file name", path, "is listed twice")
            seen.add(path)
            parts = path.split("/")
            folders.update("/".join(parts[:index]) for index in range(1, len(parts)))
        clash = sorted(seen & folders)
        if clash:
            raise self.refuse("file name", clash[0], "is both a file and a folder")


def check_redirect(url: str, target: str) -> str:
    """Return ``target`` when a redirect from ``url`` to it may be followed.

    Raises:
        UntrustedMetadata: the target is not an http or https URL with a host.
    """
    problem = redirect_problem(target)
    if problem is None:
        return target
    parts = urlsplit(url)
    server = f"{parts.scheme}://{parts.netloc}"
    raise UntrustedMetadata(
        f"{server} redirected {shown(url)} to {shown(target)}, which {problem}", hint=_HINT
    )
