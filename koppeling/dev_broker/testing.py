"""Log people in through the real SAML path in tests, and mint responses with any tweak.

Used by the SAML, koppel-wizard and end-to-end tests. Nothing here mocks a signature check: each
response is produced and signed by the dev broker's pysaml2 IdP and verified by our ACS.

Typical use::

    from koppeling.dev_broker.testing import saml_login

    response = saml_login(client, "pseudonym-1", "41012345")            # EH3, via the broker pages
    assert response["Location"] == "/overzicht/"

    request_id = saml_start(client)  # /saml2/login/ → broker
    saml_response = mint_response(in_response_to=request_id, level=LOA2)  # any tweak
    response = acs_post(client, saml_response)
"""

import base64
import contextlib
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from lxml import etree
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from koppeling.saml.keys import keypair_ensure

from . import assertion, idp, xmlenc
from .idp import (
    ATTR_ACTING_SUBJECT_ID,
    ATTR_COMPANY_NAME,
    ATTR_INTERMEDIATE_KVK,
    ATTR_LEGAL_SUBJECT_ID,
    ATTR_SERVICE_ID,
)

__all__ = [
    "ATTR_ACTING_SUBJECT_ID",
    "ATTR_COMPANY_NAME",
    "ATTR_INTERMEDIATE_KVK",
    "ATTR_LEGAL_SUBJECT_ID",
    "ATTR_SERVICE_ID",
    "LOA2",
    "LOA2PLUS",
    "LOA3",
    "LOA4",
    "acs_post",
    "ars_loopback",
    "mint_response",
    "saml_login",
    "saml_start",
    "tamper_attribute",
    "wrap_signature",
]

LOA2 = "urn:etoegang:core:assurance-class:loa2"
LOA2PLUS = "urn:etoegang:core:assurance-class:loa2plus"
LOA3 = "urn:etoegang:core:assurance-class:loa3"
LOA4 = "urn:etoegang:core:assurance-class:loa4"

_UNSET = object()


def saml_start(client, *, next: str | None = None) -> str:  # noqa: A002  (mirrors the ?next= parameter)
    """GET /saml2/login/ and hand the AuthnRequest to the broker; return the AuthnRequest ID.

    The broker verifies the SP's signature (RSA-SHA256) exactly as in the browser, and keeps the
    pending request in the session for the login page.
    """
    url = "/saml2/login/" + (f"?{urlencode({'next': next})}" if next else "")
    response = client.get(url)
    assert response.status_code == 302, f"/saml2/login/ answered {response.status_code}"
    location = response["Location"]
    split = urlsplit(location)
    broker = client.get(f"{split.path}?{split.query}")
    assert broker.status_code == 302, f"the dev broker refused the AuthnRequest ({broker.status_code})"
    return client.session[_pending_key()]["in_response_to"]


def saml_session(client):
    """The test client's SAML session (djangosaml2's own cookie), created if missing; save() it after use."""
    from importlib import import_module

    from django.conf import settings

    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    cookie = client.cookies.get(settings.SAML_SESSION_COOKIE_NAME)
    store = store_class(cookie.value if cookie else None)
    if cookie is None:
        store.save()
        client.cookies[settings.SAML_SESSION_COOKIE_NAME] = store.session_key
    return store


def _pending_key() -> str:
    from .views import PENDING

    return PENDING


def authn_request_query(client, *, next: str | None = None) -> dict[str, str]:  # noqa: A002
    """GET /saml2/login/ and return the redirect's query parameters (SAMLRequest, SigAlg, …)."""
    url = "/saml2/login/" + (f"?{urlencode({'next': next})}" if next else "")
    response = client.get(url)
    return {key: values[0] for key, values in parse_qs(urlsplit(response["Location"]).query).items()}


