"""Broker metadata from EHERKENNING_IDP_METADATA_URL (eherkenning.md §5, issue 14 item 8).

A real HTTP server on loopback serves good, broken, wrong-entity, unsigned, … documents; the refresh
keeps the last good copy whenever a new one fails a check, and logins never fetch.
"""

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from lxml import etree

from accounts.constants import AuditAction
from accounts.models import AuditEvent
from koppeling.models import IdpMetadata
from koppeling.saml.config import sp_config_load
from koppeling.saml.idp_metadata import idp_metadata_refresh
from koppeling.saml.tasks import refresh_idp_metadata
from koppeling.saml.xmldsig import sign_enveloped
from tests.accounts.test_settings import production_env  # noqa: F401  (fixture: a valid production env)
from tests.koppeling.saml_documents import NS, certificate_body, keypair_files

pytestmark = pytest.mark.django_db

ENTITY_ID = "https://broker.example.nl/saml/idp"
ROOT = Path(__file__).resolve().parents[2]


class MetadataServer:
    """http.server on a free loopback port, in a thread; ``documents`` maps a path to (status, body)."""

    def __init__(self):
        self.documents: dict[str, tuple[int, bytes]] = {}
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  (http.server's name)
                server.requests += 1
                status, body = server.documents.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, status: int = 200) -> str:
        self.documents[path] = (status, body)
        return self.url(path)


@pytest.fixture
def server():
    metadata_server = MetadataServer()
    metadata_server.thread.start()
    yield metadata_server
    metadata_server.httpd.shutdown()
    metadata_server.httpd.server_close()


@pytest.fixture
def broker_keys(tmp_path):
    return {name: keypair_files(tmp_path, name) for name in ("signing", "rotated", "signer", "other-signer")}


def broker_metadata(
    cert_file: str | None,
    *,
    entity_id: str = ENTITY_ID,
    sso: str | None = None,
    signed_by: tuple[str, str] | None = None,
    valid_until: str | None = None,
) -> bytes:
    """A broker's metadata: one IdP with a signing certificate and a Redirect SSO endpoint."""
    md, ds = NS["md"], NS["ds"]
    root = etree.Element(
        f"{{{md}}}EntityDescriptor", nsmap={"md": md, "ds": ds}, entityID=entity_id, ID="_md1"
    )
    if valid_until:
        root.set("validUntil", valid_until)
    idp = etree.SubElement(
        root, f"{{{md}}}IDPSSODescriptor", protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"
    )
    if cert_file:
        descriptor = etree.SubElement(idp, f"{{{md}}}KeyDescriptor", use="signing")
        key_info = etree.SubElement(descriptor, f"{{{ds}}}KeyInfo")
        x509_data = etree.SubElement(key_info, f"{{{ds}}}X509Data")
        etree.SubElement(x509_data, f"{{{ds}}}X509Certificate").text = certificate_body(cert_file)
    etree.SubElement(
        idp,
        f"{{{md}}}SingleSignOnService",
        Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
        Location=sso or "https://broker.example.nl/saml/sso",
    )
    if signed_by is not None:
        sign_enveloped(root, key_file=signed_by[0], cert_file=signed_by[1])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.fixture
def by_url(settings, server, broker_keys):
    """The portal configured for metadata by URL, with a good document served and fetched once."""
    url = server.serve("/metadata.xml", broker_metadata(broker_keys["signing"][1]))
    settings.EHERKENNING_IDP_METADATA_URL = url
    settings.EHERKENNING_IDP_METADATA = ""
    result = idp_metadata_refresh()
    assert result.ok and result.changed
    return url


def trusted_broker_certificates() -> list[str]:
    config = sp_config_load()
    return [
        "".join(body.split())
        for entity_id in config.metadata.identity_providers()
        for _name, body in config.metadata.certs(entity_id, "idpsso", "signing")
    ]


def refused_events() -> list[dict]:
    return [
        event.detail
        for event in AuditEvent.objects.filter(action=AuditAction.SAML_METADATA_REFRESH, result="refused")
    ]


# --- the first good copy -------------------------------------------------------------------------


def test_a_good_document_is_stored_and_used_by_logins(client, by_url, broker_keys):
    row = IdpMetadata.objects.get(url=by_url)
    assert row.entity_id == ENTITY_ID and row.digest and row.failure == ""
    assert list(sp_config_load().metadata.identity_providers()) == [ENTITY_ID]
    assert trusted_broker_certificates() == [certificate_body(broker_keys["signing"][1])]
    location = client.get("/saml2/login/")["Location"]
    assert location.startswith("https://broker.example.nl/saml/sso?SAMLRequest=")
    event = AuditEvent.objects.get(action=AuditAction.SAML_METADATA_REFRESH, result="success")
    assert event.detail["entity_id"] == ENTITY_ID


def test_logins_never_fetch_the_metadata(client, by_url, server):
    fetched = server.requests
    for _ in range(3):
        assert client.get("/saml2/login/").status_code == 302
    assert client.get("/saml2/metadata/").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert server.requests == fetched


