"""The HTTP-Artifact binding (issue 14 item 1): SAMLart parsed strictly, resolved once with a signed
SOAP ArtifactResolve over real mutual TLS on loopback, every transport failure a clear kind.

The broker is the dev broker's own ArtifactResolutionService (koppeling/dev_broker/artifact.py),
served by a TLS server that requires a client certificate (koppeling/dev_broker/tls.py); the
misbehaving brokers are small WSGI apps behind the same server. Nothing is mocked: signatures,
TLS handshakes and timeouts are real.
"""

import base64
import contextlib
import copy
import hashlib
import io
import itertools
import socket
import socketserver
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import pytest
import requests
import saml2
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from djangosaml2.overrides import Saml2Client
from lxml import etree

from koppeling.dev_broker import artifact as broker_artifact
from koppeling.dev_broker.idp import broker_entity_id, broker_metadata_xml, broker_server
from koppeling.dev_broker.testing import ars_loopback, mint_response, other_signing_key, saml_start
from koppeling.models import UsedAssertion
from koppeling.saml import artifact, checks
from koppeling.saml.checks import SamlRefusedError
from koppeling.saml.config import sp_config_load, sp_config_reset
from koppeling.saml.crypto import CryptoBackendXmlSec

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
REQUEST_ID = "id-authn-request-artifact-test"


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory):
    """Key pairs, CA and pinned client certificate of this module's own: its TLS servers are
    independent of the suite-wide resolution service (tests/conftest.py)."""
    return tmp_path_factory.mktemp("artifact-keys")


@pytest.fixture(autouse=True)
def own_keys(settings, key_dir):
    settings.EHERKENNING_KEY_DIR = key_dir
    settings.EHERKENNING_DEV_BROKER = True
    sp_config_reset()
    yield
    sp_config_reset()


@pytest.fixture
def broker(settings):
    """The dev broker's ArtifactResolutionService over mutual TLS on loopback."""
    with ars_loopback(settings) as base:
        yield base


def issued(*, in_response_to: str = REQUEST_ID, sp_entity_id: str | None = None) -> str:
    """An artifact at the dev broker for a real signed Response."""
    from django.conf import settings

    xml = mint_response(in_response_to=in_response_to, encode=False)
    return broker_artifact.artifact_issue(
        response_xml=xml,
        sp_entity_id=settings.EHERKENNING_SP_ENTITY_ID if sp_entity_id is None else sp_entity_id,
    )


def resolve(samlart: str) -> bytes:
    conf = sp_config_load()
    _entity_id, destination = artifact.broker_for_artifact(
        conf=conf, artifact=artifact.artifact_parse(samlart)
    )
    return artifact.artifact_resolve(conf=conf, artifact_b64=samlart, destination=destination)


def resolve_error(samlart: str) -> artifact.ArtifactResolveError:
    with pytest.raises(artifact.ArtifactResolveError) as caught:
        resolve(samlart)
    return caught.value


def raw_artifact(*, type_code: bytes = b"\x00\x04", index: bytes = b"\x00\x00", length: int = 44) -> str:
    source = hashlib.sha1(broker_entity_id().encode()).digest()  # noqa: S324
    raw = (type_code + index + source + b"h" * 20)[:length].ljust(length, b"x")
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------------------------------------
# The artifact


def test_artifact_of_type_4_and_44_bytes_is_parsed():
    parsed = artifact.artifact_parse(raw_artifact(index=b"\x00\x02"))
    assert parsed.type_code == 4
    assert parsed.endpoint_index == 2
    assert parsed.source_id == hashlib.sha1(broker_entity_id().encode()).digest()  # noqa: S324
    assert parsed.message_handle == b"h" * 20


