"""The XML Schema check of signed SAML elements on libxml2 (koppeling/saml/schema.py).

pysaml2 validates every signed element it is about to trust (``str(item)``, its own serialisation
of the parsed Response or Assertion) against the SAML 2.0 schemas before it checks the signature.
We swap its pure-Python ``xmlschema`` validator for libxml2's; these tests require the same verdict
on valid documents and on a set of broken ones, a hardened parser, and that the ACS still refuses
a correctly signed but schema-invalid assertion.
"""

import base64
import contextlib
import http.server
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import xmlsec
from django.urls import resolve
from lxml import etree
from saml2 import samlp, sigver
from saml2.xml.schema import XMLSchemaError
from saml2.xml.schema import validate as pysaml2_validate

from accounts.constants import AuditAction
from accounts.models import AuditEvent
from koppeling.dev_broker.idp import broker_key_files
from koppeling.dev_broker.testing import LOA3, acs_post, mint_response, saml_start
from koppeling.models import Koppeling
from koppeling.saml import schema
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

NS = {
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}


# --- installation ----------------------------------------------------------------------------


def test_our_validator_is_installed_in_a_process_that_serves_the_acs():
    """Resolving the ACS imports its views and so koppeling/saml/config.py, which installs it."""
    resolve("/saml2/acs/")
    assert sigver.validate_doc_with_schema is schema.validate


def test_uninstall_restores_pysaml2s_validator_and_install_brings_ours_back():
    try:
        schema.uninstall()
        assert sigver.validate_doc_with_schema is pysaml2_validate
    finally:
        schema.install()
    assert sigver.validate_doc_with_schema is schema.validate


# --- the same verdict as pysaml2's validator -------------------------------------------------


@dataclass(frozen=True)
class Minted:
    """Documents exactly as pysaml2 hands them to the schema check: str() of the parsed element."""

    response: str
    assertion: str
    signed_response: str
    assertion_of_signed_response: str
    assertion_with_advice: str


@pytest.fixture(scope="module")
def minted() -> Minted:
    # Without Advice: the corpus is what both validators can judge. An eHerkenning Advice carries the
    # machtigingenregister's XACML statement, which pysaml2's validator refuses (see DIVERGENT).
    response = samlp.response_from_string(mint_response(in_response_to="id-1", encode=False, advice=False))
    signed = samlp.response_from_string(
        mint_response(in_response_to="id-1", encode=False, sign_response=True, advice=False)
    )
    with_advice = samlp.response_from_string(mint_response(in_response_to="id-1", encode=False))
    return Minted(
        response=str(response),
        assertion=str(response.assertion[0]),
        signed_response=str(signed),
        assertion_of_signed_response=str(signed.assertion[0]),
        assertion_with_advice=str(with_advice.assertion[0]),
    )


def edit(doc: str, pattern: str, replacement: str) -> str:
    """Replace the first match of ``pattern``; fail loudly if there is none (no silent no-op)."""
    changed, count = re.subn(pattern, replacement, doc, count=1, flags=re.S)
    assert count == 1, f"corpus edit found nothing to change: {pattern}"
    return changed


def issue_instant(value: str):
    return lambda m: edit(m.assertion, r' IssueInstant="[^"]*"', f' IssueInstant="{value}"')


SUBJECT = r"<(\w+):Subject>.*?</\1:Subject>"
ISSUER = r"<(\w+):Issuer( [^>]*)?>([^<]*)</\1:Issuer>"
STRING_VALUE = 'xsi:type="xs:string"'

