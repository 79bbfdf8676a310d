"""The dev broker's IdP side: pysaml2's ``saml2.server.Server`` with its own generated key pair.

It issues real signed (and optionally encrypted) eHerkenning assertions, so development, demos and
tests go through exactly the verification path production uses. Never enabled in production.
"""

import shutil
import threading
from pathlib import Path

import saml2
from django.conf import settings
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from koppeling.saml.keys import keypair_ensure

ATTR_SERVICE_ID = "urn:etoegang:core:ServiceID"
ATTR_ACTING_SUBJECT_ID = "urn:etoegang:core:ActingSubjectID"
ATTR_LEGAL_SUBJECT_ID = "urn:etoegang:core:LegalSubjectID"
ATTR_INTERMEDIATE_KVK = "urn:etoegang:1.9:IntermediateEntityID:KvKnr"
ATTR_COMPANY_NAME = "urn:etoegang:1.11:attribute-represented:CompanyName"

LEVEL_CHOICES = [
    ("urn:etoegang:core:assurance-class:loa2", "EH2"),
    ("urn:etoegang:core:assurance-class:loa2plus", "EH2+"),
    ("urn:etoegang:core:assurance-class:loa3", "EH3"),
    ("urn:etoegang:core:assurance-class:loa4", "EH4"),
]

_lock = threading.Lock()
_servers: dict[tuple, Server] = {}
_metadata: dict[tuple, str] = {}


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
    from koppeling.saml.config import sp_config_load

    return str(entity_descriptor(sp_config_load()))


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
) -> dict[str, list[str]]:
    """The attribute statement an eHerkenning broker sends for one machtiging."""
    attributes = {
        ATTR_SERVICE_ID: [service_id if service_id is not None else settings.EHERKENNING_SERVICE_ID],
        ATTR_ACTING_SUBJECT_ID: [acting_subject_id],
        ATTR_LEGAL_SUBJECT_ID: [legal_subject_id],
    }
    if intermediate_entity_id:
        attributes[ATTR_INTERMEDIATE_KVK] = [intermediate_entity_id]
    if company_name:
        attributes[ATTR_COMPANY_NAME] = [company_name]
    return attributes


def response_create(
    *,
    in_response_to: str | None,
    attributes: dict[str, list[str]],
    name_id: str,
    level: str,
    destination: str | None = None,
    audience: str | None = None,
    encrypt: bool = False,
    sign_alg: str = SIG_RSA_SHA256,
    digest_alg: str = DIGEST_SHA256,
    sign_response: bool = False,
    server: Server | None = None,
) -> str:
    """Return the XML of a signed SAML Response carrying one eHerkenning assertion for our SP."""
    server = server or broker_server()
    site = settings.SITE_URL
    return str(
        server.create_authn_response(
            identity=attributes,
            in_response_to=in_response_to,
            destination=destination or f"{site}/saml2/acs/",
            sp_entity_id=audience or settings.EHERKENNING_SP_ENTITY_ID,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=name_id),
            authn={"class_ref": level, "authn_auth": broker_entity_id()},
            sign_assertion=True,
            sign_response=sign_response,
            encrypt_assertion=encrypt,
            encrypt_assertion_self_contained=True,
            encrypt_cert_assertion=None,
            sign_alg=sign_alg,
            digest_alg=digest_alg,
        )
    )