def saml_login(
    client,
    acting_subject_id: str = "test-pseudonym",
    legal_subject_id: str = "41012345",
    *,
    level: str = LOA3,
    next: str | None = None,  # noqa: A002
    encrypt: bool = False,
    artifact_method: str = "get",
):
    """Log in through /saml2/login/ → dev broker login page → /saml2/acs/; return the ACS response.

    A linked identity ends logged in (302 to next or /overzicht/), an unknown one is sent to the
    koppel wizard (302 to /koppelen/) with its identity in the session. With "artifact" in
    EHERKENNING_RESPONSE_BINDINGS the broker answers with SAMLart (``artifact_method`` "get": a
    302, "post": a form), which the ACS resolves at the broker's ArtifactResolutionService: run
    that over TLS with :func:`ars_loopback`.
    """
    saml_start(client, next=next)
    form = client.get("/dev/broker/inloggen/")
    assert form.status_code == 200, f"the dev broker login page answered {form.status_code}"
    csrf_cookie = client.cookies.get(settings.CSRF_COOKIE_NAME)
    page = client.post(
        "/dev/broker/inloggen/",
        {
            "csrfmiddlewaretoken": csrf_cookie.value if csrf_cookie else "",
            "level": level,
            "persona": "own",
            "acting_subject_id": acting_subject_id,
            "legal_subject_id": legal_subject_id,
            **({"encrypt": "on"} if encrypt else {}),
            "artifact_method": artifact_method,
        },
    )
    if page.status_code == 302:  # the artifact binding by redirect: the browser follows it
        split = urlsplit(page["Location"])
        return client.get(f"{split.path}?{split.query}")
    assert page.status_code == 200 and ("saml_response" in page.context or "saml_art" in page.context), (
        "the dev broker did not issue a response"
    )
    if page.context.get("saml_art"):
        data = {"SAMLart": page.context["saml_art"]}
    else:
        data = {"SAMLResponse": page.context["saml_response"]}
    if page.context["relay_state"]:
        data["RelayState"] = page.context["relay_state"]
    return client.post("/saml2/acs/", data)


@contextlib.contextmanager
def ars_loopback(settings, *, app=None, client_ca_file: str | None = None, trusted: bool = True):
    """Serve the dev broker's ArtifactResolutionService over mutual TLS on loopback, as a real
    broker does, and point the broker metadata (EHERKENNING_DEV_BROKER_ARS_URL) and the portal's
    trust (EHERKENNING_TLS_CA_FILE) at it; yield the server's base URL.

    ``settings`` is pytest-django's fixture (restored after the test). The server requires a client
    certificate: by default it trusts exactly the portal's TLS client certificate (pinned).
    ``app`` replaces the Django app (a misbehaving broker); ``trusted=False`` serves a certificate
    from a CA the portal does not trust.
    """
    from django.core.wsgi import get_wsgi_application

    from koppeling.saml import artifact
    from koppeling.saml.config import sp_config_reset

    from .tls import tls_files_ensure, tls_server

    directory = Path(settings.EHERKENNING_KEY_DIR)
    portal_trusts = tls_files_ensure(directory=directory)
    served = portal_trusts if trusted else tls_files_ensure(directory=directory, name="untrusted-tls")
    pinned = client_ca_file or artifact.tls_client_pair()[0]
    with tls_server(app or get_wsgi_application(), server=served, client_ca_file=pinned) as base:
        settings.EHERKENNING_DEV_BROKER_ARS_URL = f"{base}/dev/broker/ars/"
        settings.EHERKENNING_TLS_CA_FILE = portal_trusts.ca_file
        sp_config_reset()  # its cache key does not include the ARS URL of the inline broker metadata
        try:
            yield base
        finally:
            sp_config_reset()


def acs_post(client, saml_response: str, *, relay_state: str | None = None):
    """POST a (base64) SAMLResponse to our ACS, as the browser does in the HTTP-POST binding: the
    broker's auto-submitting HTML form, so application/x-www-form-urlencoded."""
    data = {"SAMLResponse": saml_response}
    if relay_state is not None:
        data["RelayState"] = relay_state
    return client.post("/saml2/acs/", urlencode(data), content_type="application/x-www-form-urlencoded")


