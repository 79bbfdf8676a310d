"""Helpers for the tests of our signed SAML documents: key pairs on disk, xmlsec1 verification."""

import hashlib
import shutil
import subprocess
from base64 import b64decode
from pathlib import Path

import pytest

from koppeling.saml.keys import keypair_generate

NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "esc": "urn:etoegang:1.13:service-catalog",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
}
XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"


def keypair_files(directory: Path, name: str, *, days: int = 3650) -> tuple[str, str]:
    """Write a fresh RSA-2048 key and self-signed certificate (valid ``days``); return (key, cert) paths."""
    key_pem, cert_pem = keypair_generate(common_name=f"test {name}", days=days)
    key_file, cert_file = directory / f"{name}-key.pem", directory / f"{name}-cert.pem"
    key_file.write_bytes(key_pem)
    cert_file.write_bytes(cert_pem)
    return str(key_file), str(cert_file)


def certificate_body(cert_file: str) -> str:
    """The base64 body of a PEM certificate, as ds:X509Certificate carries it."""
    lines = Path(cert_file).read_text().splitlines()
    return "".join(line for line in lines if "CERTIFICATE" not in line)


def fingerprint(certificate_base64: str) -> str:
    return hashlib.sha256(b64decode("".join(certificate_base64.split()))).hexdigest()


def xmlsec1_verifies(document: bytes, *, cert_file: str, id_node: str, tmp_path: Path) -> bool:
    """True when the xmlsec1 program verifies the document's signature with the key of ``cert_file``
    only (``--enabled-key-data key-name``: never a certificate from the document's KeyInfo)."""
    path = tmp_path / f"signed-{hashlib.sha256(document).hexdigest()[:12]}.xml"
    path.write_bytes(document)
    result = subprocess.run(
        [
            XMLSEC1,
            "--verify",
            "--enabled-key-data",
            "key-name",
            "--pubkey-cert-pem",
            cert_file,
            "--id-attr:ID",
            id_node,
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode == 0


@pytest.fixture(scope="session")
def own_key_dir(tmp_path_factory) -> Path:
    """A key directory of this test session only: generated pairs other test runs on the machine may
    replace in the shared default directory cannot change under these tests."""
    return tmp_path_factory.mktemp("saml-keys")


@pytest.fixture
def private_keys(settings, own_key_dir):
    settings.EHERKENNING_KEY_DIR = own_key_dir
    return own_key_dir
