"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Used for everything hfdl writes that someone else reads: the catalog, the YAML config, unit
files, refs in the HF cache. Import-light (standard library only).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

DEFAULT_NEW_FILE_MODE = 0o644


def write_atomically(path: Path, text: str, *, new_file_mode: int = DEFAULT_NEW_FILE_MODE) -> None:
    """Replace ``path`` with ``text``.

    Written to a temporary file in the same directory, fsync'ed, renamed over the target, then
    the directory is fsync'ed so the rename survives a power loss. An existing file keeps its
    permission bits (and, when root edits another user's file, its owner); a new file gets
    ``new_file_mode`` and its directory is created. A symbolic link is followed: its target is
    replaced and the link kept.

    Args:
        path: the file to replace.
        text: its new content (UTF-8).
        new_file_mode: permission bits when the file does not exist yet.

    Raises:
        OSError: the directory or file cannot be written; the message names the file.
    """
    target = Path(os.path.realpath(path))
    try:
        existing = target.stat()
    except FileNotFoundError:
        existing = None
    mode = new_file_mode if existing is None else existing.st_mode & 0o7777
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            status = os.fstat(handle.fileno())
            if existing is not None and (status.st_uid, status.st_gid) != (
                existing.st_uid,
                existing.st_gid,
            ):
                # When root edits a file owned by a service user, keep that user's ownership.
                with contextlib.suppress(PermissionError):
                    os.fchown(handle.fileno(), existing.st_uid, existing.st_gid)
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        temporary = None
        fsync_directory(target.parent)
    except OSError as error:
        raise OSError(error.errno, f"cannot write {target}: {error.strerror or error}") from error
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def fsync_directory(directory: Path) -> None:
    """Make a rename durable: the directory entry lives in the directory's own data."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def process_umask() -> int:
    """The process's file mode creation mask, read without changing it.

    ``os.umask`` can only be read by setting it, which races with other threads creating
    files; Linux reports it in ``/proc/self/status`` (since 4.7). The fallback sets and
    restores it at once.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def mode_for_new_file(requested: int = 0o666) -> int:
    """The mode ``open()`` would give a new file: ``requested`` less the process's umask."""
    return requested & ~process_umask()
