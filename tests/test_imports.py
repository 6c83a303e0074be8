"""The fast commands stay fast: they never load the Hub client or the download engine.

Scenario 4 of the benchmark (docs/performance.md) times them; this test pins the cause, the
import list, which unlike a wall time does not depend on the machine. Each command runs in a
real subprocess under ``python -X importtime``, whose report lists every module imported.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.workspace import Workspace

# The Hub client, its HTTP stack, and hfdl's engine.
HEAVY = (
    "huggingface_hub",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "hfdl.hub.client",
    "hfdl.hub.transfer",
    "hfdl.hub.body",
    "hfdl.services.run",
)


def imported(workspace: Workspace, *command: str) -> set[str]:
    """Every module ``python -m hfdl --config <workspace> COMMAND`` imports."""
    argv = [sys.executable, "-X", "importtime", *command]
    completed = subprocess.run(
        argv,
        cwd=workspace.root,
        env=workspace.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert names, f"no import report from {argv}: {completed.stderr[-500:]}"
    return names


def heavy(names: set[str]) -> list[str]:
    return sorted(
        name for name in names if any(name == h or name.startswith(h + ".") for h in HEAVY)
    )


def hfdl(workspace: Workspace, *arguments: str) -> tuple[str, ...]:
    return ("-m", "hfdl", "--config", str(workspace.config_path), *arguments)


def test_the_detection_sees_a_heavy_import(workspace: Workspace) -> None:
    """Control: the import report does show the Hub client when it is loaded."""
    assert "huggingface_hub" in heavy(imported(workspace, "-c", "import hfdl.hub.client"))


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(("--help",), id="help"),
        pytest.param(("status", "--json"), id="status-json"),
        pytest.param(("models", "list"), id="models-list"),
    ],
)
def test_fast_commands_import_no_hub_client_nor_engine(
    workspace: Workspace, arguments: tuple[str, ...]
) -> None:
    workspace.write_catalog([{"name": "org/model"}])

    assert heavy(imported(workspace, *hfdl(workspace, *arguments))) == []


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(("status", "--json"), id="status-json"),
        pytest.param(("models", "list"), id="models-list"),
        pytest.param(("models", "list", "--json"), id="models-list-json"),
    ],
)
def test_reports_read_an_existing_database_without_sqlalchemy(
    workspace: Workspace, arguments: tuple[str, ...]
) -> None:
    """With a state database to read, the reports still do not pay for SQLAlchemy."""
    workspace.write_catalog([{"name": "org/model", "enabled": False}])
    assert workspace.hfdl("run").returncode == 0  # creates and fills the database
    assert workspace.db_path.exists()

    names = imported(workspace, *hfdl(workspace, *arguments))

    assert "hfdl.store.reader" in names  # it did read the database
    assert sorted(name for name in names if name.split(".")[0] == "sqlalchemy") == []


def test_a_run_with_nothing_to_do_never_loads_the_hub_client(workspace: Workspace) -> None:
    """A run whose models are all disabled (or none due) asks the Hub nothing, loads nothing."""
    workspace.write_catalog([{"name": "org/model", "enabled": False}])

    names = imported(workspace, *hfdl(workspace, "run"))

    assert "hfdl.store" in names  # it did run: it synced the catalog
    assert [name for name in heavy(names) if name != "hfdl.services.run"] == []
