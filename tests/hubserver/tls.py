"""HTTPS for the fake Hub: a throw-away certificate authority and a server certificate.

The real Hub is HTTPS only, so the test server can be too (``HubServer(..., tls=TestCA.create(
directory))``): both origins (Hub and CDN) then listen with TLS, and a client trusts them the
way a user trusts a private mirror, by pointing ``SSL_CERT_FILE`` at :attr:`TestCA.ca_file`.

Certificates are made with the ``openssl`` command-line tool (on every Debian system), not a
Python package, so that neither hfdl nor its test dependencies grow for this. The CA signs one
server certificate valid for ``127.0.0.1``, ``::1`` and ``localhost`` (subject alternative
names: clients check those, never the common name). Both private keys are ``0600`` in their
own private directory; nothing here prints or logs a key.

Pure standard library apart from the ``openssl`` executable.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Short-lived on purpose: these certificates exist for one test session or benchmark.
VALID_DAYS = 2
# Every name the test server is reached by.
SERVER_NAMES = ("IP:127.0.0.1", "IP:::1", "DNS:localhost")
# Per write of a file body over TLS: large enough that the server is never the bottleneck
# of a loopback benchmark (the standard library's fallback sends 8 KiB at a time).
SENDFILE_CHUNK_BYTES = 1024 * 1024

_SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = {names}
"""


class TLSSetupError(RuntimeError):
    """``openssl`` is missing or failed to make the test certificates."""


@dataclass(frozen=True)
class TestCA:
    """A certificate authority made for one test session, with the server's certificate.

    Attributes:
        directory: private directory (0700) holding every file below.
        ca_file: the CA certificate (PEM): what clients are told to trust.
        cert_file: the server certificate (PEM), signed by the CA.
        key_file: the server's private key (PEM, mode 0600).
    """

    __test__ = False  # a "Test..." class that pytest must not collect

    directory: Path
    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, directory: Path | None = None) -> TestCA:
        """Make a new CA and a server certificate in ``directory`` (default: a new temp dir).

        Raises:
            TLSSetupError: no ``openssl`` executable, or it failed (its stderr is included;
                it never contains key material).
        """
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="hubserver-tls-"))
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        ca_key, ca_file = directory / "ca.key", directory / "ca.pem"
        key_file, cert_file = directory / "server.key", directory / "server.pem"
        csr, extensions = directory / "server.csr", directory / "server.ext"
        for key in (ca_key, key_file):
            _private_file(key)
        extensions.write_text(_SERVER_EXTENSIONS.format(names=", ".join(SERVER_NAMES)))
        # P-256 keys: generated instantly, unlike RSA, and accepted by every client.
        new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"]
        _openssl(
            "req", "-x509", *new_key, "-keyout", ca_key, "-out", ca_file,
            "-days", str(VALID_DAYS), "-subj", "/CN=hfdl test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        _openssl(
            "req", "-new", *new_key, "-keyout", key_file, "-out", csr, "-subj", "/CN=localhost",
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", csr, "-CA", ca_file, "-CAkey", ca_key, "-CAcreateserial",
            "-out", cert_file, "-days", str(VALID_DAYS), "-extfile", extensions,
        )  # fmt: skip
        # The CA's key is no longer needed: nothing else can be signed with it.
        ca_key.unlink()
        csr.unlink()
        return cls(directory=directory, ca_file=ca_file, cert_file=cert_file, key_file=key_file)

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context with this certificate (TLS 1.2+, HTTP/1.1 via ALPN)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        context.set_alpn_protocols(["http/1.1"])
        # Accepted connections are of this class: its sendfile sends large pieces.
        context.sslsocket_class = _ServerSSLSocket
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA (for checks from the test process)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def wrap_listener(self, sock: socket.socket) -> ssl.SSLSocket:
        """Wrap a bound, listening socket so that every accepted connection speaks TLS.

        The handshake is deferred to the connection's first read, which happens in its
        handler thread: a client that connects and never says hello cannot block the
        accepting thread, and a failed handshake only ends that one connection.
        """
        return self.server_context().wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        )

    def remove(self) -> None:
        """Delete the directory and everything in it."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def environment(self) -> dict[str, str]:
        """The variable that makes an hfdl (httpx) process trust this CA: ``SSL_CERT_FILE``.

        ``httpx`` builds its default context from ``SSL_CERT_FILE`` (then ``SSL_CERT_DIR``)
        when set, instead of the system's store; ``REQUESTS_CA_BUNDLE`` and
        ``CURL_CA_BUNDLE`` are not read by ``huggingface_hub`` 2.x (see docs/https.md).
        """
        return {"SSL_CERT_FILE": str(self.ca_file)}


class _ServerSSLSocket(ssl.SSLSocket):
    """A server connection: quiet about refused handshakes, fast at sending files.

    The handler (``tests/hubserver/handler.py``) uses it exactly like a plain socket.
    """

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        """Read, and end quietly (EOF) when the client refuses the handshake.

        The deferred handshake runs on the first read. A client that does not trust the CA
        aborts it, which is the expected outcome of such a test, not a server error: read
        as an empty request (the handler closes the connection) instead of a traceback.
        """
        try:
            return super().recv_into(buffer, nbytes, flags)
        except ssl.SSLError:
            if self.version() is not None:  # the handshake had succeeded: a real error
                raise
            return 0

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """Send ``count`` bytes of ``file`` from ``offset``, 1 MiB per TLS write.

        ``ssl.SSLSocket.sendfile`` cannot use the kernel's ``sendfile`` (the data must be
        encrypted) and falls back to a loop of 8 KiB reads and sends, slow enough to make the
        server the bottleneck of a loopback benchmark. Like ``socket.sendfile``, this leaves
        the file's position after the bytes sent, also when sending fails (the handler
        counts sent bytes from it).
        """
        fd = file.fileno()
        total = 0
        try:
            while count is None or total < count:
                want = (
                    SENDFILE_CHUNK_BYTES
                    if count is None
                    else min(SENDFILE_CHUNK_BYTES, count - total)
                )
                data = os.pread(fd, want, offset + total)
                if not data:
                    break
                self.sendall(data)
                total += len(data)
        finally:
            file.seek(offset + total)
        return total


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600, so the key written into it is never readable.

    ``openssl`` truncates and writes an existing file without changing its mode.
    """
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))


def _openssl(*arguments: str | Path) -> None:
    executable = shutil.which("openssl")
    if executable is None:
        raise TLSSetupError("the openssl command is needed to make test certificates")
    result = subprocess.run(
        [executable, *map(str, arguments)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise TLSSetupError(f"openssl {arguments[0]} failed: {result.stderr.strip()}")
