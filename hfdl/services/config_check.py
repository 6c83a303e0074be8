"""``hfdl config validate``: check everything a run depends on, and report every problem.

The checks, each problem with its location (a file and key path, ``env:NAME``, or the
database):

1. ``config``: the YAML file and the environment overrides, against the schema;
2. ``token``: a token file that exists can be read;
3. ``catalog``: every entry of ``models.json``;
4. ``schedules``: the default schedule and every schedule in the database, turned into
   ``OnCalendar=`` expressions and checked by ``systemd-analyze calendar`` where it is
   installed (the times shown are systemd's own);
5. ``storage``: the download directory, the state directory and the database's directory
   are directories this user can write (or create), on a filesystem with room.

Nothing is created or changed: a database that does not exist yet is not created.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hfdl.database_url import database_target
from hfdl.errors import (
    CatalogError,
    CatalogNotFound,
    ConfigError,
    ConfigFileNotFound,
    InvalidSchedule,
    Problem,
    StoreError,
    SystemdError,
    UnsafeUnitValue,
)

if TYPE_CHECKING:
    from hfdl.config import Settings


@dataclass(frozen=True)
class Finding:
    """One problem, and which check found it."""

    check: str
    problem: Problem

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "check": self.check,
            "location": self.problem.location,
            "path": self.problem.path,
            "message": self.problem.message,
        }


@dataclass
class ValidationReport:
    """Every problem found, and notes on what was checked (or could not be)."""

    config_file: Path | None = None
    problems: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Whether no check found a problem."""
        return not self.problems

    def add(self, check: str, problems: list[Problem]) -> None:
        """Record problems found by ``check``."""
        self.problems.extend(Finding(check, problem) for problem in problems)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``config validate --json``."""
        return {
            "valid": self.valid,
            "config_file": None if self.config_file is None else str(self.config_file),
            "problems": [finding.to_dict() for finding in self.problems],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Schedule:
    """The fields :func:`hfdl.systemd.calendar.on_calendar` reads."""

    type: str
    time: str
    day: str | None


def validate_everything(
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    *,
    euid: int | None = None,
) -> ValidationReport:
    """Run every check; collect every problem instead of stopping at the first.

    Args:
        config_path: the file named with ``--config``, if any.
        environ, cwd, euid: as for :func:`hfdl.config.load_settings` (``None``: this
            process's).

    Returns:
        The report; ``valid`` is false when any check found a problem.
    """
    from hfdl.config import load_settings

    report = ValidationReport()
    try:
        settings = load_settings(config_path, environ, cwd, euid=euid)
    except ConfigError as error:
        report.add("config", error.problems)
    except ConfigFileNotFound as error:
        report.add("config", [Problem(str(config_path or ""), "", error.message)])
    if report.problems:
        report.notes.append(
            "the catalog, schedules and directories were not checked: fix the configuration first"
        )
        return report
    report.config_file = settings.config_file
    report.notes.append(f"configuration: {settings.config_file or 'defaults only (no file)'}")
    _check_token(report, environ)
    _check_catalog(report, settings.models_file)
    _check_schedules(report, settings)
    _check_storage(report, settings)
    return report


def _check_token(report: ValidationReport, environ: Mapping[str, str] | None) -> None:
    from hfdl.token import find_token

    try:
        found = find_token(environ)
    except ConfigError as error:
        report.add("token", error.problems)
        return
    report.notes.append(f"token: {'from ' + found.source if found else 'none (anonymous)'}")


def _check_catalog(report: ValidationReport, models_file: Path) -> None:
    from hfdl.catalog import load_catalog

    try:
        catalog = load_catalog(models_file)
    except CatalogError as error:
        report.add("catalog", error.problems)
    except CatalogNotFound:
        report.add("catalog", [Problem(str(models_file), "", "the catalog file does not exist")])
    else:
        enabled = sum(1 for model in catalog.models if model.enabled)
        report.notes.append(
            f"catalog: {models_file}: {len(catalog.models)} models, {enabled} enabled"
        )


def _check_schedules(report: ValidationReport, settings: Settings) -> None:
    from hfdl.store.rows import WEEKDAYS

    default = settings.default_schedule
    day = None if default.day is None else WEEKDAYS[default.day]
    location = settings.sources.get("default_schedule.time", "default")
    schedules: list[tuple[str, str, Any]] = [
        (location, "default_schedule", _Schedule(default.type, default.time, day))
    ]
    if settings.database_exists():
        # Only an existing database is opened: validating must not create one.
        from hfdl.store import Store

        try:
            with Store(settings.database, host_id=settings.host_id) as store:
                rows = store.list_schedules()
        except StoreError as error:
            report.add("storage", [Problem(settings.database_display, "", error.message)])
            rows = []
        for row in rows:
            schedules.append((settings.database_display, f"schedules[{row.name}]", row))
    checked_by_systemd = True
    for location, path, schedule in schedules:
        problem, known = _check_calendar(schedule)
        checked_by_systemd = checked_by_systemd and known
        if problem is not None:
            report.add("schedules", [Problem(location, path, problem)])
    if not checked_by_systemd:
        report.notes.append("systemd-analyze is not installed: calendars checked by hfdl only")
    report.notes.append(f"schedules: {len(schedules) - 1} in the database, plus the default")


def _check_calendar(schedule: Any) -> tuple[str | None, bool]:
    """Return (problem or None, whether systemd-analyze was there to check it)."""
    from hfdl.store.rows import ScheduleRow
    from hfdl.systemd.calendar import next_elapse, on_calendar

    try:
        # A stored row is checked as a Schedule first: the database may have been edited
        # by hand, and on_calendar trusts what it is given.
        expression = on_calendar(
            schedule.definition if isinstance(schedule, ScheduleRow) else schedule
        )
    except (UnsafeUnitValue, InvalidSchedule) as error:
        return error.message, True
    try:
        elapse: datetime | None = next_elapse(expression)
    except SystemdError as error:
        return f"systemd refuses OnCalendar={expression}: {error.message}", True
    if elapse is None:
        return None, shutil.which("systemd-analyze") is not None
    return None, True


def _check_storage(report: ValidationReport, settings: Settings) -> None:
    from hfdl.engine.plan import FREE_SPACE_RESERVE_BYTES
    from hfdl.sizes import format_size

    # The SQLite file (db_path, or a sqlite:/// database_url); a server database has none.
    database = database_target(settings.database).path
    database_key = "database_url" if settings.database_url else "db_path"
    targets = [
        ("download_directory", settings.download_directory),
        ("state_directory", settings.state_directory),
    ]
    if database is not None:
        targets.append((database_key, database.parent))
    for key, directory in targets:
        location = settings.sources.get(key, "default")
        problem, existing = _writable_directory(directory)
        if problem is not None:
            report.add("storage", [Problem(location, key, problem)])
            continue
        assert existing is not None
        free = shutil.disk_usage(existing).free
        if free < FREE_SPACE_RESERVE_BYTES:
            report.add(
                "storage",
                [
                    Problem(
                        location,
                        key,
                        f"only {format_size(free)} free on the filesystem of {directory} "
                        f"(hfdl keeps {format_size(FREE_SPACE_RESERVE_BYTES)} free)",
                    )
                ],
            )
        elif key == "download_directory":
            report.notes.append(f"download directory: {format_size(free)} free")
    if database is not None and database.exists() and not os.access(database, os.R_OK | os.W_OK):
        location = settings.sources.get(database_key, "default")
        report.add(
            "storage",
            [Problem(location, database_key, f"{database} is not readable and writable")],
        )


def _writable_directory(directory: Path) -> tuple[str | None, Path | None]:
    """Check that ``directory`` is (or can be created as) a directory this user can write.

    Returns:
        ``(problem, None)`` or ``(None, the directory or its nearest existing ancestor)``.
    """
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory", None
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == directory:
            return f"{directory} is not writable by this user", None
        return f"{directory} cannot be created: {existing} is not writable by this user", None
    return None, existing
