"""hfdl.schedule: what a download schedule may be, checked before anything is written.

The rules are tested through the public surface only: :func:`parse_schedule` with the values
a caller could pass (including ones the command line never produces: booleans, floats,
generators), the :class:`Schedule` value itself, and the two checks other modules reuse
(:func:`schedule_name_problem`, :func:`tag_problems`). Messages are checked for the words a
user needs, not their exact wording. ``tests/e2e/test_schedules.py`` shows the same refusals
reaching ``hfdl schedule`` end to end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from hfdl.errors import EX_DATAERR, DuplicateSchedule, InvalidSchedule
from hfdl.schedule import (
    Schedule,
    parse_schedule,
    schedule_name_problem,
    schedule_name_taken,
    tag_problems,
)

# The limits users are told about (in help texts and messages): written out, not imported, so
# that a changed limit fails here first.
LONGEST_NAME = 32
MOST_CONCURRENT_DOWNLOADS = 64

VALID: dict[str, Any] = {
    "name": "nightly",
    "schedule_type": "daily",
    "time": "02:00",
    "day": None,
    "concurrent_downloads": 2,
    "tags": ("nlp",),
}


def parse(**changes: Any) -> Schedule:
    """``parse_schedule`` of a valid daily schedule with ``changes`` applied."""
    return parse_schedule(**{**VALID, **changes})


def refusal(**changes: Any) -> list[tuple[str, str]]:
    """The ``(field, message)`` of each problem ``parse`` finds with ``changes``; none: fail."""
    with pytest.raises(InvalidSchedule) as refused:
        parse(**changes)
    assert refused.value.exit_code == EX_DATAERR
    return [(problem.path, problem.message) for problem in refused.value.problems]


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["nightly", "a", "weekend-2", "x" * LONGEST_NAME, "9lives", "a--b", "b-"]
)
def test_valid_schedule_names(name: str) -> None:
    assert schedule_name_problem(name) is None
    assert parse(name=name).name == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-leading-hyphen",
        "Upper",
        "under_score",
        "with space",
        "dot.name",
        "../../etc/evil",
        "x\nExecStartPre=/bin/sh",
        "x" * (LONGEST_NAME + 1),
        "caf\u00e9",
        None,
        7,
    ],
)
def test_names_unfit_for_a_unit_name_are_refused(name: object) -> None:
    problem = schedule_name_problem(name)

    assert problem is not None
    assert "not a valid schedule name" in problem
    assert f"1-{LONGEST_NAME}" in problem
    assert refusal(name=name) == [("name", problem)]


@pytest.mark.parametrize("name", ["0", "1234"])
def test_a_name_of_digits_only_would_read_as_an_id(name: str) -> None:
    problem = schedule_name_problem(name)

    assert problem is not None
    assert "digits only" in problem
    assert "schedule id" in problem


def test_a_taken_name_is_its_own_error() -> None:
    error = schedule_name_taken("nightly")

    assert isinstance(error, DuplicateSchedule)
    assert "'nightly' already exists" in str(error)
    assert error.exit_code == EX_DATAERR
    assert error.hint


# --- times and days ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("02:00", "02:00"), ("2:05", "02:05"), ("0:00", "00:00"), ("23:59", "23:59")],
)
def test_times_become_hh_mm(written: str, canonical: str) -> None:
    assert parse(time=written).time == canonical


@pytest.mark.parametrize(
    "written",
    [
        "24:00",
        "12:60",
        "7pm",
        "1230",
        "12:3",
        "123:00",
        " 02:00",
        "02:00\nUnit=evil",
        "",
        None,
        230,
    ],
)
def test_anything_but_a_24_hour_time_is_refused(written: object) -> None:
    ((field, message),) = refusal(time=written)

    assert field == "time"
    assert "not a time" in message
    assert "HH:MM" in message


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        (0, "Mon"),
        (6, "Sun"),
        ("4", "Fri"),
        ("fri", "Fri"),
        ("FRI", "Fri"),
        ("Tue", "Tue"),
        ("wednesday", "Wed"),
        ("SUNDAY", "Sun"),
    ],
)
def test_days_are_numbers_from_monday_or_names_in_any_case(written: object, canonical: str) -> None:
    assert parse(schedule_type="weekly", day=written).day == canonical


@pytest.mark.parametrize("written", [7, -1, "7", "funday", "fri\n", "mo", True, False, 1.0, "06"])
def test_anything_else_is_not_a_day(written: object) -> None:
    # True and False would otherwise read as 1 and 0: Tuesday and Monday.
    ((field, message),) = refusal(schedule_type="weekly", day=written)

    assert field == "day"
    assert "not a day of the week" in message
    assert "Monday = 0" in message


@pytest.mark.parametrize("missing", [None, ""])
def test_a_weekly_schedule_needs_a_day(missing: object) -> None:
    assert refusal(schedule_type="weekly", day=missing) == [
        ("day", "a weekly schedule needs a day: 0-6 (Monday = 0) or mon..sun")
    ]


@pytest.mark.parametrize("day", ["mon", 0])
def test_a_daily_schedule_takes_no_day(day: object) -> None:
    ((field, message),) = refusal(day=day)

    assert field == "day"
    assert "daily schedule runs every day" in message


@pytest.mark.parametrize("schedule_type", ["hourly", "Daily", "", None])
def test_only_daily_and_weekly_schedules_exist(schedule_type: object) -> None:
    ((field, message),) = refusal(schedule_type=schedule_type)

    assert field == "type"
    assert "not a schedule type" in message
    assert "daily or weekly" in message


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, MOST_CONCURRENT_DOWNLOADS])
def test_the_concurrency_limits_are_inclusive(concurrency: int) -> None:
    assert parse(concurrent_downloads=concurrency).concurrent_downloads == concurrency


@pytest.mark.parametrize("concurrency", [0, -1, MOST_CONCURRENT_DOWNLOADS + 1, True, 2.0, "2"])
def test_concurrency_must_be_a_whole_number_within_the_limits(concurrency: object) -> None:
    ((field, message),) = refusal(concurrent_downloads=concurrency)

    # Users and scripts know the field by its stored name.
    assert field == "max_concurrent_downloads"
    assert f"whole number from 1 to {MOST_CONCURRENT_DOWNLOADS}" in message


# --- tags -------------------------------------------------------------------------------------


def test_valid_tags_have_no_problems() -> None:
    assert tag_problems(("nlp", "cv", "large-models", "v1.2", "\u00fcn\u00efcode")) == []
    assert tag_problems(()) == []


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        ("a=b", "must not contain ="),
        ("a;b", "must not contain ;"),
        ("100%", "must not contain %"),
        ('say"hi', 'must not contain "'),
        ("it's", "must not contain '"),
        ("back\\slash", "must not contain \\"),
        ("a,b", "must not contain ,"),
        ("a b", "must not contain spaces"),
        ("a\nb", "must not contain spaces"),
        ("tab\there", "must not contain spaces"),
        ("bell\x07", "control characters"),
        ("", "non-empty"),
        (3, "non-empty string"),
    ],
)
def test_tags_a_unit_file_or_a_command_line_would_misread_are_refused(
    tag: object, words: str
) -> None:
    (problem,) = tag_problems((tag,))

    assert words in problem
    assert refusal(tags=[tag]) == [("tags", problem)]


def test_every_bad_tag_is_reported() -> None:
    problems = tag_problems(("ok", "a=b", "", "ok", "c d"))

    assert len(problems) == 4
    assert "'a=b'" in problems[0]
    assert "non-empty" in problems[1]
    assert "duplicate tag 'ok'" in problems[2]
    assert "'c d'" in problems[3]


def test_tags_may_come_as_any_iterable_and_are_kept_as_a_tuple() -> None:
    def generated() -> Iterator[str]:
        yield from ("nlp", "cv")

    assert parse(tags=["nlp", "cv"]).tags == ("nlp", "cv")
    assert parse(tags=generated()).tags == ("nlp", "cv")
    assert parse(tags=()).tags == ()


def test_one_string_of_tags_is_refused_not_split() -> None:
    ((field, message),) = refusal(tags="nlp,cv")

    assert field == "tags"
    assert "must be a list of tags" in message


# --- a whole schedule -------------------------------------------------------------------------


def test_a_valid_schedule_is_canonical_and_frozen() -> None:
    schedule = parse(schedule_type="weekly", time="3:15", day="saturday", tags=["nlp", "cv"])

    assert schedule == Schedule(
        name="nightly",
        type="weekly",
        time="03:15",
        day="Sat",
        concurrent_downloads=2,
        tags=("nlp", "cv"),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.time = "04:00"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"time": "3:15"}, "time"),
        ({"type": "weekly", "day": "sat"}, "day"),
        ({"type": "weekly", "day": 5}, "day"),
    ],
)
def test_a_schedule_made_directly_must_already_be_canonical(
    fields: dict[str, Any], field: str
) -> None:
    base: dict[str, Any] = {"name": "n", "type": "daily", "time": "03:15", "day": None}
    with pytest.raises(InvalidSchedule) as refused:
        Schedule(**{**base, "concurrent_downloads": 1, **fields})

    assert [problem.path for problem in refused.value.problems] == [field]


def test_every_problem_is_found_at_once_in_field_order() -> None:
    problems = refusal(
        name="Bad Name",
        schedule_type="weekly",
        time="25:00",
        day="someday",
        concurrent_downloads=0,
        tags=["a=b", "a=b"],
    )

    assert [field for field, _ in problems] == [
        "name",
        "time",
        "day",
        "max_concurrent_downloads",
        "tags",
        "tags",
    ]