@pytest.mark.parametrize(
    "samlart",
    [
        pytest.param(raw_artifact(type_code=b"\x00\x01"), id="type 1"),
        pytest.param(raw_artifact(type_code=b"\x04\x00"), id="type in the wrong byte order"),
        pytest.param(raw_artifact(length=43), id="43 bytes"),
        pytest.param(raw_artifact(length=45), id="45 bytes"),
        pytest.param("AAQAA!==", id="not base64"),
        pytest.param(raw_artifact()[:-1], id="base64 without padding"),
        pytest.param(raw_artifact().replace("A", "-", 1), id="url-safe alphabet"),
        pytest.param("", id="empty"),
        pytest.param("A" * 4000, id="huge"),
    ],
)
def test_malformed_artifact_is_refused(samlart):
    with pytest.raises(SamlRefusedError) as caught:
        artifact.artifact_parse(samlart)
    assert caught.value.reason == "malformed_artifact"
    assert caught.value.status == 400


def test_broker_is_found_by_source_id_with_its_soap_resolution_service(settings):
    settings.EHERKENNING_DEV_BROKER_ARS_URL = "https://broker.example/ars/"
    sp_config_reset()
    entity_id, url = artifact.broker_for_artifact(
        conf=sp_config_load(), artifact=artifact.artifact_parse(raw_artifact())
    )
    assert entity_id == broker_entity_id()
    assert url == "https://broker.example/ars/"


def test_artifact_from_an_unknown_source_is_refused():
    foreign = base64.b64encode(
        b"\x00\x04\x00\x00" + hashlib.sha1(b"https://evil.example/").digest() + b"h" * 20
    )  # noqa: S324
    with pytest.raises(SamlRefusedError) as caught:
        artifact.broker_for_artifact(
            conf=sp_config_load(), artifact=artifact.artifact_parse(foreign.decode())
        )
    assert (caught.value.reason, caught.value.status) == ("unknown_artifact_source", 403)


def test_broker_metadata_advertises_the_soap_resolution_service(settings):
    settings.EHERKENNING_DEV_BROKER_ARS_URL = "https://127.0.0.1:1234/dev/broker/ars/"
    root = etree.fromstring(broker_metadata_xml().encode())
    services = root.findall(".//{urn:oasis:names:tc:SAML:2.0:metadata}ArtifactResolutionService")
    assert [(s.get("Binding"), s.get("Location"), s.get("index")) for s in services] == [
        (saml2.BINDING_SOAP, "https://127.0.0.1:1234/dev/broker/ars/", "1")
    ]


@pytest.mark.django_db
def test_an_artifact_is_used_once_at_the_portal():
    samlart = raw_artifact()
    now = timezone.now()
    artifact.artifact_use(artifact_b64=samlart, now=now)
    with pytest.raises(SamlRefusedError) as caught:
        artifact.artifact_use(artifact_b64=samlart, now=now)
    assert caught.value.reason == "artifact_replay"
    record = UsedAssertion.objects.get()
    assert record.assertion_id.startswith("artifact:") and samlart not in record.assertion_id
    assert record.not_on_or_after > now
    artifact.artifact_use(artifact_b64=raw_artifact(index=b"\x00\x01"), now=now)  # another one is fine


# ---------------------------------------------------------------------------------------------
# Resolving over mutual TLS


def test_resolved_response_is_the_brokers_and_verifies_on_the_existing_path(broker, settings):
    samlart = issued()
    xml = resolve(samlart)

    root = etree.fromstring(xml)
    assert root.tag == f"{{{NS_SAMLP}}}Response"
    assert root.get("InResponseTo") == REQUEST_ID
    # The subtree stands alone and its Assertion's signature still verifies, in pysaml2 as in the ACS
    # (parsed as in the POST binding, which pysaml2 checks the Destination for).
    settings.EHERKENNING_RESPONSE_BINDINGS = ["artifact", "post"]
    sp_config_reset()
    checks.response_precheck(xml=xml, acs_url=f"{settings.SITE_URL}/saml2/acs/")
    client = Saml2Client(sp_config_load())
    response = client.parse_authn_request_response(
        base64.b64encode(xml).decode(), saml2.BINDING_HTTP_POST, {REQUEST_ID: "/"}
    )
    assert response.assertion.signature is not None
    assert response.assertion.issuer.text == broker_entity_id()


def test_artifact_resolves_once_at_the_broker(broker):
    samlart = issued()
    resolve(samlart)
    error = resolve_error(samlart)
    assert (error.kind, error.status) == ("empty", 400)