VALID = {
    "response": lambda m: m.response,
    "assertion": lambda m: m.assertion,
    "signed-response": lambda m: m.signed_response,
    "assertion-of-signed-response": lambda m: m.assertion_of_signed_response,
    "issue-instant-at-24h": issue_instant("2026-01-01T24:00:00Z"),
    "issue-instant-with-nanoseconds": issue_instant("2026-01-01T10:00:00.123456789Z"),
    "issue-instant-without-timezone": issue_instant("2026-01-01T10:00:00"),
    "issue-instant-at-plus-14h": issue_instant("2026-01-01T10:00:00+14:00"),
    "attribute-value-without-xsi-type": lambda m: edit(m.assertion, f" {STRING_VALUE}", ""),
    "comment-and-processing-instruction": lambda m: edit(
        m.assertion, r"(<(\w+):Subject>)", r"\1<!-- note --><?pi data?>"
    ),
    # pysaml2 also loads the metadata, eIDAS, SOAP and xmlenc 1.1 schemas; so do we (schema.py).
    "eidas-xsi-type-on-attribute-value": lambda m: edit(
        m.assertion,
        STRING_VALUE,
        'xsi:type="en:CurrentFamilyNameType" xmlns:en="http://eidas.europa.eu/attributes/naturalperson"',
    ),
    "valid-metadata-as-root": lambda m: (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:x">'
        '<md:AttributeAuthorityDescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:AttributeService Binding="urn:x" Location="https://x.example/"/>'
        "</md:AttributeAuthorityDescriptor></md:EntityDescriptor>"
    ),
}

BROKEN = {
    "unknown-element-in-assertion": lambda m: edit(
        m.assertion, r"<(\w+):Subject>", r"<\1:Unexpected />\g<0>"
    ),
    "unknown-attribute-on-assertion": lambda m: edit(
        m.assertion, r"<(\w+):Assertion ", r'\g<0>Unexpected="x" '
    ),
    "missing-issuer": lambda m: edit(m.assertion, ISSUER, ""),
    "missing-version": lambda m: edit(m.assertion, r' Version="2\.0"', ""),
    "missing-id": lambda m: edit(m.assertion, r' ID="[^"]*"', ""),
    "missing-issue-instant": lambda m: edit(m.assertion, r' IssueInstant="[^"]*"', ""),
    "id-not-an-ncname": lambda m: edit(m.assertion, r' ID="', ' ID="1'),
    "id-with-a-colon": lambda m: edit(m.assertion, r' ID="id-', ' ID="id:'),
    "issue-instant-not-a-datetime": issue_instant("yesterday"),
    "issue-instant-on-february-29-2025": issue_instant("2025-02-29T10:00:00Z"),
    "issue-instant-at-plus-15h": issue_instant("2026-01-01T10:00:00+15:00"),
    "issue-instant-in-year-0000": issue_instant("0000-01-01T10:00:00Z"),
    "not-on-or-after-in-month-13": lambda m: edit(
        m.assertion, r' NotOnOrAfter="[^"]*"', ' NotOnOrAfter="2026-13-01T10:00:00Z"'
    ),
    "conditions-before-subject": lambda m: edit(
        m.assertion, r"(<(\w+):Subject>.*?</\2:Subject>)(<\2:Conditions\b.*?</\2:Conditions>)", r"\3\1"
    ),
    "issuer-from-another-namespace": lambda m: edit(
        m.assertion, ISSUER, r'<x:Issuer xmlns:x="urn:example:not-saml"\2>\3</x:Issuer>'
    ),
    "two-subjects": lambda m: edit(m.assertion, SUBJECT, r"\g<0>\g<0>"),
    "text-in-element-only-subject": lambda m: edit(m.assertion, r"<(\w+):Subject>", r"\g<0>stray text"),
    "attribute-value-not-an-integer": lambda m: edit(m.assertion, STRING_VALUE, 'xsi:type="xs:integer"'),
    "attribute-value-of-unknown-type": lambda m: edit(
        m.assertion, STRING_VALUE, 'xsi:type="u:Unknown" xmlns:u="urn:example:types"'
    ),
    "response-without-status": lambda m: edit(m.response, r"<(\w+):Status>.*?</\1:Status>", ""),
    "signed-response-issue-instant-not-a-datetime": lambda m: edit(
        m.signed_response, r' IssueInstant="[^"]*"', ' IssueInstant="2026-01-01"'
    ),
    "invalid-metadata-element-in-advice": lambda m: edit(
        m.assertion,
        r"</(\w+):Conditions>",
        r'\g<0><\1:Advice><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" />'
        r"</\1:Advice>",
    ),
    "invalid-eidas-element-in-extensions": lambda m: edit(
        m.response,
        r"(<(\w+):Response .*?</\w+:Issuer>)",
        r'\1<\2:Extensions><e:SPType xmlns:e="http://eidas.europa.eu/saml-extensions">nonsense'
        r"</e:SPType></\2:Extensions>",
    ),
    "root-not-a-saml-element": lambda m: '<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
    "not-well-formed": lambda m: m.assertion[:-25],
    "empty-document": lambda m: "",
}


