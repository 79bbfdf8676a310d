"""Warnings about eHerkenning's keys and broker metadata over time, for ``manage.py check`` and /healthz.

A certificate that expires stops logins without warning the day it does: ours (the broker refuses our
signature or cannot encrypt to us), the broker's (we refuse its assertions) or the TLS client pair
(the artifact resolution is refused). So every configured certificate warns EHERKENNING_CERT_WARN_DAYS
(30) days ahead: the SP's current and next one, the broker's signing certificates from the metadata in
use, and the TLS client certificate. A failing refresh of the broker metadata by URL warns as well.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from django.conf import settings
from django.core import checks
from django.utils import timezone

logger = logging.getLogger(__name__)

_parsed: dict[tuple, tuple[datetime, str]] = {}


@dataclass(frozen=True)
class CertificateExpiry:
    label: str  # which certificate: sp_current, sp_next, tls_client, broker_signing
    not_after: datetime
    subject: str


def _file_not_after(path: str) -> tuple[datetime, str]:
    stat = Path(path).stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    cached = _parsed.get(key)
    if cached is None:
        certificate = x509.load_pem_x509_certificate(Path(path).read_bytes())
        cached = (certificate.not_valid_after_utc, certificate.subject.rfc4514_string())
        if len(_parsed) > 64:
            _parsed.clear()
        _parsed[key] = cached
    return cached


def _broker_certificates() -> list[tuple[datetime, str]]:
    """The broker signing certificates in the metadata sp_config_load uses (no fetching)."""
    from saml2.sigver import pem_format

    from .config import sp_config_load

    config = sp_config_load()
    found = []
    if config.metadata is None:
        return found
    for entity_id in config.metadata.identity_providers():
        for _name, body in config.metadata.certs(entity_id, "idpsso", "signing"):
            certificate = x509.load_pem_x509_certificate(pem_format(body))
            found.append((certificate.not_valid_after_utc, entity_id))
    return found


def certificates_configured() -> list[CertificateExpiry]:
    """Every certificate eHerkenning logins depend on, with its expiry."""
    from .config import sp_key_files, sp_next_key_files

    found = []
    pairs = [("sp_current", sp_key_files()[1])]
    next_pair = sp_next_key_files()
    if next_pair is not None:
        pairs.append(("sp_next", next_pair[1]))
    if settings.EHERKENNING_TLS_CLIENT_CERT_FILE:
        pairs.append(("tls_client", settings.EHERKENNING_TLS_CLIENT_CERT_FILE))
    for label, cert_file in pairs:
        not_after, subject = _file_not_after(cert_file)
        found.append(CertificateExpiry(label=label, not_after=not_after, subject=subject))
    for not_after, entity_id in _broker_certificates():
        found.append(CertificateExpiry(label="broker_signing", not_after=not_after, subject=entity_id))
    return found


def eherkenning_warnings(*, now: datetime | None = None) -> list[dict]:
    """What an operator must act on soon, as dicts (code, message, and details).

    Never raises: a certificate that cannot be read is itself a warning.
    """
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.EHERKENNING_CERT_WARN_DAYS)
    warnings = []
    try:
        certificates = certificates_configured()
    except Exception as error:  # noqa: BLE001  (health reporting must not fail)
        logger.warning("Certificates could not be read for the expiry check: %s", error)
        warnings.append(
            {"code": "certificate_unreadable", "message": f"{type(error).__name__}: {error}"[:200]}
        )
        certificates = []
    for certificate in certificates:
        if certificate.not_after <= horizon:
            days = (certificate.not_after - now).days
            expired = certificate.not_after <= now
            warnings.append(
                {
                    "code": "certificate_expired" if expired else "certificate_expires_soon",
                    "certificate": certificate.label,
                    "subject": certificate.subject,
                    "not_after": certificate.not_after.isoformat(),
                    "message": (
                        f"{certificate.label} certificate ({certificate.subject}) "
                        + ("has expired" if expired else f"expires in {days} days")
                        + f" ({certificate.not_after:%Y-%m-%d})"
                    ),
                }
            )
    if settings.EHERKENNING_IDP_METADATA_URL:
        try:
            from .idp_metadata import metadata_failure

            failure = metadata_failure()
        except Exception as error:  # noqa: BLE001
            failure = f"unreadable: {type(error).__name__}"
        if failure:
            warnings.append(
                {
                    "code": "idp_metadata_refresh_failed",
                    "reason": failure,
                    "message": f"broker metadata from EHERKENNING_IDP_METADATA_URL: {failure}",
                }
            )
    return warnings


_CHECK_IDS = {
    "certificate_expires_soon": "koppeling.W001",
    "certificate_expired": "koppeling.W002",
    "certificate_unreadable": "koppeling.W003",
    "idp_metadata_refresh_failed": "koppeling.W004",
}


@checks.register("eherkenning")
def eherkenning_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``manage.py check``: the same warnings as /healthz, and two configurations that do not do what
    they seem to."""
    from .config import sp_next_key_files

    messages = [
        checks.Warning(warning["message"], id=_CHECK_IDS[warning["code"]], obj="eHerkenning")
        for warning in eherkenning_warnings()
    ]
    url = settings.EHERKENNING_IDP_METADATA_URL
    if settings.IS_PRODUCTION and url.startswith("http://") and not settings.EHERKENNING_IDP_METADATA_CERT:
        messages.append(
            checks.Warning(
                "EHERKENNING_IDP_METADATA_URL is plain http and no EHERKENNING_IDP_METADATA_CERT is set: "
                "anyone on the path can replace the broker's keys",
                id="koppeling.W005",
                obj="eHerkenning",
            )
        )
    if settings.EHERKENNING_SP_NEXT_FROM is not None and sp_next_key_files() is None:
        messages.append(
            checks.Warning(
                "EHERKENNING_SP_NEXT_FROM is set without EHERKENNING_SP_NEXT_KEY_FILE/…_CERT_FILE: "
                "no key switches on that date",
                id="koppeling.W006",
                obj="eHerkenning",
            )
        )
    return messages
