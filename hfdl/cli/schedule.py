"""``hfdl schedule ...``: create, list, enable, disable, activate, delete and show schedules.

Commands are thin: parse, call :mod:`hfdl.services.schedules`, render. After every change
they call one hook, :func:`hfdl.services.lifecycle.sync_units`, which makes systemd's
timers match the database (when hfdl is started in that scope; otherwise it only notes it).
Input is validated completely before the database is even opened, so a refused command
writes nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hfdl.cli.app import app
from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from hfdl.config import Settings
    from hfdl.services.schedules import ScheduleOverview
    from hfdl.store import ScheduleRow, Store

schedule_app = typer.Typer(
    name="schedule",
    help="Manage schedules: when timer-driven runs happen and which models they download.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(schedule_app, name="schedule")

IdOrNameArgument = Annotated[
    str, typer.Argument(metavar="ID_OR_NAME", help="The schedule's id or name.", show_default=False)
]


def _open_store(settings: Settings) -> Store:
    from hfdl.store import Store

    return Store(settings.db_path)


def _sync_systemd(app_context: AppContext) -> None:
    """Make systemd's units match the database: the one hook every change calls.

    Raises:
        SystemdError: the change is saved in the database but systemd could not be updated.
    """
    from hfdl.errors import SystemdError
    from hfdl.services.lifecycle import sync_units
    from hfdl.systemd.manager import Scope

    try:
        report = sync_units(app_context.settings(), Scope(app_context.scope()))
    except SystemdError as error:
        raise SystemdError(
            f"the schedule change is saved, but systemd was not updated: {error.message}",
            hint=error.hint or "run 'hfdl start' once systemd is reachable",
        ) from error
    for note in report.notes:
        sys.stderr.write(f"hfdl: note: {note}\n")


def _change(
    context: typer.Context,
    id_or_name: str,
    action: Callable[[Store, str], ScheduleRow],
    outcome: str,
) -> None:
    """Apply one change to one schedule, report it, then sync systemd."""
    app_context: AppContext = context.obj
    with _open_store(app_context.settings()) as store:
        row = action(store, id_or_name)
    sys.stderr.write(f"hfdl: schedule {row.name!r} (id {row.id}) {outcome}\n")
    _sync_systemd(app_context)


@schedule_app.command("create")
def create_command(
    context: typer.Context,
    name: Annotated[
        str,
        typer.Option(
            "--name",
            "-n",
            metavar="NAME",
            help="Unique name: 1-32 lowercase letters, digits or '-', starting with a letter "
            "or digit (it becomes part of the unit names hfdl-NAME.timer and "
            "hfdl-run@NAME.service).",
            show_default=False,
        ),
    ],
    schedule_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            metavar="daily|weekly",
            help="How often it runs (default: default_schedule.type from the configuration).",
            show_default=False,
        ),
    ] = None,
    time: Annotated[
        str | None,
        typer.Option(
            "--time",
            metavar="HH:MM",
            help="Local start time, 00:00 to 23:59 (default: default_schedule.time).",
            show_default=False,
        ),
    ] = None,
    day: Annotated[
        str | None,
        typer.Option(
            "--day",
            metavar="DAY",
            help="Weekly schedules only (required there): 0-6 with Monday = 0 (so 4 is "
            "Friday, 6 Sunday), or mon..sun / monday..sunday.",
            show_default=False,
        ),
    ] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent",
            metavar="N",
            help="Models a run of this schedule downloads at once, 1 to 64 (default: "
            "default_schedule.max_concurrent_downloads).",
            show_default=False,
        ),
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option(
            "--tags",
            metavar="TAG[,TAG...]",
            help="Only models carrying any of these tags (comma-separated, repeatable). "
            "Default: every model.",
            show_default=False,
        ),
    ] = None,
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Create it disabled: its timer does not run.")
    ] = False,
) -> None:
    """Create a schedule.

    Example: hfdl schedule create --name nightly --type daily --time 23:00 --tags nlp
    """
    from hfdl.errors import InvalidSchedule
    from hfdl.services.schedules import (
        check_new_schedule,
        create_schedule,
        defaults_for_create,
        split_tags,
    )

    app_context: AppContext = context.obj
    settings = app_context.settings()
    chosen_type, chosen_time, chosen_day = defaults_for_create(
        settings, schedule_type=schedule_type, time=time, day=day
    )
    chosen_max = (
        max_concurrent
        if max_concurrent is not None
        else settings.default_schedule.max_concurrent_downloads
    )
    fields: dict[str, Any] = {
        "name": name,
        "schedule_type": chosen_type,
        "time": chosen_time,
        "day": chosen_day,
        "max_concurrent": chosen_max,
        "tags": split_tags(tags),
        "enabled": not disabled,
    }
    try:
        # Before opening the database: a refused command must not even create the file.
        check_new_schedule(**fields)
    except InvalidSchedule:
        if settings.db_path.exists():
            # The database exists: let the service add "name taken" to the problems, so
            # that every mistake is reported at once. It raises before writing anything.
            with _open_store(settings) as store:
                create_schedule(store, settings=settings, **fields)
        raise
    with _open_store(settings) as store:
        row = create_schedule(store, settings=settings, **fields)
    state = "enabled" if row.enabled else "disabled"
    sys.stderr.write(f"hfdl: created schedule {row.name!r} (id {row.id}, {state})\n")
    _sync_systemd(app_context)


@schedule_app.command("list")
def list_command(context: typer.Context, json_output: JsonOption = False) -> None:
    """List schedules with their next run (systemd calendar time, before the timer's
    random delay) and their last run's result."""
    from hfdl.services.schedules import list_schedules, overview

    app_context: AppContext = context.obj
    settings = app_context.settings()
    # No database yet means no schedules: say so rather than create the file just to read it.
    entries: list[ScheduleOverview] = []
    if settings.db_path.exists():
        with _open_store(settings) as store:
            entries = overview(store, list_schedules(store), run_lock=_run_lock(settings))
    if json_output:
        sys.stdout.write(json.dumps([entry.to_dict() for entry in entries], indent=2) + "\n")
        return
    if not entries:
        sys.stderr.write(
            "hfdl: no schedules; create one with 'hfdl schedule create', or let 'hfdl start' "
            "create 'default' from the configuration's default_schedule\n"
        )
        return
    _print_schedules(entries)


