"""The dev broker's side of the HTTP-Artifact binding: issue artifacts and resolve them (SOAP).

A real eHerkenning broker sends the browser back with ``SAMLart`` and hands the Response only to
the service provider's signed ArtifactResolve over mutual TLS (eherkenning.md §2). The dev broker
does the same so ``make run`` and the tests walk the real path:

- :func:`artifact_issue` keeps the Response XML in the Django cache under a fresh 20-byte message
  handle for a few minutes and returns the type 0x0004 artifact;
- :func:`artifact_resolve_answer` (the ArtifactResolutionService view's work) checks the SOAP
  ArtifactResolve — signed RSA-SHA2 by the SP whose metadata the broker knows, addressed to this
  service — and answers with a signed ArtifactResponse. Each artifact resolves once: a second
  request gets Status Success without a Response (SAML core §3.5).

Nothing here touches the database: under ``make run`` (SQLite) the portal calls the resolution
service from inside its own ACS request. The mutual TLS itself is the web server's job; the tests
run this app behind a TLS server that requires a client certificate (tls.py).
"""

import base64
import hashlib
import logging
import re
import secrets

from django.core.cache import cache
from lxml import etree
from saml2 import VERSION, saml, samlp
from saml2.s_utils import sid
from saml2.saml import NAMEID_FORMAT_ENTITY
from saml2.sigver import pre_signature_part
from saml2.time_util import instant
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from koppeling.saml.artifact import soap_envelope
from koppeling.saml.checks import NS_DS, STRONG_DIGEST_METHODS, STRONG_SIGNATURE_METHODS
from koppeling.saml.crypto import xml_parse

from .idp import ars_url, broker_entity_id, broker_server

logger = logging.getLogger(__name__)

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_SAMLP = samlp.NAMESPACE
ARTIFACT_TYPE_CODE = b"\x00\x04"
ARTIFACT_LIFETIME_SECONDS = 300
_CACHE_PREFIX = "dev_broker:artifact:"


class ArtifactResolveRefusedError(Exception):
    """An ArtifactResolve the broker will not answer: sent back as a SOAP Fault."""


def source_id() -> bytes:
    """SAML bindings §3.6.4: the SHA-1 of the issuer's entity id."""
    return hashlib.sha1(broker_entity_id().encode("utf-8")).digest()  # noqa: S324  (defined by SAML)


def artifact_issue(*, response_xml: str, endpoint_index: int = 1, sp_entity_id: str = "") -> str:
    """Keep ``response_xml`` for the SP and return the base64 type 0x0004 artifact that names it.

    ``endpoint_index`` names the ArtifactResolutionService: pysaml2 numbers the broker's one
    service 1 in its metadata.

    ``sp_entity_id`` (when given) binds the artifact to that SP: another requester gets nothing.
    """
    handle = secrets.token_bytes(20)
    raw = ARTIFACT_TYPE_CODE + endpoint_index.to_bytes(2, "big") + source_id() + handle
    cache.set(
        _CACHE_PREFIX + handle.hex(),
        {"xml": response_xml, "sp": sp_entity_id},
        ARTIFACT_LIFETIME_SECONDS,
    )
    return base64.b64encode(raw).decode("ascii")


def _artifact_pop(artifact_b64: str) -> dict | None:
    """The stored entry for the artifact, removed so it can be resolved only once (also when two
    requests race: only the one whose delete removed the key gets it)."""
    try:
        raw = base64.b64decode(artifact_b64.strip(), validate=True)
    except ValueError:
        return None
    if len(raw) != 44 or raw[:2] != ARTIFACT_TYPE_CODE or raw[4:24] != source_id():
        return None
    key = _CACHE_PREFIX + raw[24:44].hex()
    entry = cache.get(key)
    if entry is None or not cache.delete(key):
        return None
    return entry


