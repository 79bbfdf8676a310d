"""The pysaml2 service-provider configuration, built from the EHERKENNING_* settings (design.md §4).

djangosaml2 calls :func:`sp_config_load` (settings.SAML_CONFIG_LOADER) for every SAML view. Parsing
the broker metadata and the key files is the slow part, so the loaded configuration is cached per
process and rebuilt only when a setting, the metadata file, the stored copy of the metadata fetched
by URL, or the signing pair active by date changes.

Our key pairs over time (eherkenning.md §5): :func:`sp_keypairs` lists every configured pair, the
current one and the next one, for decryption; :func:`sp_signing_keypair` is the one pair that signs
(AuthnRequests, ArtifactResolves, the metadata and the catalogue): the next pair from
EHERKENNING_SP_NEXT_FROM on, the current one before.
"""

import re
import shutil
import threading
import time
from datetime import date, datetime
from pathlib import Path

import saml2
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from saml2.config import SPConfig
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from . import client, schema
from .keys import keypair_ensure

client.install()
schema.install()

LOA3 = "urn:etoegang:core:assurance-class:loa3"

# The ACS at <SITE_URL>/saml2/acs/ per response binding, with a fixed index each: HTTP-Artifact is
# index 1 and the default (what eHerkenning brokers use), HTTP-POST index 2 when enabled. Indexes
# start at 1 as pysaml2 and python3-saml number them; fixed, so that an index a broker registered
# keeps meaning the same binding whichever bindings are enabled.
RESPONSE_BINDINGS = {
    "artifact": (saml2.BINDING_HTTP_ARTIFACT, 1),
    "post": (saml2.BINDING_HTTP_POST, 2),
}
SERVICE_ID_PATTERN = re.compile(r"urn:etoegang:DV:(?P<oin>[0-9]{20}):services:(?P<index>[0-9]{1,5})")

_cache: dict[tuple, SPConfig] = {}
# A few configurations may live side by side: the benchmark alternates the two crypto backends per
# request, and a single-entry cache made both pay a full reload each time.
_CACHE_SIZE = 4
_lock = threading.Lock()


def sp_key_files() -> tuple[str, str]:
    """Return (key_file, cert_file) of the current pair: the configured one, or outside production
    one generated outside the repo tree."""
    if settings.EHERKENNING_SP_KEY_FILE and settings.EHERKENNING_SP_CERT_FILE:
        return settings.EHERKENNING_SP_KEY_FILE, settings.EHERKENNING_SP_CERT_FILE
    key, cert = keypair_ensure(
        directory=Path(settings.EHERKENNING_KEY_DIR), name="sp", common_name="mijnduo SP (development)"
    )
    return str(key), str(cert)


def sp_next_key_files() -> tuple[str, str] | None:
    """Return (key_file, cert_file) of the next pair, or None when none is planned.

    Configured by EHERKENNING_SP_NEXT_KEY_FILE/…_CERT_FILE. Outside production, setting only
    EHERKENNING_SP_NEXT_FROM asks for a generated next pair (beside the generated current one).
    """
    if settings.EHERKENNING_SP_NEXT_KEY_FILE and settings.EHERKENNING_SP_NEXT_CERT_FILE:
        return settings.EHERKENNING_SP_NEXT_KEY_FILE, settings.EHERKENNING_SP_NEXT_CERT_FILE
    if settings.EHERKENNING_SP_NEXT_FROM is not None and not settings.IS_PRODUCTION:
        key, cert = keypair_ensure(
            directory=Path(settings.EHERKENNING_KEY_DIR),
            name="sp-next",
            common_name="mijnduo SP next (development)",
        )
        return str(key), str(cert)
    return None


def sp_keypairs() -> list[tuple[str, str]]:
    """Every configured SP pair as (key_file, cert_file), current first: decryption tries them all
    (a broker encrypts to the old key until it switches to the next one)."""
    pairs = [sp_key_files()]
    next_pair = sp_next_key_files()
    if next_pair is not None and next_pair != pairs[0]:
        pairs.append(next_pair)
    return pairs


def _today(now: datetime | None) -> date:
    return timezone.localdate(now) if now is not None else timezone.localdate()


def sp_next_active(now: datetime | None = None) -> bool:
    """True from EHERKENNING_SP_NEXT_FROM on (a date in the site's time zone), when a next pair exists."""
    next_from = settings.EHERKENNING_SP_NEXT_FROM
    return next_from is not None and _today(now) >= next_from and sp_next_key_files() is not None


