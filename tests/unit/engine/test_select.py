"""hfdl.engine.select: which catalog models a run takes, why, and in what order.

The catalog models come from the catalog's own validator (``catalog_from_document``) and the
state rows are real ``ModelRow`` records, so every default is the one a run sees. The end-to-end
tests (``test_run_download.py``) show a run acting on these decisions; here each rule is pinned
on its own, including the boundaries of the update-check period.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hfdl.catalog import CatalogModel, catalog_from_document
from hfdl.engine.select import Candidate, select_candidates
from hfdl.store import ModelRow

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COMMIT = "a" * 40
PINNED = "0123456789abcdef0123456789abcdef01234567"


def catalog_models(*entries: dict[str, Any]) -> list[CatalogModel]:
    """The models of a catalog document listing ``entries`` (``enabled`` defaults to true)."""
    document = {"models": [{"enabled": True, **entry} for entry in entries]}
    return catalog_from_document(document, Path("models.json")).models


def model_row(
    model: CatalogModel,
    *,
    status: str = "completed",
    revision: str | None = None,
    commit_sha: str | None = COMMIT,
    last_checked_at: datetime | None = None,
    attempts: int = 0,
    last_error: str | None = None,
    host: str | None = None,
) -> ModelRow:
    """The state database's row for ``model``: completed at ``COMMIT`` unless told otherwise."""
    return ModelRow(
        name=model.name,
        enabled=model.enabled,
        removed=False,
        description=model.description,
        size_estimate=model.size_estimate,
        size_estimate_bytes=model.size_estimate_bytes,
        priority=model.priority,
        tags=model.tags,
        revision=model.revision if revision is None else revision,
        allow_patterns=model.allow_patterns,
        ignore_patterns=model.ignore_patterns,
        catalog_index=model.index,
        status=status,
        commit_sha=commit_sha,
        bytes_on_disk=None,
        last_success_at=None,
        last_checked_at=last_checked_at,
        last_error=last_error,
        attempts=attempts,
        created_at=NOW - timedelta(days=100),
        updated_at=NOW - timedelta(days=100),
        host=host,
    )


def select(models: list[CatalogModel], rows: list[ModelRow], **options: Any) -> list[Candidate]:
    """Run ``select_candidates`` at ``NOW`` with a daily check unless ``options`` say otherwise."""
    options.setdefault("check_frequency", "daily")
    return select_candidates(models, {row.name: row for row in rows}, now=NOW, **options)


def reasons(candidates: list[Candidate]) -> list[tuple[str, str]]:
    return [(candidate.model.name, candidate.reason) for candidate in candidates]


@pytest.fixture
def decisions() -> Iterator[list[str]]:
    """The DEBUG lines of the ``hfdl.run`` logger while the test runs.

    A handler on the logger itself, not caplog's on the root: hfdl's logging setup turns off
    propagation, and another test of the session may have run it.
    """
    logger = logging.getLogger("hfdl.run")
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect(level=logging.DEBUG)
    saved_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)


# --- why a model is taken -----------------------------------------------------------------


def test_a_model_the_database_has_not_seen_is_new() -> None:
    (model,) = catalog_models({"name": "org/new"})

    assert select([model], []) == [Candidate(model=model, reason="new", known_commit=None)]


@pytest.mark.parametrize(
    ("status", "reason"),
    [("pending", "pending"), ("downloading", "pending"), ("failed", "failed")],
)
def test_unfinished_models_are_taken_with_their_known_commit(status: str, reason: str) -> None:
    (model,) = catalog_models({"name": "org/m"})
    row = model_row(model, status=status, last_checked_at=NOW)

    assert select([model], [row]) == [Candidate(model=model, reason=reason, known_commit=COMMIT)]


