"""Fault injection for the fake Hub: error statuses, slow, cut, stalled and corrupted bodies.

A :class:`Fault` says *which* requests it hits (its ``match`` plus optional method and origin
filters), *what* it does, and *how many times* (then it heals). Faults come in two phases:

* header faults (``status``, or a bare ``delay_headers``) hit before the request is routed,
  so they also hit requests that would have failed anyway;
* body faults (``cut_after``, ``trickle``, ``corrupt_byte_at``, ``stall_after``, with an
  optional ``delay_headers``) hit only a successful GET that sends a body, and only count as
  used when they do (a HEAD does not use up a body fault).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .server import RequestRecord

FaultMatch = tuple[str, str | None] | str | re.Pattern[str]
"""``(repo_id, filename)`` (``filename=None``: any request about the repo, API calls included),
or a regex searched in the raw, still percent-encoded URL path (query string excluded)."""

Phase = Literal["headers", "body"]


@dataclass
class Fault:
    """One injected fault; see :meth:`tests.hubserver.HubServer.inject` for the fields.

    Attributes:
        hits: how many requests this fault has hit so far.
    """

    match: FaultMatch
    status: int | None = None
    retry_after: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    trickle: tuple[int, float] | None = None
    corrupt_byte_at: int | None = None
    delay_headers: float | None = None
    stall_after: int | None = None
    times: int | None = 1
    methods: frozenset[str] | None = None
    origin: str | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.match, str):
            self.match = re.compile(self.match)
        body = (self.cut_after, self.trickle, self.corrupt_byte_at, self.stall_after)
        if self.status is None and self.delay_headers is None and all(b is None for b in body):
            raise ValueError("a fault needs status, delay_headers, cut_after, trickle, ...")
        if self.status is not None and any(b is not None for b in body):
            raise ValueError("a status fault sends no body: it cannot also cut, trickle, ...")
        if self.trickle is not None and self.trickle[0] <= 0:
            raise ValueError("trickle needs a positive chunk size")
        if self.times is not None and self.times <= 0:
            raise ValueError("times must be positive (or None for a permanent fault)")

    @property
    def phase(self) -> Phase:
        """``"body"`` if the fault alters a response body, else ``"headers"``."""
        body = (self.cut_after, self.trickle, self.corrupt_byte_at, self.stall_after)
        return "body" if any(b is not None for b in body) else "headers"

    @property
    def kind(self) -> str:
        """A short label of what the fault does, recorded on the requests it hits."""
        labels = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status),
                ("delay_headers", self.delay_headers),
                ("cut_after", self.cut_after),
                ("trickle", self.trickle),
                ("corrupt_byte_at", self.corrupt_byte_at),
                ("stall_after", self.stall_after),
            )
            if value is not None
        ]
        return ",".join(labels)

    def matches(self, record: RequestRecord) -> bool:
        """Whether the request of ``record`` is one this fault targets."""
        if self.methods is not None and record.method not in self.methods:
            return False
        if self.origin is not None and record.origin != self.origin:
            return False
        if isinstance(self.match, re.Pattern):
            return self.match.search(record.path) is not None
        repo_id, filename = self.match
        return record.repo_id == repo_id and (filename is None or record.filename == filename)


class FaultSet:
    """The thread-safe list of active faults; the first matching fault wins."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        match: FaultMatch,
        *,
        methods: Collection[str] | None = None,
        origin: str | None = None,
        **kwargs: object,
    ) -> Fault:
        """Create a :class:`Fault` from the keyword arguments and activate it.

        Raises:
            ValueError: inconsistent or empty fault.
        """
        fault = Fault(
            match=match,
            methods=frozenset(m.upper() for m in methods) if methods is not None else None,
            origin=origin,
            **kwargs,  # type: ignore[arg-type]
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        """Return the faults that have not healed yet."""
        with self._lock:
            return list(self._faults)

    def take(
        self, record: RequestRecord, phase: Phase, body_start: int = 0, body_length: int = 0
    ) -> Fault | None:
        """Find the first fault of ``phase`` hitting ``record`` and use it up once.

        Args:
            record: the request.
            phase: which kind of fault to look for.
            body_start: for body faults, the file offset of the first byte of the body.
            body_length: for body faults, the body length (a corruption outside the body
                does not hit).

        Returns:
            The fault (its ``hits`` already incremented), or ``None``.
        """
        with self._lock:
            for fault in self._faults:
                if fault.phase != phase or not fault.matches(record):
                    continue
                at = fault.corrupt_byte_at
                if at is not None and not body_start <= at < body_start + body_length:
                    continue
                fault.hits += 1
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None
