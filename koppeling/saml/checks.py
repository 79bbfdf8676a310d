"""Our own checks on every eHerkenning response, on top of what pysaml2 verifies.

pysaml2 verifies the XML signature against the broker's metadata certificate, the audience, the
validity window and InResponseTo. It does not check the assurance level, the ServiceID, the shape of
the identity attributes, the signature algorithm (xmlsec1 happily accepts SHA-1), nor that the
document holds exactly one assertion where signature-wrapping attacks hide a second one. Those
rules (design.md §4) live here, as small functions that raise :class:`SamlRefusedError`.
"""

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus
from xml.etree.ElementTree import Element  # noqa: S405  (types only; parsing goes through defusedxml)

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from koppeling.identity import level_at_least

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"

ATTR_SERVICE_ID = "urn:etoegang:core:ServiceID"
ATTR_ACTING_SUBJECT_ID = "urn:etoegang:core:ActingSubjectID"
ATTR_LEGAL_SUBJECT_ID = "urn:etoegang:core:LegalSubjectID"
ATTR_INTERMEDIATE_KVK = "urn:etoegang:1.9:IntermediateEntityID:KvKnr"
ATTR_COMPANY_NAME = "urn:etoegang:1.11:attribute-represented:CompanyName"

# Only SHA-2 family signatures and digests: SHA-1 collisions are practical (design.md §4).
STRONG_SIGNATURE_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    }
)
STRONG_DIGEST_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)

_ACTING_SUBJECT_ID = re.compile(r"[\x21-\x7e]{1,255}")
_KVK = re.compile(r"[0-9]{8}")


