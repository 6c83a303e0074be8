"""The systemd test tier: a private systemd user manager and journald for ``@pytest.mark.systemd``.

How the tier starts
-------------------

``uv run pytest`` is the only test command, so the pytest process itself moves into a private
mount namespace before it configures anything: ``tests/conftest.py``'s ``pytest_cmdline_main``
hook calls :func:`reexec_in_private_namespace`, which (as root, with ``unshare`` and systemd
installed, and not yet inside) replaces the process with ``unshare --mount --propagation private
-- <python> <same argv>`` via ``os.execvp``. ``unshare`` without ``--fork`` keeps the PID, so the
exit code, signals, cwd and terminal are the original ones; ``HFDL_TEST_NAMESPACE`` (set to the
outer namespace's id) marks the second run and stops a loop.

Inside, the session fixture ``systemd_user`` (started only when a test asks for it) mounts a
tmpfs on ``/run/systemd`` and ``/run/log`` (only after checking that this process really is in a
mount namespace other than the one that started pytest), creates ``/run/systemd/system`` (else
``systemd --user`` refuses: "system has not been booted with systemd"), writes a journald
drop-in (volatile storage in the tmpfs, no kmsg, no forwarding, no rate limit), starts
``systemd-journald`` and ``systemd --user`` with a fresh ``XDG_RUNTIME_DIR`` and ``HOME`` (the
manager in a cgroup of its own, ``/hfdl_tests_<id>.slice``, so that concurrent tiers never
share a unit's cgroup), and waits until the manager has finished starting up. At the end of
the session it stops both, kills whatever the tier started and is still alive, removes its
cgroups, unmounts and deletes its directories. If pytest dies without finalizers (SIGKILL, a
CI timeout), ``PR_SET_PDEATHSIG`` makes the kernel send SIGTERM to journald and the manager,
and the manager stops its units when it exits. The manager's ``DefaultTimeoutStopSec`` is 15 s
(a drop-in in ``/run/systemd/user.conf.d``), so no unit holds a stop for 90 s.

When the tier cannot run (not root, no ``unshare``, no systemd binaries, ``unshare`` refused,
pytest run in-process or under xdist) ``systemd`` tests are skipped with the reason; with
``CI=true`` they fail instead, so CI never passes by skipping the tier.

Facts about this environment (systemd 252, PID 1 not systemd) that tests rely on:

* journald files the user manager's services under ``_SYSTEMD_UNIT=`` (their cgroup is not below
  ``user@UID.service``), so ``journalctl --user-unit`` finds nothing: match
  ``SYSLOG_IDENTIFIER``, ``_SYSTEMD_UNIT`` or custom fields instead. It takes the unit from the
  first cgroup path component that is not a slice, hence the tier's slice-named cgroup.
* A user manager uses the cgroup it starts in as its root (a trailing ``/init.scope`` is
  dropped), so two managers started from the same cgroup share ``app.slice/<unit>``: stopping a
  unit in one then waited 90 s (``DefaultTimeoutStopSec``) or failed the other's unit.
* The manager passes its own environment (the minimal one built here) to every unit, and
  ``systemctl --user`` / ``systemd-run --user`` need only ``XDG_RUNTIME_DIR`` (they use the
  manager's private socket; D-Bus is not needed, though ``dbus.socket`` is available).
* Sandboxing works in this user manager: ``DynamicUser=yes`` runs as a transient uid,
  ``PrivateTmp=yes`` and ``ProtectSystem=strict`` are applied (the manager runs as root, so it
  may create namespaces).
* ``systemd-run --user --wait`` exits with the service's exit status; its services get
  ``INVOCATION_ID`` and ``JOURNAL_STREAM`` (stderr's device:inode), as timer-started ones do.
* ``NextElapseUSecRealtime`` is empty for a monotonic (``OnActiveSec=``) timer; for a calendar
  timer ``show`` prints it formatted (``Fri 2026-12-04 14:00:00 UTC``; ``--timestamp=unix``
  does not change ``show`` in 252). ``list-timers -o json`` gives microseconds (fields
  ``next``, ``left``, ``last``, ``passed``, ``unit``, ``activates``).
* ``LastTriggerUSec`` is set only when the timer itself fires, not by ``systemctl start`` of
  its service.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.tiers import on_ci, unavailable

# Set (to the mount namespace pytest was started in) in the re-executed pytest.
NAMESPACE_MARKER = "HFDL_TEST_NAMESPACE"
# Every process of the tier carries this variable (the manager hands its environment to every
# unit), so leftovers can be found and killed even after their parent died.
TIER_MARKER = "HFDL_SYSTEMD_TIER"

SYSTEMD_CANDIDATES = (Path("/lib/systemd/systemd"), Path("/usr/lib/systemd/systemd"))
JOURNALD_CANDIDATES = (
    Path("/lib/systemd/systemd-journald"),
    Path("/usr/lib/systemd/systemd-journald"),
)
RUN_SYSTEMD = Path("/run/systemd")
RUN_LOG = Path("/run/log")
JOURNAL_SOCKET = RUN_SYSTEMD / "journal" / "socket"
JOURNAL_STDOUT = RUN_SYSTEMD / "journal" / "stdout"

# Volatile storage in our tmpfs: a second journald must never write the host's
# /var/log/journal (on a systemd host that would corrupt the real journal).
JOURNALD_DROP_IN = """\
[Journal]
Storage=volatile
RuntimeMaxUse=64M
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitIntervalSec=0
RateLimitBurst=0
"""

# A unit that ignores SIGTERM must not hold a test (or the tier's shutdown) for 90 s.
MANAGER_DROP_IN = """\
[Manager]
DefaultTimeoutStopSec=15s
"""

# Given to the manager (and so to every unit): no token, no real HF home, no telemetry.
HF_SAFETY_ENVIRONMENT = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_XET": "1",
}
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PR_SET_PDEATHSIG = 1

# Why the tier cannot run in this process; None when it can. Computed once.
_unavailable_reason: str | None = None
_reason_computed = False


class TierUnavailable(RuntimeError):
    """The systemd tier cannot run here; the message says why."""


def _which(candidates: Sequence[Path]) -> Path | None:
    """The first of ``candidates`` that is an executable file, else None."""
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _mount_namespace() -> str:
    """This process's mount namespace id, such as ``mnt:[4026531832]``."""
    return os.readlink("/proc/self/ns/mnt")


