"""Issue 10: the system service runs as its own account in a tight sandbox, the models it
writes are readable by the cache group only, and a sandboxed run makes only the requests it
needs.

The exposure score comes from ``systemd-analyze security --offline=true`` on the unit hfdl
renders with the default configuration. The real run (systemd tier) starts the rendered
system unit in the tier's private manager, which runs as root and so applies ``User=``,
``PrivateUsers=``, the seccomp filters and every namespace exactly as PID 1 would.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from hfdl.config import Settings, load_settings
from hfdl.errors import ConfigError
from hfdl.systemd.units import render_units
from tests.hubserver import HubServer
from tests.tiers import requires_root_with_unshare, requires_tools
from tests.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
# The bar; the stock Debian 12 timer services score 2.3 (systemd-timesyncd) and more.
MAX_EXPOSURE = 1.2
HFDL = Path("/usr/bin/hfdl")
# The configuration the Debian package installs as /etc/hfdl/config.yaml.
PRODUCTION_CONFIG = REPO_ROOT / "config" / "production.yaml"
# The lines of the unit from which on every directive is part of the sandbox.
SANDBOX_START = "# Every line below says why it is there"

needs_systemd_analyze = requires_tools("systemd-analyze")


def system_defaults(config: Path | None = PRODUCTION_CONFIG, **service: str) -> Settings:
    """The settings ``hfdl start --system`` renders with: root, the configuration the package
    installs as /etc/hfdl/config.yaml (``None``: none at all); ``service`` overrides keys of
    the service section."""
    settings = load_settings(config, environ={}, cwd=Path("/"), euid=0)
    return dataclasses.replace(settings, service=dataclasses.replace(settings.service, **service))


def render_service(settings: Settings, *, scope: str = "system", executable: Path = HFDL) -> str:
    """The rendered ``hfdl-run@.service`` text for ``settings`` in ``scope``."""
    units = render_units(
        [],
        scope=scope,
        executable=executable,
        config_path=Path("/etc/hfdl/config.yaml"),
        settings=settings,
        token_credential=Path("/etc/hfdl/hf_token"),
    )
    return units[0].content


def directives(text: str, key: str) -> list[str]:
    """The values of every ``key=`` line of a unit."""
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def unit_environment(text: str) -> dict[str, str]:
    """The unit's ``Environment=`` assignments (quoted or not), as a mapping."""
    assignments = (value.strip('"') for value in directives(text, "Environment"))
    return dict(assignment.split("=", 1) for assignment in assignments)


def exposure(unit_text: str, directory: Path) -> tuple[float, str]:
    """``systemd-analyze security --offline=true`` of a rendered service: score and output."""
    # security refuses a bare template: check it under an instance name.
    path = directory / "hfdl-run@nightly.service"
    path.write_text(unit_text)
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, SYSTEMD_COLORS="0"),
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout
    return float(match[1]), result.stdout


# -- the unit ----------------------------------------------------------------------------------


@needs_systemd_analyze
@pytest.mark.parametrize("config", [PRODUCTION_CONFIG, None], ids=["production", "no-config"])
def test_default_system_service_exposure_is_at_most_1_2(
    tmp_path: Path, config: Path | None
) -> None:
    score, report = exposure(render_service(system_defaults(config)), tmp_path)
    print(f"systemd-analyze security --offline=true: {score}")
    assert score <= MAX_EXPOSURE, report
    if config is None:
        return  # root's default cache is ~/.cache/huggingface/hub: ProtectHome=read-only
    # What keeps it above zero is what a downloader cannot give up.
    failing = {line.split()[1] for line in report.splitlines() if line.startswith("✗")}
    assert failing <= {
        "RootDirectory=/RootImage=",
        "RestrictAddressFamilies=~AF_UNIX",
        "RestrictAddressFamilies=~AF_(INET|INET6)",
        "PrivateNetwork=",
        "DeviceAllow=",
        "IPAddressDeny=",
        "UMask=",
    }, report


def test_system_service_runs_as_the_service_account_never_root() -> None:
    settings = system_defaults(user="models", group="models", cache_group="inference")
    service = render_service(settings)
    assert directives(service, "User") == ["models"]
    assert directives(service, "Group") == ["models"]
    assert directives(service, "UMask") == ["0027"]
    assert directives(service, "PrivateUsers") == ["yes"]
    assert directives(service, "ProtectHome") == ["yes"]
    assert directives(service, "MemoryDenyWriteExecute") == ["yes"]
    # The cache: created for the account and the readers' group, setgid; what root left in
    # it is handed over without following links. The state: systemd's, handed over whole.
    assert [line.split(" ", 1)[1] for line in directives(service, "ExecStartPre")] == [
        '-d -m 2750 -o models -g inference -- "/var/cache/huggingface/hub"',
        '-R -h --from=root models:inference -- "/var/cache/huggingface/hub"',
        '-R -h models:models -- "/var/lib/hfdl"',
    ]
    assert directives(service, "StateDirectory") == ["hfdl"]
    assert directives(service, "StateDirectoryMode") == ["0700"]