class SamlRefusedError(Exception):
    """A response we refuse. ``reason`` is a short code for the audit trail (never the response)."""

    def __init__(self, reason: str, *, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def response_decode(*, saml_response: str, max_bytes: int) -> bytes:
    """Strictly base64-decode the posted SAMLResponse (whitespace allowed, nothing else)."""
    compact = re.sub(r"\s+", "", saml_response)
    if not compact:
        raise SamlRefusedError("missing_response")
    if len(compact) > max_bytes * 4 // 3 + 4:
        raise SamlRefusedError("too_large", status=413)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SamlRefusedError("malformed_base64") from error


def response_precheck(*, xml: bytes, acs_url: str) -> None:
    """Check the raw document's shape before any cryptography.

    Exactly one (encrypted) assertion, as a direct child of the Response, and no other Assertion
    anywhere: signature-wrapping attacks work by adding a second, unsigned assertion that a
    careless consumer reads while the verifier checks the signed one. Also refuse SHA-1 and an
    explicit Destination other than our ACS before spending a signature check on them.
    """
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as error:
        raise SamlRefusedError("malformed_xml") from error
    if root.tag != f"{{{NS_SAMLP}}}Response":
        raise SamlRefusedError("not_a_response")
    status = root.find(f"{{{NS_SAMLP}}}Status/{{{NS_SAMLP}}}StatusCode")
    if status is None or status.get("Value") != STATUS_SUCCESS:
        # The broker reports a cancelled or failed login: nothing to verify, nothing to accept.
        raise SamlRefusedError("idp_status")
    direct = [
        child
        for child in root
        if child.tag in {f"{{{NS_SAML}}}Assertion", f"{{{NS_SAML}}}EncryptedAssertion"}
    ]
    if len(direct) != 1 or len(list(root.iter(f"{{{NS_SAML}}}EncryptedAssertion"))) > len(
        [child for child in direct if child.tag == f"{{{NS_SAML}}}EncryptedAssertion"]
    ):
        raise SamlRefusedError("assertion_count")
    # eHerkenning puts the authentication service's and the machtigingenregister's assertions in
    # the broker's saml:Advice (eherkenning.md §3): those, and only those, may be nested.
    advised = {
        id(nested)
        for advice in direct[0].findall(f"{{{NS_SAML}}}Advice")
        for nested in advice.findall(f"{{{NS_SAML}}}Assertion")
    }
    for assertion in root.iter(f"{{{NS_SAML}}}Assertion"):
        if assertion is not direct[0] and id(assertion) not in advised:
            raise SamlRefusedError("assertion_count")
    if root.get("Destination") != acs_url:
        raise SamlRefusedError("wrong_destination")
    signatures_check_strong(element=root)


def signatures_check_strong(*, element: Element) -> None:
    """Refuse any ds:Signature in the document that uses anything weaker than SHA-256."""
    for signature in element.iter(f"{{{NS_DS}}}Signature"):
        methods = [m.get("Algorithm") for m in signature.iter(f"{{{NS_DS}}}SignatureMethod")]
        digests = [d.get("Algorithm") for d in signature.iter(f"{{{NS_DS}}}DigestMethod")]
        if not methods or not digests:
            raise SamlRefusedError("signature_incomplete")
        if any(m not in STRONG_SIGNATURE_METHODS for m in methods) or any(
            d not in STRONG_DIGEST_METHODS for d in digests
        ):
            raise SamlRefusedError("weak_signature_algorithm")


def assertion_check_signature(*, assertion) -> None:
    """The (decrypted) assertion itself must carry a strong signature; an unsigned one is refused."""
    signature = getattr(assertion, "signature", None)
    if signature is None:
        raise SamlRefusedError("assertion_unsigned")
    method = signature.signed_info.signature_method.algorithm
    digests = [reference.digest_method.algorithm for reference in signature.signed_info.reference]
    if (
        method not in STRONG_SIGNATURE_METHODS
        or not digests
        or any(d not in STRONG_DIGEST_METHODS for d in digests)
    ):
        raise SamlRefusedError("weak_signature_algorithm")


def assertion_level(*, assertion, minimum: str) -> str:
    """Return the AuthnContextClassRef when it is at least ``minimum`` (pysaml2 never compares it)."""
    statements = assertion.authn_statement or []
    if len(statements) != 1:
        raise SamlRefusedError("authn_statement_count")
    context = statements[0].authn_context
    class_ref = getattr(getattr(context, "authn_context_class_ref", None), "text", None)
    level = (class_ref or "").strip()
    if not level_at_least(level, minimum):
        raise SamlRefusedError("level_too_low", status=403)
    return level


def verified_assertion_element(*, xml: str | bytes, assertion_id: str):
    """The broker's own assertion in the verified document, as an lxml element to read the identity from.

    ``xml`` is the document pysaml2 verified the assertion's signature in (after decrypting an
    EncryptedAssertion); ``assertion_id`` the ID that signature covers. The ID must occur once, on
    an assertion that is the Response's own (directly, or inside its EncryptedAssertion) — never
    one nested in Advice or hidden elsewhere.
    """
    from .crypto import xml_parse  # lxml, hardened like the signature check

    try:
        root = xml_parse(xml).getroot()
    except Exception as error:  # noqa: BLE001
        raise SamlRefusedError("malformed_xml") from error
    found = [element for element in root.iter() if element.get("ID") == assertion_id]
    if len(found) != 1 or found[0].tag != f"{{{NS_SAML}}}Assertion":
        raise SamlRefusedError("assertion_count")
    parent = found[0].getparent()
    if parent is not root and not (
        parent is not None and parent.tag == f"{{{NS_SAML}}}EncryptedAssertion" and parent.getparent() is root
    ):
        raise SamlRefusedError("assertion_count")
    return found[0]


def _parse_instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def assertion_expiry(*, assertion, now: datetime, skew: timedelta) -> datetime:
    """When the assertion can no longer be accepted: the replay record must live at least that long.

    Take the latest NotOnOrAfter in the assertion (conditions and bearer confirmations) plus the
    clock skew we allow; with none present, keep the record for a day.
    """
    instants = []
    if assertion.conditions is not None:
        instants.append(_parse_instant(assertion.conditions.not_on_or_after))
    subject = assertion.subject
    for confirmation in getattr(subject, "subject_confirmation", None) or []:
        data = confirmation.subject_confirmation_data
        if data is not None:
            instants.append(_parse_instant(data.not_on_or_after))
    instants = [instant for instant in instants if instant is not None]
    if not instants:
        return now + timedelta(days=1)
    return max(instants) + skew


def embedded_certificates(*, xml: bytes) -> set[str]:
    """The X509 certificates a document carries in its signatures (for the audit reason only)."""
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError):
        return set()
    advised = {
        id(cert)
        for advice in root.iter(f"{{{NS_SAML}}}Advice")
        for cert in advice.iter(f"{{{NS_DS}}}X509Certificate")
    }
    # The Advice's assertions are signed by the AD and the MR, whose certificates we never trust.
    return {
        re.sub(r"\s+", "", cert.text or "")
        for cert in root.iter(f"{{{NS_DS}}}X509Certificate")
        if cert.text and id(cert) not in advised
    }


