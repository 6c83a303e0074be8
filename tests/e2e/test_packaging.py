"""The Debian package's parts, checked without building the package (seconds, not minutes).

The man page is rendered from the real CLI and run through groff; the maintainer scripts
are run for real against a throw-away root (``DPKG_ROOT``, which they honour like
debhelper's own snippets, so they never talk to this machine's systemd); the sysusers and
tmpfiles entries are applied by the real ``systemd-sysusers``/``systemd-tmpfiles --root``;
``make deb-source`` prepares the tree ``dpkg-buildpackage`` works in. A package already
built by ``make deb`` (``dist/``) is inspected too; building one takes a minute or more,
so this suite does not.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from hfdl.catalog.files import load_catalog
from hfdl.cli import manpage
from hfdl.cli.reference import options_of, root_command, walk
from hfdl.systemd.units import GENERATED_MARKER
from tests.tiers import require_root_with_unshare, require_tools, unavailable

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGING = REPOSITORY / "packaging"
DEBIAN = PACKAGING / "debian"
MAINTAINER_SCRIPTS = ["hfdl.postinst", "hfdl.prerm", "hfdl.postrm"]
VERSION = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]


# Debian's dpkg-dev, debhelper, groff: missing on a developer's machine (skip), installed
# by .ci/run (where a missing one fails the test).
needs = require_tools


def run_script(name: str, argument: str, root: Path) -> subprocess.CompletedProcess[str]:
    """Run one maintainer script as dpkg would, against ``root`` instead of ``/``."""
    return subprocess.run(
        ["sh", "-e", str(DEBIAN / name), argument],
        env={**os.environ, "DPKG_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def write_unit(root: Path, name: str, *, generated: bool) -> Path:
    """A unit file in the fake root's /etc/systemd/system, with or without hfdl's marker."""
    path = root / "etc/systemd/system" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = f"{GENERATED_MARKER}\n" if generated else ""
    path.write_text(f"# test unit\n{marker}[Timer]\nOnCalendar=daily\n")
    return path


# --- the man page ---------------------------------------------------------------------


def test_man_page_has_a_section_for_every_command_and_every_option() -> None:
    page = manpage.render({"SOURCE_DATE_EPOCH": "0"})

    for path, command in walk(root_command()):
        if len(path) > 1:
            assert f'.SS "{manpage.escape(" ".join(path))}"' in page
        for option in options_of(command):
            assert f"\\fB{manpage.escape(option.opts[0])}\\fR" in page
    assert '.TH HFDL 1 "1970-01-01"' in page


def test_man_page_renders_without_groff_warnings(tmp_path: Path) -> None:
    needs("groff")
    page = tmp_path / "hfdl.1"
    assert manpage.main(["--output", str(page)]) == 0

    result = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z", str(page)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, "")


def test_escape_keeps_text_from_being_read_as_roff_requests() -> None:
    assert manpage.escape(".in 5\n'br\nC:\\dir --x") == "\\&.in 5\n\\&'br\nC:\\edir \\-\\-x"


def test_man_page_main_refuses_unknown_arguments() -> None:
    assert manpage.main(["--bogus"]) == 2


# --- maintainer scripts ---------------------------------------------------------------


@pytest.mark.parametrize("name", MAINTAINER_SCRIPTS)
def test_maintainer_script_parses_and_has_one_debhelper_token_line(name: str) -> None:
    text = (DEBIAN / name).read_text()
    syntax = subprocess.run(["sh", "-n", str(DEBIAN / name)], capture_output=True, text=True)

    assert syntax.returncode == 0, syntax.stderr
    # debhelper replaces the token wherever it appears, comments included.
    assert text.count("#DEBHELPER#") == 1
    assert "\n#DEBHELPER#\n" in text
    assert text.startswith("#!/bin/sh\n")


def test_purge_removes_configuration_state_and_generated_units_but_not_the_cache(
    tmp_path: Path,
) -> None:
    (tmp_path / "etc/hfdl").mkdir(parents=True)
    (tmp_path / "etc/hfdl/hf_token").write_text("secret\n")
    (tmp_path / "var/lib/hfdl").mkdir(parents=True)
    (tmp_path / "var/lib/hfdl/hfdl.db").write_text("")
    model = tmp_path / "var/cache/huggingface/hub/models--org--name/blobs/abc"
    model.parent.mkdir(parents=True)
    model.write_text("weights")
    service = write_unit(tmp_path, "hfdl-run@.service", generated=True)
    timer = write_unit(tmp_path, "hfdl-nightly.timer", generated=True)
    someone_elses = write_unit(tmp_path, "hfdl-mine.timer", generated=False)
    stamps = tmp_path / "var/lib/systemd/timers"
    stamps.mkdir(parents=True)
    (stamps / "stamp-hfdl-nightly.timer").write_text("")
    (stamps / "stamp-hfdl-mine.timer").write_text("")

    result = run_script("hfdl.postrm", "purge", tmp_path)

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "etc/hfdl").exists()
    assert not (tmp_path / "var/lib/hfdl").exists()
    assert not service.exists() and not timer.exists()
    assert not (stamps / "stamp-hfdl-nightly.timer").exists()
    assert someone_elses.exists() and (stamps / "stamp-hfdl-mine.timer").exists()
    assert model.read_text() == "weights"


def test_remove_keeps_configuration_state_and_units(tmp_path: Path) -> None:
    (tmp_path / "etc/hfdl").mkdir(parents=True)
    (tmp_path / "etc/hfdl/config.yaml").write_text("log_level: INFO\n")
    timer = write_unit(tmp_path, "hfdl-nightly.timer", generated=True)

    result = run_script("hfdl.postrm", "remove", tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "etc/hfdl/config.yaml").exists() and timer.exists()


def test_prerm_remove_disables_only_hfdls_timers_and_forgets_start(tmp_path: Path) -> None:
    needs("systemctl")
    wants = tmp_path / "etc/systemd/system/timers.target.wants"
    wants.mkdir(parents=True)
    for name, generated in (("hfdl-nightly.timer", True), ("hfdl-mine.timer", False)):
        write_unit(tmp_path, name, generated=generated)
        (wants / name).symlink_to(f"../{name}")
    started = tmp_path / "var/lib/hfdl/started-system"
    started.parent.mkdir(parents=True)
    started.touch()
    bytecode = tmp_path / "usr/lib/hfdl/venv/lib/python3.11/site-packages/x/__pycache__"
    bytecode.mkdir(parents=True)
    (bytecode / "x.cpython-311.pyc").write_bytes(b"")

    result = run_script("hfdl.prerm", "remove", tmp_path)

    assert result.returncode == 0, result.stderr
    assert not (wants / "hfdl-nightly.timer").is_symlink()
    assert (wants / "hfdl-mine.timer").is_symlink()
    assert not started.exists()
    assert not bytecode.exists()
    assert (tmp_path / "etc/systemd/system/hfdl-nightly.timer").exists()  # kept until purge


def test_prerm_upgrade_leaves_timers_enabled(tmp_path: Path) -> None:
    wants = tmp_path / "etc/systemd/system/timers.target.wants"
    wants.mkdir(parents=True)
    write_unit(tmp_path, "hfdl-nightly.timer", generated=True)
    (wants / "hfdl-nightly.timer").symlink_to("../hfdl-nightly.timer")

    result = run_script("hfdl.prerm", "upgrade", tmp_path)

    assert result.returncode == 0, result.stderr
    assert (wants / "hfdl-nightly.timer").is_symlink()


# --- user, directories and shipped configuration ----------------------------------------


def create_system_user(root: Path) -> None:
    """Apply the package's sysusers.d entry to ``root``'s password and group files."""
    needs("systemd-sysusers")
    (root / "etc").mkdir(parents=True, exist_ok=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        (root / "etc" / name).touch()
    subprocess.run(
        ["systemd-sysusers", f"--root={root}", str(DEBIAN / "hfdl.sysusers")],
        check=True,
        capture_output=True,
    )


def test_sysusers_entry_creates_the_hfdl_system_user_and_group(tmp_path: Path) -> None:
    create_system_user(tmp_path)

    user = next(line for line in (tmp_path / "etc/passwd").read_text().splitlines())
    name, _, uid, _, _, _, shell = user.split(":")
    assert (name, shell) == ("hfdl", "/usr/sbin/nologin")
    assert int(uid) < 1000
    assert (tmp_path / "etc/group").read_text().startswith("hfdl:")


def test_tmpfiles_entry_gives_the_service_account_its_directories(tmp_path: Path) -> None:
    needs("systemd-tmpfiles")
    # Root, to mount the test root's user database over /etc in a private namespace.
    require_root_with_unshare()
    create_system_user(tmp_path)
    # systemd 252's tmpfiles --root resolves user names on the host, not in the root: in a
    # private mount namespace, the test root's passwd and group stand in for the host's.
    script = (
        f'mount --bind "{tmp_path}/etc/passwd" /etc/passwd'
        f' && mount --bind "{tmp_path}/etc/group" /etc/group'
        f' && systemd-tmpfiles --root="{tmp_path}" --create "{DEBIAN / "hfdl.tmpfiles"}"'
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    if "unshare failed" in result.stderr:
        unavailable("this test", f"no mount namespaces here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr

    uid = int((tmp_path / "etc/passwd").read_text().split(":")[2])
    state = (tmp_path / "var/lib/hfdl").stat()
    cache = (tmp_path / "var/cache/huggingface/hub").stat()
    assert (state.st_mode & 0o7777, state.st_uid) == (0o700, uid)
    assert (cache.st_mode & 0o7777, cache.st_uid) == (0o2750, uid)
    assert (tmp_path / "var/cache/huggingface").stat().st_uid == 0


def test_shipped_catalog_is_valid_and_empty() -> None:
    assert list(load_catalog(PACKAGING / "etc/hfdl/models.json").models) == []


def test_environment_file_sets_nothing_and_has_no_token() -> None:
    lines = (PACKAGING / "etc/default/hfdl").read_text().splitlines()

    assert all(not line.strip() or line.startswith("#") for line in lines)
    assert any(line.startswith("#HF_ENDPOINT=") for line in lines)
    assert not any("TOKEN=" in line for line in lines)


# --- the build tree and the built package -----------------------------------------------


def test_deb_source_tree_holds_what_the_package_ships(tmp_path: Path) -> None:
    needs("make", "dpkg-buildpackage", "dh", "uv", "dpkg-parsechangelog")

    subprocess.run(
        ["make", "--no-print-directory", "deb-source", f"BUILD_DIR={tmp_path}", "VERSION=9.8.7"],
        cwd=REPOSITORY,
        check=True,
        capture_output=True,
        timeout=60,
    )

    tree = tmp_path / "deb/hfdl-9.8.7"
    version = subprocess.run(
        ["dpkg-parsechangelog", "--show-field", "Version"],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert version == "9.8.7"
    config = (tree / "etc/hfdl/config.yaml").read_text()
    assert config == (REPOSITORY / "config/production.yaml").read_text()
    assert (tree / "etc/hfdl/models.json").is_file() and (tree / "etc/default/hfdl").is_file()
    assert os.access(tree / "debian/rules", os.X_OK)
    for listed in (tree / "debian/hfdl.docs").read_text().split():
        assert (tree / listed).is_file(), listed


def test_changelog_version_is_the_projects() -> None:
    needs("dpkg-parsechangelog")
    version = subprocess.run(
        ["dpkg-parsechangelog", "--file", str(DEBIAN / "changelog"), "--show-field", "Version"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    assert version == VERSION


def built_package() -> Path:
    """The .deb ``make deb`` wrote for this version, or skip the test."""
    needs("dpkg-deb", "dpkg")
    architecture = subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()
    package = REPOSITORY / "dist" / f"hfdl_{VERSION}_{architecture}.deb"
    if not package.is_file():
        # .ci/run builds it before the tests (make deb), so CI checks the real package.
        unavailable("this test", f"{package.name} not built (make deb)")
    return package


def test_built_package_contents_and_conffiles() -> None:
    package = built_package()

    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(package)], check=True, capture_output=True, text=True
    ).stdout
    paths = {line.split()[5].removeprefix(".") for line in listing.splitlines()}
    conffiles = subprocess.run(
        ["dpkg-deb", "--info", str(package), "conffiles"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()

    for expected in (
        "/usr/bin/hfdl",
        "/usr/lib/hfdl/venv/bin/hfdl",
        "/usr/lib/hfdl/venv/bin/python3.11",
        "/usr/lib/hfdl/venv/pyvenv.cfg",
        "/usr/lib/sysusers.d/hfdl.conf",
        "/usr/lib/tmpfiles.d/hfdl.conf",
        "/usr/share/man/man1/hfdl.1.gz",
        "/usr/share/doc/hfdl/changelog.gz",
        "/usr/share/doc/hfdl/copyright",
    ):
        assert expected in paths
    assert any(path.endswith("/hfdl/units/hfdl.timer.j2") for path in paths)
    assert not any(path.endswith(".pyc") or "__pycache__" in path for path in paths)
    assert sorted(conffiles) == [
        "/etc/default/hfdl",
        "/etc/hfdl/config.yaml",
        "/etc/hfdl/models.json",
    ]


def test_built_package_runs_with_debians_python(tmp_path: Path) -> None:
    package = built_package()
    needs("/usr/bin/python3.11")
    subprocess.run(["dpkg-deb", "--extract", str(package), str(tmp_path)], check=True)
    # The venv's python is a relative link to /usr/bin/python3.11 inside the root it is
    # installed in; in this extracted root, that is the host's interpreter.
    (tmp_path / "usr/bin/python3.11").symlink_to("/usr/bin/python3.11")
    script = tmp_path / "usr/lib/hfdl/venv/bin/hfdl"

    assert script.read_text().startswith("#!/usr/lib/hfdl/venv/bin/python\n")
    result = subprocess.run(
        [str(tmp_path / "usr/lib/hfdl/venv/bin/python"), str(script), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert (result.returncode, result.stdout) == (0, f"hfdl {VERSION}\n")