def other_signing_key() -> tuple[str, str]:
    """A key pair the SP does not trust (not in the broker metadata)."""
    key, cert = keypair_ensure(
        directory=Path(settings.EHERKENNING_KEY_DIR), name="untrusted-signer", common_name="untrusted signer"
    )
    return str(key), str(cert)


def mint_response(
    *,
    in_response_to: str | None,
    acting_subject_id: str = "test-pseudonym",
    legal_subject_id: str = "41012345",
    level: str = LOA3,
    service_id: str | None = None,
    intermediate_entity_id: str = "",
    company_name: str = "",
    omit: Iterable[str] = (),
    attributes: dict[str, list[str]] | None = None,
    sha1: bool = False,
    issued_at: datetime | None = None,
    audience: str | None = None,
    destination: str | None = None,
    untrusted_key: bool = False,
    encrypt: bool = False,
    sign_response: bool = False,
    tamper: Callable[[str], str] | None = None,
    encode: bool = True,
    legal_subject_rsin: str = "",
    vestigingsnr: str = "",
    plain: bool = False,
    pseudo_qualifier: str | None = None,
    advice: bool = True,
    advice_acting_subject_id: str = "",
    advice_legal_subject_id: str = "",
    layout: str = "retrieval",
    encrypt_to: list[str] | None = None,
    data_algorithm: str | None = None,
    transport: str | None = None,
) -> str:
    """Return a SAMLResponse (base64, or XML with encode=False) signed by the dev broker's IdP.

    In the 1.13 format by default: identifiers as EncryptedIDs (``layout`` retrieval, inline or
    carried; ``encrypt_to`` SP certificate files; ``data_algorithm``, key ``transport``), both
    ``legal_subject_id`` and ``legal_subject_rsin`` when given, an optional ``vestigingsnr``,
    Advice with the AD's and MR's assertions (``advice_*`` put other identifiers there); ``plain``
    sends the identifiers as strings (a test broker that does not encrypt).

    Tweaks: ``level``; ``service_id`` (another value) or ``omit={ATTR_SERVICE_ID}``; ``attributes``
    to replace/add values; ``sha1`` signs with RSA-SHA1/SHA-1; ``issued_at`` mints at another
    moment (expired or not yet valid); ``audience``/``destination``; ``untrusted_key`` signs with a
    key the SP does not know; ``in_response_to=None`` is unsolicited; ``encrypt``;
    ``tamper(xml) -> xml`` changes the document after signing (see tamper_attribute, wrap_signature).
    """
    values = idp.etoegang_attributes(
        acting_subject_id=acting_subject_id,
        legal_subject_id=legal_subject_id,
        service_id=service_id,
        intermediate_entity_id=intermediate_entity_id,
        company_name=company_name,
        legal_subject_rsin=legal_subject_rsin,
        vestigingsnr=vestigingsnr,
        plain=plain,
        **({"pseudo_qualifier": pseudo_qualifier} if pseudo_qualifier else {}),
    )
    encryption = {
        name: value
        for name, value in (("data_algorithm", data_algorithm), ("transport", transport))
        if value is not None
    }
    values.update(attributes or {})
    for name in omit:
        values.pop(name, None)
    server = idp.broker_server(**_key_kwargs(untrusted_key))

    def create() -> str:
        return idp.response_create(
            in_response_to=in_response_to,
            attributes=values,
            name_id=acting_subject_id,
            level=level,
            destination=destination,
            audience=audience,
            encrypt=encrypt,
            sign_alg=SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA1 if sha1 else DIGEST_SHA256,
            sign_response=sign_response,
            server=server,
            advice=advice,
            advice_acting_subject_id=advice_acting_subject_id,
            advice_legal_subject_id=advice_legal_subject_id,
            layout=layout,
            encrypt_to=encrypt_to,
            **encryption,
        )

    if issued_at is not None:
        import time_machine

        with time_machine.travel(issued_at, tick=False):
            xml = create()
    else:
        xml = create()
    if tamper is not None:
        xml = tamper(xml)
    return base64.b64encode(xml.encode("utf-8")).decode("ascii") if encode else xml


