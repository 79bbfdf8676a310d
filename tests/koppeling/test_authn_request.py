"""The AuthnRequest as eHerkenning 1.13 wants it (eherkenning.md §1, issue 14 item 4)."""

import base64
import re
import zlib
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import RequestFactory
from django.utils import timezone
from lxml import etree

from koppeling.dev_broker.testing import LOA3, saml_login, saml_start
from koppeling.models import Koppeling
from koppeling.saml.config import sp_key_files
from koppeling.saml.relay import RELAY_STATE_MAX_BYTES, relay_state_for, relay_state_resolve
from tests.factories import AccountFactory
from tests.koppeling.saml_documents import NS

pytestmark = pytest.mark.django_db

ARTIFACT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def login_redirect(client, next_url: str | None = None):
    response = client.get("/saml2/login/", {"next": next_url} if next_url is not None else {})
    assert response.status_code == 302
    return response["Location"]


def authn_request(location: str) -> etree._Element:
    query = parse_qs(urlsplit(location).query)
    return etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15))


def query_param(location: str, name: str) -> str:
    return parse_qs(urlsplit(location).query)[name][0]


def test_authn_request_asks_force_authn_the_artifact_acs_and_the_service(client, settings):
    settings.EHERKENNING_RESPONSE_BINDINGS = ["artifact", "post"]
    settings.EHERKENNING_SERVICE_ID = "urn:etoegang:DV:00000001234567890000:services:3"
    request = authn_request(login_redirect(client))
    assert request.tag == f"{{{NS['samlp']}}}AuthnRequest"
    assert request.get("ForceAuthn") == "true"
    assert request.get("ProtocolBinding") == ARTIFACT
    assert request.get("AssertionConsumerServiceURL") == f"{settings.SITE_URL}/saml2/acs/"
    assert request.get("AssertionConsumerServiceIndex") is None  # exclusive with URL + ProtocolBinding
    assert request.get("AttributeConsumingServiceIndex") == "3"
    assert request.get("Destination") == f"{settings.SITE_URL}/dev/broker/sso/"
    assert request.findtext("saml:Issuer", namespaces=NS) == settings.EHERKENNING_SP_ENTITY_ID
    assert request.find("samlp:NameIDPolicy", NS) is None
    context = request.find("samlp:RequestedAuthnContext", NS)
    assert context.get("Comparison") == "minimum"
    assert context.findtext("saml:AuthnContextClassRef", namespaces=NS) == LOA3


def test_authn_request_asks_post_when_artifact_is_not_enabled(client, settings):
    settings.EHERKENNING_RESPONSE_BINDINGS = ["post"]
    request = authn_request(login_redirect(client))
    assert request.get("ProtocolBinding") == POST
    assert request.get("ForceAuthn") == "true"


def test_authn_request_is_signed_rsa_sha256_by_our_key_over_the_query_as_sent(client):
    location = login_redirect(client, "/beheer/")
    assert query_param(location, "SigAlg") == RSA_SHA256
    raw = urlsplit(location).query
    parts = dict(part.split("=", 1) for part in raw.split("&"))
    signed = "&".join(f"{name}={parts[name]}" for name in ("SAMLRequest", "RelayState", "SigAlg")).encode()
    signature = base64.b64decode(unquote(parts["Signature"]))
    with open(sp_key_files()[1], "rb") as handle:
        public_key = x509.load_pem_x509_certificate(handle.read()).public_key()
    public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public_key.verify(
            signature, signed.replace(b"beheer", b"evil00"), padding.PKCS1v15(), hashes.SHA256()
        )


def test_authn_request_ids_are_160_random_bits_and_never_repeat(client):
    ids = [authn_request(login_redirect(client)).get("ID") for _ in range(50)]
    assert all(re.fullmatch(r"_[0-9a-f]{40}", request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)


def test_the_dev_broker_receives_the_request_id_it_answers_to(client):
    request_id = saml_start(client)
    assert re.fullmatch(r"_[0-9a-f]{40}", request_id)
    again = saml_start(client)
    assert again != request_id


def test_short_next_travels_as_relay_state(client):
    assert query_param(login_redirect(client, "/beheer/"), "RelayState") == "/beheer/"


def test_long_next_is_kept_server_side_and_relay_state_stays_within_80_bytes(client):
    next_url = "/overzicht/?" + "&".join(f"veld{i}=waarde{i}" for i in range(40))
    next_url = (next_url + "x" * 500)[:500]
    location = login_redirect(client, next_url)
    relay_state = query_param(location, "RelayState")
    assert len(relay_state.encode()) <= RELAY_STATE_MAX_BYTES
    assert next_url not in location


def test_after_login_the_visitor_ends_at_a_500_character_next(client):
    account = AccountFactory()
    Koppeling.objects.create(
        account=account,
        acting_subject_id="pseudo-lang",
        legal_subject_id="41012345",
        level=LOA3,
        last_login_at=timezone.now() - timedelta(days=1),
    )
    next_url = ("/overzicht/?terug=" + "a" * 500)[:500]
    assert len(next_url) == 500
    response = saml_login(client, "pseudo-lang", "41012345", next=next_url)
    assert response.status_code == 302
    assert response["Location"] == next_url


def _request_with_saml_session():
    from django.contrib.sessions.backends.cache import SessionStore

    request = RequestFactory().get("/saml2/acs/")
    request.saml_session = SessionStore()
    return request


def test_relay_state_resolves_a_token_once_to_the_long_next():
    request = _request_with_saml_session()
    next_url = "/onderwerpen/" + "x" * 200 + "/"
    token = relay_state_for(request, next_url)
    assert token != next_url and len(token.encode()) <= RELAY_STATE_MAX_BYTES
    assert relay_state_resolve(request, token) == next_url
    assert relay_state_resolve(request, token) is None  # used once


def test_relay_state_resolve_refuses_unknown_tokens_and_other_sites():
    request = _request_with_saml_session()
    assert relay_state_resolve(request, "r:unknown-token") is None
    assert relay_state_resolve(request, "https://evil.example/") is None
    assert relay_state_resolve(request, "//evil.example/x") is None
    assert relay_state_resolve(request, "") is None
    assert relay_state_resolve(request, "/beheer/") == "/beheer/"


def test_a_long_next_to_another_site_is_not_kept(client):
    evil = "https://evil.example/" + "x" * 200
    relay_state = query_param(login_redirect(client, evil), "RelayState")
    assert relay_state == "/overzicht/"


def test_without_broker_metadata_the_login_page_says_eherkenning_is_unavailable(client, settings):
    settings.EHERKENNING_IDP_METADATA_URL = "http://127.0.0.1:9/metadata.xml"  # nothing stored yet
    settings.EHERKENNING_IDP_METADATA = ""
    response = client.get("/saml2/login/")
    assert response.status_code == 503
    assert "eHerkenning is op dit moment niet beschikbaar" in response.content.decode()