def test_artifact_for_another_sp_resolves_to_nothing(broker):
    error = resolve_error(issued(sp_entity_id="https://another-sp.example/metadata"))
    assert error.kind == "empty"


def test_broker_receives_a_signed_rsa_sha256_artifact_resolve_as_text_xml_with_soap_action(settings, key_dir):
    seen = []
    django_app = get_wsgi_application()

    def recording(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        seen.append((environ.get("CONTENT_TYPE"), environ.get("HTTP_SOAPACTION"), body))
        environ["wsgi.input"] = io.BytesIO(body)
        return django_app(environ, start_response)

    with ars_loopback(settings, app=recording):
        samlart = issued()
        resolve(samlart)

    [(content_type, soap_action, body)] = seen
    assert content_type.split(";")[0] == "text/xml"
    assert soap_action == "http://www.oasis-open.org/committees/security"
    envelope = etree.fromstring(body)
    [message] = envelope.find(f"{{{NS_SOAP}}}Body")
    assert message.tag == f"{{{NS_SAMLP}}}ArtifactResolve"
    assert message.findtext(f"{{{NS_SAMLP}}}Artifact") == samlart
    assert message.get("Destination") == settings.EHERKENNING_DEV_BROKER_ARS_URL
    signature = message.find(f"{{{NS_DS}}}Signature")
    assert signature.find(f".//{{{NS_DS}}}SignatureMethod").get("Algorithm") == (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    )
    assert signature.find(f".//{{{NS_DS}}}CanonicalizationMethod").get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    assert (
        signature.find(f".//{{{NS_DS}}}DigestMethod").get("Algorithm")
        == "http://www.w3.org/2001/04/xmlenc#sha256"
    )
    sp_cert = str(Path(key_dir) / "sp-cert.pem")
    assert CryptoBackendXmlSec().validate_signature(
        body,
        cert_file=sp_cert,
        cert_type="pem",
        node_name=f"{NS_SAMLP}:ArtifactResolve",
        node_id=message.get("ID"),
    )


# --- the broker's checks of the request --------------------------------------------------------


def _post_to_broker(base: str, body: bytes, *, content_type: str = "text/xml"):
    from django.conf import settings

    return requests.post(
        f"{base}/dev/broker/ars/",
        data=body,
        headers={"Content-Type": content_type, "SOAPAction": artifact.SOAP_ACTION},
        cert=artifact.tls_client_pair(),
        verify=settings.EHERKENNING_TLS_CA_FILE,
        timeout=30,
    )


def _signed_resolve(samlart: str, destination: str) -> bytes:
    return artifact.artifact_resolve_envelope(
        conf=sp_config_load(), artifact_b64=samlart, destination=destination
    )[1]


def test_broker_answers_a_tampered_artifact_resolve_with_a_fault_and_keeps_the_artifact(broker, settings):
    samlart, other = issued(), issued()
    body = _signed_resolve(other, settings.EHERKENNING_DEV_BROKER_ARS_URL).replace(
        other.encode(), samlart.encode()
    )
    answer = _post_to_broker(broker, body)
    assert answer.status_code == 500
    assert etree.fromstring(answer.content).find(f"{{{NS_SOAP}}}Body/{{{NS_SOAP}}}Fault") is not None
    assert resolve(samlart)  # the forged request did not use it up


def test_broker_refuses_an_unsigned_artifact_resolve(broker, settings):
    envelope = etree.fromstring(_signed_resolve(issued(), settings.EHERKENNING_DEV_BROKER_ARS_URL))
    signature = envelope.find(f".//{{{NS_DS}}}Signature")
    signature.getparent().remove(signature)
    answer = _post_to_broker(broker, etree.tostring(envelope))
    assert answer.status_code == 500


def test_broker_refuses_soap_12_content_type(broker, settings):
    body = _signed_resolve(issued(), settings.EHERKENNING_DEV_BROKER_ARS_URL)
    assert _post_to_broker(broker, body, content_type="application/soap+xml").status_code == 415


# --- transport failures ------------------------------------------------------------------------


def test_client_without_a_certificate_is_refused_by_the_broker(broker, monkeypatch):
    monkeypatch.setattr(artifact, "tls_client_pair", lambda: None)
    samlart = issued()
    error = resolve_error(samlart)
    assert (error.kind, error.status) == ("tls", 502)


def test_client_with_a_certificate_the_broker_does_not_trust_is_refused(broker, settings):
    key, cert = other_signing_key()
    settings.EHERKENNING_TLS_CLIENT_CERT_FILE, settings.EHERKENNING_TLS_CLIENT_KEY_FILE = cert, key
    assert resolve_error(issued()).kind == "tls"


def test_broker_whose_server_certificate_the_portal_does_not_trust_is_refused(settings):
    with ars_loopback(settings, trusted=False):
        error = resolve_error(issued())
    assert (error.kind, error.status) == ("tls", 502)


def test_portal_without_a_ca_file_trusts_only_the_system_store(broker, settings):
    settings.EHERKENNING_TLS_CA_FILE = ""
    assert resolve_error(issued()).kind == "tls"


def test_unreachable_broker(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EHERKENNING_DEV_BROKER_ARS_URL = f"https://127.0.0.1:{port}/dev/broker/ars/"
    error = resolve_error(issued())
    assert (error.kind, error.status) == ("unreachable", 502)


def test_broker_that_never_answers_times_out(settings):
    release = threading.Event()

    def hanging(environ, start_response):
        release.wait(60)
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b""]

    settings.EHERKENNING_ARTIFACT_RESOLVE_TIMEOUT = 0.5
    try:
        with ars_loopback(settings, app=hanging):
            error = resolve_error(issued())
    finally:
        release.set()
    assert (error.kind, error.status) == ("timeout", 504)


def _answering(status: str, body: bytes, content_type: str = "text/xml"):
    def app(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    return app


SOAP_FAULT = (
    b'<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>no</faultstring>"
    b"</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        pytest.param("500 Internal Server Error", SOAP_FAULT, "soap_fault", id="fault"),
        pytest.param("200 OK", SOAP_FAULT, "soap_fault", id="fault with 200"),
        pytest.param("503 Service Unavailable", b"busy", "soap_fault", id="http error"),
        pytest.param("200 OK", b"<html><body>Welkom</body>", "garbage", id="html"),
        pytest.param("200 OK", b"\x00\x01binary", "garbage", id="binary"),
        pytest.param(
            "200 OK",
            b'<!DOCTYPE x [<!ENTITY e "boom">]><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org'
            b'/soap/envelope/"><SOAP-ENV:Body>&e;</SOAP-ENV:Body></SOAP-ENV:Envelope>',
            "garbage",
            id="dtd",
        ),
        pytest.param(
            "200 OK",
            b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">'
            b"<SOAP-ENV:Body/></SOAP-ENV:Envelope>",
            "garbage",
            id="empty body",
        ),
        pytest.param("200 OK", b"<a>" * 200_000, "garbage", id="too large"),
    ],
)
def test_broker_failures_have_their_kind(settings, status, body, kind):
    with ars_loopback(settings, app=_answering(status, body)):
        assert resolve_error(issued()).kind == kind


def test_endless_answer_is_cut_off_at_the_size_limit(settings):
    def endless(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/xml")])
        return itertools.repeat(b"<!-- " + b"x" * 65536 + b" -->")

    with ars_loopback(settings, app=endless):
        error = resolve_error(issued())
    assert (error.kind, error.detail) == ("garbage", "response too large")


def test_redirect_from_the_broker_is_not_followed(settings):
    def redirecting(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("302 Found", [("Location", "https://127.0.0.1:1/elsewhere"), ("Content-Length", "0")])
        return [b""]

    with ars_loopback(settings, app=redirecting):
        assert resolve_error(issued()).kind == "soap_fault"


# --- the ArtifactResponse ----------------------------------------------------------------------


def _misbehaving_broker(make_answer):
    """A broker that answers each ArtifactResolve with ``make_answer(resolve_id, response_xml)``."""
    stored = {}

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        resolve_id = etree.fromstring(body).find(f".//{{{NS_SAMLP}}}ArtifactResolve").get("ID")
        answer = make_answer(resolve_id, stored["xml"])
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(answer)))])
        return [answer]

    stored["xml"] = mint_response(in_response_to=REQUEST_ID, encode=False)
    return app