def accepts(validate, doc: str) -> bool:
    """True when ``validate`` accepts ``doc``; any error other than XMLSchemaError propagates, because
    pysaml2's signature check catches only that one."""
    try:
        validate(doc)
    except XMLSchemaError:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "valid"),
    [(name, True) for name in VALID] + [(name, False) for name in BROKEN],
    ids=[*VALID, *BROKEN],
)
def test_same_verdict_as_pysaml2(minted, name, valid):
    doc = (VALID | BROKEN)[name](minted)
    assert accepts(pysaml2_validate, doc) is valid, "pysaml2's own verdict is not the one the corpus expects"
    assert accepts(schema.validate, doc) is valid


def test_our_validator_also_takes_bytes(minted):
    schema.validate(minted.assertion.encode("utf-8"))
    with pytest.raises(XMLSchemaError):
        schema.validate(BROKEN["two-subjects"](minted).encode("utf-8"))


# Documents on which the two validators disagree: differences between the two engines' datatype
# checks (the schema set is the same). Strict xfail: should an engine change, the marker must go.


class DivergenceError(Exception):
    """Our verdict differs from pysaml2's (the only failure the xfail markers below expect)."""


def divergence(build, *, pysaml2_accepts: bool, reason: str, id: str):  # noqa: A002  (pytest's name)
    marks = pytest.mark.xfail(strict=True, raises=DivergenceError, reason=reason)
    return pytest.param(build, pysaml2_accepts, marks=marks, id=id)


DIVERGENT = [
    divergence(
        issue_instant(" 2026-01-01T10:00:00Z "),
        pysaml2_accepts=True,
        reason="refused by ours: libxml2 does not collapse whitespace in an xs:dateTime attribute",
        id="whitespace-around-issue-instant",
    ),
    divergence(
        lambda m: edit(m.assertion, r' Recipient="[^"]*"', ' Recipient="https://sp.example/%zz"'),
        pysaml2_accepts=True,
        reason="refused by ours: libxml2 checks percent-escapes in xs:anyURI, xmlschema does not",
        id="bad-percent-escape-in-any-uri",
    ),
    divergence(
        lambda m: m.assertion_with_advice,
        pysaml2_accepts=False,
        reason="accepted by ours: the machtigingenregister's XACML decision statement inside Advice "
        "(a type pysaml2 ships no schema for; schema.py leaves only it out)",
        id="xacml-decision-statement-in-advice",
    ),
    divergence(
        lambda m: edit(m.assertion, r"(<(\w+):DigestValue>)[^<]*", r"\1@@@@"),
        pysaml2_accepts=False,
        reason="accepted by ours: libxml2 skips characters outside the base64 alphabet",
        id="digest-value-not-base64",
    ),
]


@pytest.mark.parametrize(("build", "pysaml2_accepts"), DIVERGENT)
def test_known_divergence_from_pysaml2(minted, build, pysaml2_accepts):
    doc = build(minted)
    assert accepts(pysaml2_validate, doc) is pysaml2_accepts
    if accepts(schema.validate, doc) is not pysaml2_accepts:
        raise DivergenceError(f"pysaml2 {'accepts' if pysaml2_accepts else 'refuses'}, ours does not")


