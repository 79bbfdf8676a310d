"""The in-process crypto backend (koppeling/saml/crypto.py): as strict as the xmlsec1 program it replaces.

Documents are minted and signed by the dev broker's pysaml2 IdP (with the xmlsec1 program), then
checked by the backend directly, as pysaml2's SecurityContext calls it: the certificate file is the
broker's from metadata, node_name/node_id name the element pysaml2 goes on to read.
"""

import re
from pathlib import Path

import pytest
from lxml import etree
from saml2.sigver import NODE_NAME, CryptoBackendXmlSec1, DecryptError, SignatureError

from koppeling.dev_broker import idp
from koppeling.dev_broker.testing import (
    ATTR_LEGAL_SUBJECT_ID,
    acs_post,
    mint_response,
    other_signing_key,
    saml_start,
    tamper_attribute,
)
from koppeling.models import Koppeling
from koppeling.saml import config as saml_config
from koppeling.saml.client import security_context_cached
from koppeling.saml.crypto import CryptoBackendXmlSec, WeakSignatureAlgorithmError
from tests.factories import AccountFactory

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"


@pytest.fixture
def backend():
    return CryptoBackendXmlSec()


@pytest.fixture
def broker_cert():
    return idp.broker_key_files()[1]


def assertion_id(xml: str) -> str:
    root = etree.fromstring(xml.encode())
    return root.find(f"{{{NS_SAML}}}Assertion").get("ID")


def minted(**tweaks) -> str:
    return mint_response(in_response_to="id-request-1", encode=False, **tweaks)


def verify(backend, xml: str, cert: str, node_id: str | None = None) -> bool:
    return backend.validate_signature(
        xml, cert_file=cert, cert_type="pem", node_name=NODE_NAME, node_id=node_id or assertion_id(xml)
    )


def test_good_signature_verifies(backend, broker_cert):
    assert verify(backend, minted(), broker_cert) is True


def test_the_subprocess_backend_agrees_on_the_same_document(broker_cert):
    xml = minted()
    baseline = CryptoBackendXmlSec1(saml_config.sp_config_load().xmlsec_binary)
    assert baseline.validate_signature(xml, broker_cert, "pem", NODE_NAME, assertion_id(xml)) is True


def test_tampered_attribute_fails(backend, broker_cert):
    xml = minted(tamper=tamper_attribute(ATTR_LEGAL_SUBJECT_ID, "99999999"))
    assert verify(backend, xml, broker_cert) is False


def test_tampered_signature_value_fails(backend, broker_cert):
    xml = minted()
    value = re.search(r"<(\w+:)?SignatureValue>([^<]+)<", xml).group(2)
    flipped = ("B" if value[10] == "A" else "A").join([value[:10], value[11:]])
    assert verify(backend, xml.replace(value, flipped), broker_cert) is False


def test_signature_by_another_key_fails_even_with_its_certificate_in_keyinfo(backend, broker_cert):
    xml = minted(untrusted_key=True)
    untrusted_cert = "".join(Path(other_signing_key()[1]).read_text().splitlines()[1:-1])
    embedded = "".join(etree.fromstring(xml.encode()).find(f".//{{{NS_DS}}}X509Certificate").text.split())
    assert embedded == untrusted_cert  # the attacker's certificate travels in KeyInfo …
    assert verify(backend, xml, broker_cert) is False  # … and is never used


def test_reference_to_another_element_fails(backend, broker_cert):
    xml = minted()
    response_id = etree.fromstring(xml.encode()).get("ID")
    moved = re.sub(r'URI="#[^"]+"', f'URI="#{response_id}"', xml, count=1)
    with pytest.raises(SignatureError):
        verify(backend, moved, broker_cert)


@pytest.mark.parametrize(
    "uri",
    ["https://evil.example/assertion.xml", "", "#xpointer(/)", "file:///etc/passwd"],
)
def test_external_or_whole_document_reference_fails(backend, broker_cert, uri):
    xml = re.sub(r'URI="#[^"]+"', f'URI="{uri}"', minted(), count=1)
    with pytest.raises(SignatureError):
        verify(backend, xml, broker_cert)


