"""The HTTP-Artifact binding for the broker's response: resolve ``SAMLart`` over mutual TLS.

A real eHerkenning broker never posts the Response through the browser (eherkenning.md §2): the
browser brings an artifact, and we fetch the Response from the broker's ArtifactResolutionService
with a signed SOAP ``ArtifactResolve`` over mutual TLS. What this module guarantees is only that
the ``ArtifactResponse`` came from the broker the artifact names, in answer to our request; the
Assertion inside (its signature, audience, times, level, …) is verified afterwards by the ACS path
that also serves the POST binding.

Failures of the broker's service raise :class:`ArtifactResolveError` (a 5xx: "eHerkenning is not
reachable right now"); anything that looks like an attack or a bad artifact raises
:class:`~koppeling.saml.checks.SamlRefusedError` (a 4xx). Both carry a short reason for the audit.

The resolution service must be an https URL. Plain http is allowed only while the dev broker is
enabled (settings.EHERKENNING_DEV_BROKER, never in production): under ``make run`` the portal calls
the dev broker's service in the same runserver, which speaks no TLS.
"""

import base64
import binascii
import hashlib
import logging
import re
import socket
import ssl
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
import urllib3
from django.conf import settings
from lxml import etree
from saml2 import BINDING_SOAP
from saml2.entity import Entity
from saml2.s_utils import sid
from saml2.sigver import SignatureError, pem_format
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from .checks import NS_DS, NS_SAML, NS_SAMLP, STATUS_SUCCESS, SamlRefusedError
from .config import sp_tls_client_pair
from .crypto import CryptoBackendXmlSec, WeakSignatureAlgorithmError, xml_parse
from .replay import use_once

logger = logging.getLogger(__name__)

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ACTION = "http://www.oasis-open.org/committees/security"
ARTIFACT_TYPE_CODE = 0x0004
ARTIFACT_LENGTH = 44  # type code (2) + endpoint index (2) + SourceID (20) + message handle (20)
# A base64 artifact is 60 characters; refuse anything much longer before decoding it.
_ARTIFACT_MAX_CHARS = 128
# How long an artifact's "used" record lives: longer than any broker keeps an artifact resolvable.
ARTIFACT_USE_TTL = timedelta(hours=1)
_ARTIFACT_USE_PREFIX = "artifact:"


@dataclass(frozen=True)
class Artifact:
    """A parsed SAML 2.0 type 0x0004 artifact (SAML bindings §3.6.4)."""

    type_code: int
    endpoint_index: int
    source_id: bytes
    message_handle: bytes