def _run_lock(settings: Settings) -> Path:
    """The run lock, probed to show a killed run's session as interrupted."""
    from hfdl.engine.lock import LOCK_FILE_NAME

    return settings.state_directory / LOCK_FILE_NAME


@schedule_app.command("show")
def show_command(
    context: typer.Context,
    id_or_name: IdOrNameArgument,
    units: Annotated[
        bool,
        typer.Option("--units", help="Print the systemd units hfdl generates for it (for review)."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show one schedule; with --units, the unit files 'hfdl start' would install for it."""
    from hfdl.services.schedules import get_schedule, overview

    app_context: AppContext = context.obj
    settings = app_context.settings()
    with _open_store(settings) as store:
        entry = overview(store, [get_schedule(store, id_or_name)], run_lock=_run_lock(settings))[0]
    if json_output and not units:
        sys.stdout.write(json.dumps(entry.to_dict(), indent=2) + "\n")
        return
    if not units:
        _print_details(entry)
        return
    from hfdl.systemd.units import default_executable, render_units

    config_path = settings.config_file.absolute() if settings.config_file else None
    rendered = render_units(
        [entry.schedule],
        scope="user" if app_context.scope() == "user" else "system",
        executable=default_executable(),
        config_path=config_path,
        settings=settings,
    )
    if json_output:
        document = [{"name": unit.name, "content": unit.content} for unit in rendered]
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    for index, unit in enumerate(rendered):
        if index:
            sys.stdout.write("\n")
        sys.stdout.write(f"# --- {unit.name} ---\n{unit.content}")


@schedule_app.command("enable")
def enable_command(context: typer.Context, id_or_name: IdOrNameArgument) -> None:
    """Let a schedule's timer run (other schedules are not changed)."""
    from hfdl.services.schedules import enable_schedule

    _change(context, id_or_name, enable_schedule, "enabled")


@schedule_app.command("disable")
def disable_command(context: typer.Context, id_or_name: IdOrNameArgument) -> None:
    """Stop a schedule's timer from running; the schedule is kept."""
    from hfdl.services.schedules import disable_schedule

    _change(context, id_or_name, disable_schedule, "disabled")


@schedule_app.command("set-active")
def set_active_command(context: typer.Context, id_or_name: IdOrNameArgument) -> None:
    """Make this the one enabled and active schedule; every other schedule is disabled."""
    from hfdl.services.schedules import set_active

    _change(context, id_or_name, set_active, "is now the only enabled and active schedule")


@schedule_app.command("delete")
def delete_command(context: typer.Context, id_or_name: IdOrNameArgument) -> None:
    """Delete a schedule and remove its timer; past runs keep its name in their history."""
    from hfdl.services.schedules import delete_schedule

    _change(context, id_or_name, delete_schedule, "deleted")


def _local(moment: datetime | None) -> str:
    """A timestamp in the machine's local time, the time zone schedules are written in."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z") if moment else "-"


def _print_schedules(entries: list[ScheduleOverview]) -> None:
    from hfdl.cli.render import print_table
    from hfdl.services.schedules import describe_when

    rows = [
        (
            entry.schedule.id,
            entry.schedule.name,
            describe_when(entry.schedule),
            "yes" if entry.schedule.enabled else "no",
            "yes" if entry.schedule.active else "no",
            ",".join(entry.schedule.tags) or "(all)",
            entry.schedule.max_concurrent_downloads,
            _local(entry.next_run),
            _local(entry.last_run.started_at) if entry.last_run else "-",
            entry.last_run.status if entry.last_run else "-",
        )
        for entry in entries
    ]
    headers = ["ID", "NAME", "WHEN", "ENABLED", "ACTIVE", "TAGS", "MAX", "NEXT RUN", "LAST RUN"]
    print_table([*headers, "RESULT"], rows)


def _print_details(entry: ScheduleOverview) -> None:
    from hfdl.services.schedules import describe_when

    schedule, last = entry.schedule, entry.last_run
    lines = [
        ("id", schedule.id),
        ("name", schedule.name),
        ("when", describe_when(schedule)),
        ("OnCalendar", entry.on_calendar),
        ("enabled", "yes" if schedule.enabled else "no"),
        ("active", "yes" if schedule.active else "no"),
        ("tags", ",".join(schedule.tags) or "(all models)"),
        ("max concurrent", schedule.max_concurrent_downloads),
        ("next run", _local(entry.next_run)),
        ("last run", f"{_local(last.started_at)} ({last.status})" if last else "-"),
    ]
    sys.stdout.write("".join(f"{label + ':':<16}{value}\n" for label, value in lines))
