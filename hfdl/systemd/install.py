"""Installing hfdl's units: rendering them for this host, writing and removing the files,
the marker that says ``hfdl start`` is in force, and finding everything ``hfdl uninstall``
removes (:func:`find_installed`).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hfdl.errors import SystemdError
from hfdl.fileio import write_atomically
from hfdl.systemd.units import (
    GENERATED_UNIT_GLOB,
    SERVICE_UNIT,
    UnitFile,
    is_generated,
    render_units,
    timer_schedule_name,
)

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


# The directories `systemctl enable` puts a unit's symbolic links in ([Install] WantedBy=,
# RequiredBy=, UpheldBy=): hfdl's timers are WantedBy=timers.target.
_LINK_DIRECTORY_SUFFIXES = (".wants", ".requires", ".upholds")
# systemd's name of a Persistent= timer's stamp file: stamp-<timer unit name>.
TIMER_STAMP_PREFIX = "stamp-"


@dataclass
class InstalledFiles:
    """Everything of hfdl's in one scope's unit and stamp directories.

    Attributes:
        units: unit files hfdl generated (they carry the marker).
        links: symbolic links in ``*.wants/`` (``*.requires/``, ``*.upholds/``) to hfdl's
            units, including dangling ones whose unit file is already gone.
        drop_ins: drop-in files (``<unit>.d/*.conf``) of hfdl's units that carry the marker.
        stamps: ``stamp-hfdl-*.timer`` files of Persistent= timers.
        foreign: files named like hfdl's that hfdl did not write (no marker): never removed.
    """

    units: list[Path] = field(default_factory=list)
    links: list[Path] = field(default_factory=list)
    drop_ins: list[Path] = field(default_factory=list)
    stamps: list[Path] = field(default_factory=list)
    foreign: list[Path] = field(default_factory=list)

    def removable(self) -> list[Path]:
        """What ``hfdl uninstall`` deletes: links first (so that no link ever dangles to a
        removed unit if it stops half-way), then drop-ins, units and stamps."""
        return [*self.links, *self.drop_ins, *self.units, *self.stamps]


def _is_hfdl_unit_name(name: str) -> bool:
    """Whether a unit name is one hfdl generates: a schedule's timer, the service template
    or one of its instances."""
    if timer_schedule_name(name) is not None:
        return True
    # "hfdl-run@" + instance + ".service"; the template itself has an empty instance.
    service_prefix = SERVICE_UNIT.removesuffix(".service")
    return name.startswith(service_prefix) and name.endswith(".service")


def _links_to_hfdl_units(unit_dir: Path, generated: dict[str, Path]) -> list[Path]:
    """Symbolic links in the unit directory's ``*.wants/`` (etc.) that point at hfdl's units.

    A link counts when it points into ``unit_dir`` at a file of the same name that hfdl
    generated, or at one that no longer exists but is named like hfdl's units (what
    deleting a unit file without ``systemctl disable`` leaves behind). A link to any other
    file is someone else's.
    """
    links: list[Path] = []
    for directory in sorted(unit_dir.iterdir()):
        if not (directory.is_dir() and directory.name.endswith(_LINK_DIRECTORY_SUFFIXES)):
            continue
        for link in sorted(directory.glob(GENERATED_UNIT_GLOB)):
            if not link.is_symlink():
                continue
            target = Path(os.readlink(link))
            target = target if target.is_absolute() else link.parent / target
            if target.parent.resolve() != unit_dir.resolve() or target.name != link.name:
                continue
            if target.name in generated or (
                not target.exists() and _is_hfdl_unit_name(target.name)
            ):
                links.append(link)
    return links


def _drop_ins(unit_dir: Path, unit_names: Iterable[str]) -> tuple[list[Path], list[Path]]:
    """The drop-in files of these units: ``(generated, foreign)``."""
    generated: list[Path] = []
    foreign: list[Path] = []
    for name in unit_names:
        directory = unit_dir / f"{name}.d"
        if not directory.is_dir() or directory.is_symlink():
            continue
        for path in sorted(directory.iterdir()):
            try:
                ours = path.is_file() and not path.is_symlink() and is_generated(path.read_text())
            except (OSError, UnicodeDecodeError):
                ours = False
            (generated if ours else foreign).append(path)
    return generated, foreign


def find_installed(unit_dir: Path, stamp_dir: Path) -> InstalledFiles:
    """Find every file hfdl installed in a scope, and the hfdl-named files it did not.

    Args:
        unit_dir: the scope's unit directory (it need not exist).
        stamp_dir: where the scope's manager keeps timer stamps (it need not exist).

    Returns:
        The files, each list sorted. Reads only; removes nothing.
    """
    found = InstalledFiles()
    generated = generated_units(unit_dir)
    found.units = sorted(generated.values())
    if unit_dir.is_dir():
        found.foreign = sorted(
            path
            for path in unit_dir.glob(GENERATED_UNIT_GLOB)
            if path.name not in generated and not path.is_dir()
        )
        found.links = _links_to_hfdl_units(unit_dir, generated)
        # Drop-ins of any hfdl-named unit, installed or not: `systemctl edit` leaves them.
        names = {path.name.removesuffix(".d") for path in unit_dir.glob(f"{GENERATED_UNIT_GLOB}.d")}
        found.drop_ins, foreign_drop_ins = _drop_ins(
            unit_dir, sorted(name for name in names if _is_hfdl_unit_name(name))
        )
        found.foreign = sorted([*found.foreign, *foreign_drop_ins])
    if stamp_dir.is_dir():
        # A foreign timer that is named like hfdl's keeps its stamp: it is not hfdl's.
        foreign_names = {path.name for path in found.foreign}
        found.stamps = sorted(
            path
            for path in stamp_dir.glob(f"{TIMER_STAMP_PREFIX}{GENERATED_UNIT_GLOB}")
            if timer_schedule_name(path.name.removeprefix(TIMER_STAMP_PREFIX)) is not None
            and path.name.removeprefix(TIMER_STAMP_PREFIX) not in foreign_names
            and not path.is_dir()
        )
    return found


def remove_installed(found: InstalledFiles) -> list[Path]:
    """Delete what :func:`find_installed` found hfdl's, then the directories that held
    only hfdl's links or drop-ins and are now empty.

    Returns:
        The files removed, in the order removed; a file already gone is not listed.

    Raises:
        OSError: a file cannot be removed (permissions); the files before it are gone.
    """
    removed: list[Path] = []
    for path in found.removable():
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    for directory in sorted({path.parent for path in [*found.links, *found.drop_ins]}):
        # Only a directory this removal emptied: rmdir refuses one that is not empty.
        try:
            directory.rmdir()
        except OSError:
            continue
    return removed


def timer_names(found: InstalledFiles) -> list[str]:
    """The timers among hfdl's units and links (to stop and disable before removing)."""
    names = {path.name for path in [*found.units, *found.links]}
    return sorted(name for name in names if timer_schedule_name(name) is not None)
