"""The systemd test tier itself: namespace, timers firing into journald, sandboxing, clean-up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.systemd_harness import (
    NAMESPACE_MARKER,
    RUN_SYSTEMD,
    TIER_MARKER,
    SystemdUser,
    inside_private_namespace,
    processes_with_environment,
    remove_cgroups,
    skip_or_fail,
)
from tests.workspace import REPO_ROOT, wait_for


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.systemd
def test_pytest_itself_runs_inside_the_private_namespace(systemd_user: SystemdUser) -> None:
    assert os.environ[NAMESPACE_MARKER] != os.readlink("/proc/self/ns/mnt")
    assert inside_private_namespace()
    # The tmpfs's are ours: what the tier created is there, the host's /run/systemd is hidden.
    assert (RUN_SYSTEMD / "system").is_dir()
    assert (RUN_SYSTEMD / "journald.conf.d" / "hfdl-tests.conf").is_file()
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    assert any(line.split()[1] == "/run/systemd" and line.startswith("tmpfs") for line in mounts)
    assert any(line.split()[1] == "/run/log" and line.startswith("tmpfs") for line in mounts)
    assert systemd_user.systemctl("is-system-running").stdout.strip() in ("running", "degraded")
    assert systemd_user.unit_dir == systemd_user.home / ".config" / "systemd" / "user"
    assert systemd_user.env["XDG_CONFIG_HOME"] == str(systemd_user.home / ".config")
    assert systemd_user.runtime_dir.stat().st_mode & 0o777 == 0o700


@pytest.mark.systemd
def test_timer_fires_its_oneshot_service_into_the_journal(systemd: SystemdUser) -> None:
    name = unique("tick")
    marker = unique("fired")
    systemd.write_unit(
        f"{name}.service",
        textwrap.dedent(
            f"""\
            [Service]
            Type=oneshot
            SyslogIdentifier={name}
            ExecStart={systemd.python} -c "print('{marker}', flush=True)"
            """
        ),
    )
    systemd.write_unit(
        f"{name}.timer",
        "[Timer]\nOnActiveSec=2\nAccuracySec=1ms\n\n[Install]\nWantedBy=timers.target\n",
    )

    enabled = systemd.systemctl("enable", "--now", f"{name}.timer")

    assert enabled.returncode == 0, enabled.stderr
    assert (systemd.unit_dir / "timers.target.wants" / f"{name}.timer").is_symlink()
    timers = json.loads(systemd.systemctl("list-timers", "--all", "-o", "json").stdout)
    (timer,) = [entry for entry in timers if entry["unit"] == f"{name}.timer"]
    assert timer["activates"] == f"{name}.service"
    assert timer["next"] > time.time() * 1_000_000
    assert timer["last"] == 0
    records = systemd.wait_for_records(SYSLOG_IDENTIFIER=name, timeout=15)
    assert records[0]["MESSAGE"] == marker
    # journald files user-manager services as system units on this kind of host.
    assert records[0]["_SYSTEMD_UNIT"] == f"{name}.service"
    assert records[0]["_TRANSPORT"] == "stdout"
    systemd.wait_for_unit_state(f"{name}.service", "inactive")
    shown = systemd.systemctl(
        "show", "-p", "LastTriggerUSec,Result", f"{name}.timer", f"{name}.service"
    )
    assert "Result=success" in shown.stdout
    assert any(
        line.startswith("LastTriggerUSec=") and line != "LastTriggerUSec="
        for line in shown.stdout.splitlines()
    ), shown.stdout


@pytest.mark.systemd
def test_transient_service_gets_systemd_environment_and_exit_code(systemd: SystemdUser) -> None:
    name = unique("transient")
    script = (
        "import os, sys; "
        "print('invocation', bool(os.environ.get('INVOCATION_ID')), "
        "'stream', bool(os.environ.get('JOURNAL_STREAM')), 'extra', os.environ['EXTRA'], "
        "'hf_home', 'HF_HOME' in os.environ, 'home', os.environ['HOME']); "
        "sys.exit(3)"
    )

    result = systemd.run_unit(
        str(systemd.python),
        "-c",
        script,
        unit=name,
        environment={"EXTRA": "yes"},
        properties=[f"SyslogIdentifier={name}"],
    )

    assert result.returncode == 3, result.stderr
    (record,) = systemd.wait_for_records(SYSLOG_IDENTIFIER=name)
    # The unit ran in this tier's own cgroup tree, which no other tier on the host shares.
    if systemd.cgroups:
        assert record["_SYSTEMD_CGROUP"] == f"/{systemd.cgroups[0].name}/app.slice/{name}.service"
    assert record["_SYSTEMD_UNIT"] == f"{name}.service"
    # The manager's own minimal environment, not pytest's (no HF_HOME leaks into units).
    assert record["MESSAGE"] == (
        f"invocation True stream True extra yes hf_home False home {systemd.home}"
    )
    assert record["PRIORITY"] == "6"


@pytest.mark.systemd
def test_user_manager_applies_sandboxing(systemd: SystemdUser) -> None:
    # DynamicUser= and the namespacing options work here because the manager runs as root;
    # hfdl's units may use them and be tested in this tier.
    name = unique("sandbox")
    result = systemd.run_unit(
        "/bin/sh",
        "-c",
        "id -u; touch /usr/hfdl-sandbox-probe 2>/dev/null && echo writable || echo read-only; "
        f"touch /tmp/{name} && echo tmp-ok",
        unit=name,
        properties=[
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            f"SyslogIdentifier={name}",
        ],
    )

    assert result.returncode == 0, result.stderr
    records = systemd.wait_for_records(SYSLOG_IDENTIFIER=name, count=3)
    uid, writable, private_tmp = (record["MESSAGE"] for record in records)
    assert int(uid) != 0
    assert writable == "read-only"
    assert not Path("/usr/hfdl-sandbox-probe").exists()
    # The service wrote its own /tmp, not ours.
    assert private_tmp == "tmp-ok"
    assert not (Path("/tmp") / name).exists()


# A separate tier in a nested namespace (so its mounts never touch the session's): it starts a
# long-running unit, reports the PIDs, then either stops cleanly or is killed with SIGKILL.
CHILD_TIER_SCRIPT = """
import json, subprocess, sys, time
sys.path.insert(0, {root!r})
from tests.systemd_harness import SystemdUser
tier = SystemdUser.start()
subprocess.run(
    ["systemd-run", "--user", "--unit=background", "--quiet", "/bin/sleep", "300"],
    env=tier.environment(), check=True,
)
tier.wait_for_unit_state("background.service", "active")
report = {{
    "tier": tier.tier_id,
    "base": str(tier.base),
    "cgroups": [str(path) for path in tier.cgroups],
    "pids": tier.tier_processes(),
}}
print(json.dumps(report), flush=True)
if sys.argv[1] == "stop":
    tier.stop()
    print(json.dumps({{"after": tier.tier_processes()}}), flush=True)
