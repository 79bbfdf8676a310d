"""Our keys and the broker's over time (eherkenning.md §5, issue 14 item 7): the next pair, signing by
date, and warnings 30 days before any certificate expires."""

import base64
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import time_machine
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.core import checks
from django.core.management import call_command
from django.utils import timezone
from lxml import etree

from koppeling.saml.config import (
    sp_config_load,
    sp_key_files,
    sp_keypairs,
    sp_next_key_files,
    sp_signing_keypair,
    sp_tls_client_pair,
)
from koppeling.saml.health import eherkenning_warnings
from tests.koppeling.saml_documents import (  # noqa: F401  (fixtures)
    NS,
    certificate_body,
    keypair_files,
    own_key_dir,
    private_keys,
    xmlsec1_verifies,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_keys")]

ENTITY_DESCRIPTOR = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"
SERVICE_CATALOGUE = "urn:etoegang:1.13:service-catalog:ServiceCatalogue"

IDP_METADATA = """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://broker.example.nl/idp">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
      <ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
      Location="https://broker.example.nl/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


@pytest.fixture
def next_pair(settings, tmp_path):
    """A next pair, switched to 30 days from now."""
    key_file, cert_file = keypair_files(tmp_path, "next")
    settings.EHERKENNING_SP_NEXT_KEY_FILE = key_file
    settings.EHERKENNING_SP_NEXT_CERT_FILE = cert_file
    settings.EHERKENNING_SP_NEXT_FROM = timezone.localdate() + timedelta(days=30)
    return key_file, cert_file


def key_descriptor_certificates(document: bytes) -> list[str]:
    root = etree.fromstring(document)
    return [
        element.text for element in root.iter(f"{{{NS['ds']}}}X509Certificate") if _in_key_descriptor(element)
    ]


def _in_key_descriptor(element) -> bool:
    return any(parent.tag == f"{{{NS['md']}}}KeyDescriptor" for parent in element.iterancestors())


# --- the next pair -------------------------------------------------------------------------------


def test_without_a_next_pair_the_current_one_does_everything():
    assert sp_next_key_files() is None
    assert sp_keypairs() == [sp_key_files()]
    assert sp_signing_keypair() == sp_key_files()


def test_every_configured_pair_decrypts_current_first(next_pair):
    assert sp_keypairs() == [sp_key_files(), next_pair]
    config = sp_config_load()
    assert [(pair["key_file"], pair["cert_file"]) for pair in config.encryption_keypairs] == [
        sp_key_files(),
        next_pair,
    ]


def test_signing_switches_to_the_next_pair_on_its_date(next_pair, settings):
    switch = settings.EHERKENNING_SP_NEXT_FROM
    day_before = timezone.make_aware(
        timezone.datetime.combine(switch - timedelta(days=1), timezone.datetime.min.time())
    )
    that_day = day_before + timedelta(days=1)
    assert sp_signing_keypair(day_before) == sp_key_files()
    assert sp_signing_keypair(that_day) == next_pair
    assert sp_signing_keypair(that_day + timedelta(days=400)) == next_pair


def test_the_tls_client_pair_defaults_to_the_signing_pair_and_can_be_set(next_pair, settings, tmp_path):
    key_file, cert_file = sp_key_files()
    assert sp_tls_client_pair() == (cert_file, key_file)
    with time_machine.travel(settings.EHERKENNING_SP_NEXT_FROM + timedelta(days=1)):
        assert sp_tls_client_pair() == (next_pair[1], next_pair[0])
    tls_key, tls_cert = keypair_files(tmp_path, "tls")
    settings.EHERKENNING_TLS_CLIENT_KEY_FILE = tls_key
    settings.EHERKENNING_TLS_CLIENT_CERT_FILE = tls_cert
    assert sp_tls_client_pair() == (tls_cert, tls_key)


def test_outside_production_a_next_date_alone_asks_for_a_generated_next_pair(settings):
    settings.EHERKENNING_SP_NEXT_FROM = date(2030, 1, 1)
    pair = sp_next_key_files()
    assert pair is not None and pair != sp_key_files()
    assert Path(pair[1]).read_bytes() != Path(sp_key_files()[1]).read_bytes()
    assert sp_keypairs() == [sp_key_files(), pair]


def test_metadata_shows_only_the_next_certificate_signed_by_the_current_key_until_the_switch(
    client, next_pair, settings, tmp_path
):
    document = client.get("/saml2/metadata/").content
    assert key_descriptor_certificates(document) == [certificate_body(next_pair[1])] * 2
    assert xmlsec1_verifies(
        document, cert_file=sp_key_files()[1], id_node=ENTITY_DESCRIPTOR, tmp_path=tmp_path
    )
    assert not xmlsec1_verifies(
        document, cert_file=next_pair[1], id_node=ENTITY_DESCRIPTOR, tmp_path=tmp_path
    )

    with time_machine.travel(settings.EHERKENNING_SP_NEXT_FROM + timedelta(hours=12)):
        after = client.get("/saml2/metadata/").content
    assert key_descriptor_certificates(after) == [certificate_body(next_pair[1])] * 2
    assert xmlsec1_verifies(after, cert_file=next_pair[1], id_node=ENTITY_DESCRIPTOR, tmp_path=tmp_path)
    assert not xmlsec1_verifies(
        after, cert_file=sp_key_files()[1], id_node=ENTITY_DESCRIPTOR, tmp_path=tmp_path
    )


def test_catalogue_shows_the_next_certificate(next_pair, settings, tmp_path):
    settings.EHERKENNING_SERVICE_UUID = "0a1f6f4e-6c9e-4a43-9d55-8d3c1c6b7f01"
    settings.EHERKENNING_SERVICE_INSTANCE_UUID = "7d0c2c55-3b1e-4b43-8d8e-2f5f1f0e6a02"
    output = tmp_path / "catalogus.xml"
    call_command("eherkenning_catalogue", "-o", str(output))
    document = output.read_bytes()
    assert key_descriptor_certificates(document) == [certificate_body(next_pair[1])]
    assert xmlsec1_verifies(
        document, cert_file=sp_key_files()[1], id_node=SERVICE_CATALOGUE, tmp_path=tmp_path
    )


def _redirect_signature_verifies(location: str, cert_file: str) -> bool:
    raw = urlsplit(location).query
    parts = dict(part.split("=", 1) for part in raw.split("&"))
    signed = "&".join(f"{name}={parts[name]}" for name in ("SAMLRequest", "RelayState", "SigAlg")).encode()
    public_key = x509.load_pem_x509_certificate(Path(cert_file).read_bytes()).public_key()
    try:
        public_key.verify(
            base64.b64decode(unquote(parts["Signature"])), signed, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def test_authn_requests_are_signed_with_the_pair_active_by_date_and_the_broker_accepts_both(
    client, next_pair, settings
):
    before = client.get("/saml2/login/")["Location"]
    assert _redirect_signature_verifies(before, sp_key_files()[1])
    assert not _redirect_signature_verifies(before, next_pair[1])
    assert client.get(urlsplit(before).path + "?" + urlsplit(before).query).status_code == 302

    with time_machine.travel(settings.EHERKENNING_SP_NEXT_FROM + timedelta(hours=12)):
        after = client.get("/saml2/login/")["Location"]
        assert parse_qs(urlsplit(after).query)["SigAlg"] == [
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        ]
        assert _redirect_signature_verifies(after, next_pair[1])
        assert not _redirect_signature_verifies(after, sp_key_files()[1])
        # The dev broker knows us by the signing certificate in pysaml2's view of our configuration.
        assert client.get(urlsplit(after).path + "?" + urlsplit(after).query).status_code == 302


# --- expiry warnings -----------------------------------------------------------------------------


def _codes(warnings) -> list[tuple[str, str]]:
    return sorted((warning["code"], warning.get("certificate", "")) for warning in warnings)


def _check_ids() -> list[str]:
    return sorted(message.id for message in checks.run_checks(tags=["eherkenning"]))


def test_long_valid_certificates_give_no_warning(client):
    assert eherkenning_warnings() == []
    assert _check_ids() == []
    assert client.get("/healthz").json()["warnings"] == []


def test_our_certificate_expiring_in_10_days_warns_in_check_and_healthz(client, settings, tmp_path):
    key_file, cert_file = keypair_files(tmp_path, "current-short", days=10)
    settings.EHERKENNING_SP_KEY_FILE = key_file
    settings.EHERKENNING_SP_CERT_FILE = cert_file
    assert _check_ids() == ["koppeling.W001"]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    [warning] = response.json()["warnings"]
    assert warning["code"] == "certificate_expires_soon"
    assert warning["certificate"] == "sp_current"
    assert "expires in 9 days" in warning["message"] or "expires in 10 days" in warning["message"]


def test_a_certificate_31_days_from_expiry_does_not_warn_yet(settings, tmp_path):
    key_file, cert_file = keypair_files(tmp_path, "current-31", days=31)
    settings.EHERKENNING_SP_KEY_FILE = key_file
    settings.EHERKENNING_SP_CERT_FILE = cert_file
    assert eherkenning_warnings() == []
    assert _codes(eherkenning_warnings(now=timezone.now() + timedelta(days=2))) == [
        ("certificate_expires_soon", "sp_current")
    ]


def test_next_and_tls_client_certificates_expiring_in_10_days_warn(settings, tmp_path):
    next_key, next_cert = keypair_files(tmp_path, "next-short", days=10)
    tls_key, tls_cert = keypair_files(tmp_path, "tls-short", days=10)
    settings.EHERKENNING_SP_NEXT_KEY_FILE = next_key
    settings.EHERKENNING_SP_NEXT_CERT_FILE = next_cert
    settings.EHERKENNING_SP_NEXT_FROM = timezone.localdate() + timedelta(days=5)
    settings.EHERKENNING_TLS_CLIENT_KEY_FILE = tls_key
    settings.EHERKENNING_TLS_CLIENT_CERT_FILE = tls_cert
    assert _codes(eherkenning_warnings()) == [
        ("certificate_expires_soon", "sp_next"),
        ("certificate_expires_soon", "tls_client"),
    ]
    assert _check_ids() == ["koppeling.W001", "koppeling.W001"]


def test_the_brokers_signing_certificate_expiring_in_10_days_warns(client, settings, tmp_path):
    _key, broker_cert = keypair_files(tmp_path, "broker-short", days=10)
    metadata = tmp_path / "idp.xml"
    metadata.write_text(IDP_METADATA.format(cert=certificate_body(broker_cert)))
    settings.EHERKENNING_IDP_METADATA = str(metadata)
    warnings = eherkenning_warnings()
    assert _codes(warnings) == [("certificate_expires_soon", "broker_signing")]
    assert warnings[0]["subject"] == "https://broker.example.nl/idp"
    assert client.get("/healthz").json()["warnings"][0]["certificate"] == "broker_signing"


def test_an_expired_certificate_is_its_own_warning(settings, tmp_path):
    key_file, cert_file = keypair_files(tmp_path, "expiring", days=10)
    settings.EHERKENNING_SP_KEY_FILE = key_file
    settings.EHERKENNING_SP_CERT_FILE = cert_file
    later = timezone.now() + timedelta(days=11)
    assert _codes(eherkenning_warnings(now=later)) == [("certificate_expired", "sp_current")]
    with time_machine.travel(later):
        assert _check_ids() == ["koppeling.W002"]


def test_warnings_do_not_change_healthz_503_semantics(client, settings, tmp_path):
    key_file, cert_file = keypair_files(tmp_path, "short", days=10)
    settings.EHERKENNING_SP_KEY_FILE = key_file
    settings.EHERKENNING_SP_CERT_FILE = cert_file
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["warnings"][0]["certificate"] == "sp_current"


def test_a_next_date_without_a_next_pair_in_production_is_a_check_warning(settings):
    settings.IS_PRODUCTION = True
    settings.EHERKENNING_SP_NEXT_FROM = date(2030, 1, 1)
    assert sp_next_key_files() is None
    assert "koppeling.W006" in _check_ids()