def artifact_resolve_answer(*, body: bytes) -> bytes:
    """Answer a SOAP ArtifactResolve with a signed ArtifactResponse in a SOAP envelope.

    Raise ArtifactResolveRefusedError for anything but a well-formed request, signed (RSA-SHA2) with a
    key of the SP in the broker's metadata and addressed to :func:`ars_url`.
    """
    try:
        root = xml_parse(body).getroot()
    except Exception as error:  # noqa: BLE001  (anything unparsable is a fault)
        raise ArtifactResolveRefusedError("not XML") from error
    soap_body = root.find(f"{{{NS_SOAP}}}Body") if root.tag == f"{{{NS_SOAP}}}Envelope" else None
    children = [child for child in soap_body if isinstance(child.tag, str)] if soap_body is not None else []
    if len(children) != 1 or children[0].tag != f"{{{NS_SAMLP}}}ArtifactResolve":
        raise ArtifactResolveRefusedError("not one ArtifactResolve")
    element = children[0]
    signature = element.find(f"{{{NS_DS}}}Signature")
    if signature is None:
        raise ArtifactResolveRefusedError("unsigned")
    method = signature.find(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}SignatureMethod")
    digests = [d.get("Algorithm") for d in signature.iter(f"{{{NS_DS}}}DigestMethod")]
    if (
        method is None
        or method.get("Algorithm") not in STRONG_SIGNATURE_METHODS
        or not digests
        or any(d not in STRONG_DIGEST_METHODS for d in digests)
    ):
        raise ArtifactResolveRefusedError("weak or incomplete signature")

    server = broker_server()
    # pysaml2 checks the signature with the requester's key from the SP metadata only
    # (only_use_keys_in_metadata), and must=True refuses an unsigned message.
    standalone = etree.tostring(element, encoding="unicode")  # with every declaration in scope
    try:
        message = server.sec.correctly_signed_message(standalone, "artifact_resolve", must=True)
    except Exception as error:  # noqa: BLE001  (pysaml2 raises several kinds)
        raise ArtifactResolveRefusedError(f"signature: {type(error).__name__}") from error
    if message.destination != ars_url():
        raise ArtifactResolveRefusedError("wrong destination")
    requester = (message.issuer.text or "").strip() if message.issuer is not None else ""
    artifact = (message.artifact.text or "") if message.artifact is not None else ""

    entry = _artifact_pop(artifact)
    response_xml = None
    if entry is not None and entry["sp"] in ("", requester):
        response_xml = entry["xml"]
    elif entry is not None:
        logger.info("Dev broker: an artifact for %s was requested by %s", entry["sp"], requester)
    return soap_envelope(
        artifact_response_create(server=server, in_response_to=message.id, response_xml=response_xml)
    )


def artifact_response_create(
    *, server, in_response_to: str, response_xml: str | None, issuer: str | None = None
) -> str:
    """A signed (RSA-SHA256, exclusive c14n) ArtifactResponse with Status Success, carrying
    ``response_xml`` unchanged (its Assertion's signature stays valid) or nothing. ``issuer``
    (default: this broker) lets tests play a broker that names another."""
    message = samlp.ArtifactResponse(
        id=sid(),
        version=VERSION,
        issue_instant=instant(),
        in_response_to=in_response_to,
        issuer=saml.Issuer(text=issuer or broker_entity_id(), format=NAMEID_FORMAT_ENTITY),
        status=samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS)),
    )
    message.signature = pre_signature_part(
        message.id, server.sec.my_cert, 1, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
    )
    text = str(message)
    if response_xml:
        # Spliced in as text, not moved as an lxml element: lxml would reconcile the Response's
        # namespace declarations with the ArtifactResponse's (ds: becoming pysaml2's ns2:), which
        # changes the canonical SignedInfo of the Assertion and so breaks its signature.
        inner = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", response_xml)
        head, closing, tail = text.rpartition("</")
        text = head + inner + closing + tail
    return server.sec.sign_statement(
        text,
        node_name=f"{NS_SAMLP}:ArtifactResponse",
        node_id=message.id,
    )


def soap_fault(*, reason: str) -> bytes:
    """A SOAP 1.1 Fault (sent with HTTP 500, SOAP 1.1 §6.2)."""
    envelope = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"SOAP-ENV": NS_SOAP})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{NS_SOAP}}}Body"), f"{{{NS_SOAP}}}Fault")
    etree.SubElement(fault, "faultcode").text = "SOAP-ENV:Client"
    etree.SubElement(fault, "faultstring").text = reason
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