def _key_kwargs(untrusted: bool) -> dict:
    if not untrusted:
        return {}
    key, cert = other_signing_key()
    return {"key_file": key, "cert_file": cert}


def tamper_attribute(name: str, new_value: str) -> Callable[[str], str]:
    """A tamper function: change one attribute value of the broker's own statement after signing.

    A plain value is replaced as text; an EncryptedID by a new one (encrypted to the SP, as a forger
    could) holding ``new_value``. The last such attribute in the document is the broker's own (the
    Advice, with its assertions' attributes, comes before its AttributeStatement).
    """

    def tamper(xml: str) -> str:
        pattern = re.compile(
            rf'(<(?P<p>\w+):Attribute Name="{re.escape(name)}"[^>]*>\s*'
            rf"<(?P=p):AttributeValue[^>]*>)(.*?)(</(?P=p):AttributeValue>)",
            re.S,
        )
        matches = list(pattern.finditer(xml))
        assert matches, f"attribute {name} not found to tamper with"
        match = matches[-1]
        inner = match.group(3)
        if "EncryptedID" in inner:
            qualifier = {
                ATTR_ACTING_SUBJECT_ID: assertion.QUALIFIER_PSEUDO,
                ATTR_INTERMEDIATE_KVK: assertion.QUALIFIER_INTERMEDIATE,
            }.get(name, assertion.QUALIFIER_RSIN if len(new_value) == 9 else assertion.QUALIFIER_KVK)
            recipients = idp.sp_recipients(audience=settings.EHERKENNING_SP_ENTITY_ID)
            element = xmlenc.encrypted_id(qualifier=qualifier, value=new_value, recipients=recipients)
            inner = etree.tostring(element, encoding="unicode")
        else:
            inner = new_value
        return xml[: match.start(3)] + inner + xml[match.end(3) :]

    return tamper


def wrap_signature(
    *, legal_subject_id: str = "99999999", variant: str = "extensions"
) -> Callable[[str], str]:
    """A tamper function for XML signature wrapping (XSW).

    The signed assertion stays intact (its signature verifies) but is moved out of the way, while
    a forged copy with another LegalSubjectID and its own ID takes its place:
    ``extensions`` hides the original in samlp:Extensions; ``nested`` hides it inside the forgery;
    ``sibling`` puts the forgery next to it, first.
    """

    def tamper(xml: str) -> str:
        # Greedy: the broker's assertion holds the Advice's assertions, so it ends at the last close.
        match = re.search(r"<(?P<p>\w+):Assertion\b.*</(?P=p):Assertion>", xml, re.S)
        assert match, "no plain assertion to wrap (do not combine with encrypt)"
        original = match.group(0)
        forged = re.sub(r'\bID="[^"]+"', 'ID="id-forged-assertion"', original, count=1)
        forged = tamper_attribute(ATTR_LEGAL_SUBJECT_ID, legal_subject_id)(forged)
        if variant == "extensions":
            body = xml.replace(original, forged)
            issuer_end = re.search(r"</\w+:Issuer>", body)
            protocol_prefix = re.match(r"(?:<\?xml[^>]*>\s*)?<(\w+):Response", body).group(1)
            ext = f"<{protocol_prefix}:Extensions>{original}</{protocol_prefix}:Extensions>"
            return body[: issuer_end.end()] + ext + body[issuer_end.end() :]
        if variant == "nested":
            close = re.search(r"</\w+:Assertion>$", forged).start()
            return xml.replace(original, forged[:close] + original + forged[close:])
        if variant == "sibling":
            return xml.replace(original, forged + original)
        raise ValueError(variant)

    return tamper
