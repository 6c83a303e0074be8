"""Schedules: when timer-driven runs happen, and which models they download.

Every operation validates its input completely before anything is written, and reports
every problem at once (:class:`~hfdl.errors.InvalidSchedule`, exit 65). The rules (names
safe inside systemd unit names, ``HH:MM`` times, weekdays 0-6 with Monday = 0 or
``mon``..``sun``, tags without whitespace, quotes, ``=``, ``%``, ``\\`` or ``;``) are
:func:`hfdl.store.schedule_rules.check_schedule_fields`, which the store applies again on
every write.

These functions only change the database. Making systemd's timers match it is the
caller's next step (``hfdl.services.lifecycle.sync_units``), so that one hook does it for
every kind of change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hfdl.errors import DuplicateSchedule, InvalidSchedule, Problem, ScheduleNotFound
from hfdl.store.rows import WEEKDAYS, ScheduleRow, SessionRow, iso_utc

if TYPE_CHECKING:
    from pathlib import Path

    from hfdl.config import Settings
    from hfdl.store import Store

DEFAULT_SCHEDULE_NAME = "default"
# What a schedule downloads at once when neither the command nor the settings say.
FALLBACK_MAX_CONCURRENT = 1


def split_tags(values: Iterable[str] | None) -> tuple[str, ...]:
    """Turn ``--tags nlp,cv --tags audio`` into ``("nlp", "cv", "audio")``.

    Empty items are kept (``"nlp,,cv"`` gives an empty tag) so that validation reports
    them instead of silently dropping a typo.

    Args:
        values: the option's values, each a comma-separated list; ``None`` means none.

    Returns:
        The tags in the order given.
    """
    if not values:
        return ()
    return tuple(tag for value in values for tag in value.split(","))


def check_new_schedule(
    *,
    name: object,
    schedule_type: object,
    time: object,
    day: object = None,
    max_concurrent: object = FALLBACK_MAX_CONCURRENT,
    tags: Iterable[object] = (),
    enabled: bool = True,
    active: bool = False,
) -> dict[str, Any]:
    """Validate a new schedule's fields without touching any database.

    Args:
        name: 1-32 lowercase letters, digits or '-', starting with a letter or digit.
        schedule_type: ``daily`` or ``weekly``.
        time: ``HH:MM`` (or ``H:MM``), 00:00 to 23:59, local time.
        day: weekly only (required there, refused for daily): 0-6 with Monday = 0, or
            ``mon``..``sun`` / ``monday``..``sunday`` in any case.
        max_concurrent: models downloaded at once, 1 to 64.
        tags: the tag filter (empty: every model).
        enabled: whether its timer should run.
        active: whether it is the active schedule.

    Returns:
        The normalized fields, as :meth:`hfdl.store.Store.create_schedule` takes them
        (``type``, ``time`` as ``HH:MM``, ``day`` as ``Mon``..``Sun`` or ``None``, ...).

    Raises:
        InvalidSchedule: one or more fields are invalid; every problem is listed.
    """
    from hfdl.store.schedule_rules import check_schedule_fields

    fields, problems = check_schedule_fields(
        {
            "name": name,
            "type": schedule_type,
            "time": time,
            "day": day,
            "enabled": enabled,
            "active": active,
            "max_concurrent_downloads": max_concurrent,
            "tags": tuple(tags),
        }
    )
    if problems:
        raise InvalidSchedule(problems, hint="nothing was changed")
    return fields


def create_schedule(
    store: Store,
    *,
    name: str,
    schedule_type: str,
    time: str,
    day: str | int | None = None,
    max_concurrent: int | None = None,
    tags: Iterable[str] = (),
    enabled: bool = True,
    settings: Settings | None = None,
) -> ScheduleRow:
    """Create a schedule after checking every field and that the name is free.

    Args:
        store: the state database.
        name, schedule_type, time, day, tags, enabled: as for :func:`check_new_schedule`.
        max_concurrent: models downloaded at once; ``None`` takes
            ``settings.default_schedule.max_concurrent_downloads`` (1 without settings).
        settings: where defaults come from.

    Returns:
        The stored schedule (not active: see :func:`set_active`).

    Raises:
        InvalidSchedule: fields are invalid (the list also says if the name is taken).
        DuplicateSchedule: the fields are valid but the name is taken.
    """
    if max_concurrent is None:
        max_concurrent = (
            settings.default_schedule.max_concurrent_downloads
            if settings is not None
            else FALLBACK_MAX_CONCURRENT
        )
    tags = tuple(tags)
    try:
        fields = check_new_schedule(
            name=name,
            schedule_type=schedule_type,
            time=time,
            day=day,
            max_concurrent=max_concurrent,
            tags=tags,
            enabled=enabled,
        )
    except InvalidSchedule as error:
        # Say everything at once: a taken name is one more problem to fix.
        if isinstance(name, str) and _exists(store, name):
            taken = Problem("", "name", f"a schedule named {name!r} already exists")
            raise InvalidSchedule([*error.problems, taken], hint=error.hint) from None
        raise
    if _exists(store, fields["name"]):
        raise DuplicateSchedule(
            f"a schedule named {fields['name']!r} already exists",
            hint="choose another name, or change or delete the existing schedule",
        )
    return store.create_schedule(
        fields["name"],
        fields["type"],
        fields["time"],
        day=fields["day"],
        enabled=fields["enabled"],
        active=fields["active"],
        max_concurrent_downloads=fields["max_concurrent_downloads"],
        tags=fields["tags"],
    )


def _exists(store: Store, name: str) -> bool:
    """Whether a schedule has this exact name (not an id: names are never all digits)."""
    row = store.get_schedule(name)
    return row is not None and row.name == name


def list_schedules(store: Store) -> list[ScheduleRow]:
    """Return every schedule, sorted by name."""
    return store.list_schedules()


def get_schedule(store: Store, id_or_name: int | str) -> ScheduleRow:
    """Return a schedule by id or name.

    Raises:
        ScheduleNotFound: no schedule has that id or name.
    """
    row = store.get_schedule(id_or_name)
    if row is None:
        raise ScheduleNotFound(
            f"no schedule {id_or_name!r}", hint="'hfdl schedule list' shows the schedules"
        )
    return row


def enable_schedule(store: Store, id_or_name: int | str) -> ScheduleRow:
    """Let a schedule's timer run again (other schedules are not touched).

    Raises:
        ScheduleNotFound: no such schedule.
    """
    return store.update_schedule(get_schedule(store, id_or_name).id, enabled=True)


def disable_schedule(store: Store, id_or_name: int | str) -> ScheduleRow:
    """Stop a schedule's timer from running; it stays in the database.

    A disabled schedule is not the active one any more either.

    Raises:
        ScheduleNotFound: no such schedule.
    """
    return store.update_schedule(get_schedule(store, id_or_name).id, enabled=False, active=False)


def set_active(store: Store, id_or_name: int | str) -> ScheduleRow:
    """Make a schedule the one enabled and active schedule; disable every other one.

    Done in one transaction: there is no moment with two active schedules.

    Returns:
        The schedule, now enabled and active.

    Raises:
        ScheduleNotFound: no such schedule.
    """
    chosen = get_schedule(store, id_or_name)
    rows = store.activate_only(chosen.id)
    return next(row for row in rows if row.id == chosen.id)


def delete_schedule(store: Store, id_or_name: int | str) -> ScheduleRow:
    """Delete a schedule; the sessions it started keep its name in their history.

    Returns:
        The deleted schedule.

    Raises:
        ScheduleNotFound: no such schedule.
    """
    return store.delete_schedule(get_schedule(store, id_or_name).id)


def ensure_default_schedule(store: Store, settings: Settings) -> ScheduleRow | None:
    """Create the ``default`` schedule from the configuration when there is no schedule.

    Only when the database holds no schedule at all and ``default_schedule.enabled`` is
    true: then ``default`` gets the configured type, time, day and concurrency, and is
    enabled and active. Any existing schedule (even disabled) means the user has chosen,
    and nothing is created.

    Args:
        store: the state database.
        settings: the effective settings (``default_schedule`` section).

    Returns:
        The created schedule, or ``None`` when nothing was created.

    Raises:
        InvalidSchedule: the configured default is not a valid schedule.
    """
    defaults = settings.default_schedule
    if not defaults.enabled or store.list_schedules():
        return None
    fields = check_new_schedule(
        name=DEFAULT_SCHEDULE_NAME,
        schedule_type=defaults.type,
        time=defaults.time,
        day=defaults.day if defaults.type == "weekly" else None,
        max_concurrent=defaults.max_concurrent_downloads,
        enabled=True,
        active=True,
    )
    try:
        return store.create_schedule(
            fields["name"],
            fields["type"],
            fields["time"],
            day=fields["day"],
            enabled=True,
            active=True,
            max_concurrent_downloads=fields["max_concurrent_downloads"],
        )
    except DuplicateSchedule:
        return None  # another process created it between our check and our write


def defaults_for_create(
    settings: Settings,
    *,
    schedule_type: str | None,
    time: str | None,
    day: str | None,
) -> tuple[str, str, str | int | None]:
    """Fill a new schedule's missing type, time and day from ``default_schedule``.

    The configured day is used only when the schedule ends up weekly and no day was given.

    Returns:
        ``(schedule_type, time, day)``.
    """
    defaults = settings.default_schedule
    chosen_type = schedule_type if schedule_type is not None else defaults.type
    chosen_time = time if time is not None else defaults.time
    chosen_day: str | int | None = day
    if chosen_day is None and chosen_type == "weekly" and defaults.type == "weekly":
        chosen_day = defaults.day
    return chosen_type, chosen_time, chosen_day


@dataclass(frozen=True)
class ScheduleOverview:
    """A schedule with its timer's calendar expression, next run and last run.

    ``next_run`` is when systemd's calendar next elapses (``None`` for a disabled schedule,
    or when ``systemd-analyze`` is not installed); the timer's ``RandomizedDelaySec=`` may
    start the run up to that many seconds later. ``last_run`` is the latest session
    started with this schedule's name.
    """

    schedule: ScheduleRow
    on_calendar: str
    next_run: datetime | None
    last_run: SessionRow | None

    def to_dict(self) -> dict[str, Any]:
        """The ``schedule list --json`` shape: the schedule's fields, then
        ``on_calendar``, ``next_run``, ``last_run``, ``last_result``, ``last_session_id``."""
        last = self.last_run
        return self.schedule.to_dict() | {
            "on_calendar": self.on_calendar,
            "next_run": iso_utc(self.next_run),
            "last_run": iso_utc(last.started_at) if last else None,
            "last_result": last.status if last else None,
            "last_session_id": last.id if last else None,
        }


def overview(
    store: Store,
    schedules: Iterable[ScheduleRow],
    *,
    run_lock: Path | None = None,
    now: datetime | None = None,
) -> list[ScheduleOverview]:
    """Add the next and last run to each schedule.

    A last session recorded ``running`` whose run is gone (killed, power lost) reads as
    ``interrupted``, as ``hfdl status`` shows it (nothing is written).

    Args:
        store: the state database (for the last sessions).
        schedules: the schedules to describe.
        run_lock: the run lock file, probed to tell a live run from a dead one.
        now: the time to compute the next run from (default: now).

    Returns:
        One overview per schedule, in the order given.

    Raises:
        SystemdError: ``systemd-analyze`` refused an expression or failed.
    """
    from hfdl.systemd.calendar import next_elapse, on_calendar

    result = []
    seen: dict[str, SessionRow] | None = None
    for schedule in schedules:
        expression = on_calendar(schedule)
        next_run = next_elapse(expression, now) if schedule.enabled else None
        last_run = store.latest_session_for_schedule(schedule.name)
        if last_run is not None and last_run.status == "running":
            if seen is None:
                from hfdl.store.reader import StateReader

                with StateReader(store.path, run_lock=run_lock) as reader:
                    seen = reader.latest_sessions_by_schedule()
            last_run = seen.get(schedule.name, last_run)
        result.append(ScheduleOverview(schedule, expression, next_run, last_run))
    return result


def describe_when(schedule: ScheduleRow) -> str:
    """``daily 02:00`` / ``weekly Fri 14:00`` (day number in parentheses: Monday = 0)."""
    if schedule.type == "weekly" and schedule.day in WEEKDAYS:
        return f"weekly {schedule.day} ({WEEKDAYS.index(schedule.day)}) {schedule.time}"
    return f"{schedule.type} {schedule.time}"