def test_before_the_first_fetch_login_is_unavailable_and_healthz_warns(client, settings, server):
    settings.EHERKENNING_IDP_METADATA_URL = server.url("/never-fetched.xml")
    settings.EHERKENNING_IDP_METADATA = ""
    assert client.get("/saml2/login/").status_code == 503
    warnings = client.get("/healthz").json()["warnings"]
    assert [(w["code"], w["reason"]) for w in warnings] == [
        ("idp_metadata_refresh_failed", "not_fetched_yet")
    ]
    assert server.requests == 0


# --- a new document replaces the copy only when it passes every check ---------------------------


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (lambda keys: broker_metadata(keys["signing"][1])[:-40], "malformed"),
        (lambda keys: b"<html><body>Onderhoud</body></html>", "schema_invalid"),
        (
            lambda keys: b'<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">x</saml:Issuer>',
            "not_metadata",
        ),
        (
            lambda keys: (
                broker_metadata(keys["signing"][1])
                .replace(b"<md:IDPSSODescriptor", b"<md:Unknown")
                .replace(b"</md:IDPSSODescriptor>", b"</md:Unknown>")
            ),
            "schema_invalid",
        ),
        (
            lambda keys: broker_metadata(keys["rotated"][1], entity_id="https://evil.example/idp"),
            "entity_id_changed",
        ),
        (lambda keys: broker_metadata(None), "no_signing_certificate"),
        (
            lambda keys: broker_metadata(keys["rotated"][1], valid_until="2001-01-01T00:00:00Z"),
            "pysaml2_refused",
        ),
    ],
    ids=[
        "broken",
        "html",
        "not-metadata",
        "schema-invalid",
        "wrong-entity",
        "no-signing-certificate",
        "expired",
    ],
)
def test_a_bad_document_keeps_the_last_good_copy_is_audited_and_warned(
    client, by_url, server, broker_keys, document, reason
):
    good = IdpMetadata.objects.get(url=by_url).xml
    server.serve("/metadata.xml", document(broker_keys))
    result = idp_metadata_refresh()
    assert (result.ok, result.reason) == (False, reason)
    row = IdpMetadata.objects.get(url=by_url)
    assert row.xml == good and row.failure == reason and row.failed_at is not None
    assert trusted_broker_certificates() == [certificate_body(broker_keys["signing"][1])]
    assert refused_events() == [{"reason_code": reason, "kept_last_good_copy": True}]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert [(w["code"], w["reason"]) for w in response.json()["warnings"]] == [
        ("idp_metadata_refresh_failed", reason)
    ]
    assert client.get("/saml2/login/")["Location"].startswith("https://broker.example.nl/saml/sso?")


@pytest.mark.parametrize(
    ("status", "reason"), [(404, "http_status"), (500, "http_status"), (302, "http_status")]
)
def test_an_error_answer_keeps_the_last_good_copy(by_url, server, status, reason):
    server.serve("/metadata.xml", b"", status=status)
    assert idp_metadata_refresh().reason == reason
    assert IdpMetadata.objects.get(url=by_url).entity_id == ENTITY_ID


def test_an_unreachable_server_keeps_the_last_good_copy(by_url, server, settings):
    good = IdpMetadata.objects.get(url=by_url)
    server.httpd.shutdown()
    server.httpd.server_close()
    assert idp_metadata_refresh().reason == "unreachable"
    row = IdpMetadata.objects.get(url=by_url)
    assert row.xml == good.xml and row.failure == "unreachable"


def test_a_rotated_broker_key_is_taken_over_and_the_config_reloads(by_url, server, broker_keys):
    assert trusted_broker_certificates() == [certificate_body(broker_keys["signing"][1])]
    server.serve("/metadata.xml", broker_metadata(broker_keys["rotated"][1]))
    result = idp_metadata_refresh()
    assert result.ok and result.changed
    assert trusted_broker_certificates() == [certificate_body(broker_keys["rotated"][1])]


def test_a_good_refresh_after_a_failure_clears_the_warning(client, by_url, server, broker_keys):
    server.serve("/metadata.xml", b"garbage")
    assert not idp_metadata_refresh().ok
    assert client.get("/healthz").json()["warnings"]
    server.serve("/metadata.xml", broker_metadata(broker_keys["signing"][1]))
    result = idp_metadata_refresh()
    assert result.ok and not result.changed  # the same document as the stored copy
    assert client.get("/healthz").json()["warnings"] == []


def test_the_first_copy_must_name_the_broker_of_the_configured_file(settings, server, broker_keys, tmp_path):
    bootstrap = tmp_path / "idp.xml"
    bootstrap.write_bytes(broker_metadata(broker_keys["signing"][1]))
    settings.EHERKENNING_IDP_METADATA = str(bootstrap)
    settings.EHERKENNING_IDP_METADATA_URL = server.serve(
        "/other.xml", broker_metadata(broker_keys["signing"][1], entity_id="https://other.example/idp")
    )
    assert idp_metadata_refresh().reason == "entity_id_changed"
    # Until a copy is stored, logins use the file.
    assert list(sp_config_load().metadata.identity_providers()) == [ENTITY_ID]