def host_prerequisites_missing() -> str | None:
    """Say why this machine cannot host the tier, or None when it can.

    Returns:
        A reason (not root, no ``unshare``, no systemd binaries), or None.
    """
    if sys.platform != "linux":
        return "the systemd tier needs Linux"
    if os.geteuid() != 0:
        return "the systemd tier needs root (to unshare a mount namespace and mount tmpfs)"
    if shutil.which("unshare") is None:
        return "the systemd tier needs unshare (util-linux)"
    if _which(SYSTEMD_CANDIDATES) is None:
        return "the systemd tier needs /lib/systemd/systemd (apt-get install systemd)"
    if _which(JOURNALD_CANDIDATES) is None:
        return "the systemd tier needs /lib/systemd/systemd-journald"
    for tool in ("systemctl", "journalctl", "systemd-run", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"the systemd tier needs {tool}"
    return None


def inside_private_namespace() -> bool:
    """Whether this pytest was re-executed by :func:`reexec_in_private_namespace`.

    The marker holds the namespace of the process that started us; being in a different one
    proves ``unshare`` worked (and guards against a marker set by hand in the host namespace,
    where mounting over ``/run/systemd`` would hide the real systemd).
    """
    outer = os.environ.get(NAMESPACE_MARKER)
    return bool(outer) and outer != _mount_namespace()


def tier_unavailable_reason() -> str | None:
    """Why ``systemd`` tests cannot run in this process, or None when they can."""
    global _unavailable_reason, _reason_computed
    if not _reason_computed:
        _reason_computed = True
        _unavailable_reason = host_prerequisites_missing()
        if _unavailable_reason is None and not inside_private_namespace():
            _unavailable_reason = (
                "pytest is not running inside the private mount namespace (it re-executes "
                "itself there only when started from the command line, e.g. `uv run pytest`)"
            )
        if _unavailable_reason is None and os.environ.get("PYTEST_XDIST_WORKER"):
            _unavailable_reason = "the systemd tier needs one pytest process (run with -p no:xdist)"
    return _unavailable_reason


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the current test because the tier cannot run; on CI, fail it instead.

    Raises:
        pytest.skip.Exception, pytest.fail.Exception: always.
    """
    unavailable("the systemd tier", reason)


def _probe_unshare() -> str | None:
    """Try ``unshare --mount`` once; return why it failed, or None when it works.

    Containers without CAP_SYS_ADMIN (or with a seccomp filter) refuse it; finding that out
    before ``exec`` keeps the test run alive (only the tier is skipped).
    """
    try:
        probe = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "true"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare --mount failed: {error}"
    if probe.returncode != 0:
        return f"unshare --mount failed: {probe.stderr.strip() or probe.returncode}"
    return None


def reexec_in_private_namespace(
    config: pytest.Config,
    environment: Mapping[str, str],
    before_exec: Callable[[], None] | None = None,
) -> None:
    """Replace this pytest process by the same command line inside a private mount namespace.

    Does nothing (and the tier will be skipped) when already inside, when the host cannot run
    the tier, when pytest was started in-process (``pytest.main``) rather than from its command
    line, or for ``--help``/``--version``.

    Args:
        config: pytest's configuration (for the invocation's arguments).
        environment: the environment to start the new pytest with (the one this process was
            started with, before conftest changed it).
        before_exec: called just before ``exec`` (to delete what this process created).

    Returns:
        Only when it did not re-execute; otherwise ``os.execvp`` does not return.
    """
    global _unavailable_reason, _reason_computed
    if os.environ.get(NAMESPACE_MARKER):
        return
    if config.getoption("help", False) or config.getoption("version", False):
        return
    # pytest.main() from another program (or pytester in-process) has foreign sys.argv.
    if tuple(sys.argv[1:]) != tuple(config.invocation_params.args):
        return
    reason = host_prerequisites_missing() or _probe_unshare()
    if reason is not None:
        _unavailable_reason, _reason_computed = reason, True
        return
    capture_manager = config.pluginmanager.getplugin("capturemanager")
    if capture_manager is not None:
        # Give the real stdout/stderr back before exec: the new process inherits the fds.
        capture_manager.stop_global_capturing()
    sys.stdout.flush()
    sys.stderr.flush()
    if before_exec is not None:
        before_exec()
    new_environment = dict(environment)
    new_environment[NAMESPACE_MARKER] = _mount_namespace()
    arguments = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        sys.executable,
        *sys.orig_argv[1:],
    ]
    os.chdir(config.invocation_params.dir)
    os.execvpe("unshare", arguments, new_environment)


def _die_with_parent() -> None:
    """In a child before exec: get SIGTERM when pytest dies, whatever kills it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until true; return whether it became true within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _is_socket(path: Path) -> bool:
    """Whether ``path`` exists and is a Unix socket."""
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _cgroup_roots() -> list[Path]:
    """The roots of the cgroup hierarchies systemd manages that this process is in.

    That is the cgroup v2 hierarchy and, on a hybrid host, the v1 ``name=systemd`` one.
    """
    mounts: list[tuple[Path, str, set[str]]] = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
            mounts.append((Path(parts[1]), parts[2], set(parts[3].split(","))))
    found = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hierarchy, controllers, _path = line.split(":", 2)
        for mount_point, kind, options in mounts:
            unified = hierarchy == "0" and controllers == "" and kind == "cgroup2"
            named = "name=systemd" in controllers.split(",") and "name=systemd" in options
            if unified or named:
                found.append(mount_point)
                break
    return [root for root in found if root.is_dir()]


