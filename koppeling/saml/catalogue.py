"""The dienstcatalogus (service catalogue) the broker registers our service from (eherkenning.md §4).

A signed ``esc:ServiceCatalogue`` of the afsprakenstelsel 1.13 (namespace
``urn:etoegang:1.13:service-catalog``, Version ``urn:etoegang:1.13:53``), written by
``manage.py eherkenning_catalogue``:

- ServiceProvider: our OIN and display name;
- ServiceDefinition: the ServiceUUID, names and descriptions in nl and en, level loa3 as
  ``saml:AuthnContextClassRef``, the broker's OIN, the EntityConcerned types we accept (KvKnr and RSIN,
  each in a set of its own: either identifies the organisation, a login may carry one or both), and
  ``ServiceRestrictionsAllowed`` Vestigingsnr only with EHERKENNING_ACCEPT_VESTIGING — a broker must
  not send a restriction the catalogue does not list; no RequestedAttribute (we ask nothing identifying);
- ServiceInstance: the ServiceID, the instance's own UUID, ``InstanceOfService`` = the ServiceUUID, the
  service and privacy URLs, ``SSOSupport`` false, and our encryption certificate as a KeyDescriptor —
  the next one as soon as it is configured, as in the metadata (metadata.py explains why only one).

The ServiceUUID and the instance UUID are made once per deployment (``--new-uuids``) and never change
or get reused: the machtigingenregisters register every authorisation to the ServiceUUID.
"""

import re
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from lxml import etree

from accounts.constants import EHERKENNING_SERVICE_NAME

from .config import SERVICE_ID_PATTERN, sp_metadata_keypair, sp_signing_keypair
from .metadata import NS_MD, NS_XML, key_descriptor
from .xmldsig import NS_DS, sign_enveloped

NS_ESC = "urn:etoegang:1.13:service-catalog"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
VERSION = "urn:etoegang:1.13:53"
LOA3 = "urn:etoegang:core:assurance-class:loa3"
ENTITY_CONCERNED_TYPES = (
    "urn:etoegang:1.9:EntityConcernedID:KvKnr",
    "urn:etoegang:1.9:EntityConcernedID:RSIN",
)
RESTRICTION_VESTIGING = "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"

ORGANISATION_NAME = {"nl": "Dienst Uitvoering Onderwijs (DUO)", "en": "Dienst Uitvoering Onderwijs (DUO)"}
SERVICE_NAME = {"nl": EHERKENNING_SERVICE_NAME, "en": EHERKENNING_SERVICE_NAME}
SERVICE_DESCRIPTION = {
    "nl": (
        "Inloggen op Mijn DUO Zakelijk, het portaal van DUO voor onderwijsinstellingen, besturen en andere "
        "zakelijke klanten, met eHerkenning op niveau EH3 of hoger."
    ),
    "en": (
        "Logging in to Mijn DUO Zakelijk, DUO's portal for educational institutions, school boards and "
        "other business customers, with eHerkenning at level EH3 or higher."
    ),
}
_OIN = re.compile(r"[0-9]{20}")

NSMAP = {"esc": NS_ESC, "ds": NS_DS, "md": NS_MD, "saml": NS_SAML}


def _esc(tag: str) -> str:
    return f"{{{NS_ESC}}}{tag}"


