"""eHerkenning 1.13 identifiers and Advice at the ACS (issue 14 items 2, 3, 7, 10).

Every response here is made and signed by the dev broker's code (pysaml2's IdP, then the broker's
encryption of the identifiers into EncryptedIDs and its Advice) and verified by the real ACS path.
"""

import base64
import re
from datetime import timedelta
from pathlib import Path

import pytest
import xmlsec
from django.utils import timezone
from lxml import etree

from accounts.constants import AuditAction
from accounts.models import AuditEvent
from koppeling.dev_broker import xmlenc
from koppeling.dev_broker.assertion import Identifier
from koppeling.dev_broker.testing import (
    ATTR_ACTING_SUBJECT_ID,
    ATTR_LEGAL_SUBJECT_ID,
    LOA3,
    acs_post,
    mint_response,
    other_signing_key,
    saml_start,
)
from koppeling.identity import EHerkenningIdentity, identity_from_session
from koppeling.models import Koppeling
from koppeling.saml import identifiers
from koppeling.saml.checks import SamlRefusedError
from koppeling.saml.config import sp_config_reset, sp_key_files
from koppeling.saml.keys import keypair_ensure
from koppeling.services import link_create
from tests.factories import AccountFactory, OrganisatieFactory

pytestmark = pytest.mark.django_db

PSEUDONYM = "5A1E0C7B" * 8 + "@" + "0123456789ABCDEF" * 2  # 64 hex @ 32 hex, as brokers send it
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


def login(client, **tweaks):
    request_id = saml_start(client)
    tweaks.setdefault("acting_subject_id", PSEUDONYM)
    return acs_post(client, mint_response(in_response_to=request_id, **tweaks))


def refusal_reason() -> str:
    event = AuditEvent.objects.filter(action=AuditAction.SAML_FAILED).latest("id")
    return event.detail["reason_code"]


def session_identity(response) -> EHerkenningIdentity:
    identity = identity_from_session(response.wsgi_request)
    assert identity is not None
    return identity


@pytest.fixture
def linked():
    account = AccountFactory()
    return Koppeling.objects.create(
        account=account, acting_subject_id=PSEUDONYM, legal_subject_id="41012345", level=LOA3
    )


# --- encrypted identifiers --------------------------------------------------------------------------


def test_the_identifiers_arrive_encrypted_and_typed_and_log_the_user_in(client, linked):
    request_id = saml_start(client)
    xml = mint_response(in_response_to=request_id, acting_subject_id=PSEUDONYM, encode=False)
    assert PSEUDONYM not in xml and "41012345" not in xml  # nothing readable on the way
    assert xml.count("EncryptedID>") >= 4  # acting + legal, in the broker's and in the Advice's
    response = acs_post(client, base64.b64encode(xml.encode()).decode())
    assert response.status_code == 302 and response["Location"] == "/overzicht/"
    assert client.session["_auth_user_id"] == str(linked.account.pk)


@pytest.mark.parametrize("layout", ["retrieval", "inline", "carried"])
@pytest.mark.parametrize("algorithm", [xmlenc.AES256_CBC, xmlenc.AES128_CBC, xmlenc.AES256_GCM])
def test_every_encrypted_key_layout_and_content_algorithm_decrypts(client, layout, algorithm):
    response = login(client, layout=layout, data_algorithm=algorithm, legal_subject_id="52012345")
    assert response.status_code == 302 and response["Location"] == "/koppelen/"
    identity = session_identity(response)
    assert (identity.acting_subject_id, identity.legal_subject_id) == (PSEUDONYM, "52012345")


def test_an_encrypted_id_made_by_libxmlsec1_decrypts():
    """Interoperability: an EncryptedID written by another implementation (libxmlsec1's template
    encryption, RSA-OAEP key inline) is read by ours."""
    key_file, cert_file = sp_key_files()
    document = etree.fromstring(
        f'<saml:EncryptedID xmlns:saml="{NS_SAML}"><saml:NameID '
        f'NameQualifier="urn:etoegang:1.9:EntityConcernedID:KvKnr">41012345</saml:NameID></saml:EncryptedID>'
    )
    template = xmlsec.template.encrypted_data_create(
        document, xmlsec.constants.TransformAes256Cbc, type=xmlsec.constants.TypeEncElement, ns="xenc"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_file(cert_file, xmlsec.constants.KeyDataFormatCertPem))
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, 256, xmlsec.constants.KeyDataTypeSession)
    context.encrypt_xml(template, document[0])
    wire = etree.tostring(document)
    assert b"41012345" not in wire
    document = etree.fromstring(wire)  # as it arrives (and lxml's find() matches libxmlsec1's new nodes)

    keys = identifiers.decryption_keys([(key_file, cert_file)])
    name_id = identifiers.encrypted_id_decrypt(document, keys=keys, recipient="anyone")
    assert name_id.get("NameQualifier") == "urn:etoegang:1.9:EntityConcernedID:KvKnr"
    assert name_id.text == "41012345"