# --- no DTD, no entity, no network -----------------------------------------------------------


@pytest.fixture
def watched_file(tmp_path):
    """A named pipe with a secret behind it, and an Event set as soon as anyone opens it to read."""
    path = tmp_path / "secret"
    os.mkfifo(path)
    opened = threading.Event()

    def serve():
        pipe = os.open(path, os.O_WRONLY)  # blocks until a reader opens the other end
        opened.set()
        with contextlib.suppress(BrokenPipeError):  # our own release below reads nothing
            os.write(pipe, b"SECRET-FROM-DISK")
        os.close(pipe)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, opened
    if not opened.is_set():  # release the writer ourselves
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    thread.join(timeout=5)


@pytest.fixture
def watched_server():
    """A local HTTP server that records every request (and would serve an entity if asked)."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  (BaseHTTPRequestHandler's name)
            requests.append(self.path)
            body = b'<!ENTITY xxe "EXPANDED-FROM-NETWORK">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def with_doctype(assertion: str, doctype: str) -> str:
    """The valid assertion with ``doctype`` in front and the entity ``&xxe;`` as the Issuer's text."""
    return doctype + edit(assertion, ISSUER, r"<\1:Issuer\2>&xxe;</\1:Issuer>")


def test_external_file_entity_is_refused_and_never_read(minted, watched_file):
    path, opened = watched_file
    doc = with_doctype(minted.assertion, f'<!DOCTYPE a [<!ENTITY xxe SYSTEM "file://{path}">]>')
    with pytest.raises(XMLSchemaError) as refused:
        schema.validate(doc)
    assert not opened.is_set(), "the validator opened the file behind the external entity"
    assert "SECRET-FROM-DISK" not in str(refused.value)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE a [<!ENTITY xxe SYSTEM "{url}/entity">]>',
        '<!DOCTYPE a SYSTEM "{url}/external.dtd">',
        '<!DOCTYPE a [<!ENTITY % remote SYSTEM "{url}/parameter.dtd"> %remote;]>',
    ],
    ids=["external-entity", "external-dtd", "parameter-entity"],
)
def test_dtd_pointing_to_the_network_is_refused_without_a_request(minted, watched_server, doctype):
    url, requests = watched_server
    doc = with_doctype(minted.assertion, doctype.format(url=url))
    with pytest.raises(XMLSchemaError) as refused:
        schema.validate(doc)
    assert requests == []
    assert "EXPANDED-FROM-NETWORK" not in str(refused.value)


def test_internal_entity_is_refused(minted):
    """Any DTD is refused, also one that only declares entities (the billion-laughs shape)."""
    doc = with_doctype(minted.assertion, '<!DOCTYPE a [<!ENTITY xxe "harmless">]>')
    with pytest.raises(XMLSchemaError):
        schema.validate(doc)


# --- end to end through the ACS ----------------------------------------------------------------

PSEUDONYM = "pseudo-schema"
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def linked():
    return Koppeling.objects.create(
        account=AccountFactory(),
        acting_subject_id=PSEUDONYM,
        legal_subject_id="41012345",
        level=LOA3,
        last_login_at=LONG_AGO,
    )


def resigned(xml: str, tamper=None) -> str:
    """Apply ``tamper`` to the saml:Assertion and sign it again with the dev broker's own key, so the
    signature is correct over the changed assertion; return the base64 SAMLResponse."""
    root = etree.fromstring(xml.encode("utf-8"))  # noqa: S320  (our own test document)
    assertion = root.find("saml:Assertion", NS)
    if tamper is not None:
        tamper(assertion)
    key_file, _cert_file = broker_key_files()
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_file(key_file, xmlsec.KeyFormat.PEM)
    context.register_id(assertion, "ID")
    context.sign(assertion.find("ds:Signature", NS))
    return base64.b64encode(etree.tostring(root)).decode("ascii")


