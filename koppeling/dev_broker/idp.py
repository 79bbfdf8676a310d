"""The dev broker's IdP side: pysaml2's ``saml2.server.Server`` with its own generated key pair.

It issues real signed (and optionally encrypted) eHerkenning assertions, so development, demos and
tests go through exactly the verification path production uses. Never enabled in production.
"""

import datetime
import secrets
import shutil
import threading
from pathlib import Path

import saml2
from django.conf import settings
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from koppeling.saml.keys import keypair_ensure

from . import assertion, xmlenc

ATTR_SERVICE_ID = "urn:etoegang:core:ServiceID"
ATTR_ACTING_SUBJECT_ID = "urn:etoegang:core:ActingSubjectID"
ATTR_LEGAL_SUBJECT_ID = "urn:etoegang:core:LegalSubjectID"
ATTR_INTERMEDIATE_KVK = "urn:etoegang:1.9:IntermediateEntityID:KvKnr"
ATTR_COMPANY_NAME = "urn:etoegang:1.11:attribute-represented:CompanyName"
ATTR_SERVICE_UUID = "urn:etoegang:core:ServiceUUID"
ATTR_VESTIGINGSNR = "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"

LEVEL_CHOICES = [
    ("urn:etoegang:core:assurance-class:loa2", "EH2"),
    ("urn:etoegang:core:assurance-class:loa2plus", "EH2+"),
    ("urn:etoegang:core:assurance-class:loa3", "EH3"),
    ("urn:etoegang:core:assurance-class:loa4", "EH4"),
]

_lock = threading.Lock()
_servers: dict[tuple, Server] = {}
_metadata: dict = {}


def broker_entity_id() -> str:
    return f"{settings.SITE_URL}/dev/broker/metadata/"


def ars_url() -> str:
    """The advertised ArtifactResolutionService: EHERKENNING_DEV_BROKER_ARS_URL (the tests' TLS
    server on loopback) or the broker's own page under SITE_URL (artifact.py)."""
    return getattr(settings, "EHERKENNING_DEV_BROKER_ARS_URL", "") or f"{settings.SITE_URL}/dev/broker/ars/"


def broker_key_files() -> tuple[str, str]:
    key, cert = keypair_ensure(
        directory=Path(settings.EHERKENNING_KEY_DIR), name="dev-broker", common_name="mijnduo dev broker"
    )
    return str(key), str(cert)


def broker_config(*, key_file: str, cert_file: str, sp_metadata: str | None) -> IdPConfig:
    site = settings.SITE_URL
    config = IdPConfig()
    config.load(
        {
            "entityid": broker_entity_id(),
            "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
            "key_file": key_file,
            "cert_file": cert_file,
            "metadata": {"inline": [sp_metadata]} if sp_metadata else {},
            "allow_unknown_attributes": True,
            "accepted_time_diff": 60,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "service": {
                "idp": {
                    "name": "eHerkenning dev broker",
                    "endpoints": {
                        "single_sign_on_service": [(f"{site}/dev/broker/sso/", saml2.BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(f"{site}/dev/broker/slo/", saml2.BINDING_HTTP_REDIRECT)],
                        "artifact_resolution_service": [(ars_url(), saml2.BINDING_SOAP)],
                    },
                    "want_authn_requests_signed": True,
                    "signing_algorithm": SIG_RSA_SHA256,
                    "digest_algorithm": DIGEST_SHA256,
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "attribute_restrictions": None,
                            "name_form": NAME_FORMAT_URI,
                        }
                    },
                }
            },
        }
    )
    return config


def broker_metadata_xml() -> str:
    """The broker's IdP metadata (what a real broker publishes), cached per site and key pair."""
    key_file, cert_file = broker_key_files()
    cache_key = (settings.SITE_URL, key_file, ars_url())
    xml = _metadata.get(cache_key)
    if xml is None:
        config = broker_config(key_file=key_file, cert_file=cert_file, sp_metadata=None)
        xml = str(entity_descriptor(config))
        _metadata[cache_key] = xml
    return xml


