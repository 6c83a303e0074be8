"""Starting a file's writeback early, so the ``fsync`` before publishing has little left to do.

Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)`` queues dirty pages for writing without
waiting for them; Python has no binding for it, so it is called through ``ctypes``. Elsewhere
(or if libc lacks it) this is a no-op and the final ``fsync`` does all the work, as before.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

# Start the writeback of a growing file every this many bytes.
WRITEBACK_STEP_BYTES = 32 * 1024 * 1024

_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's ``sync_file_range`` (Linux), or ``None`` where it is not available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE = _load_sync_file_range()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``length`` bytes at ``offset`` to disk, without waiting.

    ``fd`` may be opened read-only. Best effort: the ``fsync`` that follows still guarantees
    durability; this only moves most of its work earlier, overlapping the transfer.
    """
    if _SYNC_FILE_RANGE is not None and length > 0:
        _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)