def test_system_service_pins_the_paths_it_was_rendered_for() -> None:
    # Not root, the run would default to the account's home (~/.local/state/hfdl...).
    environment = unit_environment(render_service(system_defaults()))
    assert {key: value for key, value in environment.items() if key.startswith("HFDL_")} == {
        "HFDL_DOWNLOAD_DIR": "/var/cache/huggingface/hub",
        "HFDL_STATE_DIR": "/var/lib/hfdl",
        "HFDL_DB_PATH": "/var/lib/hfdl/hfdl.db",
        "HFDL_MODELS_FILE": "/etc/hfdl/models.json",
    }


def test_separate_directories_are_each_created_for_the_account() -> None:
    settings = dataclasses.replace(
        system_defaults(cache_group="inference"),
        download_directory=Path("/srv/models hub"),
        state_directory=Path("/srv/hfdl/state"),
        db_path=Path("/srv/hfdl/db/hfdl.db"),
    )
    service = render_service(settings)
    assert directives(service, "StateDirectory") == []
    commands = [line.split(" ", 1)[1] for line in directives(service, "ExecStartPre")]
    assert '-d -m 2750 -o hfdl -g inference -- "/srv/models hub"' in commands
    assert '-d -m 0700 -o hfdl -g hfdl -- "/srv/hfdl/state"' in commands
    assert '-d -m 0700 -o hfdl -g hfdl -- "/srv/hfdl/db"' in commands
    assert '-R -h hfdl:hfdl -- "/srv/hfdl/state"' in commands


def test_every_sandbox_directive_follows_a_comment_saying_why() -> None:
    service = render_service(system_defaults())
    lines = service[service.index(SANDBOX_START) :].splitlines()
    for index, line in enumerate(lines):
        if not re.match(r"[A-Za-z]+=", line):
            continue
        # Walk back over the block of directives this one belongs to: a comment heads it.
        before = index - 1
        while re.match(r"[A-Za-z]+=", lines[before]):
            before -= 1
        assert lines[before].startswith("# "), line


def test_program_in_a_home_directory_keeps_home_read_only() -> None:
    service = render_service(system_defaults(), executable=Path("/home/admin/venv/bin/hfdl"))
    assert directives(service, "ProtectHome") == ["read-only"]


def test_user_service_keeps_what_a_user_manager_can_apply() -> None:
    service = render_service(system_defaults(), scope="user")
    for key in ("User", "Group", "PrivateUsers", "ProtectSystem", "ExecStartPre", "UMask"):
        assert directives(service, key) == [], key
    assert directives(service, "NoNewPrivileges") == ["yes"]
    assert unit_environment(service) == {
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("user", "root"),
        ("user", "Models"),
        ("group", "two words"),
        ("cache_group", "-dash"),
        ("cache_group", "x" * 33),
    ],
)
def test_service_account_names_are_checked(tmp_path: Path, key: str, value: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"service": {key: value}}))
    with pytest.raises(ConfigError, match=f"service.{key}"):
        load_settings(config, environ={}, cwd=tmp_path, euid=0)


# -- the extra request ---------------------------------------------------------------------


def check_requests(
    workspace: Workspace, hub: HubServer, environment: dict[str, str], *, read_only: Path | None
) -> list[str]:
    """Run ``hfdl run --check`` with ``environment``, with ``read_only`` mounted read-only
    (as the sandbox's home is; root gets EROFS too); return the requests the Hub saw."""
    hub.clear_requests()
    command = workspace.command("run", "--check")
    if read_only is not None:
        remount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
        command = ["unshare", "--mount", "--propagation=private", "sh", "-c", remount]
        command += [str(read_only), *workspace.command("run", "--check")]
    result = subprocess.run(
        command,
        cwd=workspace.root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [f"{record.origin} {record.path}" for record in hub.find_requests()]


# Mounting a read-only home.
@requires_root_with_unshare()
def test_a_run_in_a_read_only_home_makes_only_the_requests_it_needs(
    workspace: Workspace, hub: HubServer, tmp_path: Path
) -> None:
    repo_id = hub.unique_repo_id("org/sandboxed")
    hub.create_repo(repo_id, {"config.json": "{}"})
    workspace.write_catalog([{"name": repo_id}])
    home = tmp_path / "home"
    (home / "huggingface").mkdir(parents=True)
    hf_home = {"HOME": str(home), "HF_HOME": str(home / "huggingface")}
    # Only the library's switches from the unit: its HFDL_ paths are the production ones.
    from_unit = {
        key: value
        for key, value in unit_environment(render_service(system_defaults())).items()
        if not key.startswith("HFDL_")
    }
    plain = {
        key: value
        for key, value in workspace.environment(hf_home).items()
        if key != "HF_HUB_DISABLE_TELEMETRY"
    }
    agents = "hub /api/agent-harnesses"

    # Without the unit's environment the library asks for its list of agents at every run
    # in a read-only home, since it cannot cache the answer (for a day, in a writable one).
    assert agents in check_requests(workspace, hub, plain, read_only=home)

    # With it, a run in the read-only home makes exactly the requests of one in a writable
    # home, and only what the run needs.
    needed = check_requests(workspace, hub, plain | from_unit, read_only=None)
    assert needed == [f"hub /api/models/{repo_id}/revision/main"]
    for _ in range(2):
        assert check_requests(workspace, hub, plain | from_unit, read_only=home) == needed


# -- a real run of the system unit (systemd tier) --------------------------------------------

# Accounts every Debian system has: the service runs as daemon, the models' readers are the
# group users; nobody (outside users) plays another user of the machine.
