"""``./.env`` read by a real ``hfdl`` process: the token in it works like ``$HF_TOKEN`` and is
never printed, the real environment wins over it, and a malformed line stops hfdl (exit 78).

``hfdl`` runs in the workspace's root, which is where it looks for ``.env``.
"""

from __future__ import annotations

import json

from tests.hubserver import HubServer
from tests.workspace import Workspace

WEIGHTS = "model.safetensors"
TOKEN = "hf_dotenvSecretToken1234567890"


def private_repo(workspace: Workspace, hub: HubServer) -> tuple[str, str]:
    """A private repo only ``TOKEN`` may read, in the workspace's catalog; (repo, commit)."""
    repo_id = hub.unique_repo_id("org/dotenv-private")
    commit = hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 20_000}, private=True)
    hub.grant(repo_id, TOKEN)
    workspace.write_config()
    workspace.write_catalog([{"name": repo_id}])
    return repo_id, commit


def test_token_in_dotenv_works_like_the_variable_and_is_never_printed(
    workspace: Workspace, hub: HubServer
) -> None:
    repo_id, commit = private_repo(workspace, hub)
    (workspace.root / ".env").write_text(
        f'# development settings\nHF_TOKEN="{TOKEN}"\nHFDL_LOG_LEVEL=DEBUG\n'
    )

    run = workspace.hfdl("run")
    shown = workspace.hfdl("config", "show")
    shown_json = workspace.hfdl("config", "show", "--json")

    assert run.returncode == 0, run.stderr
    assert workspace.snapshot_file(repo_id, commit, WEIGHTS).exists()
    assert all(record.has_auth for record in hub.find_requests(origin="hub"))
    assert shown.returncode == 0, shown.stderr
    assert "token: hf_****7890" in shown.stdout
    assert ".env:HFDL_LOG_LEVEL" in shown.stdout
    document = json.loads(shown_json.stdout)
    assert document["token"]["value"] == "hf_****7890"
    assert document["settings"]["log_level"]["source"] == ".env:HFDL_LOG_LEVEL"
    for result in (run, shown, shown_json):
        assert TOKEN not in result.stdout + result.stderr


def test_the_real_environment_wins_over_dotenv(workspace: Workspace, hub: HubServer) -> None:
    repo_id, commit = private_repo(workspace, hub)
    (workspace.root / ".env").write_text(f"HF_TOKEN={TOKEN}\nHFDL_LOG_LEVEL=DEBUG\n")

    # A token set in the environment, even a wrong one, is used instead of .env's.
    run = workspace.hfdl("run", env={"HF_TOKEN": "hf_wrongTokenFromTheShell0000"})
    shown = workspace.hfdl("config", "show", "--json", env={"HFDL_LOG_LEVEL": "ERROR"})

    assert run.returncode == 1
    assert "was not found" in run.stderr
    assert not workspace.snapshot_file(repo_id, commit, WEIGHTS).exists()
    document = json.loads(shown.stdout)
    assert document["settings"]["log_level"]["value"] == "ERROR"
    assert document["settings"]["log_level"]["source"] == "env:HFDL_LOG_LEVEL"


def test_a_malformed_dotenv_line_is_a_configuration_error(workspace: Workspace) -> None:
    workspace.write_config()
    (workspace.root / ".env").write_text(f"HF_TOKEN={TOKEN}\nHFDL_LOG_LEVEL DEBUG\n")

    result = workspace.hfdl("config", "show")

    assert result.returncode == 78
    assert f"{workspace.root / '.env'}:2: expected KEY=VALUE" in result.stderr
    assert result.stdout == ""
    assert TOKEN not in result.stderr
