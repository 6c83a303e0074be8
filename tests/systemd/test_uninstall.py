"""`hfdl uninstall` in a real (private) systemd user manager: everything hfdl installed goes,
foreign files and hfdl's data stay, and a second uninstall does nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hfdl.systemd.install import find_installed, remove_installed
from hfdl.systemd.units import GENERATED_MARKER
from tests.hubserver import HubServer
from tests.systemd.test_systemd_lifecycle import create_schedule, force_fire, hfdl_json, setup
from tests.workspace import Workspace, wait_for

# Tests using the `systemd` fixture are marked `systemd` by the harness; the last two need no
# manager (uninstall must work, or refuse cleanly, where none is reachable).
# A unit file named like hfdl's that hfdl did not write (no marker line): never removed.
FOREIGN_TIMER_TEXT = "[Timer]\nOnCalendar=weekly\n"


def files_under(directory: Path) -> list[str]:
    """Every file and symbolic link below ``directory``, relative to it, sorted."""
    if not directory.is_dir():
        return []
    return sorted(
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.is_symlink() or path.is_file()
    )


def hfdl_stamps(stamp_dir: Path) -> list[str]:
    """The ``stamp-hfdl-*`` files in the timer stamp directory, sorted."""
    return sorted(path.name for path in stamp_dir.glob("stamp-hfdl-*"))


def listed_unit_files(systemd: Any) -> list[str]:
    """``systemctl --user list-unit-files 'hfdl*'``: the unit files the manager knows."""
    listed = systemd.systemctl("list-unit-files", "--output=json", "hfdl*")
    assert listed.returncode in (0, 1), listed.stderr  # 1: no unit file matched
    return sorted(Path(unit["unit_file"]).name for unit in json.loads(listed.stdout or "[]"))


def test_uninstall_removes_every_file_of_hfdl_and_keeps_foreign_ones(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    unit_dir: Path = systemd.unit_dir
    stamp_dir = systemd.home / ".local" / "share" / "systemd" / "timers"
    # Earlier tests' timers left stamps in the session's home: they go too, being hfdl's.
    earlier_stamps = hfdl_stamps(stamp_dir)
    setup(workspace, hub)
    for name, time in (("alpha", "01:00"), ("beta", "02:00")):
        create_schedule(workspace, systemd, name, "--type", "daily", "--time", time)
    hfdl_json(workspace, systemd, "start")
    foreign = unit_dir / "hfdl-foreign.timer"
    foreign.write_text(FOREIGN_TIMER_TEXT)
    # What a schedule deleted without `systemctl disable` leaves: a dangling enablement link.
    (unit_dir / "timers.target.wants" / "hfdl-gone.timer").symlink_to(unit_dir / "hfdl-gone.timer")
    stamp_dir.mkdir(parents=True, exist_ok=True)
    # A stamp left by a timer deleted long ago (the 7 leftovers), and the stamp of
    # the foreign timer, which is not hfdl's to remove.
    (stamp_dir / "stamp-hfdl-deleted.timer").touch()
    (stamp_dir / "stamp-hfdl-foreign.timer").touch()
    # A Persistent=true timer writes its stamp when it starts (an empty file) and when it
    # fires: systemd 252 keeps a user manager's in ~/.local/share/systemd/timers (the path
    # hfdl's Scope.timer_stamp_dir names).
    force_fire(systemd, "hfdl-alpha.timer")
    wait_for(lambda: (stamp_dir / "stamp-hfdl-alpha.timer").exists(), timeout=30)
    systemd.wait_for_unit_state("hfdl-run@alpha.service", "inactive", timeout=60)
    other_stamps = sorted(set(files_under(stamp_dir)) - set(hfdl_stamps(stamp_dir)))

    assert files_under(unit_dir) == [
        "hfdl-alpha.timer",
        "hfdl-alpha.timer.d/fire-now.conf",
        "hfdl-beta.timer",
        "hfdl-foreign.timer",
        "hfdl-run@.service",
        "timers.target.wants/hfdl-alpha.timer",
        "timers.target.wants/hfdl-beta.timer",
        "timers.target.wants/hfdl-gone.timer",
    ]
    new_stamps = ["stamp-hfdl-alpha.timer", "stamp-hfdl-beta.timer", "stamp-hfdl-deleted.timer"]
    assert hfdl_stamps(stamp_dir) == sorted(
        {*earlier_stamps, *new_stamps, "stamp-hfdl-foreign.timer"}
    )
    started = workspace.state_dir / "started-user"
    assert started.exists()

    report = hfdl_json(workspace, systemd, "uninstall")

    # `systemctl disable` removes the enablement links, the dangling one included.
    assert report["disabled"] == ["hfdl-alpha.timer", "hfdl-beta.timer", "hfdl-gone.timer"]
    assert sorted(report["removed"]) == sorted(
        [
            str(unit_dir / name)
            for name in ("hfdl-alpha.timer", "hfdl-beta.timer", "hfdl-run@.service")
        ]
        + [str(stamp_dir / name) for name in sorted({*earlier_stamps, *new_stamps})]
        + [str(started)]
    )
    # The test's own drop-in (written by force_fire) has no marker: reported and kept.
    assert report["foreign"] == [
        str(unit_dir / "hfdl-alpha.timer.d" / "fire-now.conf"),
        str(foreign),
    ]
    assert report["kept"]["database"] == str(workspace.db_path)
    assert files_under(unit_dir) == ["hfdl-alpha.timer.d/fire-now.conf", "hfdl-foreign.timer"]
    assert foreign.read_text() == FOREIGN_TIMER_TEXT
    assert hfdl_stamps(stamp_dir) == ["stamp-hfdl-foreign.timer"]
    assert sorted(set(files_under(stamp_dir)) - {"stamp-hfdl-foreign.timer"}) == other_stamps
    assert listed_unit_files(systemd) == ["hfdl-foreign.timer"]
    for unit in ("hfdl-alpha.timer", "hfdl-beta.timer", "hfdl-run@alpha.service"):
        assert systemd.unit_property(unit, "LoadState") == "not-found", unit
    assert not started.exists()
    # hfdl's data stays: the schedules are still in the database.
    names = [row["name"] for row in workspace.query("SELECT name FROM schedules ORDER BY name")]
    assert names == ["alpha", "beta"]

    again = workspace.hfdl("--user", "uninstall", env=systemd.env)

    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert "nothing to uninstall" in again.stderr
    assert "removed" not in again.stderr
    assert files_under(unit_dir) == ["hfdl-alpha.timer.d/fire-now.conf", "hfdl-foreign.timer"]
    assert hfdl_stamps(stamp_dir) == ["stamp-hfdl-foreign.timer"]


def test_uninstall_stops_a_running_download_of_a_deleted_schedule(
    workspace: Workspace, hub: HubServer, systemd: Any
) -> None:
    repo_id = setup(workspace, hub)
    # Slow the weights down so the run is still working when uninstall comes.
    hub.inject((repo_id, "model.safetensors"), origin="cdn", trickle=(2_000, 0.1), times=None)
    create_schedule(workspace, systemd, "slow", "--type", "daily", "--time", "05:00")
    hfdl_json(workspace, systemd, "start")
    force_fire(systemd, "hfdl-slow.timer")
    service = "hfdl-run@slow.service"
    systemd.wait_for_unit_state(service, "activating", timeout=60)
    # Deleting the schedule removes its timer, not the service template nor the running run.
    deleted = workspace.hfdl("--user", "schedule", "delete", "slow", env=systemd.env)
    assert deleted.returncode == 0, deleted.stderr
    assert (systemd.unit_dir / "hfdl-run@.service").exists()
    assert systemd.unit_property(service, "ActiveState") == "activating"

    result = workspace.hfdl("--user", "uninstall", env=systemd.env)

    assert result.returncode == 0, result.stderr
    assert f"stopped {service}" in result.stderr
    assert f"removed {systemd.unit_dir / 'hfdl-run@.service'}" in result.stderr
    assert f"kept hfdl's data: database {workspace.db_path}" in result.stderr
    assert systemd.unit_property(service, "ActiveState") == "inactive"
    assert systemd.unit_property(service, "LoadState") == "not-found"
    assert files_under(systemd.unit_dir) == ["hfdl-slow.timer.d/fire-now.conf"]


def unreachable_user_manager(workspace: Workspace) -> dict[str, str]:
    """An environment whose user manager cannot be reached, with a home of its own."""
    home = workspace.root / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "XDG_RUNTIME_DIR": str(workspace.root / "no-runtime-dir")}


def test_uninstall_removes_leftover_stamps_without_a_manager(workspace: Workspace) -> None:
    workspace.write_config()
    env = unreachable_user_manager(workspace)
    stamp_dir = Path(env["HOME"]) / ".local" / "share" / "systemd" / "timers"
    stamp_dir.mkdir(parents=True)
    for name in ("stamp-hfdl-old.timer", "stamp-backup.timer"):
        (stamp_dir / name).touch()
    unit_dir = workspace.root / "xdg-config" / "systemd" / "user"
    unit_dir.mkdir(parents=True)
    (unit_dir / "hfdl-mine.timer").write_text(FOREIGN_TIMER_TEXT)

    result = workspace.hfdl("--user", "uninstall", env=env)

    assert result.returncode == 0, result.stderr
    assert f"removed {stamp_dir / 'stamp-hfdl-old.timer'}" in result.stderr
    assert f"kept {unit_dir / 'hfdl-mine.timer'}" in result.stderr
    assert files_under(stamp_dir) == ["stamp-backup.timer"]
    assert files_under(unit_dir) == ["hfdl-mine.timer"]
    again = workspace.hfdl("--user", "uninstall", "--json", env=env)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["removed"] == []
    assert report["foreign"] == [str(unit_dir / "hfdl-mine.timer")]
    assert any("nothing to uninstall" in note for note in report["notes"])


def test_uninstall_removes_nothing_when_the_manager_is_unreachable(workspace: Workspace) -> None:
    workspace.write_config()
    env = unreachable_user_manager(workspace)
    unit_dir = workspace.root / "xdg-config" / "systemd" / "user"
    unit_dir.mkdir(parents=True)
    generated = unit_dir / "hfdl-nightly.timer"
    generated.write_text(f"# Generated by hfdl\n{GENERATED_MARKER}\n[Timer]\nOnCalendar=daily\n")

    result = workspace.hfdl("--user", "uninstall", env=env)

    assert result.returncode == 69, result.stderr
    assert "nothing was removed" in result.stderr
    assert generated.exists()


def test_links_and_drop_ins_are_removed_only_when_they_are_hfdls(tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    wants = unit_dir / "timers.target.wants"
    wants.mkdir(parents=True)
    generated_text = f"# Generated by hfdl\n{GENERATED_MARKER}\n[Timer]\nOnCalendar=daily\n"
    (unit_dir / "hfdl-mine.timer").write_text(generated_text)
    (unit_dir / "hfdl-theirs.timer").write_text(FOREIGN_TIMER_TEXT)
    (wants / "hfdl-mine.timer").symlink_to(unit_dir / "hfdl-mine.timer")
    (wants / "hfdl-theirs.timer").symlink_to(unit_dir / "hfdl-theirs.timer")
    # Dangling, named like hfdl's: what deleting a timer without disabling it leaves.
    (wants / "hfdl-deleted.timer").symlink_to("../hfdl-deleted.timer")
    # A link of the same name to a file elsewhere is someone else's.
    (wants / "hfdl-elsewhere.timer").symlink_to(tmp_path / "elsewhere" / "hfdl-elsewhere.timer")
    drop_ins = unit_dir / "hfdl-mine.timer.d"
    drop_ins.mkdir()
    (drop_ins / "hfdl.conf").write_text(f"{GENERATED_MARKER}\n[Timer]\nAccuracySec=1s\n")
    (drop_ins / "override.conf").write_text("[Timer]\nAccuracySec=1min\n")
    only_ours = unit_dir / "hfdl-run@.service.d"
    only_ours.mkdir()
    (only_ours / "hfdl.conf").write_text(f"{GENERATED_MARKER}\n[Service]\nNice=5\n")
    stamp_dir = tmp_path / "timers"
    stamp_dir.mkdir()
    for name in ("stamp-hfdl-mine.timer", "stamp-hfdl-theirs.timer", "stamp-other.timer"):
        (stamp_dir / name).touch()

    found = find_installed(unit_dir, stamp_dir)
    removed = remove_installed(found)

    assert [str(path.relative_to(tmp_path)) for path in removed] == [
        "units/timers.target.wants/hfdl-deleted.timer",
        "units/timers.target.wants/hfdl-mine.timer",
        "units/hfdl-mine.timer.d/hfdl.conf",
        "units/hfdl-run@.service.d/hfdl.conf",
        "units/hfdl-mine.timer",
        "timers/stamp-hfdl-mine.timer",
    ]
    assert [str(path.relative_to(unit_dir)) for path in found.foreign] == [
        "hfdl-mine.timer.d/override.conf",
        "hfdl-theirs.timer",
    ]
    assert files_under(unit_dir) == [
        "hfdl-mine.timer.d/override.conf",
        "hfdl-theirs.timer",
        "timers.target.wants/hfdl-elsewhere.timer",
        "timers.target.wants/hfdl-theirs.timer",
    ]
    # The drop-in directory hfdl emptied is gone; the one with a foreign file stays.
    assert not only_ours.exists()
    assert files_under(stamp_dir) == ["stamp-hfdl-theirs.timer", "stamp-other.timer"]
    assert remove_installed(find_installed(unit_dir, stamp_dir)) == []
