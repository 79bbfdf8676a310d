"""Our SP metadata at /saml2/metadata/ as eHerkenning brokers take it (eherkenning.md §4, issue 14 item 5)."""

import pytest
from django.conf import settings
from lxml import etree
from saml2.s_utils import UnsupportedBinding
from saml2.server import Server

from koppeling.saml import schema
from koppeling.saml.config import sp_key_files
from tests.koppeling.saml_documents import (  # noqa: F401  (fixtures)
    NS,
    certificate_body,
    fingerprint,
    own_key_dir,
    private_keys,
    xmlsec1_verifies,
)

ARTIFACT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
ENTITY_DESCRIPTOR = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"
pytestmark = pytest.mark.usefixtures("private_keys")
IDENTIFYING = ("KvKnr", "RSIN", "Pseudo", "BSN", "ActingSubjectID", "LegalSubjectID", "EntityConcernedID")


@pytest.fixture
def artifact_only(settings):
    settings.EHERKENNING_RESPONSE_BINDINGS = ["artifact"]


def metadata(client) -> bytes:
    response = client.get("/saml2/metadata/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    return response.content


def test_metadata_signature_verifies_with_xmlsec1_against_our_certificate(client, tmp_path):
    document = metadata(client)
    assert xmlsec1_verifies(
        document, cert_file=sp_key_files()[1], id_node=ENTITY_DESCRIPTOR, tmp_path=tmp_path
    )


def test_metadata_signature_does_not_verify_with_another_key_or_after_a_change(client, tmp_path):
    from koppeling.dev_broker.idp import broker_key_files

    document = metadata(client)
    ours = sp_key_files()[1]
    assert not xmlsec1_verifies(
        document, cert_file=broker_key_files()[1], id_node=ENTITY_DESCRIPTOR, tmp_path=tmp_path
    )
    forged = document.replace(b"/saml2/acs/", b"/evil/acs/")
    assert forged != document
    assert not xmlsec1_verifies(forged, cert_file=ours, id_node=ENTITY_DESCRIPTOR, tmp_path=tmp_path)


def test_metadata_signature_is_enveloped_exclusive_c14n_rsa_sha256_over_the_root(client):
    root = etree.fromstring(metadata(client))
    signature = root[0]
    assert signature.tag == f"{{{NS['ds']}}}Signature"
    signed_info = signature.find("ds:SignedInfo", NS)
    assert signed_info.find("ds:CanonicalizationMethod", NS).get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    assert signed_info.find("ds:SignatureMethod", NS).get("Algorithm") == (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    )
    reference = signed_info.find("ds:Reference", NS)
    assert reference.get("URI") == f"#{root.get('ID')}"
    assert [t.get("Algorithm") for t in reference.findall("ds:Transforms/ds:Transform", NS)] == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]
    assert reference.find("ds:DigestMethod", NS).get("Algorithm") == "http://www.w3.org/2001/04/xmlenc#sha256"


def test_metadata_validates_against_the_saml_metadata_schema(client):
    schema.validate(metadata(client))  # raises XMLSchemaError when invalid


def test_metadata_wants_signed_requests_and_assertions_and_has_no_nameid_format(client):
    root = etree.fromstring(metadata(client))
    assert root.get("entityID") == settings.EHERKENNING_SP_ENTITY_ID
    sp = root.find("md:SPSSODescriptor", NS)
    assert sp.get("AuthnRequestsSigned") == "true"
    assert sp.get("WantAssertionsSigned") == "true"
    assert root.find(".//md:NameIDFormat", NS) is None
    assert root.find(".//md:Extensions", NS) is None


def test_each_key_descriptor_names_its_certificate_by_sha256_fingerprint(client):
    root = etree.fromstring(metadata(client))
    descriptors = root.findall("md:SPSSODescriptor/md:KeyDescriptor", NS)
    assert sorted(descriptor.get("use") for descriptor in descriptors) == ["encryption", "signing"]
    ours = certificate_body(sp_key_files()[1])
    for descriptor in descriptors:
        certificate = descriptor.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
        assert certificate == ours
        assert descriptor.findtext("ds:KeyInfo/ds:KeyName", namespaces=NS) == fingerprint(ours)
        assert len(fingerprint(ours)) == 64


