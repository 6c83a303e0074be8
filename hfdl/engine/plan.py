"""Planning a run: ask the Hub what each candidate needs, then admit what fits on disk.

Nothing here writes to the cache; the plan is also what ``hfdl run --dry-run`` prints.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hfdl.engine.select import Candidate
from hfdl.errors import DiskFullError, HfdlError
from hfdl.hub.cache import RepoCache
from hfdl.hub.remote import RemoteFile, RemoteRevision
from hfdl.sizes import format_size

if TYPE_CHECKING:
    from hfdl.hub.client import HubClient

# Keep this much free on the download filesystem: a full disk breaks more than hfdl.
FREE_SPACE_RESERVE_BYTES = 256 * 1024 * 1024


@dataclass
class ModelPlan:
    """What a run will do for one model.

    ``action`` is ``download`` (files are missing), ``link`` (all blobs present, the snapshot
    needs linking), ``up-to-date`` (nothing to do; one API request was spent at most),
    ``skip`` (refused by admission) or ``error`` (the Hub said no).
    """

    candidate: Candidate
    action: str
    revision: RemoteRevision | None = None
    files: tuple[RemoteFile, ...] = ()
    missing: tuple[RemoteFile, ...] = ()
    bytes_total: int = 0
    bytes_missing: int = 0
    bytes_partial: int = 0
    error: HfdlError | None = None
    requests: int = 0
    retries: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The model's repository id."""
        return self.candidate.model.name


def wanted_files(
    remote: RemoteRevision, allow: Sequence[str] | None, ignore: Sequence[str] | None
) -> tuple[RemoteFile, ...]:
    """Filter a revision's files with the model's patterns, as ``snapshot_download`` does."""
    if not allow and not ignore:
        return remote.files
    from huggingface_hub.utils import filter_repo_objects

    kept = filter_repo_objects(
        remote.files,
        allow_patterns=list(allow) if allow else None,
        ignore_patterns=list(ignore) if ignore else None,
        key=lambda remote_file: remote_file.path,
    )
    return tuple(kept)


def wanted_path(
    allow: Sequence[str] | None, ignore: Sequence[str] | None
) -> Callable[[str], bool] | None:
    """The model's patterns as a test of one path (``None``: every file is wanted).

    Passed to the file listing so that a thin mirror, which needs a HEAD per file, is asked
    only about the files the model downloads (same rules as :func:`wanted_files`).
    """
    if not allow and not ignore:
        return None
    from huggingface_hub.utils import filter_repo_objects

    def wanted(path: str) -> bool:
        kept = filter_repo_objects(
            [path],
            allow_patterns=list(allow) if allow else None,
            ignore_patterns=list(ignore) if ignore else None,
        )
        return any(True for _ in kept)

    return wanted


def plan_model(
    candidate: Candidate,
    client: HubClient,
    cache_dir: Path,
    *,
    snapshot_is_verified: Callable[[str, str], bool],
    call: Callable[[Callable[[], object], str], object],
) -> ModelPlan:
    """Find out what one candidate needs, with as few Hub requests as possible.

    A completed model due for a check costs one request (resolve the revision); only when the
    commit moved, or the snapshot is incomplete, is the file list fetched.

    Args:
        candidate: the model and why it was selected.
        client: the Hub client.
        cache_dir: the HF hub cache directory.
        snapshot_is_verified: ``(model_name, commit_sha) -> bool``, whether the DB records a
            complete, verified snapshot of that commit whose blobs are still present.
        call: ``call(request, what)`` runs a Hub request with hfdl's retry policy
            (retryable errors are retried); ``what`` names what it asks for, for the lines
            that say what the run waits for.

    Returns:
        The plan; Hub errors are captured in ``plan.error`` with ``action="error"``.
    """
    model = candidate.model
    plan = ModelPlan(candidate=candidate, action="download")
    repo_cache = RepoCache(cache_dir, model.name)
    try:
        if candidate.reason == "update-check" and candidate.known_commit:
            commit = str(
                call(
                    lambda: client.resolve(model.name, model.revision),
                    f"the commit of {model.revision}",
                )
            )
            plan.requests += 1
            if commit == candidate.known_commit and snapshot_is_verified(model.name, commit):
                plan.action = "up-to-date"
                plan.revision = RemoteRevision(model.name, model.revision, commit, ())
                return plan
            plan.notes.append(f"revision {model.revision} moved to {commit[:12]}")
            revision_to_list = commit
        else:
            revision_to_list = model.revision
        wanted = wanted_path(model.allow_patterns, model.ignore_patterns)
        remote = call(
            lambda: client.list_files(model.name, revision_to_list, wanted=wanted),
            "the file list",
        )
        assert isinstance(remote, RemoteRevision)
        plan.requests += 1 + remote.head_requests
        if remote.head_requests:
            plan.notes.append(f"thin file list: {remote.head_requests} HEAD request(s)")
    except HfdlError as error:
        plan.action = "error"
        plan.error = error
        return plan
    plan.revision = RemoteRevision(
        model.name, model.revision, remote.commit_sha, remote.files, remote.gated
    )
    plan.files = wanted_files(remote, model.allow_patterns, model.ignore_patterns)
    plan.bytes_total = sum(remote_file.size for remote_file in plan.files)
    missing = [f for f in plan.files if not repo_cache.has_blob(f.etag, f.size)]
    plan.missing = tuple(missing)
    plan.bytes_partial = sum(min(repo_cache.partial_size(f.etag), f.size) for f in missing)
    plan.bytes_missing = sum(f.size for f in missing) - plan.bytes_partial
    if not missing:
        plan.action = "link"
    return plan


