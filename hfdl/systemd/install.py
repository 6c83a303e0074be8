"""Installing hfdl's units: rendering them for this host, writing and removing the files,
and the marker that says ``hfdl start`` is in force.

hfdl only ever overwrites or removes unit files it generated itself (they carry
:data:`~hfdl.systemd.units.GENERATED_MARKER`); a file of the same name written by someone
else stops the installation before anything is written. Nothing here talks to systemd:
reloading and enabling are :class:`~hfdl.systemd.manager.Systemctl`'s.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hfdl.errors import SystemdError
from hfdl.fileio import write_atomically
from hfdl.systemd.units import GENERATED_UNIT_GLOB, UnitFile, is_generated, render_units

if TYPE_CHECKING:
    from hfdl.config import Settings
    from hfdl.schedule import Schedule
    from hfdl.systemd.manager import Scope

# Unit files are configuration anyone may read; only root (or the user) writes them.
UNIT_FILE_MODE = 0o644


def default_executable() -> Path:
    """Find the absolute path of the ``hfdl`` console script the units should run.

    Tries, in order: ``hfdl`` next to this Python interpreter (a virtual environment's
    ``bin/``, or ``/usr/bin``); this process's ``argv[0]`` when it is the ``hfdl`` script;
    ``hfdl`` on ``$PATH`` (which a service does not share with the shell, hence last).
    Symbolic links are not resolved, so a ``~/.local/bin/hfdl`` link keeps working when
    the environment behind it is rebuilt.

    Raises:
        SystemdError: no ``hfdl`` executable was found.
    """
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    candidates = [Path(sys.executable).parent / "hfdl"]
    if argv0 is not None and argv0.name == "hfdl":
        candidates.append(Path(os.path.abspath(argv0)))
    on_path = shutil.which("hfdl")
    if on_path:
        candidates.append(Path(os.path.abspath(on_path)))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise SystemdError(
        "cannot find the hfdl executable that systemd should run",
        hint="install hfdl so that 'hfdl' is on PATH, or run hfdl through its console script",
    )


def units_for_host(
    settings: Settings, scope_name: str, schedules: Iterable[Schedule]
) -> list[UnitFile]:
    """Render the units ``hfdl start`` installs here: this hfdl executable, this
    configuration file, and the token credential when the system scope has one.

    Args:
        settings: the effective settings (its configuration file is passed to the runs).
        scope_name: ``user`` or ``system``.
        schedules: the schedules to give a timer.

    Returns:
        The service template first, then one timer per schedule.

    Raises:
        SystemdError: no ``hfdl`` executable was found.
        UsageError, UnsafeUnitValue: as for :func:`~hfdl.systemd.units.render_units`.
    """
    config_path = settings.config_file.absolute() if settings.config_file else None
    return render_units(
        schedules,
        scope=scope_name,
        executable=default_executable(),
        config_path=config_path,
        settings=settings,
    )


def generated_units(unit_dir: Path) -> dict[str, Path]:
    """hfdl's generated unit files in ``unit_dir``, by unit name.

    Args:
        unit_dir: the scope's unit directory (it need not exist).

    Returns:
        Regular files whose text carries the generated marker; unreadable files are left out.
    """
    found: dict[str, Path] = {}
    if not unit_dir.is_dir():
        return found
    for path in unit_dir.glob(GENERATED_UNIT_GLOB):
        if path.is_file() and not path.is_symlink():
            try:
                if is_generated(path.read_text()):
                    found[path.name] = path
            except OSError:
                continue
    return found


def write_units(unit_dir: Path, files: list[UnitFile]) -> list[str]:
    """Write unit files atomically; refuse (before writing anything) to replace foreign files.

    Args:
        unit_dir: the scope's unit directory (created when missing).
        files: the rendered units.

    Returns:
        The names of the files written; a file whose content is already right is not.

    Raises:
        SystemdError: a file of the same name exists that hfdl did not generate.
    """
    foreign = [
        str(unit_dir / unit.name)
        for unit in files
        if (unit_dir / unit.name).exists() and not is_generated((unit_dir / unit.name).read_text())
    ]
    if foreign:
        raise SystemdError(
            "refusing to overwrite unit files hfdl did not generate: " + ", ".join(foreign),
            hint="move them away (or rename the schedule), then run `hfdl start` again",
        )
    unit_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for unit in files:
        path = unit_dir / unit.name
        if path.exists() and path.read_text() == unit.content:
            continue
        write_atomically(path, unit.content, new_file_mode=UNIT_FILE_MODE)
        written.append(unit.name)
    return written


def remove_units(unit_dir: Path, names: Iterable[str]) -> list[str]:
    """Delete unit files (the caller chose them among :func:`generated_units`).

    Returns:
        The names, in the order given; a file already gone counts as removed.
    """
    removed = []
    for name in names:
        (unit_dir / name).unlink(missing_ok=True)
        removed.append(name)
    return removed


def started_marker(settings: Settings, scope: Scope) -> Path:
    """The file whose presence means ``hfdl start`` handed the schedules to this scope.

    A marker rather than asking systemd, because "started" must survive the moment when no
    schedule is enabled (and so no timer is installed) between two schedule edits.
    """
    return settings.state_directory / f"started-{scope.name}"


def is_started(settings: Settings, scope: Scope) -> bool:
    """Whether ``hfdl start`` is in force for this scope (until ``hfdl stop``)."""
    return started_marker(settings, scope).exists()


def mark_started(settings: Settings, scope: Scope) -> None:
    """Record that ``hfdl start`` is in force for this scope (creates the state directory)."""
    marker = started_marker(settings, scope)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def mark_stopped(settings: Settings, scope: Scope) -> None:
    """Record that ``hfdl stop`` ended ``hfdl start`` for this scope."""
    started_marker(settings, scope).unlink(missing_ok=True)