def _refusal(settings, make_answer) -> SamlRefusedError:
    with ars_loopback(settings, app=_misbehaving_broker(make_answer)):
        with pytest.raises(SamlRefusedError) as caught:
            resolve(issued())
    return caught.value


def test_artifact_response_signed_by_another_key_is_refused(settings):
    key, cert = other_signing_key()
    other = broker_server(key_file=key, cert_file=cert)

    def answer(resolve_id, xml):
        return broker_artifact.soap_envelope(
            broker_artifact.artifact_response_create(
                server=other, in_response_to=resolve_id, response_xml=xml
            )
        )

    refusal = _refusal(settings, answer)
    assert (refusal.reason, refusal.status) == ("artifact_response_signature_invalid", 403)


def test_unsigned_artifact_response_is_refused(settings):
    def answer(resolve_id, xml):
        signed = broker_artifact.artifact_response_create(
            server=broker_server(), in_response_to=resolve_id, response_xml=xml
        )
        root = etree.fromstring(signed.encode())
        root.remove(root.find(f"{{{NS_DS}}}Signature"))
        return broker_artifact.soap_envelope(etree.tostring(root, encoding="unicode"))

    assert _refusal(settings, answer).reason == "artifact_response_unsigned"


def test_artifact_response_to_another_request_is_refused(settings):
    def answer(_resolve_id, xml):
        return broker_artifact.soap_envelope(
            broker_artifact.artifact_response_create(
                server=broker_server(), in_response_to="id-someone-elses-resolve", response_xml=xml
            )
        )

    assert _refusal(settings, answer).reason == "artifact_response_in_response_to"