def test_duplicate_id_fails(backend, broker_cert):
    xml = minted()
    the_id = assertion_id(xml)
    # Give the Response the assertion's ID: the verifier and the reader could pick different elements.
    duplicated = re.sub(r'(<(\w+:)?Response\b[^>]*?\bID=")[^"]+"', rf'\g<1>{the_id}"', xml, count=1)
    with pytest.raises(SignatureError):
        verify(backend, duplicated, broker_cert)


def test_id_of_another_kind_of_element_fails(backend, broker_cert):
    xml = minted()
    response_id = etree.fromstring(xml.encode()).get("ID")
    with pytest.raises(SignatureError):
        verify(backend, xml, broker_cert, node_id=response_id)  # the Response is not an Assertion


def test_sha1_signature_is_refused_as_weak(backend, broker_cert):
    with pytest.raises(WeakSignatureAlgorithmError):
        verify(backend, minted(sha1=True), broker_cert)


def test_document_with_a_dtd_is_refused(backend, broker_cert):
    xml = minted()
    with_dtd = '<!DOCTYPE r [<!ENTITY x "y">]>' + re.sub(r"^<\?xml[^>]*>", "", xml)
    with pytest.raises(SignatureError):
        verify(backend, with_dtd, broker_cert)


def test_encrypted_assertion_decrypts_and_its_signature_verifies(backend, broker_cert):
    xml = minted(encrypt=True)
    assert "EncryptedAssertion" in xml and "ActingSubjectID" not in xml
    sp_key = saml_config.sp_key_files()[0]
    decrypted = backend.decrypt(xml, sp_key)
    assert "urn:etoegang:core:ActingSubjectID" in decrypted
    root = etree.fromstring(decrypted.encode())
    assertion = root.find(f".//{{{NS_SAML}}}Assertion")
    assert verify(backend, decrypted, broker_cert, node_id=assertion.get("ID")) is True


def test_decryption_with_another_key_fails(backend):
    xml = minted(encrypt=True)
    with pytest.raises(DecryptError):
        backend.decrypt(xml, other_signing_key()[0])


def test_signing_round_trip(backend, broker_cert):
    """sign_statement fills a pysaml2 signature template; the xmlsec1 program accepts the result."""
    server = idp.broker_server()
    unsigned = minted()
    xml = re.sub(r"<(\w+:)?SignatureValue>[^<]+<", r"<\1SignatureValue><", unsigned)
    xml = re.sub(r"<(\w+:)?DigestValue>[^<]+<", r"<\1DigestValue><", xml)
    node_id = assertion_id(xml)
    signed = backend.sign_statement(xml, NODE_NAME, server.config.key_file, node_id)
    assert verify(backend, signed, broker_cert) is True
    baseline = CryptoBackendXmlSec1(saml_config.sp_config_load().xmlsec_binary)
    assert baseline.validate_signature(signed, broker_cert, "pem", NODE_NAME, node_id) is True


@pytest.mark.parametrize(("setting", "expected"), [("xmlsec", CryptoBackendXmlSec), ("xmlsec1", None)])
def test_setting_picks_the_backend(settings, setting, expected):
    settings.EHERKENNING_CRYPTO_BACKEND = setting
    context = security_context_cached(saml_config.sp_config_load())
    if expected is None:
        assert not isinstance(context.crypto, CryptoBackendXmlSec)
        assert isinstance(context.crypto, CryptoBackendXmlSec1)
    else:
        assert type(context.crypto) is expected


@pytest.mark.django_db
@pytest.mark.parametrize("backend_name", ["xmlsec", "xmlsec1"])
@pytest.mark.parametrize("encrypt", [False, True])
def test_login_through_the_acs_with_either_backend(client, settings, backend_name, encrypt):
    settings.EHERKENNING_CRYPTO_BACKEND = backend_name
    account = AccountFactory()
    Koppeling.objects.create(
        account=account,
        acting_subject_id="pseudo-crypto",
        legal_subject_id="41012345",
        level="urn:etoegang:core:assurance-class:loa3",
    )
    request_id = saml_start(client)
    response = acs_post(
        client, mint_response(in_response_to=request_id, acting_subject_id="pseudo-crypto", encrypt=encrypt)
    )
    assert response.status_code == 302 and response["Location"] == "/overzicht/"
    assert response.wsgi_request.session["_auth_user_id"] == str(account.pk)
