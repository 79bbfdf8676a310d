"""Broker metadata from EHERKENNING_IDP_METADATA_URL, refreshed on a schedule (eherkenning.md §5).

Brokers rotate their keys and publish new metadata; test environments broke when one changed
without notice. So the metadata is fetched by the Celery beat task (tasks.refresh_idp_metadata,
hourly) and by ``manage.py eherkenning_metadata_refresh`` (deploys), never on a login's request
path. A new document replaces the stored copy (models.IdpMetadata, shared by every worker) only
when it

1. arrives whole (HTTP 200, at most MAX_BYTES, within the timeout) and parses (no DTD, no entities,
   nothing fetched);
2. validates against the SAML metadata schema (schema.py, pysaml2's schema set on libxml2);
3. names the same broker: the entity id of the stored copy (or of the EHERKENNING_IDP_METADATA file
   it replaces), or, the first time, the one identity provider in the document;
4. still gives that broker at least one signing certificate that parses;
5. when EHERKENNING_IDP_METADATA_CERT is set, carries a valid enveloped signature by that
   certificate's key (xmldsig.verify_enveloped);
6. loads in pysaml2 (which also refuses metadata past its validUntil).

Otherwise the last good copy stays in use, the failure is recorded on the row (shown by /healthz)
and audited. config.sp_config_load notices a newly stored copy by its digest.
"""

import base64
import hashlib
import logging
from dataclasses import dataclass

import requests
from cryptography import x509
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from saml2.attribute_converter import ac_factory
from saml2.mdstore import InMemoryMetaData
from saml2.xml.schema import XMLSchemaError

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from koppeling.models import IdpMetadata

from . import schema
from .crypto import xml_parse
from .xmldsig import NS_DS, DocumentSignatureError, verify_enveloped

logger = logging.getLogger(__name__)

NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
MAX_BYTES = 5 * 1024 * 1024


