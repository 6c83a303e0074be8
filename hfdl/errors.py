"""The one exception hierarchy of hfdl, and the one table that maps it to exit codes.

Core code raises these; only the CLI's single exit point (``hfdl.cli``) turns them into a
message on stderr and a process exit code. Exit codes follow sysexits(3) so that systemd,
shell scripts and monitoring can tell a configuration mistake from a temporary outage.

Error classes carry a ``hint``: what the user should do next. The message itself says what
failed and why.
"""

from __future__ import annotations

from dataclasses import dataclass

# sysexits(3) codes used by hfdl.
EX_OK = 0
EX_FAILURE = 1  # a run finished but at least one model failed
EX_USAGE = 2  # wrong command-line usage (Typer/Click also uses 2)
EX_DATAERR = 65  # invalid input data: catalog entry, model name, size string
EX_NOINPUT = 66  # an input file named explicitly does not exist
EX_UNAVAILABLE = 69  # the Hub or a service is unavailable, repo not found / gated
EX_SOFTWARE = 70  # internal error (a bug)
EX_CANTCREAT = 73  # cannot create/write an output file or directory, disk full
EX_IOERR = 74  # input/output error
EX_TEMPFAIL = 75  # temporary failure: another run holds the lock
EX_CONFIG = 78  # configuration error


class HfdlError(Exception):
    """Base class of every error hfdl reports to a user.

    Args:
        message: what failed and why, in plain words.
        hint: what to do about it (optional).
    """

    exit_code: int = EX_SOFTWARE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(HfdlError):
    """The command line asked for something impossible (conflicting or missing options)."""

    exit_code = EX_USAGE


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is and what is wrong.

    ``location`` is a file path (or ``<env>``/``<cli>``), ``path`` a key path inside it such
    as ``models[2].priority``; ``message`` says what is wrong.
    """

    location: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        key = f"{self.path}: " if self.path else ""
        return f"{where}{key}{self.message}"


class ValidationError(HfdlError):
    """Input failed validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem], *, what: str, hint: str | None = None) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{what}: {count} {noun}\n{lines}", hint=hint)


class ConfigError(ValidationError):
    """The YAML configuration or an environment override is invalid."""

    exit_code = EX_CONFIG

    def __init__(self, problems: list[Problem], *, hint: str | None = None) -> None:
        super().__init__(problems, what="invalid configuration", hint=hint)


class ConfigFileNotFound(HfdlError):
    """A configuration file named explicitly (``--config`` or ``HFDL_CONFIG_PATH``) is missing."""

    exit_code = EX_CONFIG


class CatalogError(ValidationError):
    """The catalog (``models.json``) is invalid."""

    exit_code = EX_DATAERR

    def __init__(self, problems: list[Problem], *, hint: str | None = None) -> None:
        super().__init__(problems, what="invalid model catalog", hint=hint)


class CatalogNotFound(HfdlError):
    """The catalog file does not exist."""

    exit_code = EX_NOINPUT


class ModelNotFound(HfdlError):
    """A model named on the command line is not in the catalog."""

    exit_code = EX_DATAERR


class DuplicateModel(HfdlError):
    """A model being added is already in the catalog."""

    exit_code = EX_DATAERR


class InvalidModelInput(ValidationError):
    """Values given for a catalog entry or a model filter (on the command line) are invalid.

    Checked with the catalog's own rules before anything is written, so that every problem is
    reported at once and named by the catalog key it would go to (``priority``,
    ``allow_patterns[0]``).
    """

    exit_code = EX_DATAERR

    def __init__(
        self,
        problems: list[Problem],
        *,
        what: str = "invalid model options",
        hint: str | None = None,
    ) -> None:
        super().__init__(problems, what=what, hint=hint)


class VerificationFailed(HfdlError):
    """Downloaded files failed verification and were not repaired (or could not be)."""

    exit_code = EX_DATAERR


class InvalidSchedule(ValidationError):
    """A schedule's fields are invalid (name, type, time, day, concurrency, tags)."""

    exit_code = EX_DATAERR

    def __init__(self, problems: list[Problem], *, hint: str | None = None) -> None:
        super().__init__(problems, what="invalid schedule", hint=hint)


class ScheduleNotFound(HfdlError):
    """No schedule has the id or name given."""

    exit_code = EX_DATAERR


class DuplicateSchedule(HfdlError):
    """A schedule with that name already exists."""

    exit_code = EX_DATAERR


