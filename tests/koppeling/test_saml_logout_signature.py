"""Logout messages in the HTTP-Redirect binding must carry a valid signature of the broker.

djangosaml2 hands these messages to pysaml2 without their query-string signature, so without our
check (checks.redirect_signature_verify) any page could make a browser deliver a forged logout
message. The signature covers the parameters exactly as sent; the key comes only from the broker's
metadata.
"""

import base64
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
import saml2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.utils import timezone

from accounts.constants import AuditAction, AuditResult
from accounts.models import AuditEvent
from koppeling.dev_broker.idp import broker_key_files, broker_server
from koppeling.dev_broker.testing import LOA3, other_signing_key, saml_login
from koppeling.models import Koppeling
from koppeling.saml import checks
from koppeling.saml.checks import SamlRefusedError
from koppeling.saml.config import sp_config_load
from koppeling.saml.views import broker_signing_certificates
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


@pytest.fixture
def linked():
    account = AccountFactory()
    return Koppeling.objects.create(
        account=account,
        acting_subject_id="pseudo-logout",
        legal_subject_id="41012345",
        level=LOA3,
        last_login_at=timezone.now() - timedelta(days=3),
    )


def broker_logout_answer(client) -> str:
    """Log in, log out, let the dev broker answer: the query string it sends back to /saml2/ls/."""
    saml_login(client, "pseudo-logout", "41012345")
    to_broker = urlsplit(client.post("/uitloggen/")["Location"])
    back = urlsplit(client.get(f"{to_broker.path}?{to_broker.query}")["Location"])
    assert back.path == "/saml2/ls/"
    return back.query


def parameters(query: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in query.split("&"))


def sign(octets: str, key_file: str, algorithm=hashes.SHA256) -> str:
    key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    return base64.b64encode(key.sign(octets.encode("ascii"), padding.PKCS1v15(), algorithm())).decode()


def certificates() -> list[str]:
    return broker_signing_certificates(sp_config_load())


def refusal_of(query: str) -> str:
    with pytest.raises(SamlRefusedError) as refused:
        checks.redirect_signature_verify(query_string=query, certificates=certificates())
    return refused.value.reason


def test_the_brokers_signed_answer_is_accepted(client, linked):
    query = broker_logout_answer(client)
    assert "Signature=" in query and "SigAlg=" in query
    checks.redirect_signature_verify(query_string=query, certificates=certificates())
    final = client.get(f"/saml2/ls/?{query}")
    assert final.status_code == 302 and final["Location"] == "/uitgelogd/"


@pytest.mark.parametrize(
    "tamper",
    ["drop_signature", "drop_sigalg", "add_relay_state", "sha1", "repeat_message", "garbled_signature"],
)
def test_a_tampered_answer_is_refused_with_a_dutch_400(client, linked, tamper):
    query = broker_logout_answer(client)
    values = parameters(query)
    if tamper == "drop_signature":
        query = "&".join(f"{k}={v}" for k, v in values.items() if k != "Signature")
    elif tamper == "drop_sigalg":
        query = "&".join(f"{k}={v}" for k, v in values.items() if k != "SigAlg")
    elif tamper == "add_relay_state":
        query = f"SAMLResponse={values['SAMLResponse']}&RelayState=%2Felders&SigAlg={values['SigAlg']}"
        query += f"&Signature={values['Signature']}"
    elif tamper == "sha1":
        query = query.replace(values["SigAlg"], quote_plus(RSA_SHA1))
    elif tamper == "repeat_message":
        query = f"{query}&SAMLResponse={values['SAMLResponse']}"
    else:
        query = query.replace(values["Signature"], quote_plus("bm90IGEgc2lnbmF0dXJl"))
    before = AuditEvent.objects.filter(action=AuditAction.SAML_FAILED).count()
    response = client.get(f"/saml2/ls/?{query}")
    assert response.status_code == 400
    assert "Uitloggen is niet helemaal gelukt" in response.content.decode()
    assert (
        AuditEvent.objects.filter(action=AuditAction.SAML_FAILED, result=AuditResult.REFUSED).count()
        == before + 1
    )


def test_a_message_signed_with_a_key_outside_the_metadata_is_refused(client, linked):
    values = parameters(broker_logout_answer(client))
    key_file, _cert = other_signing_key()
    signed = f"SAMLResponse={values['SAMLResponse']}&SigAlg={quote_plus(RSA_SHA256)}"
    query = f"{signed}&Signature={quote_plus(sign(signed, key_file))}"
    assert refusal_of(query) == "logout_signature_invalid"