def test_artifact_response_naming_another_issuer_is_refused(settings):
    """Signed with the broker's key, but issued in the name of another entity."""

    def answer(resolve_id, xml):
        return broker_artifact.soap_envelope(
            broker_artifact.artifact_response_create(
                server=broker_server(),
                in_response_to=resolve_id,
                response_xml=xml,
                issuer="https://another-broker.example/metadata",
            )
        )

    refusal = _refusal(settings, answer)
    assert (refusal.reason, refusal.status) == ("artifact_response_issuer", 403)


def test_response_swapped_into_a_signed_artifact_response_is_refused(settings):
    """The broker's signature covers the Response inside: another one put in its place fails."""

    def answer(resolve_id, xml):
        signed = broker_artifact.artifact_response_create(
            server=broker_server(), in_response_to=resolve_id, response_xml=xml
        )
        root = etree.fromstring(signed.encode())
        inner = root.find(f"{{{NS_SAMLP}}}Response")
        swapped = copy.deepcopy(inner)
        swapped.set("InResponseTo", "id-forged")
        root.replace(inner, swapped)
        return broker_artifact.soap_envelope(etree.tostring(root, encoding="unicode"))

    assert _refusal(settings, answer).reason == "artifact_response_signature_invalid"


XACML_SAML = "urn:oasis:names:tc:xacml:2.0:profile:saml2.0:v2:schema:assertion"


def test_returned_response_keeps_the_namespaces_a_broker_declared_on_the_envelope(settings):
    """A broker may declare prefixes once, on the SOAP envelope. eHerkenning assertions name one
    (xacml-saml) only in xsi:type values and in their signature's InclusiveNamespaces PrefixList:
    it must survive the Response's extraction, or the exclusive-c14n digest no longer matches."""

    def answer(resolve_id, xml):
        signed = broker_artifact.artifact_response_create(
            server=broker_server(), in_response_to=resolve_id, response_xml=xml
        )
        envelope = broker_artifact.soap_envelope(signed)
        stored["envelope"] = envelope.replace(
            b"<SOAP-ENV:Envelope ", f'<SOAP-ENV:Envelope xmlns:xacml-saml="{XACML_SAML}" '.encode(), 1
        )
        return stored["envelope"]

    stored = {}
    with ars_loopback(settings, app=_misbehaving_broker(answer)):
        returned = resolve(issued())

    in_context = etree.fromstring(stored["envelope"]).find(f".//{{{NS_SAMLP}}}Response")
    standalone = etree.fromstring(returned)
    assert standalone.nsmap["xacml-saml"] == XACML_SAML

    def c14n(element):
        return etree.tostring(element, method="c14n", exclusive=True, inclusive_ns_prefixes=["xacml-saml"])

    assert c14n(standalone) == c14n(in_context)