def sp_signing_keypair(now: datetime | None = None) -> tuple[str, str]:
    """The (key_file, cert_file) that signs at ``now``: the next pair from its date on, else the current."""
    if sp_next_active(now):
        return sp_next_key_files()
    return sp_key_files()


def sp_metadata_keypair() -> tuple[str, str]:
    """The pair whose certificate our metadata and catalogue show: the next one as soon as it is
    configured, else the current one (see metadata.py for why only one)."""
    return sp_next_key_files() or sp_key_files()


def sp_tls_client_pair(now: datetime | None = None) -> tuple[str, str]:
    """(cert_file, key_file) for mutual TLS to the broker — the order ``requests``' ``cert=`` takes.

    EHERKENNING_TLS_CLIENT_CERT_FILE/…_KEY_FILE when set, else the SP pair that signs at ``now``.
    """
    if settings.EHERKENNING_TLS_CLIENT_CERT_FILE and settings.EHERKENNING_TLS_CLIENT_KEY_FILE:
        return settings.EHERKENNING_TLS_CLIENT_CERT_FILE, settings.EHERKENNING_TLS_CLIENT_KEY_FILE
    key_file, cert_file = sp_signing_keypair(now)
    return cert_file, key_file


def service_index() -> int:
    """The AttributeConsumingService index: the number that ends EHERKENNING_SERVICE_ID."""
    match = SERVICE_ID_PATTERN.fullmatch(settings.EHERKENNING_SERVICE_ID)
    if match is None:
        raise ImproperlyConfigured(
            "EHERKENNING_SERVICE_ID must look like urn:etoegang:DV:<20-digit OIN>:services:<index>, "
            f"not {settings.EHERKENNING_SERVICE_ID!r}"
        )
    return int(match["index"])


def acs_url() -> str:
    return f"{settings.SITE_URL}/saml2/acs/"


def acs_endpoints() -> list[tuple[str, str, int]]:
    """(location, binding, index) of each ACS enabled by EHERKENNING_RESPONSE_BINDINGS, artifact first."""
    enabled = settings.EHERKENNING_RESPONSE_BINDINGS
    return [
        (acs_url(), binding, index) for name, (binding, index) in RESPONSE_BINDINGS.items() if name in enabled
    ]


def response_binding() -> str:
    """The binding our AuthnRequest asks the response in: HTTP-Artifact when enabled, else HTTP-POST."""
    return acs_endpoints()[0][1]


def idp_metadata_source() -> dict:
    """The broker metadata, as pysaml2's ``metadata`` setting; never fetched on the request path.

    With EHERKENNING_IDP_METADATA_URL: the last good copy the scheduled refresh stored
    (idp_metadata.py) — until the first one is stored, the EHERKENNING_IDP_METADATA file if set.
    Else the file; else the built-in dev broker's (when enabled).
    """
    if settings.EHERKENNING_IDP_METADATA_URL:
        from .idp_metadata import stored_xml

        xml = stored_xml()
        if xml:
            return {"inline": [xml]}
    if settings.EHERKENNING_IDP_METADATA:
        return {"local": [settings.EHERKENNING_IDP_METADATA]}
    if settings.EHERKENNING_DEV_BROKER and not settings.EHERKENNING_IDP_METADATA_URL:
        from koppeling.dev_broker.idp import broker_metadata_xml

        return {"inline": [broker_metadata_xml()]}
    return {}


def sp_config_dict() -> dict:
    key_file, cert_file = sp_signing_keypair()
    site = settings.SITE_URL
    return {
        "entityid": settings.EHERKENNING_SP_ENTITY_ID,
        "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
        # pysaml2 signs with key_file/cert_file: the pair active by date.
        "key_file": key_file,
        "cert_file": cert_file,
        # ... and decrypts with each of these in turn.
        "encryption_keypairs": [{"key_file": key, "cert_file": cert} for key, cert in sp_keypairs()],
        "metadata": idp_metadata_source(),
        "allow_unknown_attributes": True,
        "accepted_time_diff": settings.EHERKENNING_CLOCK_SKEW_SECONDS,
        "delete_tmpfiles": True,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "service": {
            "sp": {
                "name": "Mijn DUO Zakelijk",
                "name_id_format_allow_create": False,
                "endpoints": {
                    "assertion_consumer_service": acs_endpoints(),
                    "single_logout_service": [
                        (f"{site}/saml2/ls/", saml2.BINDING_HTTP_REDIRECT),
                        (f"{site}/saml2/ls/post/", saml2.BINDING_HTTP_POST),
                    ],
                },
                "authn_requests_signed": True,
                "logout_requests_signed": True,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": False,
                "allow_unknown_attributes": True,
                # pysaml2 signs with SHA-1 unless told otherwise, here and in djangosaml2's LoginView.
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
                "requested_authn_context": {"authn_context_class_ref": [LOA3], "comparison": "minimum"},
            }
        },
    }