def _uuid(name: str, value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as error:
        raise ImproperlyConfigured(
            f"{name} must be a UUID (make one with eherkenning_catalogue --new-uuids), not {value!r}"
        ) from error


def catalogue_settings() -> dict:
    """The catalogue's values from the settings, checked; ImproperlyConfigured names what is missing."""
    oin = settings.EHERKENNING_OIN
    broker = settings.EHERKENNING_BROKER_ID
    if not _OIN.fullmatch(oin or ""):
        raise ImproperlyConfigured(f"EHERKENNING_OIN must be our 20-digit OIN, not {oin!r}")
    if not _OIN.fullmatch(broker or ""):
        raise ImproperlyConfigured(f"EHERKENNING_BROKER_ID must be the broker's 20-digit OIN, not {broker!r}")
    match = SERVICE_ID_PATTERN.fullmatch(settings.EHERKENNING_SERVICE_ID)
    if match is None or match["oin"] != oin:
        raise ImproperlyConfigured(
            f"EHERKENNING_SERVICE_ID must be urn:etoegang:DV:{oin}:services:<index> (our OIN), "
            f"not {settings.EHERKENNING_SERVICE_ID!r}"
        )
    for name in ("EHERKENNING_SERVICE_UUID", "EHERKENNING_SERVICE_INSTANCE_UUID"):
        if not getattr(settings, name):
            raise ImproperlyConfigured(f"{name} is not set (make it once with --new-uuids)")
    service_uuid = _uuid("EHERKENNING_SERVICE_UUID", settings.EHERKENNING_SERVICE_UUID)
    instance_uuid = _uuid("EHERKENNING_SERVICE_INSTANCE_UUID", settings.EHERKENNING_SERVICE_INSTANCE_UUID)
    if service_uuid == instance_uuid:
        raise ImproperlyConfigured("EHERKENNING_SERVICE_UUID and …_INSTANCE_UUID must differ")
    return {
        "oin": oin,
        "broker": broker,
        "service_id": settings.EHERKENNING_SERVICE_ID,
        "service_uuid": service_uuid,
        "instance_uuid": instance_uuid,
        "service_url": settings.EHERKENNING_SERVICE_URL,
        "privacy_url": settings.EHERKENNING_PRIVACY_URL,
        "vestiging": settings.EHERKENNING_ACCEPT_VESTIGING,
    }


def _localised(parent, tag: str, values: dict[str, str]) -> None:
    for language, text in values.items():
        etree.SubElement(parent, _esc(tag), {f"{{{NS_XML}}}lang": language}).text = text


def catalogue_build(*, now: datetime | None = None) -> bytes:
    """Build and sign the catalogue; return it as UTF-8 XML with a declaration."""
    values = catalogue_settings()
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    root = etree.Element(
        _esc("ServiceCatalogue"),
        {_esc("IssueInstant"): now.strftime("%Y-%m-%dT%H:%M:%SZ"), _esc("Version"): VERSION},
        nsmap=NSMAP,
        ID=f"_{uuid.uuid4().hex}",
    )
    provider = etree.SubElement(root, _esc("ServiceProvider"), {_esc("IsPublic"): "true"})
    etree.SubElement(provider, _esc("ServiceProviderID")).text = values["oin"]
    _localised(provider, "OrganizationDisplayName", ORGANISATION_NAME)

    definition = etree.SubElement(provider, _esc("ServiceDefinition"), {_esc("IsPublic"): "true"})
    etree.SubElement(definition, _esc("ServiceUUID")).text = values["service_uuid"]
    _localised(definition, "ServiceName", SERVICE_NAME)
    _localised(definition, "ServiceDescription", SERVICE_DESCRIPTION)
    etree.SubElement(definition, f"{{{NS_SAML}}}AuthnContextClassRef").text = LOA3
    etree.SubElement(definition, _esc("HerkenningsmakelaarId")).text = values["broker"]
    for set_number, entity_type in enumerate(ENTITY_CONCERNED_TYPES, start=1):
        etree.SubElement(
            definition, _esc("EntityConcernedTypesAllowed"), setNumber=str(set_number)
        ).text = entity_type
    if values["vestiging"]:
        etree.SubElement(definition, _esc("ServiceRestrictionsAllowed")).text = RESTRICTION_VESTIGING

    instance = etree.SubElement(provider, _esc("ServiceInstance"), {_esc("IsPublic"): "true"})
    etree.SubElement(instance, _esc("ServiceID")).text = values["service_id"]
    etree.SubElement(instance, _esc("ServiceUUID")).text = values["instance_uuid"]
    etree.SubElement(instance, _esc("InstanceOfService")).text = values["service_uuid"]
    _localised(instance, "ServiceURL", {"nl": values["service_url"], "en": values["service_url"]})
    _localised(instance, "PrivacyPolicyURL", {"nl": values["privacy_url"], "en": values["privacy_url"]})
    etree.SubElement(instance, _esc("HerkenningsmakelaarId")).text = values["broker"]
    etree.SubElement(instance, _esc("SSOSupport")).text = "false"
    certificate = etree.SubElement(instance, _esc("ServiceCertificate"))
    certificate.append(key_descriptor(use="encryption", cert_file=sp_metadata_keypair()[1]))

    key_file, cert_file = sp_signing_keypair()
    sign_enveloped(root, key_file=key_file, cert_file=cert_file)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=False)


def catalogue_uuids_new() -> tuple[str, str]:
    """A fresh (ServiceUUID, service-instance UUID): random version-4 UUIDs."""
    return str(uuid.uuid4()), str(uuid.uuid4())
