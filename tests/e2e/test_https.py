"""HTTPS (issue 11): the test Hub over real TLS, with a certificate authority made by the tests.

hfdl trusts that CA the way a user trusts a private mirror's: ``SSL_CERT_FILE`` in its
environment (the ``workspace`` fixture sets it for an HTTPS ``hub``). The core download
scenarios run over both schemes (``OVER_HTTP_AND_HTTPS`` in test_run_download, test_run_faults
and test_verify); this module checks the TLS setup itself, a large body over TLS, and what a
run says when it does not trust the server.
"""

from __future__ import annotations

import http.client
import ssl
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.hubserver import HubServer
from tests.hubserver.tls import TestCA
from tests.workspace import Workspace, sha256_of

WEIGHTS = "model.safetensors"
OVER_HTTPS = pytest.mark.parametrize("hub", ["https"], indirect=True)


def get(url: str, context: ssl.SSLContext) -> http.client.HTTPResponse:
    """One GET with the standard library's client (no redirect following), body read."""
    parsed = urlparse(url)
    connection = http.client.HTTPSConnection(
        parsed.hostname or "", parsed.port, context=context, timeout=30
    )
    target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    connection.request("GET", target)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@OVER_HTTPS
def test_both_origins_speak_tls_with_a_certificate_of_the_test_ca(hub: HubServer) -> None:
    assert hub.tls is not None
    assert urlparse(hub.url).scheme == urlparse(hub.cdn_url).scheme == "https"
    repo_id = hub.unique_repo_id("org/tls")
    hub.create_repo(repo_id, {WEIGHTS: 100_000})
    trusting = hub.tls.client_context()

    # The LFS redirect leads to the CDN origin, over HTTPS too; the certificate names the
    # IP address the client connects to, so hostname checking stays on.
    redirect = get(hub.resolve_url(repo_id, WEIGHTS), trusting)
    assert redirect.status == 302
    location = redirect.getheader("Location") or ""
    assert location.startswith(f"{hub.cdn_url}/")
    assert get(location, trusting).status == 200

    # The system's trust store does not know the CA: nothing is trusted by accident.
    with pytest.raises(ssl.SSLCertVerificationError):
        get(hub.resolve_url(repo_id, WEIGHTS), ssl.create_default_context())
    # The server's key is private, and the CA's key is gone once the certificate is signed.
    assert hub.tls.key_file.stat().st_mode & 0o777 == 0o600
    assert [path.name for path in hub.tls.directory.glob("*.key")] == [hub.tls.key_file.name]


@OVER_HTTPS
def test_large_file_over_https_is_complete_and_verified(
    workspace: Workspace, hub: HubServer
) -> None:
    # Above hfdl.hub.body.DIRECT_READ_MIN_BYTES (16 MiB): the body is read from the TLS
    # socket directly, past the HTTP parser, so decryption must hand over every byte.
    size = 20 * 1024 * 1024 + 12345
    repo_id = hub.unique_repo_id("org/tls-large")
    commit = hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: size})
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    assert result.returncode == 0, result.stderr
    snapshot = workspace.snapshot_file(repo_id, commit, WEIGHTS)
    assert sha256_of(snapshot) == hub.file_entry(repo_id, WEIGHTS, commit).etag
    # Each byte crossed the wire once (in one body, or in several ranges).
    assert sum(record.bytes_sent for record in hub.find_requests(origin="cdn")) == size


@OVER_HTTPS
def test_untrusted_certificate_is_a_clear_error_naming_the_endpoint(
    workspace: Workspace, hub: HubServer, tmp_path: Path
) -> None:
    repo_id = hub.unique_repo_id("org/tls-untrusted")
    hub.create_repo(repo_id, {"config.json": "{}", WEIGHTS: 2000})
    # Trusting another CA than the server's: what a user sees with a missing or wrong
    # SSL_CERT_FILE. Default retries: a refused certificate is not retried at all.
    workspace.ca_file = TestCA.create(tmp_path / "other-ca").ca_file
    workspace.write_catalog([{"name": repo_id}])

    result = workspace.hfdl("run")

    # No retry fixes a certificate: the model fails for good (run exit 1, so systemd does
    # not restart the unit every 10 minutes), with the endpoint and what to set.
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    failure = next(line for line in result.stderr.splitlines() if f"failed {repo_id}" in line)
    assert hub.url in failure
    assert "TLS certificate is not trusted" in failure
    assert "SSL_CERT_FILE" in result.stderr
    assert "retry" not in result.stderr.lower()
    # The handshake failed before any HTTP request was sent.
    assert hub.find_requests() == []
    assert workspace.model_row(repo_id)["status"] != "completed"
