"""Retrying what the Hub or the network may fix: exponential backoff with jitter.

huggingface_hub 2.4 retries 429 and connection errors itself but not a 5xx on a download GET
nor any error of ``model_info``; and it honours only an integer ``Retry-After``. hfdl wraps
every Hub call and every file transfer in this policy instead.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from hfdl.engine.events import fields
from hfdl.errors import Cancelled, HfdlError, HubError, IntegrityError

T = TypeVar("T")

# A Hub call still unanswered after this long gets a line saying what the run waits for, so
# that a slow or hanging Hub is never silence.
SLOW_CALL_NOTICE_SECONDS = 1.0

logger = logging.getLogger("hfdl.run")


@dataclass
class RetryPolicy:
    """How often and how long to wait between tries.

    Args:
        max_retries: retries after the first try (0 = try once).
        base_delay: seconds before the first retry; doubled at each retry.
        max_delay: the longest wait between two tries.
        stop: when set, waiting stops at once and ``Cancelled`` is raised.
    """

    max_retries: int
    base_delay: float = 1.0
    max_delay: float = 60.0
    stop: threading.Event | None = None

    def delay(self, retry_number: int, error: BaseException) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based) after ``error``.

        A server's ``Retry-After`` wins over the computed backoff; otherwise the backoff is
        ``base_delay * 2**(n-1)`` capped at ``max_delay``, with full jitter in [50%, 100%]
        so that a fleet of hosts does not retry in lockstep.
        """
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float):
            return float(retry_after)
        backoff = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return backoff * random.uniform(0.5, 1.0)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the run is told to stop.

        Raises:
            Cancelled: the stop event was set.
        """
        if self.stop is None:
            threading.Event().wait(seconds)
            return
        if self.stop.wait(seconds):
            raise Cancelled("the run was asked to stop")

    def check_stop(self) -> None:
        """Raise ``Cancelled`` when the run has been asked to stop."""
        if self.stop is not None and self.stop.is_set():
            raise Cancelled("the run was asked to stop")


def is_retryable(error: BaseException) -> bool:
    """Whether trying again may succeed (5xx, 429, broken connection, stall, bad hash)."""
    if isinstance(error, HubError):
        return error.retryable
    return False


def is_temporary(error: BaseException) -> bool:
    """Whether a run that failed on ``error`` (after its retries) is worth starting again later.

    The retryable errors except a bad hash or size: bytes that fail verification every time
    are the server's data, not an outage, and systemd restarting the run would fetch them again.
    """
    return is_retryable(error) and not isinstance(error, IntegrityError)


def call_with_retries(
    action: Callable[[], T],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Run ``action``; on a retryable error wait and try again, up to ``policy.max_retries``.

    Args:
        action: the call to make.
        policy: the retry policy.
        on_retry: told ``(retry_number, error, delay)`` before each wait.

    Returns:
        What ``action`` returned.

    Raises:
        The last error when it is not retryable or the retries are used up (its message then
        ends with "(gave up after N retries)"); ``Cancelled`` when the run is told to stop
        while waiting.
    """
    retry_number = 0
    while True:
        policy.check_stop()
        try:
            return action()
        except HfdlError as error:
            if not is_retryable(error):
                raise
            if retry_number >= policy.max_retries:
                # Same class and attributes (hint, retry_after), a message that says retrying
                # was tried: "0 retries" in a summary must never hide ten failed tries.
                error.message = f"{error.message} (gave up after {retry_number} retries)"
                error.args = (error.message,)
                raise
            retry_number += 1
            delay = policy.delay(retry_number, error)
            if on_retry is not None:
                on_retry(retry_number, error, delay)
            policy.sleep(delay)


class HubCalls:
    """One model's Hub API calls while a run plans: retried, counted and narrated.

    Each call runs under the retry policy. Every retry is reported through ``on_retry`` (the
    run's observer logs it like a file retry) and counted in ``retries``, which the run adds
    to the model's recorded retries. A call still unanswered after
    ``SLOW_CALL_NOTICE_SECONDS`` logs what the run is waiting for (journal event ``waiting``);
    every answer or failure is a DEBUG line with its duration (plain: no structured fields,
    so ``hfdl logs --model`` keeps showing a model's events).

    Args:
        model_name: the repository the calls are about.
        endpoint: the Hub URL, named in the lines.
        policy: the retry policy.
        on_retry: told ``(model_name, retry_number, max_retries, error_text, delay)`` before
            each wait (``RunObserver.model_retry`` fits).
        session_id: the session, for the structured log fields (``None`` in a dry run).
    """

    def __init__(
        self,
        model_name: str,
        *,
        endpoint: str,
        policy: RetryPolicy,
        on_retry: Callable[[str, int, int, str, float], None],
        session_id: int | None = None,
    ) -> None:
        self.model_name = model_name
        self.endpoint = endpoint
        self.policy = policy
        self.retries = 0
        self._on_retry = on_retry
        self._session_id = session_id

    def __call__(self, action: Callable[[], T], what: str = "metadata") -> T:
        """Run ``action`` (one Hub request, asking for ``what``) with retries.

        Args:
            action: the request.
            what: what it asks for, for the lines ("the file list").

        Returns:
            What ``action`` returned.

        Raises:
            What :func:`call_with_retries` raises.
        """

        def report(retry_number: int, error: BaseException, delay: float) -> None:
            self.retries += 1
            self._on_retry(
                self.model_name, retry_number, self.policy.max_retries, str(error), delay
            )

        return call_with_retries(lambda: self._attempt(action, what), self.policy, on_retry=report)

    def _attempt(self, action: Callable[[], T], what: str) -> T:
        """One try of ``action``, with the slow-call notice and the DEBUG line."""
        log_fields = fields("waiting", session_id=self._session_id, model=self.model_name)
        notice = threading.Timer(
            SLOW_CALL_NOTICE_SECONDS,
            lambda: logger.info(
                "%s: asking %s for %s…", self.model_name, self.endpoint, what, extra=log_fields
            ),
        )
        # A daemon timer never holds the process at exit.
        notice.daemon = True
        started = time.monotonic()
        notice.start()
        try:
            result = action()
        except HfdlError as error:
            logger.debug(
                "%s: asked %s for %s: failed after %.2f s: %s",
                self.model_name,
                self.endpoint,
                what,
                time.monotonic() - started,
                error,
            )
            raise
        finally:
            notice.cancel()
        logger.debug(
            "%s: asked %s for %s: answered in %.2f s",
            self.model_name,
            self.endpoint,
            what,
            time.monotonic() - started,
        )
        return result
