"""Retrying what the Hub or the network may fix: exponential backoff with jitter.

huggingface_hub 2.4 retries 429 and connection errors itself but not a 5xx on a download GET
nor any error of ``model_info``; and it honours only an integer ``Retry-After``. hfdl wraps
every Hub call and every file transfer in this policy instead.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from hfdl.errors import Cancelled, HfdlError, HubError

T = TypeVar("T")


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
        The last error when it is not retryable or the retries are used up; ``Cancelled``
        when the run is told to stop while waiting.
    """
    retry_number = 0
    while True:
        policy.check_stop()
        try:
            return action()
        except HfdlError as error:
            if not is_retryable(error) or retry_number >= policy.max_retries:
                raise
            retry_number += 1
            delay = policy.delay(retry_number, error)
            if on_retry is not None:
                on_retry(retry_number, error, delay)
            policy.sleep(delay)
