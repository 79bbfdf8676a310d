"""Every refused eHerkenning response: audited with its reason, a Dutch page, a 4xx — never a 500.

All responses are minted and signed by the dev broker's pysaml2 IdP and verified by the real ACS.
"""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.constants import AuditAction
from accounts.models import AuditEvent
from koppeling.dev_broker.assertion import QUALIFIER_KVK as KVK
from koppeling.dev_broker.assertion import QUALIFIER_PSEUDO as PSEUDO
from koppeling.dev_broker.assertion import QUALIFIER_RSIN as RSIN
from koppeling.dev_broker.assertion import Identifier
from koppeling.dev_broker.testing import (
    ATTR_ACTING_SUBJECT_ID,
    ATTR_INTERMEDIATE_KVK,
    ATTR_LEGAL_SUBJECT_ID,
    ATTR_SERVICE_ID,
    LOA2,
    LOA2PLUS,
    acs_post,
    mint_response,
    saml_session,
    saml_start,
    tamper_attribute,
    wrap_signature,
)
from koppeling.identity import SESSION_KEY
from koppeling.models import Koppeling, UsedAssertion
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

SAMLResponse = "SAMLResponse"


def refusal_reasons() -> list[str]:
    return [
        event.detail.get("reason_code")
        for event in AuditEvent.objects.filter(action=AuditAction.SAML_FAILED).order_by("id")
    ]


def assert_refused(response, reason: str, status: int = 400, *, fresh_session: bool = True) -> None:
    assert response.status_code == status, response.content[:500]
    assert refusal_reasons()[-1] == reason
    assert AuditEvent.objects.order_by("-id").first().action == AuditAction.SAML_FAILED
    if fresh_session:
        assert "_auth_user_id" not in response.wsgi_request.session
        assert SESSION_KEY not in response.wsgi_request.session
    assert response["Content-Language"] == "nl"
    page = response.content.decode()
    assert 'lang="nl"' in page
    assert (
        "Inloggen met eHerkenning is niet gelukt" in page
        or "Uw eHerkenningsmiddel" in page
        or ("Uw verzoek kon niet worden verwerkt" in page)
    )


@pytest.fixture
def linked_account():
    account = AccountFactory()
    Koppeling.objects.create(
        account=account,
        acting_subject_id="pseudo-linked",
        legal_subject_id="41012345",
        level="urn:etoegang:core:assurance-class:loa3",
    )
    return account


def post(client, **tweaks):
    request_id = saml_start(client)
    tweaks.setdefault("acting_subject_id", "pseudo-linked")
    return acs_post(client, mint_response(in_response_to=request_id, **tweaks))


@pytest.mark.parametrize(
    "level", [LOA2, LOA2PLUS, "urn:etoegang:core:assurance-class:loa1", "urn:other:loa9"]
)
def test_level_below_eh3_is_refused_with_explanation(client, linked_account, level):
    response = post(client, level=level)
    assert_refused(response, "level_too_low", 403)
    page = response.content.decode()
    assert "EH3" in page
    assert "upgrade naar niveau 3" in page
    assert "Mijn DUO voor zakelijke klanten" in page


def test_missing_service_id_is_refused(client, linked_account):
    response = post(client, omit={ATTR_SERVICE_ID})
    assert_refused(response, f"missing:{ATTR_SERVICE_ID}", 403)
    assert "Mijn DUO voor zakelijke klanten" in response.content.decode()


def test_other_service_id_is_refused(client, linked_account):
    response = post(client, service_id="urn:etoegang:DV:00000001234567890000:services:99")
    assert_refused(response, "service_id_mismatch", 403)


def test_two_service_id_values_are_refused(client, linked_account):
    from django.conf import settings

    response = post(client, attributes={ATTR_SERVICE_ID: [settings.EHERKENNING_SERVICE_ID, "urn:x"]})
    assert_refused(response, f"invalid:{ATTR_SERVICE_ID}")


@pytest.mark.parametrize("attribute", [ATTR_ACTING_SUBJECT_ID, ATTR_LEGAL_SUBJECT_ID])
def test_missing_identity_attribute_is_refused(client, linked_account, attribute):
    response = post(client, omit={attribute})
    assert_refused(response, f"missing:{attribute}")