def test_pkcs1_v1_5_key_transport_is_refused_and_audited(client):
    response = login(client, transport=xmlenc.RSA_1_5)
    assert response.status_code == 400
    assert refusal_reason() == "identifier_algorithm"
    assert "_auth_user_id" not in client.session


def test_an_identifier_encrypted_to_an_unknown_key_is_refused_and_audited(client):
    _key, foreign_cert = other_signing_key()
    response = login(client, encrypt_to=[foreign_cert])
    assert response.status_code == 400
    assert refusal_reason() == "identifier_undecryptable"
    assert "niet gelukt" in response.content.decode()


def test_an_encrypted_key_for_another_recipient_is_not_used():
    key_file, cert_file = sp_key_files()
    element = xmlenc.encrypted_id(
        qualifier="urn:etoegang:1.13:EntityConcernedID:Pseudo",
        value=PSEUDONYM,
        recipients=[xmlenc.recipient_from_file(cert_file, "https://another-dv.example/")],
    )
    keys = identifiers.decryption_keys([(key_file, cert_file)])
    with pytest.raises(SamlRefusedError, match="identifier_undecryptable"):
        identifiers.encrypted_id_decrypt(element, keys=keys, recipient="https://zakelijk.example/")
    assert identifiers.encrypted_id_decrypt(element, keys=keys, recipient="https://another-dv.example/").text


def test_a_retrieval_method_pointing_outside_the_encrypted_id_is_refused():
    key_file, cert_file = sp_key_files()
    element = xmlenc.encrypted_id(
        qualifier="urn:etoegang:1.13:EntityConcernedID:Pseudo",
        value=PSEUDONYM,
        recipients=[xmlenc.recipient_from_file(cert_file, "")],
    )
    method = element.find(".//{http://www.w3.org/2000/09/xmldsig#}RetrievalMethod")
    method.set("URI", "http://evil.example/key.xml")
    with pytest.raises(SamlRefusedError, match="identifier_undecryptable"):
        identifiers.encrypted_id_decrypt(
            element, keys=identifiers.decryption_keys([(key_file, cert_file)]), recipient=""
        )


@pytest.mark.parametrize(
    ("qualifier", "accepted"),
    [
        ("urn:etoegang:1.13:EntityConcernedID:Pseudo", True),
        ("urn:etoegang:1.9:EntityConcernedID:Pseudo", True),  # 1.9 and 1.11 brokers
        ("urn:etoegang:1.12:EntityConcernedID:BSN", False),
        ("urn:example:unknown", False),
    ],
)
def test_the_acting_subject_is_typed_by_its_name_qualifier(client, qualifier, accepted):
    response = login(client, pseudo_qualifier=qualifier)
    if accepted:
        assert response.status_code == 302 and response["Location"] == "/koppelen/"
    else:
        assert response.status_code == 400
        assert refusal_reason() == f"qualifier:{ATTR_ACTING_SUBJECT_ID}"


def test_kvk_only_rsin_only_and_both(client):
    kvk = login(client, legal_subject_id="41012345")
    assert session_identity(kvk).legal_subject_ids == ("41012345",)
    client.logout()
    rsin = login(client, legal_subject_id="123456782")
    assert session_identity(rsin).legal_subject_ids == ("123456782",)
    client.logout()
    both = login(client, legal_subject_id="41012345", legal_subject_rsin="123456782")
    identity = session_identity(both)
    assert (identity.legal_subject_id, identity.legal_subject_rsin) == ("41012345", "123456782")


