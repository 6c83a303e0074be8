"""The hardened system unit, run for real in the private systemd manager as a service account.

The rendering and scoring checks are in ``tests/e2e/test_hardening.py``.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hfdl.config import load_settings
from hfdl.systemd.units import render_units
from tests.hubserver import HubServer
from tests.tiers import require_tools, unavailable
from tests.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_USER = "daemon"
CACHE_GROUP = "users"
OUTSIDER = "nobody"
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A directory every account can traverse (pytest's tmp_path is root's alone), outside
    /tmp so that the unit keeps PrivateTmp=yes."""
    root = Path(tempfile.mkdtemp(prefix="hfdl-hardening-", dir="/var/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def inaccessible_nodes(systemd: Any) -> None:
    """The nodes PID 1 creates at boot in /run/systemd/inaccessible, which ProtectHome=yes
    (and ProtectKernelLogs= without PrivateDevices=) mount over what they hide. The tier's
    /run/systemd is a fresh tmpfs of its own namespace with no PID 1 to create them: without
    them every such unit fails with 226/NAMESPACE here, as it never does on a booted host."""
    nodes = Path("/run/systemd/inaccessible")
    nodes.mkdir(mode=0o755, exist_ok=True)
    makers = {
        "dir": lambda path: path.mkdir(),
        "reg": lambda path: path.touch(),
        "fifo": lambda path: os.mkfifo(path),
        "chr": lambda path: os.mknod(path, stat.S_IFCHR, os.makedev(0, 0)),
        "blk": lambda path: os.mknod(path, stat.S_IFBLK, os.makedev(0, 0)),
    }
    for name, make in makers.items():
        path = nodes / name
        if not path.exists():
            make(path)
            path.chmod(0)


def system_python_matches() -> bool:
    """Whether the system's Python can import the venv's compiled packages (same version)."""
    if not Path(SYSTEM_PYTHON).is_file():
        return False
    version = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return version.stdout.strip() == str(sys.version_info[:2])


def portable_python() -> list[str]:
    """A Python every account can run with this checkout's packages: the venv's interpreter
    may live in root's home, which no other account can enter."""
    packages = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    return [
        "/usr/bin/env",
        f"PYTHONPATH={':'.join([str(REPO_ROOT), *sorted(packages)])}",
        SYSTEM_PYTHON,
    ]


def load_offline(
    repo_id: str, cache: Path, *, groups: str | None
) -> subprocess.CompletedProcess[str]:
    """A model server's load, as nobody, with (``groups``) or without supplementary groups."""
    credentials = [f"--groups={groups}"] if groups else ["--clear-groups"]
    code = (
        "import sys; from huggingface_hub import hf_hub_download; "
        f"print(open(hf_hub_download({repo_id!r}, 'model.safetensors', "
        f"cache_dir={str(cache)!r}), 'rb').read(4))"
    )
    identity = ["setpriv", f"--reuid={OUTSIDER}", "--regid=nogroup", *credentials]
    return subprocess.run(
        [*identity, *portable_python(), "-c", code],
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": "/nonexistent", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.systemd
def test_system_unit_runs_as_its_account_and_only_the_cache_group_reads_the_models(
    hub: HubServer, systemd: Any, shared_root: Path, inaccessible_nodes: None
) -> None:
    require_tools("setpriv")
    if not system_python_matches():
        unavailable("this test", f"needs {SYSTEM_PYTHON} of the venv's Python version")
    repo_id = hub.unique_repo_id("org/served")
    hub.create_repo(repo_id, {"config.json": "{}", "model.safetensors": 40_000})
    workspace = Workspace(root=shared_root, endpoint=hub.url)
    workspace.write_config(
        service={"user": SERVICE_USER, "group": SERVICE_USER, "cache_group": CACHE_GROUP}
    )
    workspace.write_catalog([{"name": repo_id}])
    for path in (workspace.config_path, workspace.models_path):
        path.chmod(0o644)
    # The schedule is stored by root, as `sudo hfdl schedule create` would: the unit hands
    # the root-owned database over to its account.
    created = workspace.hfdl("--system", "schedule", "create", "--name", "served", env=systemd.env)
    assert created.returncode == 0, created.stderr
    launcher = shared_root / "hfdl"
    launcher.write_text(f'#!/bin/sh\nexec {" ".join(portable_python())} -m hfdl "$@"\n')
    launcher.chmod(0o755)
    settings = load_settings(workspace.config_path, environ={}, euid=0)
    [service, *_] = render_units(
        [],
        scope="system",
        executable=launcher,
        config_path=workspace.config_path,
        settings=settings,
        token_credential=None,
    )
    template = f"hfdltest-{uuid.uuid4().hex[:8]}@.service"
    systemd.write_unit(template, service.content)
    instance = template.replace("@", "@served")

    started = systemd.systemctl("start", instance, timeout=120)

    journal = systemd.systemctl("status", "--lines=40", instance).stdout
    assert started.returncode == 0, started.stderr + journal
    assert systemd.unit_property(instance, "Result") == "success", journal
    session = workspace.query("SELECT * FROM sessions ORDER BY id DESC")[0]
    assert session["status"] == "completed", journal
    # In the sandbox's read-only home, still no request beyond what the run needs.
    assert not hub.find_requests(lambda record: record.path == "/api/agent-harnesses")
    # Written by the account, group users, setgid folders, files rw-r----- (UMask=0027).
    repo_dir = workspace.cache_dir / f"models--{repo_id.replace('/', '--')}"
    blob = next((repo_dir / "blobs").iterdir())
    for path, mode in ((workspace.cache_dir, 0o2750), (repo_dir / "blobs", 0o2750), (blob, 0o640)):
        status = path.stat()
        assert (status.st_uid, status.st_gid) == (1, 100), path
        assert status.st_mode & 0o7777 == mode, (path, oct(status.st_mode))
    assert workspace.db_path.stat().st_uid == 1
    # A model server in the group loads it offline; a user outside it cannot.
    reader = load_offline(repo_id, workspace.cache_dir, groups=CACHE_GROUP)
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == repr(hub.file_bytes(repo_id, "model.safetensors")[:4])
    assert load_offline(repo_id, workspace.cache_dir, groups=None).returncode != 0
    # ... because it cannot even look into the cache, let alone read a blob.
    outsider = subprocess.run(
        ["setpriv", f"--reuid={OUTSIDER}", "--regid=nogroup", "--clear-groups", "cat", str(blob)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert outsider.returncode != 0 and "Permission denied" in outsider.stderr