class MetadataRefusedError(Exception):
    """A fetched document that must not replace the last good copy; ``reason`` is a short code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class RefreshResult:
    ok: bool
    reason: str = ""  # the refusal code when not ok
    changed: bool = False  # a new document was stored
    entity_id: str = ""


# ---------------------------------------------------------------------------------------------
# Reading the stored copy (the request path: no fetching here)


def stored_row(url: str | None = None) -> IdpMetadata | None:
    url = url if url is not None else settings.EHERKENNING_IDP_METADATA_URL
    if not url:
        return None
    try:
        return IdpMetadata.objects.filter(url=url).first()
    except DatabaseError:  # before migrate, or the database is away: no copy
        logger.warning("The stored broker metadata could not be read")
        return None


def stored_xml() -> str:
    """The last good copy for EHERKENNING_IDP_METADATA_URL, or "" when none was stored yet."""
    row = stored_row()
    return row.xml if row is not None else ""


def stored_version() -> str | None:
    """The digest of the stored copy (what sp_config_load's cache key follows)."""
    url = settings.EHERKENNING_IDP_METADATA_URL
    try:
        return IdpMetadata.objects.filter(url=url).values_list("digest", flat=True).first()
    except DatabaseError:
        return None


# ---------------------------------------------------------------------------------------------
# Checking a document


def _idp_entities(root) -> list:
    if root.tag == f"{{{NS_MD}}}EntityDescriptor":
        entities = [root]
    elif root.tag == f"{{{NS_MD}}}EntitiesDescriptor":
        entities = list(root.iter(f"{{{NS_MD}}}EntityDescriptor"))
    else:
        raise MetadataRefusedError("not_metadata", root.tag)
    return [entity for entity in entities if entity.find(f"{{{NS_MD}}}IDPSSODescriptor") is not None]


def signing_certificates(entity) -> list[x509.Certificate]:
    """The parseable signing certificates of an entity's IDPSSODescriptor(s) (use="signing" or no use)."""
    found = []
    for descriptor in entity.iterfind(f"{{{NS_MD}}}IDPSSODescriptor/{{{NS_MD}}}KeyDescriptor"):
        if descriptor.get("use") not in (None, "signing"):
            continue
        for element in descriptor.iterfind(f".//{{{NS_DS}}}X509Certificate"):
            text = "".join((element.text or "").split())
            try:
                found.append(x509.load_der_x509_certificate(base64.b64decode(text)))
            except ValueError:
                continue
    return found


def metadata_check(document: bytes, *, expected_entity_id: str | None, signer_cert_pem: bytes | None) -> str:
    """Return the broker's entity id if ``document`` may replace the stored copy; raise
    MetadataRefusedError otherwise."""
    try:
        root = xml_parse(document).getroot()
    except Exception as error:  # noqa: BLE001  (crypto.xml_parse raises SignatureError for bad XML)
        raise MetadataRefusedError("malformed", str(error)) from error
    try:
        schema.validate(document)
    except XMLSchemaError as error:
        raise MetadataRefusedError("schema_invalid", str(error)[:200]) from error
    entities = _idp_entities(root)
    if expected_entity_id:
        matching = [entity for entity in entities if entity.get("entityID") == expected_entity_id]
        if not matching:
            found = ", ".join(sorted(entity.get("entityID", "") for entity in entities))
            raise MetadataRefusedError("entity_id_changed", f"expected {expected_entity_id}, found {found}")
        entity = matching[0]
    elif len(entities) == 1:
        entity = entities[0]
    else:
        raise MetadataRefusedError("broker_ambiguous", f"{len(entities)} identity providers")
    if not signing_certificates(entity):
        raise MetadataRefusedError("no_signing_certificate")
    if signer_cert_pem is not None:
        try:
            verify_enveloped(root, cert_pem=signer_cert_pem)
        except DocumentSignatureError as error:
            reason = "unsigned" if str(error) == "unsigned" else "signature_invalid"
            raise MetadataRefusedError(reason, str(error)) from error
    try:
        loaded = InMemoryMetaData(ac_factory(), document.decode("utf-8"))
        loaded.load()
        if not any("idpsso_descriptor" in entity for entity in loaded.entity.values()):
            raise ValueError("no identity provider")
    except Exception as error:  # noqa: BLE001  (pysaml2 raises many kinds: expired, unparsable, …)
        raise MetadataRefusedError("pysaml2_refused", f"{type(error).__name__}: {error}"[:200]) from error
    return entity.get("entityID")


def _expected_entity_id(row: IdpMetadata | None) -> str | None:
    """The broker the stored copy names; before the first copy, the one in the configured file."""
    if row is not None and row.entity_id:
        return row.entity_id
    if settings.EHERKENNING_IDP_METADATA:
        try:
            with open(settings.EHERKENNING_IDP_METADATA, "rb") as handle:
                entities = _idp_entities(xml_parse(handle.read()).getroot())
        except Exception:  # noqa: BLE001  (an unreadable file names no broker)
            return None
        if len(entities) == 1:
            return entities[0].get("entityID")
    return None


def _signer_cert() -> bytes | None:
    if not settings.EHERKENNING_IDP_METADATA_CERT:
        return None
    with open(settings.EHERKENNING_IDP_METADATA_CERT, "rb") as handle:
        return handle.read()


# ---------------------------------------------------------------------------------------------
# Fetching and storing


def metadata_fetch(url: str) -> bytes:
    """GET the document: 200 only, no redirects, at most MAX_BYTES, within the configured timeout.

    The server certificate is checked against EHERKENNING_TLS_CA_FILE when set, else the system CAs.
    """
    verify = settings.EHERKENNING_TLS_CA_FILE or True
    try:
        with requests.get(
            url,
            timeout=settings.EHERKENNING_IDP_METADATA_TIMEOUT,
            allow_redirects=False,
            stream=True,
            verify=verify,
            headers={"Accept": "application/samlmetadata+xml, application/xml, text/xml"},
        ) as response:
            if response.status_code != 200:
                raise MetadataRefusedError("http_status", str(response.status_code))
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body.extend(chunk)
                if len(body) > MAX_BYTES:
                    raise MetadataRefusedError("too_large")
            return bytes(body)
    except requests.Timeout as error:
        raise MetadataRefusedError("timeout", str(error)[:200]) from error
    except requests.RequestException as error:
        raise MetadataRefusedError("unreachable", f"{type(error).__name__}"[:200]) from error


def idp_metadata_refresh(*, url: str | None = None, now=None) -> RefreshResult:
    """Fetch the broker metadata, check it, and store it as the last good copy when it passes.

    Every outcome is recorded on the row; a refusal and every newly stored document are audited.
    """
    url = url if url is not None else settings.EHERKENNING_IDP_METADATA_URL
    if not url:
        return RefreshResult(ok=False, reason="no_url")
    now = now or timezone.now()
    try:
        document = metadata_fetch(url)
        with transaction.atomic():
            row, _created = IdpMetadata.objects.select_for_update().get_or_create(url=url)
            entity_id = metadata_check(
                document, expected_entity_id=_expected_entity_id(row), signer_cert_pem=_signer_cert()
            )
            digest = hashlib.sha256(document).hexdigest()
            changed = digest != row.digest
            row.checked_at = now
            row.failure = ""
            if changed:
                row.xml = document.decode("utf-8")
                row.digest = digest
                row.entity_id = entity_id
                row.stored_at = now
            row.save()
            if changed:
                audit_log(
                    action=AuditAction.SAML_METADATA_REFRESH,
                    result=AuditResult.SUCCESS,
                    obj=row,
                    detail={"entity_id": entity_id, "digest": digest},
                )
    except MetadataRefusedError as refusal:
        _failure_record(url=url, refusal=refusal, now=now)
        return RefreshResult(ok=False, reason=refusal.reason)
    if changed:
        from .config import stored_metadata_changed

        transaction.on_commit(stored_metadata_changed)
        stored_metadata_changed()
        logger.info("Stored new broker metadata for %s (%s)", entity_id, url)
    return RefreshResult(ok=True, changed=changed, entity_id=entity_id)


def _failure_record(*, url: str, refusal: MetadataRefusedError, now) -> None:
    logger.warning("Broker metadata from %s refused: %s", url, refusal)
    with transaction.atomic():
        row, _created = IdpMetadata.objects.select_for_update().get_or_create(url=url)
        row.checked_at = now
        row.failed_at = now
        row.failure = refusal.reason[:255]
        row.save(update_fields=["checked_at", "failed_at", "failure"])
        audit_log(
            action=AuditAction.SAML_METADATA_REFRESH,
            result=AuditResult.REFUSED,
            obj=row,
            detail={"reason_code": refusal.reason, "kept_last_good_copy": bool(row.digest)},
        )


def metadata_failure() -> str | None:
    """The reason the last refresh failed, when it did (for /healthz and the system check)."""
    row = stored_row()
    if row is None:
        return "not_fetched_yet" if settings.EHERKENNING_IDP_METADATA_URL else None
    if not row.digest:
        return row.failure or "not_fetched_yet"
    return row.failure or None
