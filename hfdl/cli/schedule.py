"""``hfdl schedule ...``: create, list, enable, disable, activate, delete and show schedules.

Commands are thin: parse, call :mod:`hfdl.services.schedules`, render. After every change
they call one hook, :func:`hfdl.services.lifecycle.sync_units`, which makes systemd's
timers match the database (when hfdl is started in that scope; otherwise it only notes it).
The services validate input completely before the database is even opened, so a refused
command writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from hfdl.cli.context import AppContext
from hfdl.cli.options import JsonOption
from hfdl.cli.output import print_json, print_message, print_note, print_table, print_text

if TYPE_CHECKING:
    from datetime import datetime

    from hfdl.services.invocation import Settings
    from hfdl.services.schedules import ScheduleOverview, ScheduleRow

schedule_app = typer.Typer(
    name="schedule",
    help="Manage schedules: when timer-driven runs happen and which models they download.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

IdOrNameArgument = Annotated[
    str, typer.Argument(metavar="ID_OR_NAME", help="The schedule's id or name.", show_default=False)
]


def _sync_systemd(app_context: AppContext) -> None:
    """Make systemd's units match the database: the one hook every change calls.

    Raises:
        SystemdError: the change is saved in the database but systemd could not be updated.
    """
    from hfdl.services.lifecycle import sync_after_schedule_change

    report = sync_after_schedule_change(app_context.settings(), app_context.scope())
    for note in report.notes:
        print_note(note)


def _change(
    context: typer.Context,
    id_or_name: str,
    action: Callable[[Settings, str], ScheduleRow],
    outcome: str,
) -> None:
    """Apply one change to one schedule, report it, then sync systemd."""
    app_context: AppContext = context.obj
    row = action(app_context.settings(), id_or_name)
    print_message(f"schedule {row.name!r} (id {row.id}) {outcome}")
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
    concurrent_downloads: Annotated[
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
    from hfdl.services.schedules import create_schedule, split_tags

    app_context: AppContext = context.obj
    row = create_schedule(
        app_context.settings(),
        name=name,
        schedule_type=schedule_type,
        time=time,
        day=day,
        concurrent_downloads=concurrent_downloads,
        tags=split_tags(tags),
        enabled=not disabled,
    )
    state = "enabled" if row.enabled else "disabled"
    print_message(f"created schedule {row.name!r} (id {row.id}, {state})")
    _sync_systemd(app_context)


@schedule_app.command("list")
def list_command(context: typer.Context, json_output: JsonOption = False) -> None:
    """List schedules with their next run (systemd calendar time, before the timer's
    random delay) and their last run's result."""
    from hfdl.services.schedules import list_overviews

    app_context: AppContext = context.obj
    # No database yet means no schedules: the service says so rather than create the file.
    entries = list_overviews(app_context.settings())
    if json_output:
        print_json([entry.to_dict() for entry in entries])
        return
    if not entries:
        print_message(
            "no schedules; create one with 'hfdl schedule create', or let 'hfdl start' "
            "create 'default' from the configuration's default_schedule"
        )
        return
    _print_schedules(entries)


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
    from hfdl.services.schedules import schedule_units, show_schedule

    app_context: AppContext = context.obj
    settings = app_context.settings()
    entry = show_schedule(settings, id_or_name)
    if json_output and not units:
        print_json(entry.to_dict())
        return
    if not units:
        _print_details(entry)
        return
    rendered = schedule_units(settings, entry.schedule, app_context.scope())
    if json_output:
        document = [{"name": unit.name, "content": unit.content} for unit in rendered]
        print_json(document)
        return
    for index, unit in enumerate(rendered):
        if index:
            print_text("\n")
        print_text(f"# --- {unit.name} ---\n{unit.content}")


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
    rows = [
        (
            entry.schedule.id,
            entry.schedule.name,
            entry.when,
            "yes" if entry.schedule.enabled else "no",
            "yes" if entry.schedule.active else "no",
            ",".join(entry.schedule.tags) or "(all)",
            entry.schedule.concurrent_downloads,
            _local(entry.next_run),
            _local(entry.last_run.started_at) if entry.last_run else "-",
            entry.last_run.status if entry.last_run else "-",
        )
        for entry in entries
    ]
    headers = ["ID", "NAME", "WHEN", "ENABLED", "ACTIVE", "TAGS", "MAX", "NEXT RUN", "LAST RUN"]
    print_table([*headers, "RESULT"], rows)


def _print_details(entry: ScheduleOverview) -> None:
    schedule, last = entry.schedule, entry.last_run
    lines = [
        ("id", schedule.id),
        ("name", schedule.name),
        ("when", entry.when),
        ("OnCalendar", entry.on_calendar),
        ("enabled", "yes" if schedule.enabled else "no"),
        ("active", "yes" if schedule.active else "no"),
        ("tags", ",".join(schedule.tags) or "(all models)"),
        ("max concurrent", schedule.concurrent_downloads),
        ("next run", _local(entry.next_run)),
        ("last run", f"{_local(last.started_at)} ({last.status})" if last else "-"),
    ]
    print_text("".join(f"{label + ':':<16}{value}\n" for label, value in lines))
