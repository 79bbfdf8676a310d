"""The pysaml2 service-provider configuration, built from the EHERKENNING_* settings (design.md §4).

djangosaml2 calls :func:`sp_config_load` (settings.SAML_CONFIG_LOADER) for every SAML view. Parsing
the broker metadata and the key files is the slow part, so the loaded configuration is cached per
process and rebuilt only when a setting or the metadata file changes.
"""

import shutil
import threading
from pathlib import Path

import saml2
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from saml2.config import SPConfig
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from . import client, schema
from .keys import keypair_ensure

client.install()
schema.install()

LOA3 = "urn:etoegang:core:assurance-class:loa3"

_cache: dict[tuple, SPConfig] = {}
# A few configurations may live side by side: the benchmark alternates the two crypto backends per
# request, and a single-entry cache made both pay a full reload each time.
_CACHE_SIZE = 4
_lock = threading.Lock()


def sp_key_files() -> tuple[str, str]:
    """Return (key_file, cert_file): the configured pair, or a generated one outside the repo tree."""
    if settings.EHERKENNING_SP_KEY_FILE and settings.EHERKENNING_SP_CERT_FILE:
        return settings.EHERKENNING_SP_KEY_FILE, settings.EHERKENNING_SP_CERT_FILE
    key, cert = keypair_ensure(
        directory=Path(settings.EHERKENNING_KEY_DIR), name="sp", common_name="mijnduo SP (development)"
    )
    return str(key), str(cert)


def idp_metadata_source() -> dict:
    """The broker metadata: the configured XML file, else the built-in dev broker's (when enabled)."""
    if settings.EHERKENNING_IDP_METADATA:
        return {"local": [settings.EHERKENNING_IDP_METADATA]}
    if settings.EHERKENNING_DEV_BROKER:
        from koppeling.dev_broker.idp import broker_metadata_xml

        return {"inline": [broker_metadata_xml()]}
    return {}


def sp_config_dict() -> dict:
    key_file, cert_file = sp_key_files()
    site = settings.SITE_URL
    return {
        "entityid": settings.EHERKENNING_SP_ENTITY_ID,
        "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
        "key_file": key_file,
        "cert_file": cert_file,
        "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
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
                    "assertion_consumer_service": [(f"{site}/saml2/acs/", saml2.BINDING_HTTP_POST)],
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
    return (
        settings.SITE_URL,
        settings.EHERKENNING_SP_ENTITY_ID,
        settings.EHERKENNING_SP_KEY_FILE,
        settings.EHERKENNING_SP_CERT_FILE,
        str(settings.EHERKENNING_KEY_DIR),
        metadata,
        mtime,
        settings.EHERKENNING_DEV_BROKER,
        settings.EHERKENNING_CRYPTO_BACKEND,
    )


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
