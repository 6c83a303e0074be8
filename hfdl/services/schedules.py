"""Schedules: when timer-driven runs happen, and which models they download.

Every use case takes the effective settings and opens the state database itself. Input is
parsed into a :class:`~hfdl.schedule.Schedule` before the database is even opened, and every
problem is reported at once (:class:`~hfdl.errors.InvalidSchedule`, exit 65), so a refused
command writes nothing (and creates no database).

These functions only change the database. Making systemd's timers match it is the
caller's next step (:func:`hfdl.services.lifecycle.sync_units`), so that one hook does it for
every kind of change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hfdl.errors import DuplicateSchedule, InvalidSchedule, Problem, ScheduleNotFound
from hfdl.schedule import Schedule, parse_schedule, schedule_name_taken
from hfdl.store.rows import ScheduleRow, SessionRow, iso_utc

if TYPE_CHECKING:
    from hfdl.config import Settings
    from hfdl.store import Store
    from hfdl.systemd.units import UnitFile

DEFAULT_SCHEDULE_NAME = "default"
# A refused command changes nothing: the hint every InvalidSchedule of these use cases gives.
_NOTHING_CHANGED = "nothing was changed"


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


def create_schedule(
    settings: Settings,
    *,
    name: str,
    schedule_type: str | None = None,
    time: str | None = None,
    day: str | int | None = None,
    concurrent_downloads: int | None = None,
    tags: Iterable[str] = (),
    enabled: bool = True,
) -> ScheduleRow:
    """Create a schedule; what is not given comes from the configuration's ``default_schedule``.

    The configured day is used only when the schedule ends up weekly and no day was given.

    Args:
        settings: the effective settings (database, ``default_schedule``).
        name, schedule_type, time, day, concurrent_downloads, tags: as for
            :func:`hfdl.schedule.parse_schedule`; ``None`` takes the configured default.
        enabled: whether its timer should run.

    Returns:
        The stored schedule (not active: see :func:`set_active`).

    Raises:
        InvalidSchedule: fields are invalid (the list also says if the name is taken).
        DuplicateSchedule: the fields are valid but the name is taken.
    """
    defaults = settings.default_schedule
    chosen_type = schedule_type if schedule_type is not None else defaults.type
    chosen_day = day
    if chosen_day is None and chosen_type == "weekly" and defaults.type == "weekly":
        chosen_day = defaults.day
    try:
        schedule = parse_schedule(
            name=name,
            schedule_type=chosen_type,
            time=time if time is not None else defaults.time,
            day=chosen_day,
            concurrent_downloads=(
                concurrent_downloads
                if concurrent_downloads is not None
                else defaults.max_concurrent_downloads
            ),
            tags=tags,
        )
    except InvalidSchedule as error:
        problems = list(error.problems)
        # Say everything at once: a taken name is one more problem to fix. Only a database
        # that exists is asked: a refused command must not create one.
        if settings.database_exists():
            with _open_store(settings) as store:
                if _exists(store, name):
                    problems.append(Problem("", "name", schedule_name_taken(name).message))
        raise InvalidSchedule(problems, hint=_NOTHING_CHANGED) from None
    with _open_store(settings) as store:
        return store.create_schedule(schedule, enabled=enabled)


def ensure_default_schedule(store: Store, settings: Settings) -> ScheduleRow | None:
    """Create the ``default`` schedule from the configuration when there is no schedule.

    Only when the database holds no schedule at all and ``default_schedule.enabled`` is
    true: then ``default`` gets the configured type, time, day and concurrency, and is
    enabled and active. Any existing schedule (even disabled) means the user has chosen,
    and nothing is created.

    Args:
        store: the state database, open (``hfdl start`` creates the default in the same
            session that reads the schedules).
        settings: the effective settings (``default_schedule`` section).

    Returns:
        The created schedule, or ``None`` when nothing was created.

    Raises:
        InvalidSchedule: the configured default is not a valid schedule.
    """
    defaults = settings.default_schedule
    if not defaults.enabled or store.list_schedules():
        return None
    try:
        schedule = parse_schedule(
            name=DEFAULT_SCHEDULE_NAME,
            schedule_type=defaults.type,
            time=defaults.time,
            day=defaults.day if defaults.type == "weekly" else None,
            concurrent_downloads=defaults.max_concurrent_downloads,
        )
    except InvalidSchedule as error:
        raise InvalidSchedule(error.problems, hint=_NOTHING_CHANGED) from None
    try:
        return store.create_schedule(schedule, enabled=True, active=True)
    except DuplicateSchedule:
        return None  # another process created it between our check and our write


def enable_schedule(settings: Settings, id_or_name: str) -> ScheduleRow:
    """Let a schedule's timer run again (other schedules are not touched).

    Raises:
        ScheduleNotFound: no such schedule.
    """
    return _change(
        settings, id_or_name, lambda store, row: store.update_schedule(row.id, enabled=True)
    )


def disable_schedule(settings: Settings, id_or_name: str) -> ScheduleRow:
    """Stop a schedule's timer from running; it stays in the database.

    A disabled schedule is not the active one any more either.

    Raises:
        ScheduleNotFound: no such schedule.
    """
    return _change(
        settings,
        id_or_name,
        lambda store, row: store.update_schedule(row.id, enabled=False, active=False),
    )


def set_active(settings: Settings, id_or_name: str) -> ScheduleRow:
    """Make a schedule the one enabled and active schedule; disable every other one.

    Done in one transaction: there is no moment with two active schedules.

    Returns:
        The schedule, now enabled and active.

    Raises:
        ScheduleNotFound: no such schedule.
    """

    def activate(store: Store, chosen: ScheduleRow) -> ScheduleRow:
        rows = store.activate_only(chosen.id)
        return next(row for row in rows if row.id == chosen.id)

    return _change(settings, id_or_name, activate)


def delete_schedule(settings: Settings, id_or_name: str) -> ScheduleRow:
    """Delete a schedule; the sessions it started keep its name in their history.

    Returns:
        The deleted schedule.

    Raises:
        ScheduleNotFound: no such schedule.
    """
    return _change(settings, id_or_name, lambda store, row: store.delete_schedule(row.id))


@dataclass(frozen=True)
class ScheduleOverview:
    """A schedule with its "when" in words, its timer's calendar expression, next run and
    last run.

    ``next_run`` is when systemd's calendar next elapses (``None`` for a disabled schedule,
    or when ``systemd-analyze`` is not installed); the timer's ``RandomizedDelaySec=`` may
    start the run up to that many seconds later. ``last_run`` is the latest session
    started with this schedule's name.
    """

    schedule: ScheduleRow
    when: str
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


def list_overviews(settings: Settings, *, now: datetime | None = None) -> list[ScheduleOverview]:
    """Every schedule, sorted by name, with its next and last run.

    Args:
        settings: the effective settings.
        now: the time to compute the next runs from (default: now).

    Returns:
        The overviews; none when there is no database yet (it is not created to be read).

    Raises:
        SystemdError: ``systemd-analyze`` refused an expression or failed.
        InvalidSchedule: a stored schedule is not valid (the database was edited by hand).
    """
    if not settings.database_exists():
        return []
    with _open_store(settings) as store:
        return _overviews(store, store.list_schedules(), settings, now)


def show_schedule(
    settings: Settings, id_or_name: str, *, now: datetime | None = None
) -> ScheduleOverview:
    """One schedule, by id or name, with its next and last run.

    Raises:
        ScheduleNotFound: no schedule has that id or name.
        SystemdError, InvalidSchedule: as for :func:`list_overviews`.
    """
    with _open_store(settings) as store:
        return _overviews(store, [_get_schedule(store, id_or_name)], settings, now)[0]


def schedule_units(settings: Settings, schedule: ScheduleRow, scope_name: str) -> list[UnitFile]:
    """The unit files ``hfdl start`` would install for one schedule (for review).

    Args:
        settings: the effective settings.
        schedule: the stored schedule.
        scope_name: ``user`` or ``system``.

    Returns:
        The service template, then the schedule's timer.

    Raises:
        InvalidSchedule: the stored schedule is not valid.
        SystemdError: no ``hfdl`` executable was found.
        UnsafeUnitValue: a setting would break the unit file syntax.
    """
    from hfdl.systemd.install import units_for_host

    return units_for_host(settings, scope_name, [schedule.definition])


def _overviews(
    store: Store, rows: Iterable[ScheduleRow], settings: Settings, now: datetime | None
) -> list[ScheduleOverview]:
    """Add the "when", the next and the last run to each schedule.

    A last session recorded ``running`` whose run is gone (killed, power lost) reads as
    ``interrupted``, as ``hfdl status`` shows it (nothing is written).
    """
    from hfdl.systemd.calendar import describe_when, next_elapse, on_calendar

    result = []
    seen: dict[str, SessionRow] | None = None
    for row in rows:
        schedule: Schedule = row.definition
        expression = on_calendar(schedule)
        next_run = next_elapse(expression, now) if row.enabled else None
        last_run = store.latest_session_for_schedule(row.name)
        if last_run is not None and last_run.status == "running":
            if seen is None:
                from hfdl.services.state import open_reader

                # The run lock is probed to tell a live run from a killed one.
                with open_reader(settings, store.target) as reader:
                    seen = reader.latest_sessions_by_schedule()
            last_run = seen.get(row.name, last_run)
        result.append(
            ScheduleOverview(row, describe_when(schedule), expression, next_run, last_run)
        )
    return result


def _change(
    settings: Settings, id_or_name: str, action: Callable[[Store, ScheduleRow], ScheduleRow]
) -> ScheduleRow:
    """Find a schedule and apply one change to it, in one session with the database."""
    with _open_store(settings) as store:
        return action(store, _get_schedule(store, id_or_name))


def _get_schedule(store: Store, id_or_name: str) -> ScheduleRow:
    row = store.get_schedule(id_or_name)
    if row is None:
        raise ScheduleNotFound(
            f"no schedule {id_or_name!r}", hint="'hfdl schedule list' shows the schedules"
        )
    return row


def _exists(store: Store, name: str) -> bool:
    """Whether a schedule has this exact name (not an id: names are never all digits)."""
    row = store.get_schedule(name)
    return row is not None and row.name == name


def _open_store(settings: Settings) -> Store:
    from hfdl.store import Store  # SQLAlchemy: only when the database is really used

    return Store(settings.database, host_id=settings.host_id)