class ArtifactResolveError(Exception):
    """The broker's resolution service failed us: not an attack, an outside service failing.

    ``kind`` is one of ``unreachable`` (connection refused, no DNS), ``tls`` (handshake failed: a
    server certificate we do not trust, our client certificate refused), ``timeout``,
    ``soap_fault`` (a SOAP Fault, an HTTP status other than 200, or an ArtifactResponse whose own
    Status is not Success), ``garbage`` (not XML, not one signed ArtifactResponse, too large),
    ``no_endpoint`` (the broker's metadata lists no SOAP ArtifactResolutionService),
    ``insecure_endpoint`` (a plain-http service outside development) — all 502/504 — and
    ``empty`` (status 400: the broker answered Success without a Response, which it does for an
    unknown, expired or already resolved artifact, SAML core §3.5).
    """

    def __init__(self, kind: str, *, status: int = 502, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.status = status
        self.detail = detail

    @property
    def reason(self) -> str:
        """The audit reason code, like SamlRefusedError.reason."""
        return f"artifact_resolve_{self.kind}"


# ---------------------------------------------------------------------------------------------
# The artifact


def artifact_parse(samlart: str) -> Artifact:
    """Decode ``SAMLart`` strictly: base64 of exactly 44 bytes with type code 0x0004."""
    text = (samlart or "").strip()
    if not text or len(text) > _ARTIFACT_MAX_CHARS:
        raise SamlRefusedError("malformed_artifact")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SamlRefusedError("malformed_artifact") from error
    if len(raw) != ARTIFACT_LENGTH or int.from_bytes(raw[0:2], "big") != ARTIFACT_TYPE_CODE:
        raise SamlRefusedError("malformed_artifact")
    return Artifact(
        type_code=ARTIFACT_TYPE_CODE,
        endpoint_index=int.from_bytes(raw[2:4], "big"),
        source_id=raw[4:24],
        message_handle=raw[24:44],
    )


def broker_for_artifact(*, conf, artifact: Artifact) -> tuple[str, str]:
    """Return (entity id, ArtifactResolutionService URL) of the broker that issued ``artifact``.

    The SourceID is the SHA-1 of the issuer's entity id: only a broker in our metadata can match,
    so an artifact can never send our signed request (and client certificate) anywhere else.
    """
    for entity_id in conf.metadata.identity_providers():
        if hashlib.sha1(entity_id.encode("utf-8")).digest() != artifact.source_id:  # noqa: S324  (SAML's SourceID)
            continue
        services = conf.metadata.artifact_resolution_service(entity_id, BINDING_SOAP, "idpsso") or []
        if not services:
            raise ArtifactResolveError("no_endpoint", detail=entity_id)
        chosen = next(
            (srv for srv in services if str(srv.get("index")) == str(artifact.endpoint_index)), None
        ) or next((srv for srv in services if str(srv.get("is_default")).lower() == "true"), services[0])
        return entity_id, chosen["location"]
    raise SamlRefusedError("unknown_artifact_source", status=403)


def artifact_use(*, artifact_b64: str, now: datetime) -> None:
    """Record the artifact as used, or raise SamlRefusedError("artifact_replay") when it was before.

    An artifact is good for one login (design.md §4 "replay"). The broker resolves it once too,
    but we do not rely on a broker for that. Stored beside the assertion IDs (UsedAssertion) under
    a prefix and a hash, so the unique index makes the check atomic across workers and the hourly
    purge removes the records.
    """
    digest = hashlib.sha256((artifact_b64 or "").strip().encode("ascii", "replace")).hexdigest()
    if not use_once(key=f"{_ARTIFACT_USE_PREFIX}{digest}", not_on_or_after=now + ARTIFACT_USE_TTL, now=now):
        raise SamlRefusedError("artifact_replay")


# ---------------------------------------------------------------------------------------------
# Resolving


def artifact_resolve(*, conf, artifact_b64: str, destination: str, now: datetime | None = None) -> bytes:
    """Resolve the artifact at ``destination`` and return the broker's samlp:Response (XML bytes).

    Send a signed (RSA-SHA256, exclusive c14n) ArtifactResolve in a SOAP 1.1 envelope over mutual
    TLS; accept only exactly one ArtifactResponse signed by a signing key from the issuing broker's
    metadata (never a key from the message), issued by that broker, in response to this request,
    with Status Success. The Response is returned re-serialised on its own, its namespace
    declarations intact, so the Assertion's exclusive-c14n signature verifies as before.
    """
    artifact = artifact_parse(artifact_b64)
    entity_id, _advertised = broker_for_artifact(conf=conf, artifact=artifact)
    if not destination.startswith("https://") and not (
        settings.EHERKENNING_DEV_BROKER and destination.startswith("http://")
    ):
        raise ArtifactResolveError("insecure_endpoint", detail=destination)

    request_id, envelope = artifact_resolve_envelope(
        conf=conf, artifact_b64=artifact_b64.strip(), destination=destination, now=now
    )
    status, body = _soap_post(url=destination, envelope=envelope)
    if status != 200:
        raise ArtifactResolveError("soap_fault", detail=f"HTTP {status}")
    return artifact_response_open(conf=conf, body=body, entity_id=entity_id, request_id=request_id)


def artifact_resolve_envelope(
    *, conf, artifact_b64: str, destination: str, now: datetime | None = None
) -> tuple[str, bytes]:
    """Build the signed ArtifactResolve in its SOAP envelope; return (its ID, the envelope bytes)."""
    entity = _entity(conf)
    _mid, message = entity.create_artifact_resolve(artifact_b64, destination, sid(), sign=False)
    if now is not None:
        message.issue_instant = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signed = entity.sign(message, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
    return message.id, soap_envelope(signed)


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")


def soap_envelope(xml: str) -> bytes:
    """Wrap one signed SAML message in a SOAP 1.1 envelope, as text.

    Not by moving the parsed element into a new tree: lxml then reconciles namespace declarations
    with the new parent's, and may give an element another prefix, which breaks every signature
    over it (exclusive c14n keeps prefixes).
    """
    body = _XML_DECLARATION.sub("", xml)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="{NS_SOAP}">'
        f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def artifact_response_open(*, conf, body: bytes, entity_id: str, request_id: str) -> bytes:
    """Check the SOAP answer as artifact_resolve describes and return the inner Response."""
    try:
        root = xml_parse(body).getroot()
    except SignatureError as error:  # crypto.xml_parse: malformed XML or a DTD
        raise ArtifactResolveError("garbage", detail="not XML") from error
    soap_body = root.find(f"{{{NS_SOAP}}}Body") if root.tag == f"{{{NS_SOAP}}}Envelope" else None
    if soap_body is None:
        raise ArtifactResolveError("garbage", detail="no SOAP envelope")
    children = [child for child in soap_body if isinstance(child.tag, str)]
    if any(child.tag == f"{{{NS_SOAP}}}Fault" for child in children):
        raise ArtifactResolveError("soap_fault", detail="SOAP Fault")
    everywhere = list(root.iter(f"{{{NS_SAMLP}}}ArtifactResponse"))
    if len(children) != 1 or children[0].tag != f"{{{NS_SAMLP}}}ArtifactResponse" or len(everywhere) != 1:
        raise ArtifactResolveError("garbage", detail="not one ArtifactResponse")
    message = children[0]

    _signature_verify(conf=conf, body=body, message=message, entity_id=entity_id)

    issuer = message.find(f"{{{NS_SAML}}}Issuer")
    if issuer is None or (issuer.text or "").strip() != entity_id:
        raise SamlRefusedError("artifact_response_issuer", status=403)
    if message.get("InResponseTo") != request_id:
        raise SamlRefusedError("artifact_response_in_response_to", status=403)
    code = message.find(f"{{{NS_SAMLP}}}Status/{{{NS_SAMLP}}}StatusCode")
    if code is None or code.get("Value") != STATUS_SUCCESS:
        value = code.get("Value") if code is not None else None
        raise ArtifactResolveError("soap_fault", detail=f"status {value}")

    envelope_parts = {
        f"{{{NS_SAML}}}Issuer",
        f"{{{NS_DS}}}Signature",
        f"{{{NS_SAMLP}}}Extensions",
        f"{{{NS_SAMLP}}}Status",
    }
    payload = [child for child in message if isinstance(child.tag, str) and child.tag not in envelope_parts]
    if not payload:
        raise ArtifactResolveError("empty", status=400)
    if len(payload) != 1 or payload[0].tag != f"{{{NS_SAMLP}}}Response":
        raise ArtifactResolveError("garbage", detail="the ArtifactResponse holds no single Response")
    # lxml serialises a subtree with every namespace declaration in scope, also those only named
    # in attribute values (xsi:type) or in an InclusiveNamespaces PrefixList, which a real broker
    # may declare on the SOAP envelope: the Response stands alone and its signatures still verify.
    # (copy.deepcopy would keep only the prefixes that elements and attributes use.)
    return etree.tostring(payload[0], encoding="UTF-8")


def _signature_verify(*, conf, body: bytes, message, entity_id: str) -> None:
    """The ArtifactResponse must carry a strong signature by one of the broker's metadata keys."""
    if message.find(f"{{{NS_DS}}}Signature") is None:
        raise SamlRefusedError("artifact_response_unsigned", status=403)
    certificates = [cert for _name, cert in conf.metadata.certs(entity_id, "idpsso", "signing")]
    verifier = _verifier()
    for certificate in certificates:
        with tempfile.NamedTemporaryFile(suffix=".pem") as handle:
            handle.write(pem_format(certificate))
            handle.flush()
            try:
                if verifier.validate_signature(
                    body,
                    cert_file=handle.name,
                    cert_type="pem",
                    node_name=f"{NS_SAMLP}:ArtifactResponse",
                    node_id=message.get("ID"),
                ):
                    return
            except WeakSignatureAlgorithmError as error:
                raise SamlRefusedError("weak_signature_algorithm") from error
            except SignatureError as error:  # a signature that breaks the SAML profile's rules
                raise SamlRefusedError("artifact_response_signature_invalid", status=403) from error
    raise SamlRefusedError("artifact_response_signature_invalid", status=403)


# ---------------------------------------------------------------------------------------------
# Transport


def tls_client_pair() -> tuple[str, str]:
    """(cert_file, key_file) we present to the broker: EHERKENNING_TLS_CLIENT_CERT_FILE/…_KEY_FILE,
    by default the SP pair that signs today."""
    return sp_tls_client_pair()


def tls_trust() -> str | bool:
    """What the broker's server certificate must chain to: EHERKENNING_TLS_CA_FILE, else the
    operating system's CA store (requests would otherwise use certifi's copy), else certifi."""
    if settings.EHERKENNING_TLS_CA_FILE:
        return settings.EHERKENNING_TLS_CA_FILE
    paths = ssl.get_default_verify_paths()
    return paths.cafile or paths.capath or True


def _soap_post(*, url: str, envelope: bytes) -> tuple[int, bytes]:
    """POST the envelope; return (HTTP status, body), reading at most the upload limit in time."""
    timeout = float(settings.EHERKENNING_ARTIFACT_RESOLVE_TIMEOUT)
    max_bytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
    deadline = time.monotonic() + timeout
    session = _session()
    try:
        response = session.post(
            url,
            data=envelope,
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": SOAP_ACTION,
                "Accept": "text/xml",
            },
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        )
        with response:
            chunks, size = [], 0
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > max_bytes:
                    raise ArtifactResolveError("garbage", detail="response too large")
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise ArtifactResolveError("timeout", status=504, detail="slow response")
            return response.status_code, b"".join(chunks)
    except ArtifactResolveError:
        raise
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        kind = _transport_failure(error)
        logger.warning("ArtifactResolve to %s failed: %s (%s)", url, kind, error)
        status = 504 if kind == "timeout" else 502
        raise ArtifactResolveError(kind, status=status, detail=str(error)) from error


_transport = threading.local()


def _session() -> requests.Session:
    """This thread's HTTP session to the brokers, kept open between logins.

    A new mutual-TLS handshake per login costs several milliseconds on the ACS (design.md §7, P1);
    the pooled connection is reused while the broker keeps it alive, and urllib3 reconnects when it
    was closed. One session per worker thread (requests' Session is not made for sharing between
    threads), replaced when the client pair or the trusted CAs change (key rollover, tests).
    """
    cert, verify = tls_client_pair(), tls_trust()
    current = getattr(_transport, "current", None)
    if current is not None and current[0] == (cert, verify):
        return current[1]
    if current is not None:
        current[1].close()
    session = requests.Session()
    session.trust_env = False  # no proxy, .netrc or CA bundle from the environment
    session.cert, session.verify = cert, verify
    _transport.current = ((cert, verify), session)
    return session


def _causes(error: BaseException):
    """The exception and everything it wraps (requests and urllib3 nest them in args and .reason)."""
    seen, todo = set(), [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(item for item in wrapped if isinstance(item, BaseException))


def _transport_failure(error: BaseException) -> str:
    causes = list(_causes(error))
    # First: urllib3's NewConnectionError (refused, no route, no DNS) derives from its timeout class.
    if any(isinstance(cause, urllib3.exceptions.NewConnectionError) for cause in causes):
        return "unreachable"
    timeouts = (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError, socket.timeout)
    if any(isinstance(cause, timeouts) for cause in causes):
        return "timeout"
    tls = (ssl.SSLError, requests.exceptions.SSLError, urllib3.exceptions.SSLError)
    if any(isinstance(cause, tls) for cause in causes):
        return "tls"
    return "unreachable"


# ---------------------------------------------------------------------------------------------
# Shared objects


_entities: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_verifier_instance: CryptoBackendXmlSec | None = None


def _entity(conf) -> Entity:
    """A pysaml2 entity for our configuration (builds and signs the ArtifactResolve), one per
    loaded configuration: constructing one parses our key, and it keeps no per-request state."""
    entity = _entities.get(conf)
    if entity is None:
        with _lock:
            entity = _entities.get(conf)
            if entity is None:
                entity = Entity("sp", config=conf)
                _entities[conf] = entity
    return entity


def _verifier() -> CryptoBackendXmlSec:
    """The in-process verifier of crypto.py, whatever EHERKENNING_CRYPTO_BACKEND says: the key is
    only the metadata certificate we hand it, and it enforces the SAML signature profile."""
    global _verifier_instance  # noqa: PLW0603
    if _verifier_instance is None:
        _verifier_instance = CryptoBackendXmlSec()
    return _verifier_instance