# ---------------------------------------------------------------------------------------------
# Plain http only with the dev broker (make run)


class _PlainServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@contextlib.contextmanager
def plain_http_broker():
    httpd = _PlainServer(("127.0.0.1", 0), _QuietHandler)
    httpd.set_app(get_wsgi_application())
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_dev_broker_is_resolved_over_plain_http_as_under_make_run(settings):
    with plain_http_broker() as base:
        settings.EHERKENNING_DEV_BROKER_ARS_URL = f"{base}/dev/broker/ars/"
        sp_config_reset()
        assert etree.fromstring(resolve(issued())).get("InResponseTo") == REQUEST_ID


def test_plain_http_resolution_service_is_refused_without_the_dev_broker(settings, tmp_path):
    settings.EHERKENNING_DEV_BROKER_ARS_URL = "http://127.0.0.1:9/dev/broker/ars/"
    metadata = tmp_path / "broker.xml"
    metadata.write_text(broker_metadata_xml())
    settings.EHERKENNING_IDP_METADATA = str(metadata)
    settings.EHERKENNING_DEV_BROKER = False
    sp_config_reset()
    samlart = raw_artifact()
    conf = sp_config_load()
    _entity_id, destination = artifact.broker_for_artifact(
        conf=conf, artifact=artifact.artifact_parse(samlart)
    )
    with pytest.raises(artifact.ArtifactResolveError) as caught:
        artifact.artifact_resolve(conf=conf, artifact_b64=samlart, destination=destination)
    assert caught.value.kind == "insecure_endpoint"


# ---------------------------------------------------------------------------------------------
# The dev broker's login sends the artifact


def _broker_login(client, *, artifact_method: str):
    from django.conf import settings

    request_id = saml_start(client, next="/mijn-gegevens/")
    client.get("/dev/broker/inloggen/")
    page = client.post(
        "/dev/broker/inloggen/",
        {
            "csrfmiddlewaretoken": client.cookies[settings.CSRF_COOKIE_NAME].value,
            "level": "urn:etoegang:core:assurance-class:loa3",
            "persona": "own",
            "acting_subject_id": "pseudo-artifact",
            "legal_subject_id": "41012345",
            "artifact_method": artifact_method,
        },
    )
    return request_id, page


@pytest.mark.django_db
def test_dev_broker_sends_the_browser_back_with_samlart_by_redirect(client, broker, settings):
    request_id, page = _broker_login(client, artifact_method="get")
    assert page.status_code == 302
    location = urlsplit(page["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{settings.SITE_URL}/saml2/acs/"
    query = parse_qs(location.query)
    assert set(query) == {"SAMLart", "RelayState"}
    samlart = query["SAMLart"][0]
    parsed = artifact.artifact_parse(samlart)
    assert (parsed.source_id, parsed.endpoint_index) == (broker_artifact.source_id(), 1)  # as advertised
    assert etree.fromstring(resolve(samlart)).get("InResponseTo") == request_id


@pytest.mark.django_db
def test_dev_broker_can_post_the_artifact(client, broker):
    request_id, page = _broker_login(client, artifact_method="post")
    assert page.status_code == 200
    samlart = page.context["saml_art"]
    assert f'name="SAMLart" value="{samlart}"' in page.content.decode()
    assert "SAMLResponse" not in page.content.decode()
    assert etree.fromstring(resolve(samlart)).get("InResponseTo") == request_id


@pytest.mark.django_db
def test_dev_broker_posts_the_response_when_only_post_is_enabled(client, settings):
    settings.EHERKENNING_RESPONSE_BINDINGS = ["post"]
    sp_config_reset()
    _request_id, page = _broker_login(client, artifact_method="get")
    assert page.status_code == 200
    assert page.context["saml_response"]
    assert "SAMLart" not in page.content.decode()
