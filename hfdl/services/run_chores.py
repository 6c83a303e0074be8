"""What a run does after its downloads, and how it judges its failures.

``after_downloads`` runs the end-of-run chores the configuration asks for (``verify_on_run``,
``settings.auto_cleanup``); ``only_temporary_failures`` tells whether a failed run is worth
starting again soon (the CLI then exits 75, which the systemd unit restarts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hfdl.engine.events import ModelOutcome
from hfdl.errors import HfdlError
from hfdl.sizes import format_size

if TYPE_CHECKING:
    from hfdl.catalog import Catalog
    from hfdl.config import Settings
    from hfdl.engine.retry import RetryPolicy
    from hfdl.hub.client import HubClient
    from hfdl.store import Store

logger = logging.getLogger("hfdl.run")


def after_downloads(
    settings: Settings,
    catalog: Catalog,
    store: Store,
    outcomes: Sequence[ModelOutcome],
    *,
    client: Callable[[], HubClient],
    policy: RetryPolicy,
) -> bool:
    """Verify the models that were up to date (``verify_on_run``), then clean up
    (``settings.auto_cleanup``).

    Args:
        settings: the effective configuration.
        catalog: the catalog (its settings say whether to clean up).
        store: the state DB.
        outcomes: the run's outcomes.
        client: returns the Hub client (only a repair needs it).
        policy: the run's retry policy.

    Returns:
        ``False`` when verification found files it did not (or was not allowed to) repair.
    """
    healthy = True
    mode = settings.verify_on_run
    up_to_date = [outcome.name for outcome in outcomes if outcome.status == "up-to-date"]
    if mode != "off" and up_to_date:
        from hfdl.services.verify.check import verify_models
        from hfdl.services.verify.report import LogVerifyObserver

        report = verify_models(
            settings,
            store,
            up_to_date,
            repair=mode == "repair",
            observer=LogVerifyObserver(),
            client=client(),
            policy=policy,
        )
        healthy = report.ok
    if catalog.settings.auto_cleanup:
        from hfdl.services.cleanup.clean import cleanup

        try:
            cleaned = cleanup(settings, catalog, store, dry_run=False)
        except (HfdlError, OSError) as error:
            # Cleanup frees space; failing it must not turn good downloads into a failure.
            logger.warning("auto cleanup failed: %s", error)
        else:
            logger.info(
                "auto cleanup: %d item(s) removed, %s freed",
                len(cleaned.to_dict()["removed"]),
                format_size(cleaned.bytes_freed),
            )
    return healthy


def only_temporary_failures(outcomes: Sequence[ModelOutcome]) -> bool:
    """Whether models failed, and every one of them on a temporary error (the Hub unavailable,
    a stalled transfer, a timeout) once the run's own retries were used up.

    Trying the whole run again later may then succeed, so systemd restarts it (exit 75). A
    refusal (disk full, over budget) or a permanent error (repository not found, gated,
    untrusted metadata) makes the run's failure permanent: a restart would only hammer the
    Hub or fill the journal.
    """
    failed = [outcome for outcome in outcomes if outcome.status in ("failed", "skipped")]
    return bool(failed) and all(
        outcome.status == "failed" and outcome.temporary for outcome in failed
    )