def sp_metadata_xml() -> str:
    """Our SP as the broker knows it, built once per SP configuration.

    pysaml2's entity_descriptor costs ~50 ms (it asks xmlsec1 for its transforms); every minted
    response and resolved artifact needs it. The configuration object is held in the cache, so its
    identity stands for the settings and keys it was loaded from.
    """
    from koppeling.saml.config import sp_config_load

    config = sp_config_load()
    cached = _metadata.get("sp")
    if cached is None or cached[0] is not config:
        cached = (config, str(entity_descriptor(config)))
        _metadata["sp"] = cached
    return cached[1]


def broker_server(*, key_file: str | None = None, cert_file: str | None = None) -> Server:
    """A pysaml2 IdP server that knows our SP from its metadata (signed with the broker's or another key)."""
    if key_file is None or cert_file is None:
        key_file, cert_file = broker_key_files()
    sp_metadata = sp_metadata_xml()
    cache_key = (settings.SITE_URL, key_file, cert_file, hash(sp_metadata))
    server = _servers.get(cache_key)
    if server is None:
        with _lock:
            server = _servers.get(cache_key)
            if server is None:
                server = Server(
                    config=broker_config(key_file=key_file, cert_file=cert_file, sp_metadata=sp_metadata)
                )
                _servers[cache_key] = server
    return server


def etoegang_attributes(
    *,
    acting_subject_id: str,
    legal_subject_id: str,
    service_id: str | None = None,
    intermediate_entity_id: str = "",
    company_name: str = "",
    legal_subject_rsin: str = "",
    vestigingsnr: str = "",
    plain: bool = False,
    pseudo_qualifier: str = assertion.QUALIFIER_PSEUDO,
) -> dict[str, list]:
    """The attribute statement an eHerkenning broker sends for one machtiging.

    Identifiers are :class:`assertion.Identifier` values (sent as EncryptedID, typed by qualifier),
    or plain strings with ``plain`` (a test broker that does not encrypt). ``legal_subject_id`` is
    a KvK-nummer (8 digits) or an RSIN (9 digits); ``legal_subject_rsin`` adds an RSIN beside it.
    """

    def identifier(qualifier: str, value: str):
        return value if plain else assertion.Identifier(qualifier, value)

    legal_qualifier = assertion.QUALIFIER_RSIN if len(legal_subject_id) == 9 else assertion.QUALIFIER_KVK
    attributes = {
        ATTR_SERVICE_ID: [service_id if service_id is not None else settings.EHERKENNING_SERVICE_ID],
        ATTR_SERVICE_UUID: [str(getattr(settings, "EHERKENNING_SERVICE_UUID", "") or "")],
        ATTR_ACTING_SUBJECT_ID: [identifier(pseudo_qualifier, acting_subject_id)],
        ATTR_LEGAL_SUBJECT_ID: [identifier(legal_qualifier, legal_subject_id)] if legal_subject_id else [],
    }
    if not attributes[ATTR_SERVICE_UUID][0]:
        del attributes[ATTR_SERVICE_UUID]
    if legal_subject_rsin:
        attributes[ATTR_LEGAL_SUBJECT_ID].append(identifier(assertion.QUALIFIER_RSIN, legal_subject_rsin))
    if intermediate_entity_id:
        attributes[ATTR_INTERMEDIATE_KVK] = [
            identifier(assertion.QUALIFIER_INTERMEDIATE, intermediate_entity_id)
        ]
    if vestigingsnr:
        attributes[ATTR_VESTIGINGSNR] = [vestigingsnr]
    if company_name:
        attributes[ATTR_COMPANY_NAME] = [company_name]
    return attributes


def _support_keys(name: str) -> tuple[str, str]:
    """The key pair of the authentication service (AD) or machtigingenregister (MR) in the Advice."""
    key, cert = keypair_ensure(
        directory=Path(settings.EHERKENNING_KEY_DIR), name=f"dev-{name}", common_name=f"mijnduo dev {name}"
    )
    return str(key), str(cert)


def sp_recipients(*, audience: str, cert_files: list[str] | None = None) -> list[xmlenc.Recipient]:
    """Who the identifiers are encrypted to: the SP's certificate(s) (by default the current one)."""
    if cert_files is None:
        from koppeling.saml.config import sp_key_files

        cert_files = [sp_key_files()[1]]
    return [xmlenc.recipient_from_file(cert_file, audience) for cert_file in cert_files]