def _processes_in_cgroups(directories: Sequence[Path]) -> set[int]:
    """PIDs of the processes in these cgroups and their descendants."""
    pids: set[int] = set()
    for directory in directories:
        for folder, _subfolders, _files in os.walk(directory):
            with contextlib.suppress(OSError):
                text = (Path(folder) / "cgroup.procs").read_text()
                pids.update(int(pid) for pid in text.split())
    return pids


def remove_cgroups(directories: Sequence[Path]) -> None:
    """Remove (empty) cgroup trees, deepest first; busy ones are left."""
    for directory in directories:
        if not directory.is_dir():
            continue
        for folder, _subfolders, _files in os.walk(directory, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(folder)


def processes_with_environment(name: str, value: str) -> list[int]:
    """PIDs of the processes whose environment has ``name=value`` (this process excluded)."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


@dataclass
class SystemdUser:
    """A running private ``systemd --user`` with its own journald, for one test session.

    Attributes:
        base: the temporary directory holding everything below.
        home: ``$HOME`` of the manager and its units.
        runtime_dir: ``$XDG_RUNTIME_DIR`` (mode 0700); the manager's sockets live here.
        config_home: ``$XDG_CONFIG_HOME`` (``$HOME/.config``).
        unit_dir: where user unit files go: ``$XDG_CONFIG_HOME/systemd/user``.
        env: the variables ``systemctl --user``, ``systemd-run --user`` and a child ``hfdl``
            need, to lay over a normal environment (``XDG_RUNTIME_DIR``, ``HOME``,
            ``XDG_CONFIG_HOME``, ``DBUS_SESSION_BUS_ADDRESS``).
        python: the absolute interpreter of this venv, for ``ExecStart=`` lines (units get no
            ``PATH`` to the venv).
    """

    base: Path
    home: Path
    runtime_dir: Path
    config_home: Path
    unit_dir: Path
    tier_id: str
    python: Path = field(default_factory=lambda: Path(sys.executable))
    env: dict[str, str] = field(default_factory=dict)
    journald: subprocess.Popen[bytes] | None = None
    manager: subprocess.Popen[bytes] | None = None
    mounted: list[Path] = field(default_factory=list)
    initial_units: frozenset[str] = frozenset()
    cgroups: list[Path] = field(default_factory=list)
    _stopped: bool = False

    # -- start and stop ---------------------------------------------------------------------

    @classmethod
    def start(cls, timeout: float = 20.0) -> SystemdUser:
        """Mount the tmpfs's, start journald and the user manager, wait until both answer.

        Args:
            timeout: seconds to wait for each daemon.

        Returns:
            The running tier (call :meth:`stop` at the end).

        Raises:
            TierUnavailable: not inside the private namespace, or a daemon did not come up
                (the message carries its log).
        """
        reason = tier_unavailable_reason()
        if reason is not None:
            raise TierUnavailable(reason)
        base = Path(tempfile.mkdtemp(prefix="hfdl-systemd-"))
        home = base / "home"
        config_home = home / ".config"
        unit_dir = config_home / "systemd" / "user"
        runtime_dir = base / "runtime"
        unit_dir.mkdir(parents=True)
        runtime_dir.mkdir(mode=0o700)
        tier = cls(
            base=base,
            home=home,
            runtime_dir=runtime_dir,
            config_home=config_home,
            unit_dir=unit_dir,
            tier_id=base.name,
        )
        atexit.register(tier.stop)
        try:
            tier._mount_runtime_filesystems()
            tier._start_journald(timeout)
            tier._start_manager(timeout)
        except BaseException:
            tier.stop()
            raise
        return tier

    def _mount_runtime_filesystems(self) -> None:
        """Hide the host's /run/systemd and /run/log behind fresh tmpfs's (namespace only)."""
        if not inside_private_namespace():  # checked again right before touching mounts
            raise TierUnavailable("refusing to mount over /run outside the private namespace")
        for mount_point in (RUN_SYSTEMD, RUN_LOG):
            mount_point.mkdir(parents=True, exist_ok=True)
            result = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", "tmpfs", str(mount_point)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise TierUnavailable(f"mount tmpfs on {mount_point} failed: {result.stderr}")
            self.mounted.append(mount_point)
        # Its presence is what sd_booted() and `systemd --user` test for.
        (RUN_SYSTEMD / "system").mkdir()
        drop_in_dir = RUN_SYSTEMD / "journald.conf.d"
        drop_in_dir.mkdir()
        (drop_in_dir / "hfdl-tests.conf").write_text(JOURNALD_DROP_IN)
        manager_drop_in_dir = RUN_SYSTEMD / "user.conf.d"
        manager_drop_in_dir.mkdir()
        (manager_drop_in_dir / "hfdl-tests.conf").write_text(MANAGER_DROP_IN)

    def _daemon_environment(self) -> dict[str, str]:
        """The minimal environment of journald and the manager (and so of every unit)."""
        environment = {
            "PATH": STANDARD_PATH,
            "HOME": str(self.home),
            "USER": "root",
            "LOGNAME": "root",
            "SHELL": "/bin/sh",
            "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_CONFIG_HOME": str(self.config_home),
            TIER_MARKER: self.tier_id,
            **HF_SAFETY_ENVIRONMENT,
        }
        return environment

    def _spawn(
        self, argv: list[str], log_name: str, cgroups: Sequence[Path] = ()
    ) -> subprocess.Popen[bytes]:
        """Start a daemon of the tier in its own session, logging to a file in ``base``.

        Args:
            argv: the daemon's command line.
            log_name: its log file's name in ``base``.
            cgroups: cgroup directories to move it into before it runs.
        """

        def prepare_child() -> None:
            _die_with_parent()
            for directory in cgroups:
                with contextlib.suppress(OSError):
                    (directory / "cgroup.procs").write_text(str(os.getpid()))

        with open(self.base / log_name, "wb") as log:
            return subprocess.Popen(
                argv,
                env=self._daemon_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd="/",
                start_new_session=True,
                preexec_fn=prepare_child,
            )

    def _make_cgroups(self) -> list[Path]:
        """Create this tier's own cgroup, in each hierarchy systemd uses; return them.

        A user manager takes the cgroup it starts in as its root and creates ``app.slice`` and
        the units' cgroups below it. Without a cgroup of its own, every tier on the machine
        (another test run, the nested tiers of the harness tests) would share one root, and a
        unit name used by two of them would share a cgroup: stopping one kills or waits on
        the other's processes (seen: 90 s stop timeouts, units failing at start).

        The cgroup sits at the hierarchy's top and is named like a slice, because journald
        takes a unit's name (``_SYSTEMD_UNIT``) from the first path component after leading
        slices: below pytest's own cgroup (``/init.scope`` here) every entry would be filed
        under ``init.scope``.
        """
        created = []
        name = f"hfdl_tests_{self.tier_id.replace('-', '_')}.slice"
        for root in _cgroup_roots():
            directory = root / name
            try:
                directory.mkdir()
            except OSError:
                continue  # read-only cgroupfs (a container): share the root, as before
            created.append(directory)
        return created

    def _start_journald(self, timeout: float) -> None:
        """Start systemd-journald and wait for its native and stdout sockets."""
        journald = _which(JOURNALD_CANDIDATES)
        assert journald is not None
        self.journald = self._spawn([str(journald)], "journald.log")
        process = self.journald
        ready = _wait_until(
            lambda: (
                process.poll() is not None
                or (_is_socket(JOURNAL_SOCKET) and _is_socket(JOURNAL_STDOUT))
            ),
            timeout,
        )
        if not ready or process.poll() is not None:
            raise TierUnavailable(
                "systemd-journald did not start:\n" + _tail(self.base / "journald.log")
            )

    def _start_manager(self, timeout: float) -> None:
        """Start ``systemd --user`` and wait until it has finished starting up."""
        systemd = _which(SYSTEMD_CANDIDATES)
        assert systemd is not None
        self.cgroups = self._make_cgroups()
        self.manager = self._spawn([str(systemd), "--user"], "manager.log", self.cgroups)
        process = self.manager
        private_socket = self.runtime_dir / "systemd" / "private"
        ready = _wait_until(
            lambda: process.poll() is not None or _is_socket(private_socket), timeout
        )
        if not ready or process.poll() is not None:
            raise TierUnavailable("systemd --user did not start:\n" + _tail(self._manager_log))
        self.env = {
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.config_home),
        }
        # Blocks until start-up finished: "running", or "degraded" if a default unit failed.
        state = self.systemctl("is-system-running", "--wait", timeout=timeout)
        if state.stdout.strip() not in ("running", "degraded"):
            raise TierUnavailable(
                f"systemd --user is {state.stdout.strip() or state.stderr.strip()}:\n"
                + _tail(self._manager_log)
            )
        # The manager listens on the session bus socket when D-Bus is installed (dbus.socket);
        # systemctl does not need it, other clients might.
        if _is_socket(self.runtime_dir / "bus"):
            self.env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={self.runtime_dir / 'bus'}"
        self.initial_units = frozenset(self.unit_names()) | _ON_DEMAND_UNITS

    @property
    def _manager_log(self) -> Path:
        return self.base / "manager.log"

    def stop(self) -> None:
        """Stop the manager (which stops its units) and journald, kill leftovers, unmount.

        Safe to call twice (it is also registered with ``atexit``).
        """
        if self._stopped:
            return
        self._stopped = True
        for process in (self.manager, self.journald):
            if process is None:
                continue
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self.kill_leftovers()
        remove_cgroups(self.cgroups)
        for mount_point in reversed(self.mounted):
            result = subprocess.run(["umount", str(mount_point)], capture_output=True, check=False)
            if result.returncode != 0:
                # Something still holds it open: detach now, the kernel frees it later.
                subprocess.run(["umount", "--lazy", str(mount_point)], check=False)
        self.mounted.clear()
        shutil.rmtree(self.base, ignore_errors=True)

    def kill_leftovers(self, timeout: float = 5.0) -> list[int]:
        """SIGKILL every process still in the tier's cgroup or carrying its marker.

        Returns:
            The PIDs killed.
        """
        found = set(processes_with_environment(TIER_MARKER, self.tier_id))
        found |= _processes_in_cgroups(self.cgroups)
        found.discard(os.getpid())
        leftovers = sorted(found)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in leftovers), timeout)
        return leftovers

    def tier_processes(self) -> list[int]:
        """PIDs of the live processes the tier started (daemons, units), for tests."""
        return [
            pid
            for pid in processes_with_environment(TIER_MARKER, self.tier_id)
            if not _is_zombie(pid)
        ]

    # -- helpers for tests ------------------------------------------------------------------

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """This process's environment with :attr:`env` laid over it, minus systemd's own
        per-service variables (so a child does not believe it runs under systemd)."""
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in ("INVOCATION_ID", "JOURNAL_STREAM", "NOTIFY_SOCKET", "MANAGERPID")
        }
        environment.update(self.env)
        if extra:
            environment.update(extra)
        return environment

    def _run(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def systemctl(self, *arguments: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``systemctl --user ARGUMENTS`` against this manager (never raises on failure)."""
        return self._run(["systemctl", "--user", "--no-pager", *arguments], timeout)

    def journalctl(self, *arguments: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``journalctl --no-pager ARGUMENTS`` on this journald's journal."""
        return self._run(["journalctl", "--no-pager", *arguments], timeout)

    def run_unit(
        self,
        *command: str,
        unit: str | None = None,
        environment: Mapping[str, str] | None = None,
        properties: Sequence[str] = (),
        working_directory: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` as a transient service and wait for it (``systemd-run --wait``).

        Args:
            command: absolute executable and its arguments.
            unit: the unit name (default: systemd picks ``run-u<N>.service``).
            environment: ``Environment=`` of the service (on top of the manager's).
            properties: further ``-p`` properties, e.g. ``SyslogIdentifier=hfdl``.
            working_directory: ``WorkingDirectory=``.
            timeout: seconds to wait.

        Returns:
            The completed ``systemd-run``; its exit code is the service's.
        """
        argv = ["systemd-run", "--user", "--wait", "--collect", "--quiet", "--no-ask-password"]
        if unit is not None:
            argv.append(f"--unit={unit}")
        if working_directory is not None:
            argv.append(f"--working-directory={working_directory}")
        for name, value in (environment or {}).items():
            argv.append(f"--setenv={name}={value}")
        for assignment in properties:
            argv.extend(["-p", assignment])
        argv.extend(command)
        return self._run(argv, timeout)

    def unit_property(self, unit: str, name: str) -> str:
        """The value of one property of ``unit`` (``systemctl --user show -p NAME --value``)."""
        return self.systemctl("show", "-p", name, "--value", unit).stdout.strip()

    def wait_for_unit_state(
        self, unit: str, state: str, timeout: float = 10.0, *, property_name: str = "ActiveState"
    ) -> None:
        """Wait until ``unit``'s ``property_name`` (``ActiveState``) equals ``state``.

        Raises:
            AssertionError: not reached within ``timeout`` seconds (says the last value).
        """
        if not _wait_until(
            lambda: self.unit_property(unit, property_name) == state, timeout, interval=0.05
        ):
            last = self.unit_property(unit, property_name)
            raise AssertionError(f"{unit} {property_name}={last!r}, not {state!r} in {timeout}s")

    def write_unit(self, name: str, text: str) -> Path:
        """Write a unit file into :attr:`unit_dir` and ``daemon-reload``; return its path."""
        path = self.unit_dir / name
        path.write_text(text)
        reload = self.systemctl("daemon-reload")
        assert reload.returncode == 0, reload.stderr
        return path

    def journal_records(self, *matches: str, **field_matches: str) -> list[dict[str, Any]]:
        """Journal entries matching all of ``FIELD=value`` (``journalctl -o json``).

        Args:
            matches: raw journalctl matches such as ``"SYSLOG_IDENTIFIER=hfdl"``.
            field_matches: the same as keywords: ``SYSLOG_IDENTIFIER="hfdl"``.

        Returns:
            One dict per entry, oldest first, values as journalctl prints them (strings;
            binary values as lists of byte values).
        """
        arguments = [*matches, *(f"{name}={value}" for name, value in field_matches.items())]
        result = self.journalctl("-o", "json", "--all", *arguments)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    def wait_for_records(
        self, *matches: str, count: int = 1, timeout: float = 10.0, **field_matches: str
    ) -> list[dict[str, Any]]:
        """Poll :meth:`journal_records` until at least ``count`` entries match.

        Raises:
            AssertionError: fewer arrived within ``timeout`` seconds.
        """
        found: list[dict[str, Any]] = []

        def enough() -> bool:
            nonlocal found
            found = self.journal_records(*matches, **field_matches)
            return len(found) >= count

        if not _wait_until(enough, timeout, interval=0.1):
            raise AssertionError(
                f"{len(found)} journal entries match {matches} {field_matches}, wanted {count}"
            )
        return found

    def unit_names(self) -> list[str]:
        """Names of the units the manager has loaded (``list-units --all``)."""
        listed = self.systemctl("list-units", "--all", "--plain", "--no-legend", "-o", "json")
        assert listed.returncode == 0, listed.stderr
        return [unit["unit"] for unit in json.loads(listed.stdout or "[]")]

    def reset_units(self) -> None:
        """Stop what tests started and remove their unit files, back to a clean manager."""
        names = [
            name
            for name in self.unit_names()
            if name.endswith((".timer", ".service", ".path", ".socket"))
            and name not in self.initial_units
        ]
        if names:
            self.systemctl("stop", *names, timeout=60)
        for path in self.unit_dir.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        self.systemctl("daemon-reload")
        self.systemctl("reset-failed")


# Started by the manager on demand (a client on the session bus); reset_units leaves it alone.
_ON_DEMAND_UNITS = frozenset({"dbus.service"})


def _is_zombie(pid: int) -> bool:
    """Whether ``pid`` has exited but was not reaped yet (or is gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return status.rsplit(")", 1)[1].split()[0] == "Z"


# -- pytest plugin part: fixtures and hooks (registered from tests/conftest.py) -------------


def pytest_report_header(config: pytest.Config) -> str:
    """Say in the session header whether the systemd tier can run, and why not."""
    reason = tier_unavailable_reason()
    if reason is None:
        return "systemd tier: available (pytest runs in a private mount namespace)"
    verdict = "FAILS (CI=true)" if on_ci() else "skipped"
    return f"systemd tier: {verdict}: {reason}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses the tier's fixtures ``systemd`` (so ``-m`` selects them)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if ("systemd_user" in names or "systemd" in names) and not item.get_closest_marker(
            "systemd"
        ):
            item.add_marker(pytest.mark.systemd)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (on CI: fail) ``systemd`` tests before any fixture runs when the tier cannot."""
    if item.get_closest_marker("systemd") is not None:
        reason = tier_unavailable_reason()
        if reason is not None:
            skip_or_fail(reason)


@pytest.fixture(scope="session")
def systemd_user() -> Iterator[SystemdUser]:
    """The session's private systemd user manager and journald (see the module docstring).

    Yields:
        A :class:`SystemdUser`; it is stopped, and its mounts and files removed, at the end.
    """
    try:
        tier = SystemdUser.start()
    except TierUnavailable as error:
        skip_or_fail(str(error))
        raise  # unreachable: skip_or_fail always raises
    try:
        yield tier
    finally:
        tier.stop()


@pytest.fixture
def systemd(systemd_user: SystemdUser) -> Iterator[SystemdUser]:
    """The session's tier for one test; afterwards the test's units are stopped and removed."""
    yield systemd_user
    systemd_user.reset_units()
