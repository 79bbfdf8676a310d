"""The dienstcatalogus (eherkenning.md §4, issue 14 item 6): ``manage.py eherkenning_catalogue``."""

import re
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from lxml import etree

from koppeling.saml import schema
from koppeling.saml.config import sp_key_files
from tests.koppeling.saml_documents import (  # noqa: F401  (fixtures)
    NS,
    certificate_body,
    fingerprint,
    keypair_files,
    own_key_dir,
    private_keys,
    xmlsec1_verifies,
)

pytestmark = pytest.mark.usefixtures("private_keys")

SERVICE_CATALOGUE = "urn:etoegang:1.13:service-catalog:ServiceCatalogue"
SERVICE_UUID = "5f0e3b1c-2a4d-4e6f-8a9b-0c1d2e3f4a5b"
INSTANCE_UUID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
BROKER_OIN = "00000003123456780000"
ESC = "{urn:etoegang:1.13:service-catalog}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture
def catalogue_settings(settings):
    settings.EHERKENNING_OIN = "00000001234567890000"
    settings.EHERKENNING_SERVICE_ID = "urn:etoegang:DV:00000001234567890000:services:1"
    settings.EHERKENNING_SERVICE_UUID = SERVICE_UUID
    settings.EHERKENNING_SERVICE_INSTANCE_UUID = INSTANCE_UUID
    settings.EHERKENNING_BROKER_ID = BROKER_OIN
    settings.EHERKENNING_SERVICE_URL = "https://zakelijk.example.nl/"
    settings.EHERKENNING_PRIVACY_URL = "https://www.example.nl/privacy"
    settings.EHERKENNING_ACCEPT_VESTIGING = False
    return settings


def catalogue(tmp_path) -> bytes:
    output = tmp_path / "dienstcatalogus.xml"
    call_command("eherkenning_catalogue", "-o", str(output), stderr=StringIO())
    return output.read_bytes()


def children(element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def test_catalogue_signature_verifies_with_xmlsec1_against_our_certificate(catalogue_settings, tmp_path):
    from koppeling.dev_broker.idp import broker_key_files

    document = catalogue(tmp_path)
    assert xmlsec1_verifies(
        document, cert_file=sp_key_files()[1], id_node=SERVICE_CATALOGUE, tmp_path=tmp_path
    )
    assert not xmlsec1_verifies(
        document, cert_file=broker_key_files()[1], id_node=SERVICE_CATALOGUE, tmp_path=tmp_path
    )
    forged = document.replace(b"loa3", b"loa1")
    assert not xmlsec1_verifies(
        forged, cert_file=sp_key_files()[1], id_node=SERVICE_CATALOGUE, tmp_path=tmp_path
    )


def test_catalogue_root_is_a_signed_1_13_service_catalogue(catalogue_settings, tmp_path):
    root = etree.fromstring(catalogue(tmp_path))
    assert root.tag == f"{ESC}ServiceCatalogue"
    assert root.get(f"{ESC}Version") == "urn:etoegang:1.13:53"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", root.get(f"{ESC}IssueInstant"))
    assert children(root) == ["Signature", "ServiceProvider"]
    reference = root.find("ds:Signature/ds:SignedInfo/ds:Reference", NS)
    assert reference.get("URI") == f"#{root.get('ID')}"
    assert (
        root.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm").endswith("rsa-sha256")
    )
    assert root.find("ds:Signature/ds:SignedInfo/ds:CanonicalizationMethod", NS).get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    )


def test_service_provider_definition_and_instance_follow_the_1_13_structure(catalogue_settings, tmp_path):
    root = etree.fromstring(catalogue(tmp_path))
    provider = root.find("esc:ServiceProvider", NS)
    assert provider.get(f"{ESC}IsPublic") == "true"
    assert children(provider) == [
        "ServiceProviderID",
        "OrganizationDisplayName",
        "OrganizationDisplayName",
        "ServiceDefinition",
        "ServiceInstance",
    ]
    assert provider.findtext("esc:ServiceProviderID", namespaces=NS) == "00000001234567890000"

    definition = provider.find("esc:ServiceDefinition", NS)
    assert children(definition) == [
        "ServiceUUID",
        "ServiceName",
        "ServiceName",
        "ServiceDescription",
        "ServiceDescription",
        "AuthnContextClassRef",
        "HerkenningsmakelaarId",
        "EntityConcernedTypesAllowed",
        "EntityConcernedTypesAllowed",
    ]
    assert definition.findtext("esc:ServiceUUID", namespaces=NS) == SERVICE_UUID
    names = {name.get(XML_LANG): name.text for name in definition.findall("esc:ServiceName", NS)}
    assert names == {"nl": "Mijn DUO voor zakelijke klanten", "en": "Mijn DUO voor zakelijke klanten"}
    descriptions = {d.get(XML_LANG): d.text for d in definition.findall("esc:ServiceDescription", NS)}
    assert set(descriptions) == {"nl", "en"} and all(descriptions.values())
    assert definition.find("saml:AuthnContextClassRef", NS).text == "urn:etoegang:core:assurance-class:loa3"
    assert definition.findtext("esc:HerkenningsmakelaarId", namespaces=NS) == BROKER_OIN
    allowed = [
        (e.text, e.get("setNumber")) for e in definition.findall("esc:EntityConcernedTypesAllowed", NS)
    ]
    assert allowed == [
        ("urn:etoegang:1.9:EntityConcernedID:KvKnr", "1"),
        ("urn:etoegang:1.9:EntityConcernedID:RSIN", "2"),
    ]
    assert definition.find("esc:RequestedAttribute", NS) is None

    instance = provider.find("esc:ServiceInstance", NS)
    assert children(instance) == [
        "ServiceID",
        "ServiceUUID",
        "InstanceOfService",
        "ServiceURL",
        "ServiceURL",
        "PrivacyPolicyURL",
        "PrivacyPolicyURL",
        "HerkenningsmakelaarId",
        "SSOSupport",
        "ServiceCertificate",
    ]
    assert (
        instance.findtext("esc:ServiceID", namespaces=NS) == "urn:etoegang:DV:00000001234567890000:services:1"
    )
    assert instance.findtext("esc:ServiceUUID", namespaces=NS) == INSTANCE_UUID
    assert instance.findtext("esc:InstanceOfService", namespaces=NS) == SERVICE_UUID
    assert {u.text for u in instance.findall("esc:ServiceURL", NS)} == {"https://zakelijk.example.nl/"}
    assert {u.text for u in instance.findall("esc:PrivacyPolicyURL", NS)} == {
        "https://www.example.nl/privacy"
    }
    assert instance.findtext("esc:HerkenningsmakelaarId", namespaces=NS) == BROKER_OIN
    assert instance.findtext("esc:SSOSupport", namespaces=NS) == "false"