else:
    time.sleep(300)
"""


def start_child_tier(mode: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start a nested tier in a child process; return it and its first report."""
    script = CHILD_TIER_SCRIPT.format(root=str(REPO_ROOT))
    child = subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            sys.executable,
            "-c",
            script,
            mode,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line, child.stderr.read() if child.stderr else ""
    return child, json.loads(line)


@pytest.mark.systemd
def test_stopping_the_tier_leaves_no_process_or_mount(systemd_user: SystemdUser) -> None:
    child, report = start_child_tier("stop")
    tier_id = str(report["tier"])
    pids = report["pids"]
    # journald, the manager and the unit's sleep at least.
    assert len(pids) >= 3

    output, errors = child.communicate(timeout=60)

    assert child.returncode == 0, errors
    assert json.loads(output)["after"] == []
    assert processes_with_environment(TIER_MARKER, tier_id) == []
    assert not Path(str(report["base"])).exists()
    assert not [path for path in report["cgroups"] if Path(path).exists()]
    # The nested tier's mounts were private to it: the session's tier is still in place.
    assert (RUN_SYSTEMD / "system").is_dir()
    assert systemd_user.systemctl("is-system-running").returncode == 0


@pytest.mark.systemd
def test_a_killed_pytest_takes_the_tier_down_with_it(systemd_user: SystemdUser) -> None:
    child, report = start_child_tier("hang")
    tier_id = str(report["tier"])
    assert processes_with_environment(TIER_MARKER, tier_id)

    child.send_signal(signal.SIGKILL)  # no finalizer, no atexit: only PR_SET_PDEATHSIG helps
    child.communicate(timeout=30)

    try:
        wait_for(lambda: not processes_with_environment(TIER_MARKER, tier_id), timeout=20)
    finally:
        # Its directory and (empty) cgroup stay, as nobody ran its finalizer; its mounts died
        # with its namespace.
        shutil.rmtree(str(report["base"]), ignore_errors=True)
        remove_cgroups([Path(path) for path in report["cgroups"]])


def test_skip_becomes_failure_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but the systemd tier cannot run"):
        skip_or_fail("no systemd here")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no systemd here"):
        skip_or_fail("no systemd here")


@pytest.mark.systemd
def test_pytest_reexecutes_itself_and_passes_the_exit_code_through(tmp_path: Path) -> None:
    # A fresh `pytest` outside the marker re-executes under unshare (nested here), reports the
    # tier available, and its exit code (5: no tests selected) reaches its parent unchanged.
    environment = {key: value for key, value in os.environ.items() if key != NAMESPACE_MARKER}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "tests/systemd/test_systemd_harness.py",
            "-k",
            "no_such_test_name",
        ],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 5, result.stdout + result.stderr
    assert "systemd tier: available" in result.stdout
