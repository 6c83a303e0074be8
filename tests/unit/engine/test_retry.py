"""hfdl.engine.retry: what is retried, how long between tries, and when retrying stops.

No long sleeps: delays are milliseconds, or ``Retry-After: 0``, or cut short through the
policy's own ``stop`` event, the same one a run sets on SIGTERM. The actions are scripted to
raise hfdl's real errors. The end-to-end tests (``test_run_faults.py``,
``test_api_5xx_is_retried``) show a run recovering from real server faults.
"""

from __future__ import annotations

import threading
import time

import pytest

from hfdl.engine.retry import (
    HubCalls,
    RetryPolicy,
    call_with_retries,
    is_retryable,
    is_temporary,
)
from hfdl.errors import (
    AttemptTimeout,
    Cancelled,
    DiskFullError,
    EntryNotFound,
    GatedRepo,
    HfdlError,
    HubUnavailable,
    IntegrityError,
    RepoNotFound,
    RevisionNotFound,
    StalledTransfer,
    UntrustedMetadata,
)


def fast_policy(max_retries: int) -> RetryPolicy:
    """A policy whose waits are a few milliseconds: real waits, short enough for a unit test."""
    return RetryPolicy(max_retries=max_retries, base_delay=0.001, max_delay=0.004)


class ScriptedAction:
    """An action that raises ``errors``, one per call, then returns ``result``; counts calls."""

    def __init__(self, errors: list[BaseException], result: object = "answer") -> None:
        self.remaining = list(errors)
        self.result = result
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        if self.remaining:
            raise self.remaining.pop(0)
        return self.result


# --- which errors are worth another try ---------------------------------------------------


@pytest.mark.parametrize(
    ("error", "retryable", "temporary"),
    [
        (HubUnavailable("503"), True, True),
        (StalledTransfer("no bytes for 60 s"), True, True),
        (AttemptTimeout("took longer than 3600 s"), True, True),
        # Retried within the run (a transfer can break), but bytes that fail verification
        # every time are the server's data: not worth restarting the run for.
        (IntegrityError("sha256 mismatch"), True, False),
        (RepoNotFound("no such repository"), False, False),
        (GatedRepo("gated"), False, False),
        (RevisionNotFound("no such branch"), False, False),
        (EntryNotFound("file gone"), False, False),
        (UntrustedMetadata("path leaves the cache"), False, False),
        (DiskFullError("disk full"), False, False),
        (Cancelled("stop"), False, False),
        (OSError("broken pipe"), False, False),
        (ValueError("a bug"), False, False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_retryable_and_temporary_errors(
    error: BaseException, retryable: bool, temporary: bool
) -> None:
    assert is_retryable(error) is retryable
    assert is_temporary(error) is temporary


# --- the delay between tries --------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_number", "backoff"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (20, 10.0)],
)
def test_backoff_doubles_up_to_the_cap_with_jitter_in_its_upper_half(
    retry_number: int, backoff: float
) -> None:
    policy = RetryPolicy(max_retries=30, base_delay=1.0, max_delay=10.0)

    delays = [policy.delay(retry_number, HubUnavailable("503")) for _ in range(200)]

    assert all(backoff / 2 <= delay <= backoff for delay in delays)
    # Jittered: a fleet of hosts must not retry in lockstep.
    assert len(set(delays)) > 1


def test_a_servers_retry_after_wins_over_the_backoff_and_its_cap() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=5.0)

    assert policy.delay(1, HubUnavailable("429", retry_after=30)) == 30.0
    assert policy.delay(3, HubUnavailable("429", retry_after=0.5)) == 0.5
    # Without one, the backoff applies.
    assert policy.delay(1, HubUnavailable("503", retry_after=None)) <= 1.0


# --- waiting, and being told to stop ------------------------------------------------------


def test_sleep_waits_the_time_given() -> None:
    for policy in (RetryPolicy(max_retries=1), RetryPolicy(max_retries=1, stop=threading.Event())):
        started = time.monotonic()
        policy.sleep(0.02)
        assert time.monotonic() - started >= 0.02


def test_a_stop_ends_the_wait_at_once_with_cancelled() -> None:
    stop = threading.Event()
    stop.set()
    policy = RetryPolicy(max_retries=1, stop=stop)

    started = time.monotonic()
    with pytest.raises(Cancelled, match="asked to stop"):
        policy.sleep(60)
    assert time.monotonic() - started < 5

    with pytest.raises(Cancelled):
        policy.check_stop()


def test_check_stop_passes_while_no_stop_is_asked() -> None:
    RetryPolicy(max_retries=1).check_stop()
    RetryPolicy(max_retries=1, stop=threading.Event()).check_stop()


# --- call_with_retries ----------------------------------------------------------------------


def test_a_first_success_is_returned_without_waiting() -> None:
    told: list[tuple[int, BaseException, float]] = []
    action = ScriptedAction([], result=42)

    result = call_with_retries(
        action, fast_policy(3), on_retry=lambda *told_now: told.append(told_now)
    )

    assert result == 42
    assert action.calls == 1
    assert told == []


def test_retryable_errors_are_retried_with_a_growing_backoff_until_success() -> None:
    errors = [HubUnavailable("503"), StalledTransfer("stalled"), IntegrityError("bad hash")]
    told: list[tuple[int, BaseException, float]] = []
    action = ScriptedAction(list(errors))
    policy = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=1.0)

    result = call_with_retries(
        action, policy, on_retry=lambda number, error, delay: told.append((number, error, delay))
    )

    assert result == "answer"
    assert action.calls == 4
    assert [(number, error) for number, error, _ in told] == [
        (1, errors[0]),
        (2, errors[1]),
        (3, errors[2]),
    ]
    for number, _, delay in told:
        backoff = 0.001 * 2 ** (number - 1)
        assert backoff / 2 <= delay <= backoff