@pytest.mark.parametrize(
    "attributes",
    [
        {ATTR_LEGAL_SUBJECT_ID: [Identifier("urn:etoegang:1.9:EntityConcernedID:KvKnr", "4101234")]},
        {ATTR_LEGAL_SUBJECT_ID: [Identifier("urn:etoegang:1.9:EntityConcernedID:RSIN", "41012345")]},
        {
            ATTR_LEGAL_SUBJECT_ID: [
                Identifier("urn:etoegang:1.9:EntityConcernedID:KvKnr", "41012345"),
                Identifier("urn:etoegang:1.9:EntityConcernedID:KvKnr", "52012345"),
            ]
        },
    ],
    ids=["kvk of 7 digits", "rsin of 8 digits", "two kvk numbers"],
)
def test_a_wrongly_formatted_number_is_refused_and_audited(client, attributes):
    response = login(client, attributes=attributes)
    assert response.status_code == 400
    assert refusal_reason() == f"invalid:{ATTR_LEGAL_SUBJECT_ID}"


def test_an_organisation_with_an_rsin_is_linked_when_the_broker_sends_kvk_and_rsin(client):
    organisatie = OrganisatieFactory(kvk_nummer="", rsin="123456782")
    account = AccountFactory(organisatie=organisatie)
    identity = EHerkenningIdentity(
        acting_subject_id=PSEUDONYM, legal_subject_id="41012345", legal_subject_rsin="123456782", level=LOA3
    )
    link = link_create(
        account=account,
        identity=identity,
        ip="127.0.0.1",
        terms_version="t",
        terms_accepted_at=timezone.now(),
    )
    assert link.legal_subject_id == "123456782"  # the number the organisation is known by
    # Later logins find the link whether the broker sends both numbers or the RSIN alone.
    response = login(client, legal_subject_id="41012345", legal_subject_rsin="123456782")
    assert response.status_code == 302 and response["Location"] == "/overzicht/"
    client.logout()
    response = login(client, legal_subject_id="123456782")
    assert response.status_code == 302 and response["Location"] == "/overzicht/"


def test_plain_identifiers_are_refused_unless_the_setting_allows_them(client, settings):
    response = login(client, plain=True)
    assert response.status_code == 400
    assert refusal_reason() == f"plain_identifier:{ATTR_ACTING_SUBJECT_ID}"
    settings.EHERKENNING_PLAIN_IDENTIFIERS = True
    client.logout()
    response = login(client, plain=True, legal_subject_id="52012345")
    assert response.status_code == 302 and response["Location"] == "/koppelen/"
    assert session_identity(response).legal_subject_id == "52012345"


def test_a_ketenmachtiging_carries_the_intermediary_into_the_session(client):
    response = login(client, intermediate_entity_id="69599084")
    assert response.status_code == 302
    assert session_identity(response).intermediate_entity_id == "69599084"


def test_a_vestigingsnr_restriction_is_refused_unless_the_catalogue_accepts_it(client, settings):
    response = login(client, vestigingsnr="000012345678")
    assert response.status_code == 403
    assert refusal_reason() == "vestiging_not_accepted"
    assert "vestiging" in response.content.decode()
    settings.EHERKENNING_ACCEPT_VESTIGING = True
    client.logout()
    restricted = login(client, vestigingsnr="000012345678")
    assert restricted.status_code == 302
    assert session_identity(restricted).vestigingsnr == "000012345678"
    client.logout()
    unrestricted = login(client)  # a DV that accepts the restriction accepts logins without one
    assert unrestricted.status_code == 302
    assert session_identity(unrestricted).vestigingsnr == ""


# --- Advice ---------------------------------------------------------------------------------------


def test_an_acting_subject_inside_advice_never_becomes_the_identity(client, linked):
    victim = Koppeling.objects.create(
        account=AccountFactory(),
        acting_subject_id="victim-pseudonym",
        legal_subject_id="52012345",
        level=LOA3,
    )
    response = login(
        client,
        legal_subject_id="41012345",
        advice_acting_subject_id=victim.acting_subject_id,
        advice_legal_subject_id=victim.legal_subject_id,
    )
    assert response.status_code == 302 and response["Location"] == "/overzicht/"
    assert client.session["_auth_user_id"] == str(linked.account.pk)


def test_a_response_without_advice_is_accepted_too(client, linked):
    response = login(client, advice=False)
    assert response.status_code == 302 and response["Location"] == "/overzicht/"


def test_the_advice_carries_signed_ad_and_mr_assertions_with_an_xacml_decision():
    xml = mint_response(in_response_to="id-x", encode=False)
    root = etree.fromstring(xml.encode())
    advice = root.find(f"{{{NS_SAML}}}Assertion/{{{NS_SAML}}}Advice")
    issuers = [a.findtext(f"{{{NS_SAML}}}Issuer") for a in advice.findall(f"{{{NS_SAML}}}Assertion")]
    assert [issuer.split(":")[2] for issuer in issuers] == ["AD", "MR"]
    assert all(a.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None for a in advice)
    assert "xacml-saml:XACMLAuthzDecisionStatementType" in xml


