"""What the system-scope service's sandbox needs to know about an installation's paths.

:func:`hfdl.systemd.units.render_units` renders the system unit from these values: which
directories the run may write (``ReadWritePaths=``), which ones a privileged
``ExecStartPre=+`` creates with which owner and mode (the download directory readable by the
cache group, setgid), which path settings are pinned in the unit's environment, and whether
``ProtectHome=`` and ``PrivateTmp=`` would hide a file the run needs. Pure computations on
:class:`~hfdl.config.Settings`; nothing here touches the file system or systemd.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hfdl.database_url import database_target

if TYPE_CHECKING:
    from hfdl.config import Settings

# The state directory systemd itself creates and makes writable (StateDirectory=hfdl).
SYSTEM_STATE_DIRECTORY = Path("/var/lib/hfdl")

# The download directory: the service account writes it, the cache group reads it. The
# setgid bit makes every folder created below it carry the cache group (and the setgid bit),
# and every file the group, whoever creates them.
DOWNLOAD_DIRECTORY_MODE = "2750"
# hfdl's own state (database, lock, logs): the service account's alone.
PRIVATE_DIRECTORY_MODE = "0700"

# ProtectHome= hides these entirely with "yes".
_HOME_DIRECTORIES = (Path("/home"), Path("/root"), Path("/run/user"))
# PrivateTmp= replaces these with empty ones.
_TEMPORARY_DIRECTORIES = (Path("/tmp"), Path("/var/tmp"))

# The path settings whose defaults depend on who runs hfdl (root gets /var/lib/hfdl, any
# other account its home's ~/.local/state/hfdl...), pinned in the system unit's environment.
PINNED_PATH_SETTINGS = ("download_directory", "state_directory", "db_path", "models_file")


@dataclass(frozen=True)
class OwnedDirectory:
    """A directory the system unit creates (or fixes) before the sandboxed run starts.

    Attributes:
        path: absolute path.
        mode: octal permission bits, as ``install -m`` takes them.
        owner: user that owns it (the service account).
        group: its group.
        reason: one sentence for the unit file's comment, saying what it is.
        create: whether the unit creates it (``install -d``); ``False`` when systemd does
            (``StateDirectory=``).
        only_root_owned: hand over only what root owns in it (``chown --from=root``): what a
            root ``hfdl`` command wrote there. ``False``: everything in it, every time.
    """

    path: Path
    mode: str
    owner: str
    group: str
    reason: str
    create: bool = True
    only_root_owned: bool = False


def writable_paths(settings: Settings) -> list[Path]:
    """The directories a run writes: downloads, state and the database's directory.

    SQLite writes ``-wal`` and ``-shm`` files next to the database, so its directory, not
    just the file, must be writable. Nested directories are listed once (the outermost).

    Args:
        settings: the effective settings.

    Returns:
        Absolute paths, sorted, none inside another.
    """
    paths = [settings.download_directory, settings.state_directory]
    database = _database_file(settings)
    if database is not None:
        paths.append(database.parent)
    candidates = sorted({_absolute(path) for path in paths})
    outermost: list[Path] = []
    for path in candidates:
        if not any(path.is_relative_to(parent) for parent in outermost):
            outermost.append(path)
    return outermost


def owned_directories(settings: Settings, *, state_directory_managed: bool) -> list[OwnedDirectory]:
    """The directories the system unit creates as root, with their owner and mode.

    The state directory and the database's directory belong to ``service.user`` and
    ``service.group``, private; the download directory to ``service.user`` and
    ``service.cache_group``, mode 2750. A directory inside the state directory is left to
    the run (it may create it there), except the download directory, whose group and setgid
    bit matter. ``hfdl`` commands run as root (``hfdl schedule add``, a ``sudo hfdl run``)
    may have left root-owned files in them, which the service could not write: the unit
    hands those over at every start.

    Args:
        settings: the effective settings.
        state_directory_managed: systemd creates the state directory itself
            (``StateDirectory=``), so it is not listed.

    Returns:
        The download directory first (so that its files, handed over to the cache group,
        are no longer root's when the state directory around it, if any, is handed over),
        then the state directory, then the database's directory.
    """
    service = settings.service
    state = _absolute(settings.state_directory)
    download = _absolute(settings.download_directory)
    database_file = _database_file(settings)
    directories = [
        OwnedDirectory(
            download,
            DOWNLOAD_DIRECTORY_MODE,
            service.user,
            service.cache_group,
            f"The models: written by the service account, read by group {service.cache_group}.",
            only_root_owned=True,
        )
    ]
    if not state.is_relative_to(download):
        directories.append(
            OwnedDirectory(
                state,
                PRIVATE_DIRECTORY_MODE,
                service.user,
                service.group,
                "hfdl's state (database, run lock, logs), private to the service account.",
                create=not state_directory_managed,
                # Models kept inside the state directory keep their group (handed over above).
                only_root_owned=download.is_relative_to(state),
            )
        )
    database = None if database_file is None else _absolute(database_file.parent)
    if (
        database is not None
        and not database.is_relative_to(state)
        and not database.is_relative_to(download)
    ):
        directories.append(
            OwnedDirectory(
                database,
                PRIVATE_DIRECTORY_MODE,
                service.user,
                service.group,
                "The database's directory (SQLite writes -wal and -shm files there), private.",
            )
        )
    return directories


def _database_file(settings: Settings) -> Path | None:
    """The SQLite file (``db_path``, or a ``sqlite:///`` ``database_url``); ``None`` for a
    server database, which needs no directory here (and whose URL never enters a unit)."""
    return database_target(settings.database).path


def pinned_environment(settings: Settings) -> list[tuple[str, str]]:
    """The path settings as environment variables (``HFDL_STATE_DIR=/var/lib/hfdl``...).

    The system service runs as ``service.user``, not root, so the defaults it would compute
    itself are that account's; the unit gives it the paths it was rendered (and sandboxed)
    for instead. Environment variables override the configuration file, so a changed path
    takes effect with the next ``hfdl start``, exactly like the sandbox's ``ReadWritePaths=``.
    """
    from hfdl.config import FIELDS_BY_KEY

    return [
        (FIELDS_BY_KEY[key].env[0], str(_absolute(settings.get(key))))
        for key in PINNED_PATH_SETTINGS
    ]


def protect_home_value(paths: list[Path | None]) -> str:
    """``yes`` (home directories invisible), or ``read-only`` when one of ``paths`` (the
    program, the configuration, the data) lives in a home directory and must stay visible."""
    if any(path is not None and _under(Path(path), _HOME_DIRECTORIES) for path in paths):
        return "read-only"
    return "yes"


def private_tmp_possible(paths: list[Path | None]) -> bool:
    """Whether ``PrivateTmp=`` may be used: it gives the service its own empty ``/tmp`` and
    ``/var/tmp``, hiding any of ``paths`` that lives there."""
    return not any(
        path is not None and _under(Path(path), _TEMPORARY_DIRECTORIES) for path in paths
    )


def _under(path: Path, parents: tuple[Path, ...]) -> bool:
    return any(path.is_relative_to(parent) for parent in parents)


def _absolute(path: object) -> Path:
    # abspath, not resolve(): the unit names the configured path; symlinks are followed by
    # systemd and by the run alike.
    return Path(os.path.abspath(str(path)))
