"""Writing into the cache: "cannot write here" becomes an error that names the path."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from hfdl.errors import NotWritable

# errno values meaning "this user may not write here" (read-only mount, permissions, chattr +i).
_NOT_WRITABLE_ERRNOS = frozenset((errno.EROFS, errno.EACCES, errno.EPERM))


@contextlib.contextmanager
def cache_writes(download_directory: Path) -> Iterator[None]:
    """Turn "cannot write here" errors of the cache into :class:`NotWritable` naming the path.

    The model's attempt then fails with a reason recorded like any other failure, instead of
    a raw ``[Errno 30]`` ending the whole run.

    Args:
        download_directory: the configured cache directory (named in the message and hint).

    Raises:
        NotWritable: an ``OSError`` with ``EROFS``, ``EACCES`` or ``EPERM`` happened inside.
    """
    try:
        yield
    except OSError as error:
        if error.errno not in _NOT_WRITABLE_ERRNOS:
            raise
        path = error.filename or download_directory
        raise NotWritable(
            f"cannot write {path} in the download directory {download_directory}:"
            f" {error.strerror or error}",
            hint=f"make {download_directory} writable by the user hfdl runs as"
            f" ({_user_name()}), or change download_directory in the configuration",
        ) from error


def _user_name() -> str:
    """The effective user's name (its uid when it has none), for hints."""
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"