def _inject_advice_after_signing(xml: str) -> str:
    """Put an Advice with another person's (plain) identity into the signed assertion."""
    forged = (
        f'<saml:Advice xmlns:saml="{NS_SAML}"><saml:Assertion ID="forged-advice" Version="2.0" '
        'IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>urn:etoegang:AD:evil</saml:Issuer>'
        '<saml:AttributeStatement><saml:Attribute Name="urn:etoegang:core:ActingSubjectID">'
        "<saml:AttributeValue>victim-pseudonym</saml:AttributeValue></saml:Attribute>"
        "</saml:AttributeStatement></saml:Assertion></saml:Advice>"
    )
    return re.sub(
        r"(<\w+:Conditions\b.*?</\w+:Conditions>)", lambda m: m.group(1) + forged, xml, count=1, flags=re.S
    )


def test_advice_injected_after_signing_breaks_the_signature(client):
    response = login(client, advice=False, tamper=_inject_advice_after_signing)
    assert response.status_code in (400, 403)
    assert refusal_reason() in {"signature_invalid", "untrusted_certificate", "invalid_response"}
    assert "_auth_user_id" not in client.session


def _hide_signed_assertion_in_forged_advice(xml: str) -> str:
    """XSW: a forged, unsigned assertion whose Advice holds the broker's real signed one."""
    match = re.search(r"<(?P<p>\w+):Assertion\b.*?</(?P=p):Assertion>(?=\s*</\w+:Response>)", xml, re.S)
    original = match.group(0)
    prefix = match.group("p")
    head = re.match(rf"<{prefix}:Assertion\b[^>]*>", original).group(0)
    forged_head = re.sub(r'\bID="[^"]+"', 'ID="id-forged"', head)
    issuer = re.search(rf"<{prefix}:Issuer\b.*?</{prefix}:Issuer>", original, re.S).group(0)
    forged = f"{forged_head}{issuer}<{prefix}:Advice>{original}</{prefix}:Advice></{prefix}:Assertion>"
    return xml.replace(original, forged)


def test_a_signed_assertion_moved_into_the_advice_of_a_forged_one_is_refused(client, linked):
    response = login(client, advice=False, tamper=_hide_signed_assertion_in_forged_advice)
    assert response.status_code in (400, 403)
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=AuditAction.SAML_FAILED).exists()


def test_an_encrypted_assertion_with_advice_logs_in(client, linked):
    response = login(client, encrypt=True)
    assert response.status_code == 302 and response["Location"] == "/overzicht/"


# --- keys over time -------------------------------------------------------------------------------


@pytest.fixture
def next_pair(settings, tmp_path):
    key, cert = keypair_ensure(directory=Path(tmp_path), name="sp-next", common_name="mijnduo SP next")
    settings.EHERKENNING_SP_NEXT_KEY_FILE = str(key)
    settings.EHERKENNING_SP_NEXT_CERT_FILE = str(cert)
    settings.EHERKENNING_SP_NEXT_FROM = (timezone.now() + timedelta(days=30)).date()
    sp_config_reset()
    yield str(key), str(cert)
    sp_config_reset()


def test_identifiers_encrypted_to_the_next_key_decrypt_once_it_is_configured(client, next_pair):
    response = login(client, encrypt_to=[next_pair[1]])
    assert response.status_code == 302 and response["Location"] == "/koppelen/"


def test_identifiers_encrypted_to_the_old_key_still_decrypt_while_the_broker_switches(client, next_pair):
    response = login(client, encrypt_to=[sp_key_files()[1]])
    assert response.status_code == 302 and response["Location"] == "/koppelen/"


def test_one_encrypted_key_per_dv_key_by_carried_key_name(client, next_pair):
    response = login(client, layout="carried", encrypt_to=[sp_key_files()[1], next_pair[1]])
    assert response.status_code == 302 and response["Location"] == "/koppelen/"


def test_without_the_next_pair_configured_its_encryption_is_refused(client, tmp_path):
    _key, cert = keypair_ensure(directory=Path(tmp_path), name="sp-next", common_name="mijnduo SP next")
    response = login(client, encrypt_to=[str(cert)])
    assert response.status_code == 400
    assert refusal_reason() == "identifier_undecryptable"
