"""``database_url``: hfdl on a real PostgreSQL server, and its password kept secret.

The URLs here carry :data:`tests.postgres.PASSWORD` (the test server's ``trust``
authentication ignores it): it must never reach an output, a log, a unit file or the database.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hfdl.config import Settings, load_settings
from hfdl.errors import ConfigError
from hfdl.schedule import parse_schedule
from hfdl.store.schema import HEAD_REVISION
from hfdl.systemd.units import render_units
from tests.hubserver import HubServer
from tests.postgres import PASSWORD, PASSWORD_ROLE, PostgresServer, run_sql
from tests.workspace import Workspace

SECRET_URL = f"postgresql+psycopg://hfdl:{PASSWORD}@db.example.com:5433/hfdl"
USER = 1000


def settings_from(tmp_path: Path, **environ: str) -> Settings:
    return load_settings(None, environ=environ, cwd=tmp_path, euid=USER)


# -- the setting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://hfdl@db.example.com/hfdl",
        "postgresql+psycopg://hfdl@/hfdl?host=/run/postgresql",
        "sqlite:////var/lib/hfdl/hfdl.db",
    ],
)
def test_database_url_accepts_postgresql_and_sqlite(tmp_path: Path, url: str) -> None:
    settings = load_settings(None, environ={"HFDL_DATABASE_URL": url}, cwd=tmp_path, euid=USER)
    assert settings.database_url == url
    assert settings.database == url
    assert settings.sources["database_url"] == "env:HFDL_DATABASE_URL"


def test_database_url_default_is_the_sqlite_file(tmp_path: Path) -> None:
    settings = load_settings(None, environ={}, cwd=tmp_path, euid=USER)
    assert settings.database_url == ""
    assert settings.database == settings.db_path
    assert settings.database_display == str(settings.db_path)


def test_the_old_prefix_is_an_alias_and_the_new_one_wins(tmp_path: Path) -> None:
    old = "postgresql+psycopg://old@db/hfdl"
    new = "postgresql+psycopg://new@db/hfdl"
    alias_only = load_settings(
        None, environ={"HF_DOWNLOADER_DATABASE_URL": old}, cwd=tmp_path, euid=USER
    )
    assert alias_only.database_url == old
    both = load_settings(
        None,
        environ={"HF_DOWNLOADER_DATABASE_URL": old, "HFDL_DATABASE_URL": new},
        cwd=tmp_path,
        euid=USER,
    )
    assert both.database_url == new


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        (f"mysql://hfdl:{PASSWORD}@db/hfdl", "postgresql+psycopg:// or sqlite:///"),
        (f"postgresql+psycopg2://hfdl:{PASSWORD}@db/hfdl", "postgresql+psycopg:// or sqlite"),
        (f"postgresql+psycopg://hfdl:{PASSWORD}@db.example.com/", "must name the database"),
        ("sqlite://", "must name a file"),
        (f"not a url {PASSWORD}", "SQLAlchemy URL"),
    ],
)
def test_invalid_database_urls_are_config_errors_without_the_password(
    tmp_path: Path, url: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={"HFDL_DATABASE_URL": url}, cwd=tmp_path, euid=USER)
    (problem,) = caught.value.problems
    assert problem.path == "database_url" and fragment in problem.message
    assert caught.value.exit_code == 78
    assert PASSWORD not in str(caught.value) + str(problem)


def test_an_invalid_url_exits_78_naming_the_setting(workspace: Workspace) -> None:
    result = workspace.hfdl("status", env={"HFDL_DATABASE_URL": f"mysql://u:{PASSWORD}@h/d"})
    assert result.returncode == 78
    assert "database_url" in result.stderr and "HFDL_DATABASE_URL" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["config", "show"],
        ["config", "show", "--json"],
        ["config", "show", "--yaml"],
        ["config", "export", "--format", "json"],
        ["config", "export", "--format", "yaml"],
    ],
    ids=["show", "show-json", "show-yaml", "export-json", "export-yaml"],
)
def test_no_view_of_the_configuration_shows_the_password(
    workspace: Workspace, command: list[str]
) -> None:
    result = workspace.hfdl(*command, env={"HFDL_DATABASE_URL": SECRET_URL})
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert "postgresql+psycopg://hfdl:***@db.example.com:5433/hfdl" in result.stdout


def test_units_never_carry_the_database_url(tmp_path: Path) -> None:
    settings = load_settings(
        None, environ={"HFDL_DATABASE_URL": SECRET_URL}, cwd=tmp_path, euid=USER
    )
    schedule = parse_schedule(
        name="default", schedule_type="daily", time="02:00", day=None, concurrent_downloads=1
    )
    for scope in ("system", "user"):
        units = render_units(
            [schedule],
            scope=scope,
            executable=Path("/usr/bin/hfdl"),
            config_path=Path("/etc/hfdl/config.yaml"),
            settings=settings,
            token_credential=None,
        )
        assert units
        for unit in units:
            assert PASSWORD not in unit.content and "db.example.com" not in unit.content


# -- hfdl on PostgreSQL, end to end ------------------------------------------------------------


def test_run_then_status_on_postgresql(
    workspace: Workspace, hub: HubServer, postgres: PostgresServer
) -> None:
    """A real run records into PostgreSQL, and the reports read it back from there."""
    database = postgres.create_database()
    url = postgres.url(database, password=PASSWORD)
    repo_id = hub.unique_repo_id("org/pg-model")
    commit = hub.create_repo(repo_id, {"config.json": "{}", "model.safetensors": 40_000})
    workspace.write_catalog([{"name": repo_id}])
    env = {"HFDL_DATABASE_URL": url}

    run = workspace.hfdl("run", env=env)
    assert run.returncode == 0, run.stderr
    assert not workspace.db_path.exists()  # the SQLite file is not used
    assert workspace.snapshot_file(repo_id, commit, "model.safetensors").stat().st_size == 40_000
    assert postgres.query(database, "SELECT status, commit_sha FROM models") == [
        ("completed", commit)
    ]

    status = workspace.hfdl("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    database_part = document["database"]
    assert database_part["available"] is True
    assert database_part["path"] == postgres.url(database, password="***")
    assert database_part["models_by_status"]["completed"] == 1
    last = database_part["last_session"]
    assert last["status"] == "completed" and last["models_completed"] == 1

    listing = workspace.hfdl("models", "list", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    (model,) = json.loads(listing.stdout)
    assert (model["name"], model["status"]) == (repo_id, "completed")

    # The password is nowhere hfdl wrote: outputs, logs, files, the database.
    for result in (run, status, listing):
        assert PASSWORD not in result.stdout + result.stderr
    for path in workspace.root.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    dump = run_sql(
        url,
        "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM sessions) t"
        " UNION ALL SELECT string_agg(t::text, ' ') FROM (SELECT * FROM attempts) t"
        " UNION ALL SELECT string_agg(t::text, ' ') FROM (SELECT * FROM models) t",
    )
    assert PASSWORD not in json.dumps(dump)
    assert repo_id in json.dumps(dump)


def test_the_sandbox_opens_the_directory_of_the_database_in_use(tmp_path: Path) -> None:
    from hfdl.systemd.sandbox import writable_paths

    base = {"HFDL_STATE_DIR": "/var/lib/hfdl", "HFDL_DOWNLOAD_DIR": "/srv/models"}
    elsewhere = settings_from(tmp_path, **base, HFDL_DATABASE_URL="sqlite:////srv/state-db/hfdl.db")
    assert writable_paths(elsewhere) == [
        Path("/srv/models"),
        Path("/srv/state-db"),
        Path("/var/lib/hfdl"),
    ]
    server = settings_from(tmp_path, **base, HFDL_DATABASE_URL=SECRET_URL, HFDL_DB_PATH="/x/y.db")
    assert writable_paths(server) == [Path("/srv/models"), Path("/var/lib/hfdl")]


def test_config_set_does_not_echo_the_password(workspace: Workspace) -> None:
    result = workspace.hfdl("config", "set", "database_url", SECRET_URL)
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert "postgresql+psycopg://hfdl:***@db.example.com:5433/hfdl" in result.stdout + result.stderr
    # Written as given: the file is where the administrator chose to keep it.
    assert SECRET_URL in workspace.config_path.read_text()


def test_the_password_comes_from_a_pgpass_file_as_docs_fleet_says(
    workspace: Workspace, postgres: PostgresServer, tmp_path: Path
) -> None:
    """A role the server asks a password of: found in PGPASSFILE, the URL holds none."""
    database = postgres.create_database()
    postgres.create_password_role(database)
    url = f"postgresql+psycopg://{PASSWORD_ROLE}@127.0.0.1:{postgres.port}/{database}"
    workspace.write_catalog([])

    without = workspace.hfdl("status", "--json", env={"HFDL_DATABASE_URL": url})
    assert without.returncode == 0, without.stderr
    reason = json.loads(without.stdout)["database"]["reason"]
    assert "password" in reason and database in reason

    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres.port}:{database}:{PASSWORD_ROLE}:{PASSWORD}\n")
    pgpass.chmod(0o600)
    env = {"HFDL_DATABASE_URL": url, "PGPASSFILE": str(pgpass)}
    status = workspace.hfdl("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["database"]["available"] is True
    assert postgres.query(database, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]
    for result in (without, status):
        assert PASSWORD not in result.stdout + result.stderr