def test_the_octets_as_sent_are_verified_not_a_re_encoding(client, linked):
    """Another valid percent-encoding of the same values (lower-case escapes, %20 for a space), signed
    as sent by the broker's key, is accepted; pysaml2's re-encoding check would reject it."""
    values = parameters(broker_logout_answer(client))
    key_file, _cert = broker_key_files()
    message = values["SAMLResponse"].replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d")
    relay = quote("/na afmelden", safe="").lower()
    signed = f"SAMLResponse={message}&RelayState={relay}&SigAlg={quote(RSA_SHA256, safe='').lower()}"
    query = f"{signed}&Signature={quote_plus(sign(signed, key_file))}"
    checks.redirect_signature_verify(query_string=query, certificates=certificates())
    # The same values with the signature over pysaml2's encoding of them do not verify here.
    assert refusal_of(f"{signed}&Signature={values['Signature']}") == "logout_signature_invalid"


def test_sha384_and_sha512_are_accepted_rsa_only():
    key_file, _cert = broker_key_files()
    for uri, algorithm in (
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha384", hashes.SHA384),
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", hashes.SHA512),
    ):
        signed = f"SAMLRequest=abc&SigAlg={quote_plus(uri)}"
        query = f"{signed}&Signature={quote_plus(sign(signed, key_file, algorithm))}"
        checks.redirect_signature_verify(query_string=query, certificates=certificates())
    signed = f"SAMLRequest=abc&SigAlg={quote_plus('http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256')}"
    assert refusal_of(f"{signed}&Signature=AAAA") == "weak_signature_algorithm"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "logout_message_missing"),
        ("SAMLRequest=a&SAMLResponse=b&SigAlg=x&Signature=y", "logout_message_missing"),
        ("SAMLRequest=abc", "logout_unsigned"),
        (f"SAMLRequest=abc&SigAlg={quote_plus(RSA_SHA256)}&Signature=%%%", "logout_signature_invalid"),
        (f"SAMLRequest=abc&SigAlg={quote_plus(RSA_SHA256)}&Signature=é", "logout_signature_invalid"),
    ],
)
def test_malformed_queries_are_refused(query, reason):
    assert refusal_of(query) == reason


# --- the HTTP-POST binding ---------------------------------------------------------------------


def broker_post_answer(client, *, sign: bool) -> str:
    """Log in, log out, and have the dev broker answer our LogoutRequest with a LogoutResponse for the
    POST binding (signed as a whole, or not): its XML."""
    saml_login(client, "pseudo-logout", "41012345")
    to_broker = urlsplit(client.post("/uitloggen/")["Location"])
    query = {name: values[0] for name, values in parse_qs(to_broker.query).items()}
    server = broker_server()
    parsed = server.parse_logout_request(
        query["SAMLRequest"],
        saml2.BINDING_HTTP_REDIRECT,
        relay_state=query.get("RelayState"),
        sigalg=query["SigAlg"],
        signature=query["Signature"],
    )
    response = server.create_logout_response(
        parsed.message,
        [saml2.BINDING_HTTP_POST],
        sign=sign,
        sign_alg=RSA_SHA256,
        digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
    )
    return str(response)


def post_to_ls(client, xml: str):
    return client.post("/saml2/ls/post/", {"SAMLResponse": base64.b64encode(xml.encode()).decode()})


def test_a_signed_post_answer_is_accepted(client, linked):
    response = post_to_ls(client, broker_post_answer(client, sign=True))
    assert response.status_code == 302 and response["Location"] == "/uitgelogd/"


@pytest.mark.parametrize("variant", ["unsigned", "tampered", "signature_moved"])
def test_an_unsigned_or_altered_post_answer_is_refused(client, linked, variant):
    xml = broker_post_answer(client, sign=variant != "unsigned")
    if variant == "tampered":  # pysaml2 verifies the signature that is there
        xml = xml.replace(
            'Version="2.0"', 'Version="2.0" Consent="urn:oasis:names:tc:SAML:2.0:consent:obtained"', 1
        )
    elif variant == "signature_moved":  # a signature that does not cover the root
        xml, moved = re.subn(
            r"(<(\w+:)?Signature[ >].*?</(\w+:)?Signature>)",
            r"<x:Wrap xmlns:x='urn:x'>\1</x:Wrap>",
            xml,
            count=1,
            flags=re.S,
        )
        assert moved == 1
    before = AuditEvent.objects.filter(action=AuditAction.SAML_FAILED).count()
    response = post_to_ls(client, xml)
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=AuditAction.SAML_FAILED).count() == before + 1


def test_post_check_reasons():
    with pytest.raises(SamlRefusedError) as refused:
        checks.post_logout_check_signed(message="%%%")
    assert refused.value.reason == "malformed_xml"
    unsigned = base64.b64encode(b'<p:LogoutResponse xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol" ID="a"/>')
    with pytest.raises(SamlRefusedError) as refused:
        checks.post_logout_check_signed(message=unsigned.decode())
    assert refused.value.reason == "logout_unsigned"
