"""The one error table: every error class has a documented exit code, and the CLI uses it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hfdl import errors
from tests.workspace import Workspace

README = Path(__file__).resolve().parents[2] / "README.md"

EXPECTED_CODES = {
    errors.UsageError: 2,
    errors.ConfigError: 78,
    errors.ConfigFileNotFound: 78,
    errors.CatalogError: 65,
    errors.CatalogNotFound: 66,
    errors.ModelNotFound: 65,
    errors.DuplicateModel: 65,
    errors.InvalidModelInput: 65,
    errors.VerificationFailed: 65,
    errors.InvalidSchedule: 65,
    errors.ScheduleNotFound: 65,
    errors.DuplicateSchedule: 65,
    errors.UnsafeUnitValue: 65,
    errors.StoreError: 73,
    errors.LockedError: 75,
    errors.DatabaseBusy: 75,
    errors.NotWritable: 73,
    errors.HubError: 69,
    errors.HubUnavailable: 69,
    errors.RepoNotFound: 69,
    errors.GatedRepo: 69,
    errors.RevisionNotFound: 69,
    errors.EntryNotFound: 69,
    errors.IntegrityError: 65,
    errors.UntrustedMetadata: 65,
    errors.UnsafePath: 65,
    errors.StalledTransfer: 69,
    errors.AttemptTimeout: 69,
    errors.LeaseLost: 69,
    errors.DiskFullError: 73,
    errors.SystemdError: 69,
    errors.Cancelled: 75,
    errors.RunFailed: 1,
    errors.TemporaryRunFailure: 75,
}


def all_error_classes() -> set[type[errors.HfdlError]]:
    found: set[type[errors.HfdlError]] = set()
    pending = [errors.HfdlError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub.__module__ == "hfdl.errors" and sub not in found:
                found.add(sub)
                pending.append(sub)
    return found - {errors.ValidationError}


def test_every_error_class_has_its_documented_code() -> None:
    classes = all_error_classes()
    assert classes == set(EXPECTED_CODES), "add new error classes to the table above and the README"
    for cls, code in EXPECTED_CODES.items():
        assert cls.exit_code == code, cls.__name__
        instance = cls.__new__(cls)
        assert errors.exit_code_for(instance) == code


def test_readme_documents_every_exit_code() -> None:
    table = README.read_text().split("## Errors and exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)}
    assert set(EXPECTED_CODES.values()) | {0, 70} <= documented


def test_non_hfdl_errors_map_to_generic_codes() -> None:
    assert errors.exit_code_for(KeyboardInterrupt()) == 130
    assert errors.exit_code_for(OSError("disk")) == 74
    assert errors.exit_code_for(RuntimeError("bug")) == 70


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["run", "--bogus"], 2, "No such option"),
        (["no-such-command"], 2, "No such command"),
        (["run", "--max-concurrent", "0"], 2, "--max-concurrent"),
    ],
)
def test_usage_errors_exit_2(
    workspace: Workspace, arguments: list[str], code: int, message: str
) -> None:
    result = workspace.hfdl(*arguments)
    assert result.returncode == code
    assert message in result.stderr
    assert result.stdout == ""


def test_traceback_only_with_debug(workspace: Workspace) -> None:
    workspace.write_catalog([])
    workspace.models_path.write_text("{not json")
    plain = workspace.hfdl("run")
    assert plain.returncode == 65
    assert plain.stderr.startswith("hfdl: error: ")
    assert "Traceback" not in plain.stderr
    debug = workspace.hfdl("--debug", "run")
    assert debug.returncode == 65
    assert "Traceback" in debug.stderr
    environment = workspace.hfdl("run", env={"HFDL_DEBUG": "1"})
    assert "Traceback" in environment.stderr


def test_no_command_shows_help(workspace: Workspace) -> None:
    result = workspace.hfdl()
    assert result.returncode == 0
    assert "Usage: hfdl" in result.stdout
    assert "Download the catalog's pending models" in result.stdout


def test_version(workspace: Workspace) -> None:
    from hfdl import __version__

    result = workspace.hfdl("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"hfdl {__version__}"