def test_a_completed_model_whose_revision_changed_or_has_no_commit_is_pending() -> None:
    moved, never_fetched = catalog_models(
        {"name": "org/moved", "revision": "v2"}, {"name": "org/never-fetched"}
    )
    rows = [
        model_row(moved, revision="v1", last_checked_at=NOW),
        model_row(never_fetched, commit_sha=None, last_checked_at=NOW),
    ]

    assert reasons(select([moved, never_fetched], rows)) == [
        ("org/moved", "pending"),
        ("org/never-fetched", "pending"),
    ]


def test_a_completed_model_never_checked_is_due_for_an_update_check() -> None:
    (model,) = catalog_models({"name": "org/m"})

    assert select([model], [model_row(model, last_checked_at=None)]) == [
        Candidate(model=model, reason="update-check", known_commit=COMMIT)
    ]


@pytest.mark.parametrize(
    ("check_frequency", "period"),
    [
        ("daily", timedelta(days=1)),
        ("weekly", timedelta(days=7)),
        ("monthly", timedelta(days=30)),
        # An unknown frequency falls back to daily rather than never checking.
        ("hourly", timedelta(days=1)),
    ],
)
def test_a_completed_model_is_checked_again_once_its_period_has_passed(
    check_frequency: str, period: timedelta
) -> None:
    (model,) = catalog_models({"name": "org/m"})
    just_fresh = model_row(model, last_checked_at=NOW - period + timedelta(seconds=1))
    just_due = model_row(model, last_checked_at=NOW - period)

    assert select([model], [just_fresh], check_frequency=check_frequency) == []
    assert reasons(select([model], [just_due], check_frequency=check_frequency)) == [
        ("org/m", "update-check")
    ]


def test_a_pinned_commit_is_never_due_unless_every_check_is_forced() -> None:
    (model,) = catalog_models({"name": "org/pinned", "revision": PINNED})
    row = model_row(model, commit_sha=PINNED, last_checked_at=None)

    assert select([model], [row]) == []
    assert reasons(select([model], [row], force_check=True)) == [("org/pinned", "update-check")]


def test_force_check_makes_every_completed_model_due_and_leaves_the_others_alone() -> None:
    fresh, failed = catalog_models({"name": "org/fresh"}, {"name": "org/failed"})
    rows = [model_row(fresh, last_checked_at=NOW), model_row(failed, status="failed")]

    assert select([fresh, failed], rows) == [
        Candidate(model=failed, reason="failed", known_commit=COMMIT)
    ]
    assert reasons(select([fresh, failed], rows, force_check=True)) == [
        ("org/fresh", "update-check"),
        ("org/failed", "failed"),
    ]


def test_a_changed_catalog_entry_makes_a_completed_model_pending_again() -> None:
    fresh, due, failed, new = catalog_models(
        {"name": "org/fresh"}, {"name": "org/due"}, {"name": "org/failed"}, {"name": "org/new"}
    )
    rows = [
        model_row(fresh, last_checked_at=NOW),
        model_row(due, last_checked_at=None),
        model_row(failed, status="failed"),
    ]
    changed = frozenset({"org/fresh", "org/due", "org/failed", "org/new"})

    # Up to date or merely due: what is on disk may not be what the entry now asks for.
    # Failed and new keep their reason: they are fetched in full anyway.
    assert reasons(select([fresh, due, failed, new], rows, changed=changed)) == [
        ("org/fresh", "pending"),
        ("org/due", "pending"),
        ("org/failed", "failed"),
        ("org/new", "new"),
    ]


# --- which models are looked at -----------------------------------------------------------


def test_disabled_models_are_skipped_unless_named() -> None:
    enabled, disabled = catalog_models(
        {"name": "org/enabled"}, {"name": "org/disabled", "enabled": False}
    )

    assert reasons(select([enabled, disabled], [])) == [("org/enabled", "new")]
    assert reasons(select([enabled, disabled], [], names=frozenset({"org/disabled"}))) == [
        ("org/disabled", "new")
    ]
    assert select([enabled, disabled], [], names=frozenset({"org/not-in-catalog"})) == []


