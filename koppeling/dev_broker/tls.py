"""A mutual-TLS server on loopback for tests: the dev broker's ArtifactResolutionService as a real
broker serves it (eherkenning.md §2), or any other WSGI app playing a misbehaving broker.

- :func:`tls_files_ensure` makes a small CA and a server certificate for 127.0.0.1/localhost
  (generated once per key directory); the portal trusts that CA through EHERKENNING_TLS_CA_FILE.
- :func:`tls_server` serves a WSGI app over TLS on a free loopback port in a thread and, with
  ``client_ca_file``, requires a client certificate that chains to (or is) a certificate in that
  file. The tests pin the SP's TLS client certificate there (self-signed in tests), as a broker
  trusts a DV's PKIoverheid certificate.

Only for tests and benchmarks: the server is single-purpose and not hardened.
"""

import contextlib
import datetime
import fcntl
import ipaddress
import os
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Fixed validity, far around any date a test travels to with time-machine: a certificate generated
# inside a time-travelled test must not be "not yet valid" for the next one.
_NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(2099, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA certificate clients trust, and the server's certificate and key."""

    ca_file: str
    cert_file: str
    key_file: str


def tls_files_ensure(*, directory: Path, name: str = "dev-broker-tls") -> TlsFiles:
    """Return the CA and server files for ``name`` in ``directory``, generating them once.

    Another ``name`` gives another CA: a server the portal does not trust.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = TlsFiles(
        ca_file=str(directory / f"{name}-ca.pem"),
        cert_file=str(directory / f"{name}-cert.pem"),
        key_file=str(directory / f"{name}-key.pem"),
    )
    if all(Path(path).exists() for path in (files.ca_file, files.cert_file, files.key_file)):
        return files
    with open(directory / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not all(Path(path).exists() for path in (files.ca_file, files.cert_file, files.key_file)):
                ca_pem, cert_pem, key_pem = _generate(common_name=f"mijnduo test {name}")
                _write(Path(files.key_file), key_pem, mode=0o600)
                _write(Path(files.cert_file), cert_pem, mode=0o644)
                _write(Path(files.ca_file), ca_pem, mode=0o644)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return files


def _generate(*, common_name: str) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key) in PEM; the CA's key is thrown away."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} CA"[:64])])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return (
        ca.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def _write(path: Path, content: bytes, *, mode: int) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# The server


class _Handler(WSGIRequestHandler):
    def get_environ(self):
        environ = super().get_environ()
        environ["HTTPS"] = "on"  # wsgi.url_scheme https, as behind a TLS-terminating proxy
        return environ

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        pass


class _TlsWsgiServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server with a TLS handshake per connection, in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, context: ssl.SSLContext):
        self.ssl_context = context
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        connection = self.ssl_context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            connection.settimeout(10)
            try:
                connection.do_handshake()
            except (ssl.SSLError, OSError):
                # The alert is on its way to the client. Read what it still sends (its request,
                # in TLS 1.3 written before our verdict on its certificate arrived) until it
                # closes, so that closing here sends no TCP reset that could overtake the alert.
                _drain(connection)
                return
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            connection.close()

    def handle_error(self, request, client_address):
        pass  # a refused handshake or a client that went away is what several tests do on purpose


def _drain(connection: ssl.SSLSocket) -> None:
    with contextlib.suppress(OSError):
        connection.settimeout(5)
        while socket.socket.recv(connection, 65536):  # the raw bytes, below TLS
            pass


@contextlib.contextmanager
def tls_server(app: Callable, *, server: TlsFiles, client_ca_file: str | None = None) -> Iterator[str]:
    """Serve the WSGI ``app`` over TLS on 127.0.0.1 and yield its base URL (``https://127.0.0.1:N``).

    With ``client_ca_file``, a client without a certificate that verifies against it is refused
    in the handshake.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(server.cert_file, server.key_file)
    if client_ca_file:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=client_ca_file)
    httpd = _TlsWsgiServer(("127.0.0.1", 0), context)
    httpd.set_app(app)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
