"""The OpenID Connect signing key for development and tests, generated once outside the repo tree.

Production configures its key (settings refuse to start without one); this only runs when the key
setting is empty, which only the development and test profiles allow. It imports nothing of Django,
so the settings module can call it.
"""

import fcntl
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def signing_key_ensure(*, directory: Path, name: str = "oidc-signing") -> str:
    """Return the PEM of the RSA key ``name`` in ``directory``, generating it on first use.

    A file lock makes concurrent first runs (test workers, gunicorn workers) agree on one key: two
    workers signing with different keys would make half of the ID tokens fail at the Dienst.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{name}-key.pem"
    if not path.exists():
        with open(directory / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not path.exists():
                    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                    pem = key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                    tmp = path.with_suffix(f".tmp{os.getpid()}")
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(pem)
                    os.replace(tmp, path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return path.read_text()


def signing_key_read(*, pem: str, path: str) -> str:
    """The PEM given directly or in a file (a file wins when both are set); empty when neither is."""
    if path:
        return Path(path).read_text()
    return pem.replace("\\n", "\n").strip()