# --- a signature by EHERKENNING_IDP_METADATA_CERT ------------------------------------------------


@pytest.fixture
def signer(settings, broker_keys):
    settings.EHERKENNING_IDP_METADATA_CERT = broker_keys["signer"][1]
    return broker_keys["signer"]


def test_with_a_metadata_certificate_a_signed_document_is_stored(settings, server, broker_keys, signer):
    settings.EHERKENNING_IDP_METADATA = ""
    settings.EHERKENNING_IDP_METADATA_URL = server.serve(
        "/signed.xml", broker_metadata(broker_keys["signing"][1], signed_by=signer)
    )
    result = idp_metadata_refresh()
    assert result.ok and result.changed


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda keys: broker_metadata(keys["rotated"][1]), "unsigned"),
        (
            lambda keys: broker_metadata(keys["rotated"][1], signed_by=keys["other-signer"]),
            "signature_invalid",
        ),
        (
            lambda keys: broker_metadata(keys["rotated"][1], signed_by=keys["signer"]).replace(
                b"https://broker.example.nl/saml/sso", b"https://evil.example.nl/saml/sso"
            ),
            "signature_invalid",
        ),
    ],
    ids=["unsigned", "signed-by-another-key", "changed-after-signing"],
)
def test_with_a_metadata_certificate_an_unsigned_or_badly_signed_document_is_refused(
    settings, server, broker_keys, signer, make, reason
):
    settings.EHERKENNING_IDP_METADATA = ""
    settings.EHERKENNING_IDP_METADATA_URL = server.serve(
        "/signed.xml", broker_metadata(broker_keys["signing"][1], signed_by=signer)
    )
    assert idp_metadata_refresh().ok
    server.serve("/signed.xml", make(broker_keys))
    assert idp_metadata_refresh().reason == reason
    assert trusted_broker_certificates() == [certificate_body(broker_keys["signing"][1])]


# --- the schedule and the command ----------------------------------------------------------------


def test_the_refresh_is_scheduled_hourly_by_celery_beat():
    entry = django_settings.CELERY_BEAT_SCHEDULE["refresh-idp-metadata"]
    assert entry["task"] == "koppeling.saml.tasks.refresh_idp_metadata"
    assert entry["schedule"] == 3600.0
    assert refresh_idp_metadata.name == entry["task"]


def test_the_task_refreshes(by_url, server, broker_keys):
    server.serve("/metadata.xml", broker_metadata(broker_keys["rotated"][1]))
    assert refresh_idp_metadata.delay().get() == "stored"
    server.serve("/metadata.xml", b"<broken")
    assert refresh_idp_metadata.delay().get() == "refused: malformed"


def test_the_task_does_nothing_without_a_url(settings):
    settings.EHERKENNING_IDP_METADATA_URL = ""
    assert refresh_idp_metadata() == "no_url"
    assert not IdpMetadata.objects.exists()


def test_the_command_fetches_now_and_fails_loudly(by_url, server, broker_keys):
    server.serve("/metadata.xml", broker_metadata(broker_keys["rotated"][1]))
    out = StringIO()
    call_command("eherkenning_metadata_refresh", stdout=out)
    assert f"Broker metadata for {ENTITY_ID}: stored a new copy" in out.getvalue()
    server.serve("/metadata.xml", b"garbage")
    with pytest.raises(CommandError, match="malformed"):
        call_command("eherkenning_metadata_refresh", stdout=StringIO())


def test_plain_http_metadata_without_a_signing_certificate_is_a_check_warning_in_production(settings, by_url):
    from django.core import checks

    settings.IS_PRODUCTION = True
    assert "koppeling.W005" in [message.id for message in checks.run_checks(tags=["eherkenning"])]
    settings.EHERKENNING_IDP_METADATA_CERT = "/etc/broker-metadata-signer.pem"
    assert "koppeling.W005" not in [message.id for message in checks.run_checks(tags=["eherkenning"])]


# --- production settings -------------------------------------------------------------------------


def test_production_starts_with_broker_metadata_by_url_instead_of_a_file(request):
    base_env = request.getfixturevalue("production_env")  # tests/accounts/test_settings.py's
    code = "import django; django.setup(); from django.conf import settings as s; print(s.EHERKENNING_IDP_METADATA_URL)"
    env = {**base_env, "DJANGO_SETTINGS_MODULE": "mijnduo.settings"}
    env.pop("EHERKENNING_IDP_METADATA")
    env["EHERKENNING_IDP_METADATA_URL"] = "https://broker.example.nl/metadata"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://broker.example.nl/metadata"

    del env["EHERKENNING_IDP_METADATA_URL"]
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "set EHERKENNING_IDP_METADATA or EHERKENNING_IDP_METADATA_URL" in result.stderr


def test_the_login_redirect_goes_to_the_stored_brokers_sso(client, by_url):
    location = urlsplit(client.get("/saml2/login/")["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "broker.example.nl", "/saml/sso")
