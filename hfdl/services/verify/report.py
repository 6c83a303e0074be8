"""What verification found: per file, per model, in total; and who is told as it goes.

Pure data (and logging), no I/O: :mod:`hfdl.services.verify.check` does the checking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from hfdl.engine.events import fields
from hfdl.sizes import format_size

logger = logging.getLogger("hfdl.verify")

# What can be wrong with a recorded file.
MISSING = "missing"  # no blob in the cache
WRONG_SIZE = "wrong-size"  # a blob of another size than recorded
CORRUPT = "corrupt"  # the right size, the wrong content (hash mismatch)
NOT_LINKED = "not-linked"  # the blob is good; the snapshot entry is missing or points elsewhere
# The record names a path outside the model's cache folder (a bad record, or a symlink in the
# cache pointing elsewhere): never read, fetched, linked or deleted; repair leaves it as it is.
UNSAFE = "unsafe-path"
# Problems that need the content fetched again (NOT_LINKED only needs a new link).
NEEDS_FETCH = (MISSING, WRONG_SIZE, CORRUPT)


@dataclass(frozen=True)
class FileCheck:
    """One recorded file's verification.

    ``problem`` is ``None`` for a good file, else ``missing``, ``wrong-size``, ``corrupt``,
    ``not-linked`` or ``unsafe-path``; ``repaired`` says it was fixed; ``error`` why a
    repair failed.
    """

    path: str
    size: int
    etag: str
    is_lfs: bool
    problem: str | None = None
    repaired: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the file is good now (as found, or after repair)."""
        return self.problem is None or self.repaired

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON types; ``hash`` names the digest compared."""
        return {
            "path": self.path,
            "size": self.size,
            "etag": self.etag,
            "hash": "sha256" if self.is_lfs else "git-blob-sha1",
            "problem": self.problem,
            "repaired": self.repaired,
            "error": self.error,
        }


@dataclass(frozen=True)
class ModelCheck:
    """One model's verification. ``skipped`` says why nothing was checked (else ``None``)."""

    name: str
    commit_sha: str | None
    files: tuple[FileCheck, ...] = ()
    skipped: str | None = None
    bytes_hashed: int = 0
    bytes_fetched: int = 0

    @property
    def bad(self) -> list[FileCheck]:
        """Files still bad (not repaired)."""
        return [check for check in self.files if not check.ok]

    @property
    def result(self) -> str:
        """``ok``, ``repaired`` (every problem fixed), ``bad`` or ``skipped``."""
        if self.skipped is not None:
            return "skipped"
        if self.bad:
            return "bad"
        return "repaired" if any(check.repaired for check in self.files) else "ok"

    def to_dict(self) -> dict[str, Any]:
        """The model's result, with only the files that had a problem."""
        return {
            "name": self.name,
            "commit_sha": self.commit_sha,
            "result": self.result,
            "skipped": self.skipped,
            "files_checked": len(self.files),
            "bytes_hashed": self.bytes_hashed,
            "bytes_fetched": self.bytes_fetched,
            "problems": [check.to_dict() for check in self.files if check.problem is not None],
        }


@dataclass(frozen=True)
class VerifyReport:
    """The verification of every model asked for, in order."""

    models: tuple[ModelCheck, ...]

    @property
    def bad_files(self) -> int:
        """Files still bad."""
        return sum(len(model.bad) for model in self.models)

    @property
    def repaired_files(self) -> int:
        """Files repaired."""
        return sum(check.repaired for model in self.models for check in model.files)

    @property
    def ok(self) -> bool:
        """Whether every checked file is good now."""
        return self.bad_files == 0

    def to_dict(self) -> dict[str, Any]:
        """``ok``, totals, and one entry per model (``models verify --json``)."""
        return {
            "ok": self.ok,
            "models_checked": sum(model.skipped is None for model in self.models),
            "files_checked": sum(len(model.files) for model in self.models),
            "bad_files": self.bad_files,
            "repaired_files": self.repaired_files,
            "bytes_hashed": sum(model.bytes_hashed for model in self.models),
            "bytes_fetched": sum(model.bytes_fetched for model in self.models),
            "models": [model.to_dict() for model in self.models],
        }


class VerifyObserver(Protocol):
    """Told what verification does, as it does it."""

    def model_started(self, name: str, files: int, bytes_total: int) -> None:
        """A model's files are about to be checked."""

    def file_checked(self, name: str, check: FileCheck) -> None:
        """A file was checked (and repaired, if asked and needed)."""

    def model_finished(self, check: ModelCheck) -> None:
        """A model is done."""


class LogVerifyObserver:
    """Logs one line per bad file and per model (journald gets ``HFDL_*`` fields)."""

    def model_started(self, name: str, files: int, bytes_total: int) -> None:
        """Log at debug level: verification of a model is uneventful when all is well."""
        logger.debug("verify %s: %d file(s), %s", name, files, format_size(bytes_total))

    def file_checked(self, name: str, check: FileCheck) -> None:
        """Log a file that had a problem, and what repair did."""
        if check.problem is None:
            return
        if check.repaired:
            outcome = ": repaired"
        elif check.error:
            outcome = f": not repaired: {check.error}"
        else:
            outcome = ""
        logger.warning(
            "verify %s: %s is %s%s",
            name,
            check.path,
            check.problem,
            outcome,
            extra=fields("verify-file", model=name),
        )

    def model_finished(self, check: ModelCheck) -> None:
        """Log the model's result."""
        level = logging.ERROR if check.result == "bad" else logging.INFO
        detail = check.skipped or f"{len(check.files)} file(s), {len(check.bad)} bad"
        logger.log(
            level,
            "verify %s: %s (%s)",
            check.name,
            check.result,
            detail,
            extra=fields("verify", model=check.name, nbytes=check.bytes_fetched),
        )


class NullVerifyObserver:
    """Reports nothing (the default observer)."""

    def model_started(self, name: str, files: int, bytes_total: int) -> None:
        pass

    def file_checked(self, name: str, check: FileCheck) -> None:
        pass

    def model_finished(self, check: ModelCheck) -> None:
        pass