def response_create(
    *,
    in_response_to: str | None,
    attributes: dict[str, list],
    name_id: str,
    level: str,
    destination: str | None = None,
    audience: str | None = None,
    encrypt: bool = False,
    sign_alg: str = SIG_RSA_SHA256,
    digest_alg: str = DIGEST_SHA256,
    sign_response: bool = False,
    server: Server | None = None,
    advice: bool = True,
    advice_acting_subject_id: str = "",
    advice_legal_subject_id: str = "",
    layout: str = "retrieval",
    encrypt_to: list[str] | None = None,
    data_algorithm: str = xmlenc.AES256_CBC,
    transport: str = xmlenc.RSA_OAEP_MGF1P,
    key_files: tuple[str, str] | None = None,
) -> str:
    """Return the XML of a SAML Response carrying one eHerkenning 1.13 assertion for our SP.

    pysaml2's IdP writes it unsigned (a transient NameID: the subject is no identity in
    eHerkenning); assertion.py encrypts the identifiers (to ``encrypt_to``: SP certificate files,
    default the SP's current one; ``layout`` of the EncryptedKeys), adds the Advice (AD and MR
    assertions, with their own identifiers ``advice_*`` that must never count), signs, and
    optionally encrypts the assertion and signs the response.
    """
    server = server or broker_server()
    site = settings.SITE_URL
    audience = audience or settings.EHERKENNING_SP_ENTITY_ID
    identifiers: dict[str, assertion.Identifier] = {}
    identity = {}
    for name, values in attributes.items():
        written = []
        for value in values:
            if isinstance(value, assertion.Identifier):
                placeholder = f"encrypted-{len(identifiers)}-{secrets.token_hex(8)}"
                identifiers[placeholder] = value
                value = placeholder
            written.append(value)
        identity[name] = written
    response = server.create_authn_response(
        identity=identity,
        in_response_to=in_response_to,
        destination=destination or f"{site}/saml2/acs/",
        # pysaml2 looks the SP up in its metadata: mint for ours, and address another audience below.
        sp_entity_id=settings.EHERKENNING_SP_ENTITY_ID,
        name_id=NameID(format=NAMEID_FORMAT_TRANSIENT, text=f"_{secrets.token_hex(16)}"),
        authn={"class_ref": level, "authn_auth": broker_entity_id()},
        sign_assertion=False,
        sign_response=False,
        encrypt_assertion=False,
    )
    recipients = sp_recipients(audience=audience, cert_files=encrypt_to)
    if key_files is None:
        key_files = (server.config.key_file, server.config.cert_file)
    advice_element = None
    if advice:
        acting = next(
            (v for v in attributes.get(ATTR_ACTING_SUBJECT_ID, []) if isinstance(v, assertion.Identifier)),
            None,
        )
        legal = next(
            (v for v in attributes.get(ATTR_LEGAL_SUBJECT_ID, []) if isinstance(v, assertion.Identifier)),
            None,
        )
        advice_element = assertion.advice_build(
            broker_entity_id=broker_entity_id(),
            level=level,
            now=datetime.datetime.now(datetime.UTC),
            recipients=recipients,
            # The AD knows the person by its own pseudonym, not the one for this DV.
            acting_subject_id=advice_acting_subject_id or f"AD-{acting.value if acting else name_id}",
            legal_subject_id=advice_legal_subject_id or (legal.value if legal else "00000000"),
            ad_keys=_support_keys("ad"),
            mr_keys=_support_keys("mr"),
        )
    return assertion.response_finish(
        str(response),
        identifiers=identifiers,
        recipients=recipients,
        layout=layout,
        advice=advice_element,
        key_file=key_files[0],
        cert_file=key_files[1],
        sha1=sign_alg != SIG_RSA_SHA256 or digest_alg != DIGEST_SHA256,
        encrypt=encrypt,
        sign_response=sign_response,
        data_algorithm=data_algorithm,
        transport=transport,
        audience=audience,
    )
