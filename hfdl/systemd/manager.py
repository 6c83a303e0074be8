"""Talking to systemd through ``systemctl``, for one scope (user or system manager), and
what it says about hfdl's timers (:func:`timer_states`).

``systemctl`` is the interface administrators already know, it works the same for the user
and the system manager, and its exit codes are stable; hfdl calls it rather than D-Bus so
that what hfdl does can be reproduced by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hfdl.errors import SystemdError
from hfdl.systemd.install import generated_units
from hfdl.systemd.units import SCOPES, service_unit_name, timer_unit_name

SYSTEMCTL_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Scope:
    """Which systemd manager hfdl installs into: ``user`` or ``system``."""

    name: str
    environ: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.name not in SCOPES:
            raise ValueError(f"scope must be user or system, not {self.name!r}")

    @property
    def is_user(self) -> bool:
        """Whether this is the user manager (``systemctl --user``)."""
        return self.name == "user"

    @property
    def unit_dir(self) -> Path:
        """Where hfdl writes its generated unit files.

        User scope: ``$XDG_CONFIG_HOME/systemd/user`` (default ``~/.config/systemd/user``);
        system scope: ``/etc/systemd/system`` (the administrator's directory, as it must be
        for units that are not shipped by a package).
        """
        if not self.is_user:
            return Path("/etc/systemd/system")
        environ = self.environ if self.environ is not None else os.environ
        config_home = environ.get("XDG_CONFIG_HOME") or str(
            Path(environ.get("HOME") or Path.home()) / ".config"
        )
        return Path(config_home) / "systemd" / "user"

    @property
    def timer_stamp_dir(self) -> Path:
        """Where the manager keeps the stamp files of ``Persistent=true`` timers
        (``stamp-<timer>``), which outlive the timers' unit files.

        systemd 252 (checked in its user manager): ``/var/lib/systemd/timers`` for the
        system manager, ``$HOME/.local/share/systemd/timers`` for a user's (``$HOME``, not
        ``$XDG_DATA_HOME``).
        """
        if not self.is_user:
            return Path("/var/lib/systemd/timers")
        environ = self.environ if self.environ is not None else os.environ
        home = Path(environ.get("HOME") or Path.home())
        return home / ".local" / "share" / "systemd" / "timers"

    def systemctl_command(self) -> list[str]:
        """``systemctl`` with the scope flag."""
        return ["systemctl", "--user"] if self.is_user else ["systemctl"]


class Systemctl:
    """Runs ``systemctl`` for one scope and turns failures into ``SystemdError``.

    Args:
        scope: user or system manager.
    """

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def _run(
        self, arguments: Sequence[str], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [*self.scope.systemctl_command(), *arguments]
        if shutil.which(command[0]) is None:
            raise SystemdError(
                "systemctl is not installed",
                hint="on hosts without systemd use `hfdl start --foreground`",
            )
        environ = dict(self.scope.environ if self.scope.environ is not None else os.environ)
        # systemctl prints timestamps in its own time zone; UTC makes them parseable.
        environ["TZ"] = "UTC"
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=SYSTEMCTL_TIMEOUT_SECONDS,
                check=False,
                env=environ,
            )
        except subprocess.TimeoutExpired as error:
            raise SystemdError(
                f"`{' '.join(command)}` did not answer within {SYSTEMCTL_TIMEOUT_SECONDS}s"
            ) from error
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise SystemdError(
                f"`{' '.join(command)}` failed (exit {result.returncode}): {detail}",
                hint=self.hint_for(detail),
            )
        return result

    def hint_for(self, detail: str) -> str | None:
        """What to do about a ``systemctl`` failure, from its message; ``None`` if unknown.

        Args:
            detail: what ``systemctl`` printed, or :meth:`available`'s reason.
        """
        lowered = detail.lower()
        if "failed to connect to bus" in lowered or "not been booted with systemd" in lowered:
            if self.scope.is_user:
                return (
                    "no systemd user manager is reachable: log in through a session that has "
                    "one (or set XDG_RUNTIME_DIR), use --system as root, or run "
                    "`hfdl start --foreground` on hosts without systemd"
                )
            return "systemd is not running here: use `hfdl start --foreground` instead"
        if "access denied" in lowered or "interactive authentication" in lowered:
            return "system units need root: run with sudo, or use --user"
        return None

    def available(self) -> tuple[bool, str]:
        """Whether the manager answers; ``(False, reason)`` otherwise. Never raises."""
        try:
            result = self._run(["show-environment"], check=False)
        except SystemdError as error:
            return False, error.message
        if result.returncode != 0:
            return False, (result.stderr or result.stdout).strip() or "systemctl failed"
        return True, ""

    def daemon_reload(self) -> None:
        """Make the manager re-read unit files."""
        self._run(["daemon-reload"])

    def enable_now(self, units: Sequence[str]) -> None:
        """Enable and start these units."""
        if units:
            self._run(["enable", "--now", *units])

    def disable_now(self, units: Sequence[str]) -> None:
        """Stop and disable these units (missing ones are ignored)."""
        if units:
            self._run(["disable", "--now", *units], check=False)

    def stop(self, units: Sequence[str]) -> None:
        """Stop these units, or unit patterns such as ``hfdl-run@*.service``."""
        if units:
            self._run(["stop", *units], check=False)

    def reset_failed(self, units: Sequence[str]) -> None:
        """Forget the failed state of these units (after they are removed)."""
        if units:
            self._run(["reset-failed", *units], check=False)

    def start(self, unit: str, *, wait: bool = False) -> None:
        """Start a unit; ``wait`` blocks until a oneshot finishes."""
        self._run(["start", *([] if wait else ["--no-block"]), unit])

    def show(self, unit: str, properties: Sequence[str]) -> dict[str, str]:
        """Return unit properties (timestamps as ``@<unix seconds>``; empty when unset)."""
        result = self._run(
            ["show", "--timestamp=unix", unit, *(f"--property={name}" for name in properties)],
            check=False,
        )
        values: dict[str, str] = {}
        for line in result.stdout.splitlines():
            key, _, value = line.partition("=")
            values[key] = value
        return values

    def show_units(self, units: Sequence[str], properties: Sequence[str]) -> list[dict[str, str]]:
        """Properties of several units in one ``systemctl show`` call, one dict per unit.

        Unset properties are left out, so ask for ``Id`` to tell the units apart.
        """
        if not units:
            return []
        result = self._run(
            ["show", "--timestamp=unix", *units, f"--property={','.join(properties)}"],
            check=False,
        )
        blocks: list[dict[str, str]] = []
        for block in result.stdout.split("\n\n"):  # one block per unit, blank-line separated
            values: dict[str, str] = {}
            for line in block.splitlines():
                key, _, value = line.partition("=")
                if key:
                    values[key] = value
            if values:
                blocks.append(values)
        return blocks

    def loaded_units(self, pattern: str, states: Sequence[str] = ()) -> list[str]:
        """The names of the loaded units matching a pattern such as ``hfdl-run@*.service``.

        Args:
            pattern: a unit name or shell-style pattern, as ``systemctl list-units`` takes.
            states: only units in one of these active states (``active``, ``activating``);
                empty: all.

        Returns:
            The unit names, sorted; empty when systemctl's answer cannot be read.
        """
        result = self._run(["list-units", "--all", "--output=json", pattern], check=False)
        try:
            listed = json.loads(result.stdout or "[]")
        except json.JSONDecodeError:
            return []
        return sorted(
            unit["unit"]
            for unit in listed
            if isinstance(unit, dict)
            and isinstance(unit.get("unit"), str)
            and (not states or unit.get("active") in states)
        )

    def is_enabled(self, unit: str) -> bool:
        """Whether the unit is enabled."""
        result = self._run(["is-enabled", unit], check=False)
        return result.returncode == 0 and result.stdout.strip() in ("enabled", "enabled-runtime")


def parse_timestamp(value: str | None) -> datetime | None:
    """Turn a ``systemctl show`` timestamp into a UTC datetime (``None`` when unset).

    Accepts ``@<unix seconds>`` and the formatted ``Fri 2026-12-04 14:00:00 UTC`` that
    systemd 252 prints for ``show`` whatever ``--timestamp=`` says (we run it with TZ=UTC).
    """
    if not value or value in ("n/a", "0"):
        return None
    if value.startswith("@"):
        try:
            seconds = float(value[1:])
        except ValueError:
            return None
        return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None
    parts = value.split()
    if len(parts) >= 3 and parts[-1] == "UTC":
        try:
            moment = datetime.strptime(f"{parts[-3]} {parts[-2]}", "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=UTC
            )
        except ValueError:
            return None
        # The epoch is how an unset timestamp (a timer that never fired) can come out.
        return moment if moment.timestamp() > 0 else None
    return None


@dataclass(frozen=True)
class TimerState:
    """What systemd says about one schedule's timer (and the service it fires)."""

    schedule_name: str
    timer: str
    installed: bool
    enabled: bool
    active: str
    next_elapse: datetime | None
    last_trigger: datetime | None
    service_result: str | None
    service_active: str | None
    service_exit_status: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (timestamps as ISO 8601 UTC)."""
        return {
            "schedule": self.schedule_name,
            "timer": self.timer,
            "installed": self.installed,
            "enabled": self.enabled,
            "active": self.active,
            "next_elapse": _iso(self.next_elapse),
            "last_trigger": _iso(self.last_trigger),
            "service": service_unit_name(self.schedule_name),
            "service_result": self.service_result,
            "service_active": self.service_active,
            "service_exit_status": self.service_exit_status,
        }


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


_TIMER_PROPERTIES = (
    "LoadState",
    "ActiveState",
    "UnitFileState",
    "NextElapseUSecRealtime",
    "LastTriggerUSec",
)
_SERVICE_PROPERTIES = ("Result", "ActiveState", "ExecMainStatus", "LoadState")


def timer_states(scope: Scope, schedule_names: list[str]) -> list[TimerState]:
    """Ask systemd about each schedule's timer and service.

    Args:
        scope: the manager to ask.
        schedule_names: the schedules, in the order wanted.

    Returns:
        One state per schedule; a unit systemd does not know reads as not installed, not
        enabled. Never raises for a missing unit.
    """
    systemctl = Systemctl(scope)
    states: list[TimerState] = []
    installed = generated_units(scope.unit_dir)
    for name in schedule_names:
        timer = timer_unit_name(name)
        timer_props = systemctl.show(timer, _TIMER_PROPERTIES)
        service_props = systemctl.show(service_unit_name(name), _SERVICE_PROPERTIES)
        states.append(
            TimerState(
                schedule_name=name,
                timer=timer,
                installed=timer in installed,
                enabled=timer_props.get("UnitFileState") in ("enabled", "enabled-runtime"),
                active=timer_props.get("ActiveState", "unknown"),
                next_elapse=parse_timestamp(timer_props.get("NextElapseUSecRealtime")),
                last_trigger=parse_timestamp(timer_props.get("LastTriggerUSec")),
                service_result=service_props.get("Result") or None,
                service_active=service_props.get("ActiveState") or None,
                service_exit_status=service_props.get("ExecMainStatus") or None,
            )
        )
    return states


def linger_note() -> str | None:
    """A reminder to enable lingering when user timers would stop at logout.

    Returns:
        The note, or ``None`` when lingering is on or cannot be checked (no ``loginctl``,
        no user name).
    """
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if not user or shutil.which("loginctl") is None:
        return None
    try:
        result = subprocess.run(
            ["loginctl", "show-user", user, "--property=Linger"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode == 0 and result.stdout.strip() == "Linger=yes":
        return None
    return (
        f"user timers run only while {user} is logged in unless lingering is on: "
        f"`loginctl enable-linger {user}`"
    )