CRYPTO_BACKENDS = ("xmlsec", "xmlsec1")


def crypto_backend_factory():
    """The crypto backend for settings.EHERKENNING_CRYPTO_BACKEND, as a callable taking the xmlsec1 path
    (client.security_context_cached plugs it into the SecurityContext); None keeps pysaml2's own."""
    name = settings.EHERKENNING_CRYPTO_BACKEND
    if name not in CRYPTO_BACKENDS:
        raise ImproperlyConfigured(f"EHERKENNING_CRYPTO_BACKEND must be one of {CRYPTO_BACKENDS}: {name!r}")
    if name == "xmlsec":
        from .crypto import CryptoBackendXmlSec

        return CryptoBackendXmlSec
    return None


def _cache_key() -> tuple:
    metadata = settings.EHERKENNING_IDP_METADATA
    mtime = Path(metadata).stat().st_mtime_ns if metadata and Path(metadata).exists() else None
    next_from = settings.EHERKENNING_SP_NEXT_FROM
    return (
        settings.SITE_URL,
        settings.EHERKENNING_SP_ENTITY_ID,
        settings.EHERKENNING_SP_KEY_FILE,
        settings.EHERKENNING_SP_CERT_FILE,
        settings.EHERKENNING_SP_NEXT_KEY_FILE,
        settings.EHERKENNING_SP_NEXT_CERT_FILE,
        next_from,
        # Which pair signs changes at midnight of EHERKENNING_SP_NEXT_FROM.
        next_from is not None and _today(None) >= next_from,
        str(settings.EHERKENNING_KEY_DIR),
        tuple(settings.EHERKENNING_RESPONSE_BINDINGS),
        metadata,
        mtime,
        settings.EHERKENNING_IDP_METADATA_URL,
        _stored_metadata_version() if settings.EHERKENNING_IDP_METADATA_URL else None,
        settings.EHERKENNING_DEV_BROKER,
        # The dev broker's inline metadata names its ArtifactResolutionService (tests serve it on loopback).
        getattr(settings, "EHERKENNING_DEV_BROKER_ARS_URL", "") if settings.EHERKENNING_DEV_BROKER else None,
        settings.EHERKENNING_CRYPTO_BACKEND,
        settings.IS_PRODUCTION,
    )


# The stored copy's version is read from the database at most this often per process: a new copy is
# stored at most hourly, and a query per SAML request would cost the ACS a round trip. A store in
# this process (the refresh task, the command, tests) forgets the remembered version at once.
_VERSION_TTL_SECONDS = 30.0
_version_seen: tuple[float, str, object] | None = None


def _stored_metadata_version():
    global _version_seen
    url = settings.EHERKENNING_IDP_METADATA_URL
    seen = _version_seen
    now = time.monotonic()
    if seen is not None and seen[1] == url and now - seen[0] < _VERSION_TTL_SECONDS:
        return seen[2]
    from .idp_metadata import stored_version

    version = stored_version()
    _version_seen = (now, url, version)
    return version


def stored_metadata_changed() -> None:
    """Called after a new copy of the broker metadata is stored: re-read it on the next request."""
    global _version_seen
    _version_seen = None


def sp_config_load(request=None) -> SPConfig:
    """SAML_CONFIG_LOADER for djangosaml2: the cached SPConfig for the current settings."""
    key = _cache_key()
    config = _cache.get(key)
    if config is None:
        with _lock:
            config = _cache.get(key)
            if config is None:
                config = SPConfig()
                config.load(sp_config_dict())
                config.crypto_backend_factory = crypto_backend_factory()
                if len(_cache) >= _CACHE_SIZE:  # settings changed (tests, the bench): start over
                    _cache.clear()
                _cache[key] = config
    return config


def sp_config_reset() -> None:
    """Forget the cached configuration (tests that change settings or keys)."""
    _cache.clear()
    stored_metadata_changed()