def id_not_an_ncname(assertion) -> None:
    """An ID starting with a digit (not an xs:ID); the signature's reference follows it."""
    new_id = "1" + assertion.get("ID")
    assertion.set("ID", new_id)
    assertion.find("ds:Signature/ds:SignedInfo/ds:Reference", NS).set("URI", f"#{new_id}")


def attribute_not_in_the_schema(assertion) -> None:
    """pysaml2 keeps unknown attributes when it re-serialises the assertion; the schema has none."""
    assertion.set("Unexpected", "x")


SCHEMA_INVALID = [
    pytest.param(id_not_an_ncname, id="id-not-an-ncname"),
    pytest.param(attribute_not_in_the_schema, id="unknown-attribute"),
]


def post_resigned(client, tamper=None):
    request_id = saml_start(client)
    xml = mint_response(in_response_to=request_id, acting_subject_id=PSEUDONYM, encode=False, advice=False)
    return acs_post(client, resigned(xml, tamper))


def assert_logged_in(client, response, koppeling) -> None:
    assert response.status_code == 302 and response["Location"] == "/overzicht/"
    assert int(client.session["_auth_user_id"]) == koppeling.account_id


def test_resigned_response_without_tampering_logs_in(client, linked):
    """Re-signing is sound: an untouched response, signed again, is accepted."""
    assert_logged_in(client, post_resigned(client), linked)


@pytest.mark.parametrize("tamper", SCHEMA_INVALID)
def test_correctly_signed_but_schema_invalid_assertion_is_refused(client, linked, monkeypatch, tamper):
    verdicts = []

    def recording_validate(doc):
        try:
            schema.validate(doc)
        except XMLSchemaError:
            verdicts.append("refused")
            raise
        verdicts.append("accepted")

    monkeypatch.setattr(sigver, "validate_doc_with_schema", recording_validate)
    response = post_resigned(client, tamper)
    assert verdicts == ["refused"], "the refusal must come from our schema check"
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert "_auth_user_id" not in response.wsgi_request.session
    refusal = AuditEvent.objects.get(action=AuditAction.SAML_FAILED)
    assert refusal.detail == {"reason_code": "signature_invalid"}
    assert not AuditEvent.objects.filter(action=AuditAction.SAML_LOGIN).exists()
    linked.refresh_from_db()
    assert linked.last_login_at == LONG_AGO


@pytest.mark.parametrize("tamper", SCHEMA_INVALID)
def test_without_the_schema_check_the_same_response_logs_in(client, linked, monkeypatch, tamper):
    """Control: the tampered response fails on the schema alone, not on its signature or content."""
    monkeypatch.setattr(sigver, "validate_doc_with_schema", lambda doc: None)
    assert_logged_in(client, post_resigned(client, tamper), linked)


@pytest.mark.parametrize("tamper", SCHEMA_INVALID)
def test_pysaml2s_own_validator_refuses_the_same_response(client, linked, monkeypatch, tamper):
    monkeypatch.setattr(sigver, "validate_doc_with_schema", pysaml2_validate)
    response = post_resigned(client, tamper)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def metadata_element_in_advice(assertion) -> None:
    """An md:EntityDescriptor without its required parts, in saml:Advice (a lax wildcard)."""
    advice = etree.SubElement(assertion, f"{{{NS['saml']}}}Advice")
    etree.SubElement(advice, "{urn:oasis:names:tc:SAML:2.0:metadata}EntityDescriptor")
    assertion.find("saml:Conditions", NS).addnext(advice)


def test_signed_assertion_with_invalid_metadata_in_advice_is_refused(client, linked):
    """invalid-metadata-element-in-advice above, through the ACS: the metadata schema is loaded too."""
    response = post_resigned(client, metadata_element_in_advice)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_pysaml2s_own_validator_refuses_invalid_metadata_in_advice(client, linked, monkeypatch):
    monkeypatch.setattr(sigver, "validate_doc_with_schema", pysaml2_validate)
    response = post_resigned(client, metadata_element_in_advice)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