def test_service_certificate_is_our_encryption_key_descriptor_with_key_name(catalogue_settings, tmp_path):
    root = etree.fromstring(catalogue(tmp_path))
    descriptor = root.find(".//esc:ServiceCertificate/md:KeyDescriptor", NS)
    assert descriptor.get("use") == "encryption"
    certificate = descriptor.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
    assert certificate == certificate_body(sp_key_files()[1])
    assert descriptor.findtext("ds:KeyInfo/ds:KeyName", namespaces=NS) == fingerprint(certificate)
    schema.validate(etree.tostring(descriptor))  # a valid md:KeyDescriptor


def test_vestigingsnr_restriction_is_listed_only_when_accepted(catalogue_settings, tmp_path):
    root = etree.fromstring(catalogue(tmp_path))
    assert root.find(".//esc:ServiceRestrictionsAllowed", NS) is None
    catalogue_settings.EHERKENNING_ACCEPT_VESTIGING = True
    root = etree.fromstring(catalogue(tmp_path))
    definition = root.find(".//esc:ServiceDefinition", NS)
    assert children(definition)[-1] == "ServiceRestrictionsAllowed"
    assert definition.findtext("esc:ServiceRestrictionsAllowed", namespaces=NS) == (
        "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"
    )


def test_catalogue_goes_to_stdout_without_a_file(catalogue_settings, capsysbinary):
    call_command("eherkenning_catalogue")
    assert capsysbinary.readouterr().out.startswith(b"<?xml")


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("EHERKENNING_SERVICE_UUID", "", "EHERKENNING_SERVICE_UUID is not set"),
        ("EHERKENNING_SERVICE_INSTANCE_UUID", "not-a-uuid", "must be a UUID"),
        ("EHERKENNING_SERVICE_INSTANCE_UUID", SERVICE_UUID, "must differ"),
        ("EHERKENNING_OIN", "1234", "20-digit OIN"),
        ("EHERKENNING_BROKER_ID", "urn:etoegang:HM:broker", "broker's 20-digit OIN"),
        ("EHERKENNING_SERVICE_ID", "urn:etoegang:DV:00000009999999999999:services:1", "our OIN"),
    ],
)
def test_catalogue_refuses_incomplete_or_inconsistent_settings(catalogue_settings, setting, value, message):
    setattr(catalogue_settings, setting, value)
    with pytest.raises(CommandError, match=message):
        call_command("eherkenning_catalogue", stdout=StringIO())


def test_new_uuids_are_two_fresh_uuids_with_the_never_change_warning(settings):
    settings.EHERKENNING_SERVICE_UUID = ""
    settings.EHERKENNING_SERVICE_INSTANCE_UUID = ""
    out, err = StringIO(), StringIO()
    call_command("eherkenning_catalogue", "--new-uuids", stdout=out, stderr=err)
    values = dict(line.split("=", 1) for line in out.getvalue().split())
    assert set(values) == {"EHERKENNING_SERVICE_UUID", "EHERKENNING_SERVICE_INSTANCE_UUID"}
    assert len({str(uuid.UUID(value)) for value in values.values()}) == 2
    assert "must never change" in err.getvalue() and "reused" in err.getvalue()


def test_new_uuids_refuses_to_replace_configured_ones(catalogue_settings):
    with pytest.raises(CommandError, match="never"):
        call_command("eherkenning_catalogue", "--new-uuids", stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("eherkenning_catalogue", "--new-uuids", "--force", stdout=out, stderr=StringIO())
    assert SERVICE_UUID not in out.getvalue()
