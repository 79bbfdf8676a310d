"""Our SP metadata at /saml2/metadata/, as eHerkenning brokers take it (eherkenning.md §4).

One signed ``md:EntityDescriptor`` (enveloped, exclusive C14N, RSA-SHA256, with the pair that signs
by date) holding one ``SPSSODescriptor`` with AuthnRequestsSigned and WantAssertionsSigned, and only
what the afsprakenstelsel lists for a DV:

- a KeyDescriptor for signing and one for encryption, each with a ``ds:KeyName`` (the certificate's
  hex SHA-256 fingerprint) and the X509 certificate;
- the logout endpoints; the ACS per enabled response binding (HTTP-Artifact index 1 and default,
  HTTP-POST index 2 only when EHERKENNING_RESPONSE_BINDINGS has it);
- one default AttributeConsumingService, its index the one ending EHERKENNING_SERVICE_ID, whose only
  RequestedAttribute is named after the ServiceID. No NameIDFormat, and never an identifying
  attribute (KvKnr, RSIN, Pseudo, BSN): brokers refuse metadata that asks for one.

Which certificate: once a next pair is configured, the KeyDescriptors show **only the next
certificate**. Brokers (and DigiD) asked for exactly that — one certificate, not the soon-expiring
current one next to the new one — and load new DV metadata at an agreed moment. Until the broker has
switched it still encrypts to the current key, which we keep decrypting with (config.sp_keypairs);
EHERKENNING_SP_NEXT_FROM must be the agreed switch date, from which we sign with the next key
(config.sp_signing_keypair). The document itself is signed with the pair active by date, which the
broker knows at that moment.

pysaml2's own ``entity_descriptor`` (which the dev broker still reads, dev_broker/idp.py) adds a
NameIDFormat, algorithm extensions and no KeyName; this document is built here instead.
"""

import threading
import uuid

import saml2
from django.conf import settings
from lxml import etree
from saml2 import samlp
from saml2.xml.schema import XMLSchemaError

from accounts.constants import EHERKENNING_SERVICE_NAME

from . import schema
from .config import acs_endpoints, service_index, sp_config_load, sp_metadata_keypair, sp_signing_keypair
from .xmldsig import NS_DS, certificate_base64, certificate_key_name, certificate_load, sign_enveloped

NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_XML = "http://www.w3.org/XML/1998/namespace"
SERVICE_NAME = EHERKENNING_SERVICE_NAME

_cache: dict[str, tuple] = {}
_lock = threading.Lock()


def _md(tag: str) -> str:
    return f"{{{NS_MD}}}{tag}"


def key_descriptor(*, use: str | None, cert_file: str, nsmap: dict | None = None) -> etree._Element:
    """An md:KeyDescriptor with ds:KeyName (hex SHA-256 fingerprint) and the certificate."""
    certificate = certificate_load(cert_file)
    descriptor = etree.Element(_md("KeyDescriptor"), nsmap=nsmap)
    if use:
        descriptor.set("use", use)
    key_info = etree.SubElement(descriptor, f"{{{NS_DS}}}KeyInfo")
    etree.SubElement(key_info, f"{{{NS_DS}}}KeyName").text = certificate_key_name(certificate)
    x509_data = etree.SubElement(key_info, f"{{{NS_DS}}}X509Data")
    etree.SubElement(x509_data, f"{{{NS_DS}}}X509Certificate").text = certificate_base64(certificate)
    return descriptor


def sp_metadata_build() -> bytes:
    """Build, sign and schema-check our metadata document (UTF-8 bytes with an XML declaration)."""
    site = settings.SITE_URL
    root = etree.Element(
        _md("EntityDescriptor"),
        nsmap={"md": NS_MD, "ds": NS_DS},
        entityID=settings.EHERKENNING_SP_ENTITY_ID,
        ID=f"_{uuid.uuid4().hex}",
    )
    sp = etree.SubElement(
        root,
        _md("SPSSODescriptor"),
        AuthnRequestsSigned="true",
        WantAssertionsSigned="true",
        protocolSupportEnumeration=samlp.NAMESPACE,
    )
    _key_file, cert_file = sp_metadata_keypair()
    for use in ("signing", "encryption"):
        sp.append(key_descriptor(use=use, cert_file=cert_file))
    for location, binding in (
        (f"{site}/saml2/ls/", saml2.BINDING_HTTP_REDIRECT),
        (f"{site}/saml2/ls/post/", saml2.BINDING_HTTP_POST),
    ):
        etree.SubElement(sp, _md("SingleLogoutService"), Binding=binding, Location=location)
    for position, (location, binding, index) in enumerate(acs_endpoints()):
        acs = etree.SubElement(
            sp, _md("AssertionConsumerService"), Binding=binding, Location=location, index=str(index)
        )
        if position == 0:
            acs.set("isDefault", "true")
    service = etree.SubElement(
        sp, _md("AttributeConsumingService"), index=str(service_index()), isDefault="true"
    )
    etree.SubElement(service, _md("ServiceName"), {f"{{{NS_XML}}}lang": "nl"}).text = SERVICE_NAME
    etree.SubElement(service, _md("RequestedAttribute"), Name=settings.EHERKENNING_SERVICE_ID)

    signing_key, signing_cert = sp_signing_keypair()
    sign_enveloped(root, key_file=signing_key, cert_file=signing_cert)
    document = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    try:
        schema.validate(document)
    except XMLSchemaError as error:  # our own document: a bug, never the visitor's fault
        raise RuntimeError(f"our SP metadata does not validate: {error}") from error
    return document


def sp_metadata_xml() -> str:
    """The signed SP metadata, built once per configuration (settings, keys, date of the signing pair)."""
    # The configuration object itself is part of the key (held, so its id is never reused).
    key = (sp_config_load(), sp_metadata_keypair(), sp_signing_keypair())
    cached = _cache.get("metadata")
    if cached is not None and cached[0][0] is key[0] and cached[0][1:] == key[1:]:
        return cached[1]
    with _lock:
        xml = sp_metadata_build().decode("utf-8")
        _cache["metadata"] = (key, xml)
    return xml
