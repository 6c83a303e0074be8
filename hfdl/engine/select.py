"""Which catalog models a run takes, and in what order. Pure functions: no I/O, no network.

At DEBUG (``hfdl -v run``) every decision is logged with its reason: why each model was
taken, or why not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from hfdl.catalog import CatalogModel
from hfdl.hub.cache import is_commit_sha
from hfdl.store import ModelRow

PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}

logger = logging.getLogger("hfdl.run")

# How long a completed model stays fresh before a run asks the Hub whether its revision moved.
CHECK_PERIODS = {
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
    "monthly": timedelta(days=30),
}


@dataclass(frozen=True)
class Candidate:
    """A model a run will look at, and why: ``new``, ``pending``, ``failed`` or ``update-check``."""

    model: CatalogModel
    reason: str
    known_commit: str | None


def select_candidates(
    models: Iterable[CatalogModel],
    rows: Mapping[str, ModelRow],
    *,
    check_frequency: str,
    now: datetime,
    tags: frozenset[str] | None = None,
    names: frozenset[str] | None = None,
    force_check: bool = False,
    changed: frozenset[str] = frozenset(),
    this_host: str | None = None,
) -> list[Candidate]:
    """Choose the models a run works on.

    Enabled models are taken when they are new, pending, failed, or completed but due for an
    update check (``check_frequency`` since the last check; a pinned commit is never due).
    Order: priority high, medium, low; then catalog order.

    Args:
        models: the catalog's models.
        rows: the DB state of each model by name (a model absent here is new).
        check_frequency: ``daily``, ``weekly`` or ``monthly``.
        now: the current time (timezone-aware UTC).
        tags: when given, only models with at least one of these tags.
        names: when given, only these models (enabled or not).
        force_check: treat every completed model as due for a check.
        changed: models whose catalog entry just changed (revision, patterns...): their
            file list is fetched again now, since what is on disk may not be what they want.
        this_host: this host's id when its cache is its own (not ``shared_cache``): a model
            another host completed is checked against this host's cache now (one request if
            the files are here, a download if not), whatever its last check.

    Returns:
        The candidates, in download order.
    """
    period = CHECK_PERIODS.get(check_frequency, CHECK_PERIODS["daily"])
    # Checked once: a catalog of 10,000 models must not pay for 10,000 disabled log calls.
    explain = logger.isEnabledFor(logging.DEBUG)
    chosen: list[Candidate] = []
    for model in models:
        if names is not None:
            if model.name not in names:
                continue
        elif not model.enabled:
            if explain:
                logger.debug("skip %s: disabled in the catalog", model.name)
            continue
        if tags is not None and not tags.intersection(model.tags):
            if explain:
                logger.debug(
                    "skip %s: none of its tags (%s) is %s",
                    model.name,
                    ", ".join(model.tags) or "no tags",
                    " or ".join(sorted(tags)),
                )
            continue
        row = rows.get(model.name)
        reason, why = _reason(model, row, period=period, now=now, force_check=force_check)
        if reason is None and _completed_elsewhere(row, this_host):
            assert row is not None
            reason = "update-check"
            why = f"completed by host {row.host}; this host's cache may not hold it"
        if reason in (None, "update-check") and model.name in changed:
            reason, why = "pending", "its catalog entry changed"
        if explain:
            if reason is None:
                logger.debug("skip %s: %s", model.name, why)
            else:
                logger.debug(
                    "select %s: %s (%s), priority %s", model.name, reason, why, model.priority
                )
        if reason is not None:
            chosen.append(
                Candidate(model=model, reason=reason, known_commit=row.commit_sha if row else None)
            )
    chosen.sort(
        key=lambda candidate: (
            PRIORITY_RANK.get(candidate.model.priority, 1),
            candidate.model.index,
        )
    )
    return chosen


def _completed_elsewhere(row: ModelRow | None, this_host: str | None) -> bool:
    """Whether another host recorded the model's state while this host has a cache of its
    own (``this_host`` given)."""
    return this_host is not None and row is not None and row.host not in (None, this_host)


def _reason(
    model: CatalogModel,
    row: ModelRow | None,
    *,
    period: timedelta,
    now: datetime,
    force_check: bool,
) -> tuple[str | None, str]:
    """Why a model is taken (``new``, ``pending``, ``failed``, ``update-check``) or not
    (``None``), with the explanation logged at DEBUG."""
    if row is None:
        return "new", "not in the state database yet"
    if row.status in ("pending", "downloading"):
        return "pending", f"its status is {row.status}"
    if row.status == "failed":
        return "failed", f"failed {row.attempts} time(s) in a row; last error: {row.last_error}"
    if row.revision != model.revision or row.commit_sha is None:
        return "pending", f"revision {model.revision} is not on disk yet"
    if force_check:
        return "update-check", "--check asks about every completed model"
    if is_commit_sha(model.revision):
        # A pinned commit never moves: nothing to check.
        return None, f"completed at pinned commit {model.revision[:12]}, which never moves"
    last_checked = row.last_checked_at
    if last_checked is None:
        return "update-check", "completed, never checked for updates"
    if now - last_checked >= period:
        return "update-check", f"completed, last checked {_ago(now - last_checked)} ago"
    return None, (
        f"completed and up to date, checked {_ago(now - last_checked)} ago; next check in "
        f"{_ago(last_checked + period - now)}"
    )


def _ago(delta: timedelta) -> str:
    """A duration in the largest whole unit that fits: ``3 d``, ``5 h``, ``12 min``, ``8 s``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{max(seconds, 0)} s"
