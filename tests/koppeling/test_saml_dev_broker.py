"""The built-in dev broker: seed 002 step 1a login page, persona choice, signed requests only."""

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from accounts.demo import PERSONAS
from koppeling.dev_broker.testing import authn_request_query, saml_start

pytestmark = pytest.mark.django_db


def test_broker_login_page_follows_seed_step_1a(client):
    saml_start(client)
    page = client.get("/dev/broker/inloggen/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Kies hoe u wilt inloggen" in html
    assert "minimaal niveau betrouwbaarheidsniveau 3" in html
    for label in ("EH2", "EH2+", "EH3", "EH4"):
        assert f">{label}</label>" in html
    for persona in PERSONAS:
        assert persona.label in html
    assert "Verder" in html and "Annuleren" in html


def test_broker_form_fields_have_labels_and_radio_groups_have_legends(client):
    saml_start(client)
    html = client.get("/dev/broker/inloggen/").content.decode()
    # level, persona, and how the artifact goes back (GET or POST)
    assert html.count("<fieldset") == 3 and html.count("<legend>") == 3
    for field_id in re.findall(r'<input[^>]+type="(?:text|radio|checkbox)"[^>]*id="([^"]+)"', html):
        assert f'for="{field_id}"' in html, field_id


def test_broker_post_page_has_no_inline_script_and_a_visible_button(client):
    saml_start(client)
    page = client.post(
        "/dev/broker/inloggen/",
        {"level": "urn:etoegang:core:assurance-class:loa3", "persona": "anna", "artifact_method": "post"},
    )
    html = page.content.decode()
    assert re.search(r"<script>", html) is None
    assert '<script src="/static/js/auto-submit.js">' in html
    assert 'name="SAMLart"' in html
    assert "Verder</button>" in html
    assert "'unsafe-inline'" not in page.get("Content-Security-Policy", "")


def test_broker_requires_pseudonym_and_valid_kvk_for_own_identity(client):
    saml_start(client)
    page = client.post(
        "/dev/broker/inloggen/",
        {"level": "urn:etoegang:core:assurance-class:loa3", "persona": "own", "legal_subject_id": "12"},
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "Vul een pseudoniem in." in html
    assert "Vul een KvK-nummer van 8 cijfers of een RSIN van 9 cijfers in." in html
    assert "saml_response" not in page.context


def test_broker_without_pending_request_shows_dutch_error(client):
    page = client.get("/dev/broker/inloggen/")
    assert page.status_code == 400
    assert "geen inlogverzoek" in page.content.decode()


def test_broker_refuses_unsigned_authn_request(client):
    query = authn_request_query(client)
    del query["Signature"]
    assert client.get("/dev/broker/sso/?" + urlencode(query)).status_code == 400


def test_broker_refuses_sha1_signed_authn_request(client):
    query = authn_request_query(client)
    query["SigAlg"] = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    assert client.get("/dev/broker/sso/?" + urlencode(query)).status_code == 400


def test_broker_serves_idp_metadata_with_signing_certificate(client):
    response = client.get("/dev/broker/metadata/")
    xml = response.content.decode()
    assert response.status_code == 200
    assert "IDPSSODescriptor" in xml and 'use="signing"' in xml
    assert 'WantAuthnRequestsSigned="true"' in xml


def test_persona_login_through_the_pages_reaches_acs(client):
    response = client.get("/saml2/login/")
    split = urlsplit(response["Location"])
    assert parse_qs(split.query)["SAMLRequest"]
    client.get(f"{split.path}?{split.query}")
    page = client.post(
        "/dev/broker/inloggen/", {"level": "urn:etoegang:core:assurance-class:loa3", "persona": "stranger"}
    )
    assert page.status_code == 302  # the artifact binding: back to our ACS with SAMLart
    back = urlsplit(page["Location"])
    assert back.path == "/saml2/acs/" and parse_qs(back.query)["SAMLart"]
    acs = client.get(f"{back.path}?{back.query}")
    assert acs.status_code == 302
    assert acs["Location"] == "/koppelen/"