def managed_bytes(cache_dir: Path, model_names: Sequence[str]) -> int:
    """Bytes that hfdl's models occupy in the cache (complete blobs and partials)."""
    total = 0
    for name in model_names:
        repo_cache = RepoCache(cache_dir, name)
        total += repo_cache.bytes_on_disk()
        try:
            total += sum(entry.stat().st_size for entry in repo_cache.blobs.glob("*.incomplete"))
        except OSError:
            continue
    return total


def admit(
    plans: Sequence[ModelPlan],
    *,
    cache_dir: Path,
    max_total_size: int | None,
    managed_names: Sequence[str],
) -> None:
    """Refuse, before any byte moves, the downloads that cannot finish.

    Plans are visited in priority order; each download is admitted while its missing bytes fit
    both the free disk space (minus a reserve) and the ``max_total_size`` budget for everything
    hfdl manages. What does not fit becomes ``action="skip"`` with a ``DiskFullError`` saying
    why. Because the high-priority models are admitted first, lower priorities are the ones
    refused.

    Args:
        plans: the plans, in priority order; modified in place.
        cache_dir: the download directory (its filesystem is measured).
        max_total_size: the catalog's budget in bytes, or ``None`` for no budget.
        managed_names: every model hfdl manages (for the bytes already used).
    """
    if not any(plan.action == "download" for plan in plans):
        return  # nothing to admit: skip measuring the disk and the managed bytes
    probe = cache_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free - FREE_SPACE_RESERVE_BYTES
    budget = None
    if max_total_size is not None:
        budget = max_total_size - managed_bytes(cache_dir, managed_names)
    for plan in plans:
        if plan.action != "download":
            continue
        need = plan.bytes_missing
        if need > free:
            plan.action = "skip"
            plan.error = DiskFullError(
                f"{plan.name} needs {format_size(need)} more but only {format_size(max(free, 0))} "
                f"is free on the filesystem of {cache_dir} (keeping "
                f"{format_size(FREE_SPACE_RESERVE_BYTES)} in reserve)",
                hint="free disk space, or disable lower-priority models",
            )
            continue
        if budget is not None and need > budget:
            plan.action = "skip"
            plan.error = DiskFullError(
                f"{plan.name} needs {format_size(need)} more but only "
                f"{format_size(max(budget, 0))} is left of settings.max_total_size "
                f"({format_size(max_total_size or 0)})",
                hint="raise settings.max_total_size in models.json, or remove models",
            )
            continue
        free -= need
        if budget is not None:
            budget -= need


def describe_plan(plan: ModelPlan) -> str:
    """One line saying what a run decided for a model and why (logged at DEBUG).

    Example: ``plan org/name: download (new), 1 request(s), 0 retries, 3/5 file(s) missing,
    1.2 GiB to fetch, 10.0 MiB partial, 1.3 GiB in all, admitted``.
    """
    parts = [
        f"plan {plan.name}: {plan.action} ({plan.candidate.reason})",
        f"{plan.requests} request(s)",
        f"{plan.retries} retries",
    ]
    if plan.revision is not None:
        parts.append(f"commit {plan.revision.commit_sha[:12]}")
        parts.append(f"{len(plan.missing)}/{len(plan.files)} file(s) missing")
        parts.append(f"{format_size(plan.bytes_missing)} to fetch")
        parts.append(f"{format_size(plan.bytes_partial)} partial")
        parts.append(f"{format_size(plan.bytes_total)} in all")
    parts.extend(plan.notes)
    if plan.action == "download":
        parts.append("admitted")
    elif plan.error is not None:
        parts.append(f"refused: {plan.error}" if plan.action == "skip" else str(plan.error))
    return ", ".join(parts)
