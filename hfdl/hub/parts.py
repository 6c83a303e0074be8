"""The bookkeeping of ranged transfers: settings, per-host connection slots, the sidecar.

See :mod:`hfdl.hub.ranged` for how a transfer uses them. The sidecar
``<etag>.incomplete.parts`` is JSON ``{"size": N, "parts": [[start, end, done], ...]}``
(``end`` exclusive, ``done`` bytes written from ``start``), replaced atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from hfdl.hub.cache import PARTS_SIDECAR_SUFFIX as SIDECAR_SUFFIX

if TYPE_CHECKING:
    from hfdl.config import Settings

MIB = 1024 * 1024
# Parts smaller than this cost a round trip (and a first-byte delay) for too few bytes: at
# 16 MiB/s and 50 ms to the first byte a 4 MiB part spends ~17% of its time waiting.
MIN_PART_BYTES = 4 * MIB


@dataclass(frozen=True)
class RangedSettings:
    """How many connections a transfer may use (from ``Settings``)."""

    connections_per_file: int = 1
    max_connections: int = 16

    @classmethod
    def from_settings(cls, settings: Settings) -> RangedSettings:
        """The configured ``connections_per_file`` and ``max_connections``."""
        return cls(settings.connections_per_file, settings.max_connections)

    def applies_to(self, size: int) -> bool:
        """Whether a file of ``size`` bytes is split at all (small files stay one request)."""
        return self.connections_per_file > 1 and size >= 2 * MIN_PART_BYTES


class HostLimiter:
    """Connection slots to one host, with a multiplicative backoff on 429/503.

    ``allowed`` starts at ``cap``; :meth:`throttled` halves it (min 1), :meth:`succeeded`
    doubles it back (max ``cap``). ``lowest`` keeps the smallest allowance seen, for tests.
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self.allowed = self.cap
        self.lowest = self.cap
        self.in_use = 0
        self._cond = threading.Condition()

    def acquire(self, abort: threading.Event | None = None) -> bool:
        """Wait for a slot; ``False`` if ``abort`` was set meanwhile."""
        with self._cond:
            while self.in_use >= self.allowed:
                if abort is not None and abort.is_set():
                    return False
                self._cond.wait(0.1)  # wakes to re-check abort
            self.in_use += 1
            return True

    def release(self) -> None:
        with self._cond:
            self.in_use -= 1
            self._cond.notify_all()

    def throttled(self) -> None:
        with self._cond:
            self.allowed = max(1, self.allowed // 2)
            self.lowest = min(self.lowest, self.allowed)

    def succeeded(self) -> None:
        with self._cond:
            self.allowed = min(self.cap, self.allowed * 2)
            self._cond.notify_all()


_LIMITERS: dict[str, HostLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(url: str, cap: int) -> HostLimiter:
    """The process-wide limiter of ``url``'s host (its cap follows the latest setting)."""
    parsed = urlparse(url)
    key = f"{parsed.hostname}:{parsed.port}"
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = HostLimiter(cap)
        elif limiter.cap != max(1, cap):
            limiter.cap = limiter.allowed = limiter.lowest = max(1, cap)
        return limiter


@contextlib.contextmanager
def connection_slot(url: str, ranged: RangedSettings | None) -> Iterator[None]:
    """Hold one of ``url``'s host's connection slots for the ``with`` block (waiting for one);
    with ``ranged`` ``None`` (no limits), hold nothing."""
    if ranged is None:
        yield
        return
    limiter = limiter_for(url, ranged.max_connections)
    limiter.acquire()
    try:
        yield
    finally:
        limiter.release()


class PartTable:
    """The parts of one file and their sidecar; ``[start, end, done]`` with ``end`` exclusive."""

    def __init__(self, incomplete: Path, size: int, parts: list[list[int]]) -> None:
        self.incomplete = incomplete
        self.sidecar = Path(f"{incomplete}{SIDECAR_SUFFIX}")
        self.size = size
        self.parts = parts
        self._lock = threading.Lock()

    @classmethod
    def load_or_plan(cls, incomplete: Path, size: int, connections: int) -> PartTable:
        """The recorded parts if the sidecar matches ``size``; else a fresh plan.

        A partial file without a sidecar is a prefix written by one stream: its bytes count as
        done and only the rest is split.
        """
        sidecar = Path(f"{incomplete}{SIDECAR_SUFFIX}")
        try:
            data = json.loads(sidecar.read_text())
            parts = [[int(a), int(b), int(d)] for a, b, d in data["parts"]]
            if data["size"] == size and _valid(parts, size):
                return cls(incomplete, size, parts)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            prefix = incomplete.stat().st_size
        except OSError:
            prefix = 0
        if prefix > size:
            prefix = 0  # not a prefix of this file
        length = max(MIN_PART_BYTES, -(-size // connections))
        planned = []
        for start in range(0, size, length):
            end = min(size, start + length)
            planned.append([start, end, max(0, min(end, prefix) - start)])
        return cls(incomplete, size, planned)

    def prefix(self) -> int:
        """Bytes from the start of the file that are all written (the hashable run)."""
        with self._lock:
            position = 0
            for start, end, done in self.parts:
                position = start + done
                if done < end - start:
                    break
            return position

    def done_bytes(self) -> int:
        return sum(done for _, _, done in self.parts)

    def save(self) -> None:
        """Replace the sidecar atomically (a reader sees the old or the new one)."""
        with self._lock:
            text = json.dumps({"size": self.size, "parts": self.parts})
            temporary = Path(f"{self.sidecar}.tmp")
            temporary.write_text(text)
            os.replace(temporary, self.sidecar)

    def advance(self, index: int, nbytes: int) -> None:
        with self._lock:
            self.parts[index][2] += nbytes


def _valid(parts: list[list[int]], size: int) -> bool:
    position = 0
    for start, end, done in parts:
        if start != position or end <= start or not 0 <= done <= end - start:
            return False
        position = end
    return position == size


def abandon_parts(incomplete: Path) -> None:
    """Turn a ranged partial file back into a plain prefix (for the single-stream path).

    Keeps the leading run of bytes that are known good, truncates the rest, deletes the
    sidecar. No sidecar: nothing to do (the file is already a prefix).
    """
    sidecar = Path(f"{incomplete}{SIDECAR_SUFFIX}")
    if not sidecar.exists():
        return
    prefix = 0
    try:
        for start, end, done in json.loads(sidecar.read_text())["parts"]:
            if start != prefix:
                break
            prefix += done
            if done < end - start:
                break
    except (OSError, ValueError, KeyError, TypeError):
        prefix = 0
    if incomplete.exists():
        os.truncate(incomplete, min(prefix, incomplete.stat().st_size))
    sidecar.unlink(missing_ok=True)
