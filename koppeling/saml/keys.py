"""Self-signed key pairs for development and tests, generated on first use outside the repo tree.

Production must configure its own key files (settings refuse to start otherwise); these helpers
only ever run when a key file setting is empty, which only the development and test profiles allow.
"""

import datetime
import fcntl
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def keypair_ensure(*, directory: Path, name: str, common_name: str) -> tuple[Path, Path]:
    """Return (key_path, cert_path) for ``name`` in ``directory``, generating the pair once.

    A file lock makes concurrent first runs (several test workers, gunicorn workers) agree on one
    pair instead of overwriting each other's key with a mismatching certificate.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path = directory / f"{name}-key.pem"
    cert_path = directory / f"{name}-cert.pem"
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    with open(directory / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (key_path.exists() and cert_path.exists()):
                key_pem, cert_pem = keypair_generate(common_name=common_name)
                _write_private(cert_path, cert_pem, mode=0o644)
                _write_private(key_path, key_pem, mode=0o600)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return key_path, cert_path


_VALID_FROM = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


def keypair_generate(*, common_name: str, days: int = 3650) -> tuple[bytes, bytes]:
    """Generate an RSA-2048 key and a self-signed certificate (PEM) for SAML signing/encryption."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A fixed start in the past: a pair generated while a test travels in time (time-machine)
        # must still be valid at the real date, where mutual TLS checks the dates.
        .not_valid_before(min(now - datetime.timedelta(days=1), _VALID_FROM))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, content: bytes, *, mode: int) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(tmp, path)
