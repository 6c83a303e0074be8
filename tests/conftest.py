"""Shared pytest fixtures of the hfdl test-suite.

Isolation from the real Hugging Face setup happens when this module is imported, not in a
fixture: ``huggingface_hub`` copies ``HF_HOME``, the token path, the telemetry and Xet
switches into module constants the first time it is imported, and test modules import it
at collection time, before any fixture runs. The ``hf_home`` fixture then checks that it
worked and cleans up at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubserver import HubServer

# Fixtures defined in helper modules: `workspace` (a throw-away hfdl installation),
# `systemd_user`/`systemd` (the private systemd user manager and journald of the systemd tier),
# `home`/`workdir`/`environ` (a private home, working directory and environment for config tests).
# `postgres`/`postgres_url`/`backend`/`database_url` (a real PostgreSQL server: tests/postgres.py).
pytest_plugins = [
    "tests.workspace",
    "tests.systemd_harness",
    "tests.config_files",
    "tests.postgres",
]

# Set for the whole session. HF_HUB_DISABLE_TELEMETRY also stops the library from fetching
# `{HF_ENDPOINT}/api/agent-harnesses` from huggingface.co to build its user-agent.
_HF_ENV = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "HF_HUB_DISABLE_XET": "1",
}
# Unset for the whole session: anything that could point at a real token, cache or endpoint.
_HF_UNSET = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_ENDPOINT",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_ASSETS_CACHE",
    "HF_XET_CACHE",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_ENABLE_HF_TRANSFER",
)


def _isolate_hf_environment() -> tuple[Path, dict[str, str | None]]:
    """Point HF_HOME at a fresh temp dir, set the switches above, unset the variables above.

    Returns:
        The temporary HF_HOME, and the previous values of every variable touched.
    """
    home = Path(tempfile.mkdtemp(prefix="hfdl-tests-hf-home-"))
    changes: dict[str, str | None] = {"HF_HOME": str(home), **_HF_ENV}
    changes.update(dict.fromkeys(_HF_UNSET))
    saved = {name: os.environ.get(name) for name in changes}
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return home, saved


# Must run before anything imports huggingface_hub (or an hfdl module that does): import
# those inside fixtures and tests, never at the top of this file.
_HF_HOME, _SAVED_ENV = _isolate_hf_environment()


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Re-run this pytest inside a private mount namespace, for the systemd tier.

    Runs before pytest configures anything. It lives here, not in the harness, because only
    this module knows the environment pytest was started with (the isolation above changed
    it) and the temporary HF_HOME to delete before the process is replaced.
    """
    from tests.systemd_harness import reexec_in_private_namespace

    original = dict(os.environ)
    for name, value in _SAVED_ENV.items():
        if value is None:
            original.pop(name, None)
        else:
            original[name] = value
    reexec_in_private_namespace(
        config, original, before_exec=lambda: shutil.rmtree(_HF_HOME, ignore_errors=True)
    )


@pytest.fixture(scope="session", autouse=True)
def hf_home() -> Iterator[Path]:
    """Keep every test away from the real Hugging Face home, cache and token.

    Yields:
        The temporary ``HF_HOME`` of the session (deleted, and the environment restored, at
        the end).

    Raises:
        RuntimeError: ``huggingface_hub`` was imported before this conftest (by a plugin, or
            an earlier conftest) and so still uses the real home.
    """
    from huggingface_hub import constants

    if Path(constants.HF_HOME) != _HF_HOME or not constants.HF_HUB_DISABLE_TELEMETRY:
        raise RuntimeError(
            "huggingface_hub was imported before tests/conftest.py isolated the environment; "
            f"it uses HF_HOME={constants.HF_HOME}. Do not import it from plugins or root conftests."
        )
    yield _HF_HOME
    for name, value in _SAVED_ENV.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """A fake Hub (:class:`tests.hubserver.HubServer`) started once for the session.

    Prefer the ``hub`` fixture in tests: it hands over the same server in a clean state.
    """
    server = HubServer(tmp_path_factory.mktemp("hubserver"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hub_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """A second fake Hub, serving both origins over HTTPS with a CA made for the session.

    Clients trust it through ``SSL_CERT_FILE`` (``hub.tls.environment()``), as a user trusts
    a private mirror; the ``workspace`` fixture passes that to hfdl. Prefer ``hub`` with
    ``https`` (see ``tests.workspace.OVER_HTTP_AND_HTTPS``).
    """
    from tests.hubserver.tls import TestCA

    server = HubServer(
        tmp_path_factory.mktemp("hubserver-tls"),
        tls=TestCA.create(tmp_path_factory.mktemp("hubserver-ca")),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hub(request: pytest.FixtureRequest) -> Iterator[HubServer]:
    """The session's fake Hub with no faults and an empty request log.

    Plain HTTP by default; a test parametrized indirectly with ``"https"`` gets the HTTPS
    server instead (``hub.tls`` is then set). Server settings a test changes (page size, CDN
    URL lifetime, redirects) are restored afterwards. Repos persist for the session: create
    them with ``hub.unique_repo_id()``.
    """
    scheme = getattr(request, "param", "http")
    if scheme not in ("http", "https"):
        raise ValueError(f"hub is parametrized with 'http' or 'https', not {scheme!r}")
    hub_server: HubServer = request.getfixturevalue(
        "hub_server" if scheme == "http" else "hub_tls_server"
    )
    hub_server.reset_faults()
    hub_server.clear_requests()
    settings = (hub_server.tree_page_size, hub_server.cdn_url_ttl, hub_server.resolve_redirects)
    yield hub_server
    hub_server.tree_page_size, hub_server.cdn_url_ttl, hub_server.resolve_redirects = settings
    hub_server.reset_faults()