class UnsafeUnitValue(HfdlError):
    """A value would break a generated systemd unit file (newline, control character, '=').

    Validation keeps such values out of the database; this is the last line of defence,
    raised while rendering, so that no value can ever add a line to a unit file.
    """

    exit_code = EX_DATAERR


class StoreError(HfdlError):
    """The SQLite state database cannot be opened, created or migrated."""

    exit_code = EX_CANTCREAT


class DatabaseBusy(HfdlError):
    """Another process holds the state database's write lock for longer than hfdl waits.

    Temporary: the database is healthy, only busy; try again when that process is done.
    """

    exit_code = EX_TEMPFAIL


class NotWritable(HfdlError):
    """A directory hfdl must write to (download directory, state directory) is read-only or
    not writable by this user; the message names the path."""

    exit_code = EX_CANTCREAT


class LockedError(HfdlError):
    """Another ``hfdl run`` holds the run lock."""

    exit_code = EX_TEMPFAIL


class HubError(HfdlError):
    """Base of errors talking to the Hub. ``retryable`` says whether trying again may help."""

    exit_code = EX_UNAVAILABLE
    retryable: bool = False


class HubUnavailable(HubError):
    """The Hub did not answer, answered 5xx/429, or the connection broke: try again later."""

    retryable = True

    def __init__(
        self, message: str, *, hint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class RepoNotFound(HubError):
    """The repository does not exist, or is private and the token cannot see it."""


class GatedRepo(HubError):
    """The repository is gated: its terms must be accepted on the Hub and a token used."""


class RevisionNotFound(HubError):
    """The branch, tag or commit does not exist in the repository."""


class EntryNotFound(HubError):
    """A file listed for the revision is not on the Hub any more."""


class IntegrityError(HubError):
    """A downloaded file's size or hash does not match the Hub's metadata."""

    exit_code = EX_DATAERR
    retryable = True


class UntrustedMetadata(HubError):
    """The Hub (or a mirror) sent a value hfdl refuses to use: a file path that could leave the
    cache (``..``, absolute, NUL or control characters), a commit that is not 40 hex, a hash or
    size of the wrong form. Permanent: the server has to be fixed, retrying cannot help.
    """

    exit_code = EX_DATAERR


class UnsafePath(HfdlError):
    """A path hfdl was about to create, link, lock or delete is not inside the cache folder it
    belongs to (directly, or through a symlink already on disk). Defence in depth behind
    :class:`UntrustedMetadata`: nothing is touched.
    """

    exit_code = EX_DATAERR


class StalledTransfer(HubError):
    """No bytes arrived for longer than the stall timeout."""

    retryable = True


class AttemptTimeout(HubError):
    """A model's whole attempt took longer than ``timeout_seconds``."""

    retryable = True


class LeaseLost(HubError):
    """Another host took over a blob this run was downloading into a shared cache: this run's
    lease expired (it stalled for longer than ``lease_seconds``). The transfer stops at once,
    so that two hosts never write one partial file; a retry waits for the new holder."""

    retryable = True


class DiskFullError(HfdlError):
    """Not enough free space (or ``max_total_size`` budget) for a download."""

    exit_code = EX_CANTCREAT


class SystemdError(HfdlError):
    """systemd (or systemctl) is unavailable or refused an operation."""

    exit_code = EX_UNAVAILABLE


class Cancelled(HfdlError):
    """The run was asked to stop (SIGTERM/SIGINT) before it finished; partial files are kept."""

    exit_code = EX_TEMPFAIL


class RunFailed(HfdlError):
    """A run finished, but at least one model failed. Exit 1 so systemd marks the unit failed."""

    exit_code = EX_FAILURE


class TemporaryRunFailure(RunFailed):
    """A run finished, and every model that failed, failed on a temporary error (the Hub
    unavailable, a stalled transfer, a timeout): exit 75 (try again later), which the systemd
    unit retries after ``service.retry_delay_seconds``, instead of 1, which it does not."""

    exit_code = EX_TEMPFAIL


def exit_code_for(error: BaseException) -> int:
    """Return the process exit code for ``error``.

    Args:
        error: any exception that reached the CLI's exit point.

    Returns:
        The error's own ``exit_code`` for hfdl errors, 130 for Ctrl-C, 74 for OS errors
        and 70 (internal software error) for anything else.
    """
    if isinstance(error, HfdlError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return 130
    if isinstance(error, OSError):
        return EX_IOERR
    return EX_SOFTWARE