def test_artifact_acs_only_when_post_is_not_enabled(client, artifact_only):
    root = etree.fromstring(metadata(client))
    services = root.findall("md:SPSSODescriptor/md:AssertionConsumerService", NS)
    assert [(s.get("Binding"), s.get("Location"), s.get("index"), s.get("isDefault")) for s in services] == [
        (ARTIFACT, f"{settings.SITE_URL}/saml2/acs/", "1", "true")
    ]


def test_post_acs_is_advertised_second_when_enabled(client, settings):
    settings.EHERKENNING_RESPONSE_BINDINGS = ["post", "artifact"]
    root = etree.fromstring(metadata(client))
    services = root.findall("md:SPSSODescriptor/md:AssertionConsumerService", NS)
    assert [(s.get("Binding"), s.get("index"), s.get("isDefault")) for s in services] == [
        (ARTIFACT, "1", "true"),
        (POST, "2", None),
    ]


def test_post_only_advertises_the_post_acs(client, settings):
    settings.EHERKENNING_RESPONSE_BINDINGS = ["post"]
    root = etree.fromstring(metadata(client))
    services = root.findall("md:SPSSODescriptor/md:AssertionConsumerService", NS)
    assert [s.get("Binding") for s in services] == [POST]


def test_one_default_attribute_consuming_service_requests_the_service_id_only(client, settings):
    settings.EHERKENNING_SERVICE_ID = "urn:etoegang:DV:00000001234567890000:services:7"
    root = etree.fromstring(metadata(client))
    services = root.findall("md:SPSSODescriptor/md:AttributeConsumingService", NS)
    assert len(services) == 1
    service = services[0]
    assert service.get("isDefault") == "true"
    assert service.get("index") == "7"
    name = service.find("md:ServiceName", NS)
    assert name.text == "Mijn DUO voor zakelijke klanten"
    assert name.get("{http://www.w3.org/XML/1998/namespace}lang") == "nl"
    requested = [attribute.get("Name") for attribute in root.iter(f"{{{NS['md']}}}RequestedAttribute")]
    assert requested == ["urn:etoegang:DV:00000001234567890000:services:7"]


def test_no_identifying_attribute_is_requested(client):
    document = metadata(client).decode()
    for attribute in etree.fromstring(document.encode()).iter(f"{{{NS['md']}}}RequestedAttribute"):
        assert not any(word in attribute.get("Name") for word in IDENTIFYING)


def test_logout_endpoints_stay_advertised(client):
    root = etree.fromstring(metadata(client))
    locations = [s.get("Location") for s in root.findall("md:SPSSODescriptor/md:SingleLogoutService", NS)]
    assert locations == [f"{settings.SITE_URL}/saml2/ls/", f"{settings.SITE_URL}/saml2/ls/post/"]


def test_a_pysaml2_broker_loads_our_signed_metadata(client, artifact_only):
    """What a broker does with the document: load it and find our Artifact ACS and signing key."""
    from koppeling.dev_broker.idp import broker_config, broker_key_files

    key_file, cert_file = broker_key_files()
    server = Server(
        config=broker_config(key_file=key_file, cert_file=cert_file, sp_metadata=metadata(client).decode())
    )
    entity_id = settings.EHERKENNING_SP_ENTITY_ID
    assert server.metadata.assertion_consumer_service(entity_id, binding=ARTIFACT)[0]["location"] == (
        f"{settings.SITE_URL}/saml2/acs/"
    )
    with pytest.raises(UnsupportedBinding):
        server.metadata.assertion_consumer_service(entity_id, binding=POST)
    signing = server.metadata.certs(entity_id, "spsso", "signing")
    assert ["".join(body.split()) for _name, body in signing] == [certificate_body(sp_key_files()[1])]