def test_a_tag_filter_takes_models_with_at_least_one_of_the_tags() -> None:
    models = catalog_models(
        {"name": "org/nlp", "tags": ["nlp"]},
        {"name": "org/both", "tags": ["cv", "nlp"]},
        {"name": "org/audio", "tags": ["audio"]},
        {"name": "org/untagged"},
    )

    assert reasons(select(models, [], tags=frozenset({"nlp", "cv"}))) == [
        ("org/nlp", "new"),
        ("org/both", "new"),
    ]
    assert select(models, [], tags=frozenset()) == []
    # Names and tags both apply.
    named = frozenset({"org/nlp", "org/audio"})
    assert reasons(select(models, [], names=named, tags=frozenset({"audio"}))) == [
        ("org/audio", "new")
    ]


def test_candidates_come_by_priority_then_in_catalog_order() -> None:
    models = catalog_models(
        {"name": "org/low-1", "priority": "low"},
        {"name": "org/medium-1"},
        {"name": "org/high-1", "priority": "high"},
        {"name": "org/low-2", "priority": "low"},
        {"name": "org/high-2", "priority": "high"},
        {"name": "org/medium-2", "priority": "medium"},
    )

    assert [candidate.model.name for candidate in select(models, [])] == [
        "org/high-1",
        "org/high-2",
        "org/medium-1",
        "org/medium-2",
        "org/low-1",
        "org/low-2",
    ]


# --- the reasons logged at DEBUG ----------------------------------------------------------


def test_every_decision_is_explained_at_debug(decisions: list[str]) -> None:
    models = catalog_models(
        {"name": "org/off", "enabled": False},
        {"name": "org/cv", "tags": ["cv"]},
        {"name": "org/new", "tags": ["nlp"]},
        {"name": "org/failed", "tags": ["nlp"]},
        {"name": "org/fresh", "tags": ["nlp"]},
        {"name": "org/pinned", "tags": ["nlp"], "revision": PINNED},
    )
    rows = [
        model_row(models[3], status="failed", attempts=3, last_error="HTTP 503"),
        model_row(models[4], last_checked_at=NOW - timedelta(hours=5)),
        model_row(models[5], commit_sha=PINNED),
    ]

    select(models, rows, tags=frozenset({"nlp"}))

    assert decisions == [
        "skip org/off: disabled in the catalog",
        "skip org/cv: none of its tags (cv) is nlp",
        "select org/new: new (not in the state database yet), priority medium",
        "select org/failed: failed (failed 3 time(s) in a row; last error: HTTP 503), "
        "priority medium",
        "skip org/fresh: completed and up to date, checked 5 h ago; next check in 19 h",
        "skip org/pinned: completed at pinned commit 0123456789ab, which never moves",
    ]


def test_nothing_is_explained_when_debug_is_off(decisions: list[str]) -> None:
    logging.getLogger("hfdl.run").setLevel(logging.INFO)
    models = catalog_models({"name": "org/off", "enabled": False}, {"name": "org/new"})

    assert reasons(select(models, [])) == [("org/new", "new")]
    assert decisions == []


def test_a_model_completed_by_another_host_is_checked_against_this_host_s_own_cache() -> None:
    fresh, elsewhere, pinned, old = catalog_models(
        {"name": "org/here"},
        {"name": "org/there"},
        {"name": "org/pinned", "revision": PINNED},
        {"name": "org/old"},
    )
    rows = [
        model_row(fresh, last_checked_at=NOW - timedelta(hours=1), host="gpu-01"),
        model_row(elsewhere, last_checked_at=NOW - timedelta(hours=1), host="gpu-02"),
        model_row(pinned, revision=PINNED, commit_sha=PINNED, host="gpu-02"),
        # Written before hosts were recorded: taken as this host's.
        model_row(old, last_checked_at=NOW - timedelta(hours=1), host=None),
    ]
    models = [fresh, elsewhere, pinned, old]

    own_cache = select(models, rows, this_host="gpu-01")
    shared_cache = select(models, rows)

    assert reasons(own_cache) == [("org/there", "update-check"), ("org/pinned", "update-check")]
    assert reasons(shared_cache) == []