def test_giving_up_raises_the_last_error_saying_how_many_retries_were_made() -> None:
    last = HubUnavailable("server said 503", hint="try later", retry_after=0)
    action = ScriptedAction([HubUnavailable("first"), HubUnavailable("second"), last])

    with pytest.raises(HubUnavailable) as raised:
        call_with_retries(action, fast_policy(2))

    assert raised.value is last
    assert str(raised.value) == "server said 503 (gave up after 2 retries)"
    assert raised.value.args == ("server said 503 (gave up after 2 retries)",)
    assert raised.value.hint == "try later"
    assert raised.value.retry_after == 0
    assert action.calls == 3


def test_no_retries_means_one_try() -> None:
    action = ScriptedAction([HubUnavailable("503"), HubUnavailable("never reached")])

    with pytest.raises(HubUnavailable, match=r"^503 \(gave up after 0 retries\)$"):
        call_with_retries(action, fast_policy(0))

    assert action.calls == 1


@pytest.mark.parametrize(
    "error",
    [RepoNotFound("no such repository"), DiskFullError("disk full"), ValueError("a bug")],
    ids=lambda error: type(error).__name__,
)
def test_other_errors_are_raised_at_once_unchanged(error: Exception) -> None:
    told: list[object] = []
    action = ScriptedAction([error])

    with pytest.raises(type(error)) as raised:
        call_with_retries(
            action,
            fast_policy(5),
            on_retry=lambda *told_now: told.append(told_now),
        )

    assert raised.value is error
    assert "gave up" not in str(error)
    assert action.calls == 1
    assert told == []


def test_retry_after_sets_the_wait() -> None:
    # A base delay of an hour: the test only finishes because Retry-After says 0.
    told: list[float] = []
    action = ScriptedAction([HubUnavailable("429", retry_after=0)])

    result = call_with_retries(
        action,
        RetryPolicy(max_retries=1, base_delay=3600, max_delay=3600),
        on_retry=lambda number, error, delay: told.append(delay),
    )

    assert result == "answer"
    assert told == [0.0]


def test_a_stop_asked_before_the_first_try_makes_none() -> None:
    stop = threading.Event()
    stop.set()
    action = ScriptedAction([])

    with pytest.raises(Cancelled):
        call_with_retries(action, RetryPolicy(max_retries=3, stop=stop))

    assert action.calls == 0


def test_a_stop_asked_during_the_wait_ends_it_and_tries_no_more() -> None:
    stop = threading.Event()
    action = ScriptedAction([HubUnavailable("503"), HubUnavailable("503")])
    # A minute's wait, cut short by the stop that on_retry asks for just before it.
    policy = RetryPolicy(max_retries=5, base_delay=60, max_delay=60, stop=stop)

    started = time.monotonic()
    with pytest.raises(Cancelled):
        call_with_retries(action, policy, on_retry=lambda *told: stop.set())

    assert time.monotonic() - started < 30
    assert action.calls == 1


# --- HubCalls: one model's Hub requests ---------------------------------------------------


def test_hub_calls_count_and_report_each_retry() -> None:
    reported: list[tuple[str, int, int, str, float]] = []
    hub_calls = HubCalls(
        "org/model",
        endpoint="https://hub.example",
        policy=fast_policy(4),
        on_retry=lambda *report: reported.append(report),
    )

    twice_unavailable = ScriptedAction([HubUnavailable("503"), HubUnavailable("502")], "commit")
    first = hub_calls(twice_unavailable, "the commit of main")
    second = hub_calls(ScriptedAction([StalledTransfer("stalled")], "files"), "the file list")

    assert (first, second) == ("commit", "files")
    assert hub_calls.retries == 3
    assert [report[:4] for report in reported] == [
        ("org/model", 1, 4, "503"),
        ("org/model", 2, 4, "502"),
        ("org/model", 1, 4, "stalled"),
    ]


def test_hub_calls_raise_what_the_retries_raise() -> None:
    hub_calls = HubCalls(
        "org/model",
        endpoint="https://hub.example",
        policy=fast_policy(1),
        on_retry=lambda *report: None,
    )

    with pytest.raises(HfdlError, match=r"gave up after 1 retries"):
        hub_calls(ScriptedAction([HubUnavailable("503"), HubUnavailable("503")]))
    with pytest.raises(RepoNotFound):
        hub_calls(ScriptedAction([RepoNotFound("no such repository")]))
    assert hub_calls.retries == 1