@pytest.mark.parametrize(
    ("qualifier", "legal_subject_id"),
    [
        (KVK, "4101234"),
        (KVK, "4101234X"),
        (RSIN, "123456789"),  # fails the elfproef
        (KVK, "410123456789"),
        (KVK, ""),
        (RSIN, "41012345"),
    ],
)
def test_malformed_legal_subject_id_is_refused(client, qualifier, legal_subject_id):
    response = post(client, attributes={ATTR_LEGAL_SUBJECT_ID: [Identifier(qualifier, legal_subject_id)]})
    assert_refused(response, f"invalid:{ATTR_LEGAL_SUBJECT_ID}")


def test_malformed_acting_subject_id_is_refused(client):
    response = post(client, attributes={ATTR_ACTING_SUBJECT_ID: [Identifier(PSEUDO, "two words")]})
    assert_refused(response, f"invalid:{ATTR_ACTING_SUBJECT_ID}")


def test_plain_text_identifiers_are_refused_by_default(client, linked_account):
    response = post(client, plain=True)
    assert_refused(response, f"plain_identifier:{ATTR_ACTING_SUBJECT_ID}")


def test_malformed_intermediate_kvk_is_refused(client):
    response = post(client, intermediate_entity_id="12-34")
    assert_refused(response, f"invalid:{ATTR_INTERMEDIATE_KVK}")


def test_sha1_signature_is_refused(client, linked_account):
    response = post(client, sha1=True)
    assert_refused(response, "weak_signature_algorithm")


def test_sha1_signature_inside_encrypted_assertion_is_refused(client, linked_account):
    response = post(client, sha1=True, encrypt=True)
    assert_refused(response, "weak_signature_algorithm")


def test_expired_assertion_is_refused(client, linked_account):
    response = post(client, issued_at=timezone.now() - timedelta(minutes=30))
    assert_refused(response, "expired")


def test_not_yet_valid_assertion_is_refused(client, linked_account):
    response = post(client, issued_at=timezone.now() + timedelta(minutes=30))
    assert_refused(response, "not_yet_valid")


def test_wrong_audience_is_refused(client, linked_account):
    response = post(client, audience="https://other-service.example/saml2/metadata/")
    assert_refused(response, "wrong_audience", 403)


def test_wrong_destination_is_refused(client, linked_account):
    response = post(client, destination="https://other-service.example/saml2/acs/")
    assert_refused(response, "wrong_destination")


def test_assertion_signed_with_untrusted_certificate_is_refused(client, linked_account):
    response = post(client, untrusted_key=True)
    assert_refused(response, "untrusted_certificate", 403)


def test_attribute_tampered_after_signing_is_refused(client, linked_account):
    response = post(client, tamper=tamper_attribute(ATTR_LEGAL_SUBJECT_ID, "52012345"))
    assert_refused(response, "signature_invalid", 403)


def test_level_tampered_after_signing_is_refused(client, linked_account):
    def raise_level(xml: str) -> str:
        return xml.replace("assurance-class:loa2<", "assurance-class:loa4<")

    response = post(client, level=LOA2, tamper=raise_level)
    assert_refused(response, "signature_invalid", 403)


@pytest.mark.parametrize("variant", ["extensions", "nested", "sibling"])
def test_signature_wrapping_is_refused(client, linked_account, variant):
    response = post(client, tamper=wrap_signature(legal_subject_id="52012345", variant=variant))
    assert_refused(response, "assertion_count")


def test_unsigned_assertion_is_refused(client, linked_account):
    def strip_signature(xml: str) -> str:
        import re

        return re.sub(r"<(\w+):Signature\b.*?</\1:Signature>", "", xml, flags=re.S)

    response = post(client, tamper=strip_signature)
    assert_refused(response, "signature_invalid", 403)


def test_replayed_assertion_is_refused(client, linked_account):
    request_id = saml_start(client)
    saml_response = mint_response(in_response_to=request_id, acting_subject_id="pseudo-linked")
    assert acs_post(client, saml_response).status_code == 302
    client.logout()
    # The attacker also restores the outstanding request, so only the replay store stops it.
    saml_start_id = saml_start(client)
    session = saml_session(client)
    session["_saml2_outstanding_queries"] = {request_id: "/overzicht/", saml_start_id: "/overzicht/"}
    session.save()
    response = acs_post(client, saml_response)
    assert_refused(response, "replay")
    assert UsedAssertion.objects.count() == 1


