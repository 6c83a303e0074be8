"""What ``hfdl cleanup`` reports: each revision or partial download removed or kept, and why.

The shapes returned by :mod:`hfdl.services.cleanup.clean` (rendered as text or ``--json``
by the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REASON_SUPERSEDED = "superseded"
REASON_MODEL_REMOVED = "model removed from the catalog"
REASON_MODEL_COMPLETE = "download complete, nothing to resume"
REASON_WANTED = "wanted by the catalog"
REASON_FOREIGN = "not downloaded by hfdl"
REASON_NEWEST = "newest snapshot of a model still in the catalog"
REASON_RESUMABLE = "resumable by the next run"
REASON_IN_USE = "in use by another process"
REASON_UNSELECTED = "no longer selected by the model's allow/ignore patterns"
REASON_UNLINKED = "no snapshot links it any more"

# What an item is (the ``kind`` of its JSON form).
KIND_REVISION = "revision"  # a snapshot (commit_sha set)
KIND_PARTIAL = "partial"  # a blobs/*.incomplete file
KIND_FILE = "file"  # one snapshot entry of the wanted commit, and its blob if nothing else uses it
KIND_BLOB = "blob"  # a blob hfdl recorded that no snapshot links any more


@dataclass(frozen=True)
class KeptItem:
    """A revision (``commit_sha`` set) or a partial download (``commit_sha`` ``None``) of a
    managed model, and why cleanup left it; ``kind`` says which (see ``KIND_*``; empty: from
    ``commit_sha``)."""

    model: str
    commit_sha: str | None
    path: Path
    reason: str
    kind: str = field(default="", kw_only=True)

    @property
    def what(self) -> str:
        """The item's kind: ``revision``, ``partial``, ``file`` or ``blob``."""
        if self.kind:
            return self.kind
        return KIND_PARTIAL if self.commit_sha is None else KIND_REVISION

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``kind`` is ``revision``, ``partial``, ``file`` or ``blob``."""
        return {
            "kind": self.what,
            "model": self.model,
            "commit_sha": self.commit_sha,
            "path": str(self.path),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RemovedItem(KeptItem):
    """A revision or partial download removed (or that a dry run would remove), and why.

    ``bytes_freed`` counts the blobs that went with it; a blob shared by several removed
    revisions is counted once, on the oldest.
    """

    age_days: float
    bytes_freed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the fields of :class:`KeptItem`, ``age_days`` and ``bytes_freed``."""
        return {
            **super().to_dict(),
            "age_days": round(self.age_days, 2),
            "bytes_freed": self.bytes_freed,
        }


@dataclass
class CleanupReport:
    """What a cleanup removed (or, with ``dry_run``, would remove), what it kept and why."""

    dry_run: bool
    cache_dir: Path
    cleanup_age_days: int
    removed: list[RemovedItem] = field(default_factory=list)
    kept: list[KeptItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        """Bytes freed (or that would be freed) on disk."""
        return sum(item.bytes_freed for item in self.removed)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``hfdl cleanup --json``."""
        return {
            "dry_run": self.dry_run,
            "cache_dir": str(self.cache_dir),
            "cleanup_age_days": self.cleanup_age_days,
            "removed": [item.to_dict() for item in self.removed],
            "kept": [item.to_dict() for item in self.kept],
            "warnings": list(self.warnings),
            "bytes_freed": self.bytes_freed,
        }