# --- logout messages ---------------------------------------------------------------------------

# The signature algorithms of the HTTP-Redirect binding we accept: RSA PKCS#1 v1.5 with SHA-2 (what
# eHerkenning brokers use; SHA-1 refused as for responses).
REDIRECT_SIGNATURE_HASHES = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": "sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": "sha512",
}
_REDIRECT_PARAMETERS = ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature")


def redirect_signature_verify(*, query_string: str, certificates: list[str]) -> None:
    """Verify the signature of a logout message in the HTTP-Redirect binding (SAML bindings §3.4.4.1).

    The signature covers ``SAMLRequest`` or ``SAMLResponse``, ``RelayState`` when present, and
    ``SigAlg``, each exactly as it was sent (still URL-encoded), joined in that order. We take those
    octets from the query string itself rather than re-encoding the decoded values (as pysaml2's
    ``verify_redirect_signature`` does), which breaks on any other, equally valid, encoding. The key
    is one of ``certificates``: the PEM signing certificates of the broker's metadata, and nothing
    the message brings. djangosaml2 checks no signature on this binding; without this, anyone could
    make a browser deliver a forged logout message.
    """
    raw: dict[str, str] = {}
    for part in query_string.split("&"):
        name, _sep, value = part.partition("=")
        if name in _REDIRECT_PARAMETERS:
            if name in raw:
                raise SamlRefusedError("logout_parameter_repeated")
            raw[name] = value
    kinds = [kind for kind in ("SAMLRequest", "SAMLResponse") if kind in raw]
    if len(kinds) != 1:
        raise SamlRefusedError("logout_message_missing")
    if "SigAlg" not in raw or "Signature" not in raw:
        raise SamlRefusedError("logout_unsigned")
    algorithm = REDIRECT_SIGNATURE_HASHES.get(unquote_plus(raw["SigAlg"]))
    if algorithm is None:
        raise SamlRefusedError("weak_signature_algorithm")
    try:
        signature = base64.b64decode(unquote_plus(raw["Signature"]), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SamlRefusedError("logout_signature_invalid") from error
    # WSGI gives the query string as its octets decoded as Latin-1 (PEP 3333): encode them back.
    signed = "&".join(f"{name}={raw[name]}" for name in (kinds[0], "RelayState", "SigAlg") if name in raw)
    try:
        octets = signed.encode("latin-1")
    except UnicodeEncodeError as error:
        raise SamlRefusedError("logout_signature_invalid") from error
    digest = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}[algorithm]()
    for pem in certificates:
        public_key = x509.load_pem_x509_certificate(pem.encode("ascii")).public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            continue
        try:
            public_key.verify(signature, octets, padding.PKCS1v15(), digest)
        except InvalidSignature:
            continue
        return
    raise SamlRefusedError("logout_signature_invalid")


def post_logout_check_signed(*, message: str) -> None:
    """A logout message in the HTTP-POST binding must be signed as a whole: a ds:Signature child of
    the root, with SHA-2 algorithms, referencing the root's ID. pysaml2 verifies a signature that
    is there (against the metadata key) but accepts a message without one."""
    try:
        xml = base64.b64decode(message, validate=True)
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (binascii.Error, ValueError, ParseError, DefusedXmlException) as error:
        raise SamlRefusedError("malformed_xml") from error
    signature = root.find(f"{{{NS_DS}}}Signature")
    if signature is None:
        raise SamlRefusedError("logout_unsigned")
    references = signature.findall(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}Reference")
    if len(references) != 1 or not root.get("ID") or references[0].get("URI") != f"#{root.get('ID')}":
        raise SamlRefusedError("logout_signature_reference")
    signatures_check_strong(element=root)