def test_second_response_to_the_same_request_is_refused_as_unsolicited(client, linked_account):
    request_id = saml_start(client)
    assert (
        acs_post(client, mint_response(in_response_to=request_id, acting_subject_id="x1")).status_code == 302
    )
    response = acs_post(client, mint_response(in_response_to=request_id, acting_subject_id="x1"))
    assert_refused(response, "unsolicited", fresh_session=False)


def test_unsolicited_response_is_refused(client, linked_account):
    saml_start(client)
    response = acs_post(client, mint_response(in_response_to=None, acting_subject_id="pseudo-linked"))
    assert_refused(response, "unsolicited")


def test_response_to_a_request_from_another_browser_is_refused(client, linked_account):
    from django.test import Client

    other = Client()
    request_id = saml_start(other)
    saml_start(client)
    response = acs_post(client, mint_response(in_response_to=request_id, acting_subject_id="pseudo-linked"))
    assert_refused(response, "unsolicited")


@pytest.mark.parametrize("payload", ["not base64 at all!", "AAA", "%%%"])
def test_malformed_base64_is_refused(client, payload):
    saml_start(client)
    assert_refused(acs_post(client, payload), "malformed_base64")


@pytest.mark.parametrize(
    "document",
    [
        b"<not-closed",
        b"plain text",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
        b"\xff\xfe",
    ],
)
def test_malformed_xml_is_refused(client, document):
    saml_start(client)
    assert_refused(acs_post(client, base64.b64encode(document).decode()), "malformed_xml")


def test_other_saml_message_is_refused(client):
    saml_start(client)
    document = b'<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x"/>'
    assert_refused(acs_post(client, base64.b64encode(document).decode()), "not_a_response")


def test_missing_saml_response_is_refused(client):
    response = client.post("/saml2/acs/", {})
    assert_refused(response, "missing_response")


def test_oversized_post_is_refused_with_413(client):
    from django.conf import settings

    saml_start(client)
    huge = "A" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    response = client.post("/saml2/acs/", {"SAMLResponse": huge})
    assert_refused(response, "too_large", 413)
    assert "te groot" in response.content.decode()


def test_oversized_post_elsewhere_gets_a_dutch_413_page():
    from django.conf import settings
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # the CSRF check reads the body first
    client.get("/")  # the CSRF cookie, so that the check gets as far as the body
    response = client.post("/uitloggen/", {"x": "A" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    assert response.status_code == 413
    assert "te groot" in response.content.decode()


def test_cancelled_login_at_the_broker_is_refused(client):
    saml_start(client)
    response = client.post("/dev/broker/annuleren/")
    assert response.status_code == 302 and "SAMLart=" in response["Location"]  # by artifact, as brokers do
    page_response = client.get(response["Location"])
    assert_refused(page_response, "idp_status")
    assert "afgebroken" in page_response.content.decode()


def test_inactive_account_is_not_logged_in(client, linked_account):
    linked_account.is_active = False
    linked_account.save()
    response = post(client)
    assert response.status_code == 403
    assert refusal_reasons()[-1] == "account_inactive"
    assert "_auth_user_id" not in client.session


def test_removed_account_is_not_logged_in(client, linked_account):
    linked_account.removed_at = timezone.now()
    linked_account.save()
    response = post(client)
    assert response.status_code == 403
    assert refusal_reasons()[-1] == "account_inactive"
    assert "_auth_user_id" not in client.session


def test_audit_detail_never_holds_the_saml_response(client, linked_account):
    request_id = saml_start(client)
    saml_response = mint_response(in_response_to=request_id, sha1=True)
    acs_post(client, saml_response)
    event = AuditEvent.objects.get(action=AuditAction.SAML_FAILED)
    assert set(event.detail) == {"reason_code"}
    assert saml_response[:40] not in str(event.detail)
    assert event.ip == "127.0.0.1"
