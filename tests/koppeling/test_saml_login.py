"""eHerkenning login through the real SP path: linked identities log in, unknown ones go to the wizard."""

import base64
import zlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.constants import AuditAction
from accounts.models import AuditEvent
from koppeling.dev_broker.testing import (
    LOA3,
    LOA4,
    acs_post,
    authn_request_query,
    mint_response,
    saml_login,
    saml_session,
    saml_start,
)
from koppeling.identity import identity_from_session
from koppeling.models import Koppeling, UsedAssertion
from koppeling.saml.replay import used_assertions_purge
from koppeling.saml.tasks import purge_used_assertions
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked():
    account = AccountFactory()
    koppeling = Koppeling.objects.create(
        account=account,
        acting_subject_id="pseudo-anna",
        legal_subject_id="41012345",
        level=LOA3,
        last_login_at=timezone.now() - timedelta(days=300),
    )
    return koppeling


def test_linked_identity_logs_in_and_lands_on_overview(client, linked):
    response = saml_login(client, "pseudo-anna", "41012345")
    assert response.status_code == 302
    assert response["Location"] == "/overzicht/"
    assert int(client.session["_auth_user_id"]) == linked.account.pk
    linked.refresh_from_db()
    linked.account.refresh_from_db()
    assert timezone.now() - linked.last_login_at < timedelta(minutes=1)
    assert timezone.now() - linked.account.last_login < timedelta(minutes=1)
    event = AuditEvent.objects.get(action=AuditAction.SAML_LOGIN)
    assert event.actor_id == linked.account.pk
    assert event.result == "success"
    assert event.detail["linked"] is True


def test_login_with_eh4_is_accepted(client, linked):
    response = saml_login(client, "pseudo-anna", "41012345", level=LOA4)
    assert response["Location"] == "/overzicht/"
    assert identity_from_session(response.wsgi_request).level == LOA4


def test_encrypted_assertion_is_accepted(client, linked):
    response = saml_login(client, "pseudo-anna", "41012345", encrypt=True)
    assert response["Location"] == "/overzicht/"
    assert int(client.session["_auth_user_id"]) == linked.account.pk


def test_login_redirects_to_next_on_this_site(client, linked):
    response = saml_login(client, "pseudo-anna", "41012345", next="/beheer/")
    assert response["Location"] == "/beheer/"


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_to_another_site_is_ignored(client, linked, evil):
    response = saml_login(client, "pseudo-anna", "41012345", next=evil)
    assert response["Location"] == "/overzicht/"


def test_forged_relay_state_does_not_redirect_off_site(client, linked):
    request_id = saml_start(client)
    response = acs_post(
        client,
        mint_response(in_response_to=request_id, acting_subject_id="pseudo-anna"),
        relay_state="https://evil.example/",
    )
    assert response["Location"] == "/overzicht/"


def test_unknown_identity_goes_to_koppel_wizard_with_identity_in_session(client):
    response = saml_login(client, "pseudo-new", "52012345")
    assert response.status_code == 302
    assert response["Location"] == "/koppelen/"
    assert "_auth_user_id" not in client.session
    identity = identity_from_session(response.wsgi_request)
    assert identity.acting_subject_id == "pseudo-new"
    assert identity.legal_subject_id == "52012345"
    assert identity.level == LOA3
    event = AuditEvent.objects.get(action=AuditAction.SAML_LOGIN)
    assert event.actor_id is None
    assert event.detail["linked"] is False


def test_identity_carries_optional_intermediate_and_company_name(client):
    request_id = saml_start(client)
    response = acs_post(
        client,
        mint_response(
            in_response_to=request_id,
            acting_subject_id="pseudo-keten",
            intermediate_entity_id="70012345",
            company_name="OBS De Regenboog",
        ),
    )
    identity = identity_from_session(response.wsgi_request)
    assert identity.intermediate_entity_id == "70012345"
    assert identity.company_name == "OBS De Regenboog"


def test_rsin_is_accepted_as_legal_subject_id(client):
    response = saml_login(client, "pseudo-rsin", "123456782")
    assert identity_from_session(response.wsgi_request).legal_subject_id == "123456782"


def test_ended_link_is_not_used_for_login(client, linked):
    linked.ended_at = timezone.now()
    linked.save()
    response = saml_login(client, "pseudo-anna", "41012345")
    assert response["Location"] == "/koppelen/"
    assert "_auth_user_id" not in client.session


def test_session_key_is_cycled_at_login(client, linked):
    saml_start(client)
    before = client.session.session_key
    response = saml_login(client, "pseudo-anna", "41012345")
    assert response.status_code == 302
    assert client.session.session_key != before


def test_session_key_is_cycled_for_unknown_identity(client):
    saml_start(client)
    before = client.session.session_key
    saml_login(client, "pseudo-new", "52012345")
    assert client.session.session_key != before


def test_login_as_other_identity_ends_previous_login(client, linked):
    # Two login attempts started side by side (two tabs); the second answer is another identity.
    first, second = saml_start(client), saml_start(client)
    acs_post(client, mint_response(in_response_to=first, acting_subject_id="pseudo-anna"))
    assert "_auth_user_id" in client.session
    response = acs_post(client, mint_response(in_response_to=second, acting_subject_id="pseudo-new"))
    assert response["Location"] == "/koppelen/"
    assert "_auth_user_id" not in client.session
    assert identity_from_session(response.wsgi_request).acting_subject_id == "pseudo-new"


def test_logged_in_user_visiting_login_goes_to_next(client, linked):
    saml_login(client, "pseudo-anna", "41012345")
    response = client.get("/saml2/login/?next=/beheer/")
    assert response.status_code == 302
    assert response["Location"] == "/beheer/"


def test_accepted_assertion_is_remembered_until_it_expires(client, linked):
    saml_login(client, "pseudo-anna", "41012345")
    used = UsedAssertion.objects.exclude(assertion_id__startswith="artifact:").get()
    assert UsedAssertion.objects.filter(assertion_id__startswith="artifact:").count() == 1  # and its artifact
    assert used.not_on_or_after > timezone.now() + timedelta(minutes=4)
    assert used.not_on_or_after < timezone.now() + timedelta(minutes=10)


def test_expired_replay_records_are_purged():
    now = timezone.now()
    UsedAssertion.objects.create(assertion_id="old", not_on_or_after=now - timedelta(seconds=1))
    UsedAssertion.objects.create(assertion_id="fresh", not_on_or_after=now + timedelta(minutes=5))
    assert used_assertions_purge(now=now) == 1
    assert list(UsedAssertion.objects.values_list("assertion_id", flat=True)) == ["fresh"]
    assert purge_used_assertions() == 0


def test_purge_task_is_scheduled():
    schedule = settings.CELERY_BEAT_SCHEDULE["purge-used-saml-assertions"]
    assert schedule["task"] == purge_used_assertions.name


# --- AuthnRequest and metadata -----------------------------------------------------------------


def _authn_request_xml(query: dict) -> str:
    return zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15).decode()


def test_authn_request_is_signed_with_rsa_sha256_and_asks_loa3_minimum(client):
    query = authn_request_query(client)
    assert query["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert query["Signature"]
    xml = _authn_request_xml(query)
    assert 'Comparison="minimum"' in xml
    assert "urn:etoegang:core:assurance-class:loa3</" in xml
    assert f'AssertionConsumerServiceURL="{settings.SITE_URL}/saml2/acs/"' in xml
    assert "RequestedAuthnContext" in xml


def test_login_redirects_to_broker_sso(client):
    response = client.get("/saml2/login/")
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/dev/broker/sso/"
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]


def test_tampered_authn_request_is_refused_by_the_broker(client):
    response = client.get("/saml2/login/")
    query = parse_qs(urlsplit(response["Location"]).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    forged = xml.replace(b"loa3", b"loa1")
    compressor = zlib.compressobj(wbits=-15)
    query["SAMLRequest"] = [base64.b64encode(compressor.compress(forged) + compressor.flush()).decode()]
    broker = client.get("/dev/broker/sso/", {key: value[0] for key, value in query.items()})
    assert broker.status_code == 400


def test_metadata_has_signing_and_encryption_certificate_and_signing_flags(client):
    response = client.get("/saml2/metadata/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    xml = response.content.decode()
    assert f'entityID="{settings.EHERKENNING_SP_ENTITY_ID}"' in xml
    assert 'AuthnRequestsSigned="true"' in xml
    assert 'WantAssertionsSigned="true"' in xml
    assert 'use="signing"' in xml
    assert 'use="encryption"' in xml
    assert f'Location="{settings.SITE_URL}/saml2/acs/"' in xml
    assert f'Location="{settings.SITE_URL}/saml2/ls/"' in xml
    assert f'Location="{settings.SITE_URL}/saml2/ls/post/"' in xml
    assert "rsa-sha256" in xml
    assert "rsa-sha1" not in xml and "#sha1" not in xml and "md5" not in xml


def test_generated_keys_live_outside_the_repository():
    from koppeling.saml.config import sp_key_files

    key_file, cert_file = sp_key_files()
    assert not key_file.startswith(str(settings.BASE_DIR))
    assert not cert_file.startswith(str(settings.BASE_DIR))


# --- Logout ------------------------------------------------------------------------------------


def test_logout_clears_session_and_does_single_logout_at_broker(client, linked):
    saml_login(client, "pseudo-anna", "41012345")
    response = client.post("/uitloggen/")
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/dev/broker/slo/"
    assert "_auth_user_id" not in client.session
    assert identity_from_session(response.wsgi_request) is None
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT).count() == 1
    # The broker answers with a signed LogoutResponse, which /saml2/ls/ accepts.
    split = urlsplit(response["Location"])
    broker = client.get(f"{split.path}?{split.query}")
    assert broker.status_code == 302
    back = urlsplit(broker["Location"])
    assert back.path == "/saml2/ls/"
    final = client.get(f"{back.path}?{back.query}")
    assert final.status_code == 302
    assert final["Location"] == "/uitgelogd/"


def test_logout_of_unknown_identity_clears_identity(client):
    saml_login(client, "pseudo-new", "52012345")
    response = client.post("/uitloggen/")
    assert response.status_code == 302
    assert identity_from_session(response.wsgi_request) is None


def test_logout_without_session_just_redirects(client):
    response = client.post("/uitloggen/")
    assert response.status_code == 302
    assert response["Location"] == "/uitgelogd/"


def test_logout_needs_post(client):
    assert client.get("/uitloggen/").status_code == 405


def test_logout_requires_csrf_token(linked):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    saml_login(client, "pseudo-anna", "41012345")
    assert client.post("/uitloggen/").status_code == 403
    assert "_auth_user_id" in client.session


def test_garbage_logout_message_gets_dutch_400(client):
    response = client.get("/saml2/ls/", {"SAMLResponse": "bm90IHhtbA=="})
    assert response.status_code == 400
    assert "Uitloggen is niet helemaal gelukt" in response.content.decode()
    response = client.post("/saml2/ls/post/", {"SAMLRequest": "%%%"})
    assert response.status_code in {400, 403}


def test_acs_get_without_an_artifact_is_a_dutch_400_and_audited(client):
    """A reload or bookmark of the ACS: nothing to verify, no empty page (the broker's GET carries SAMLart)."""
    response = client.get("/saml2/acs/")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Deze pagina opent u niet zelf" in page  # says what the address is for
    assert 'href="/saml2/login/"' in page  # and how to log in
    assert AuditEvent.objects.filter(
        action=AuditAction.SAML_FAILED, detail__reason_code="missing_response"
    ).exists()


def test_acs_works_when_the_browser_drops_the_lax_login_cookie_on_the_brokers_cross_site_post(client, linked):
    """The login session cookie is SameSite=Lax; only the separate SAML session cookie reaches the ACS."""
    client.get("/")  # an existing login session, whose cookie a real browser would not send cross-site
    request_id = saml_start(client)
    assert request_id in saml_session(client).get("_saml2_outstanding_queries", {})
    assert "_saml2_outstanding_queries" not in client.session  # (the dev broker keeps its own state there)
    client.cookies.pop(settings.SESSION_COOKIE_NAME, None)
    response = acs_post(client, mint_response(in_response_to=request_id, acting_subject_id="pseudo-anna"))
    assert response.status_code == 302
    assert response["Location"] == "/overzicht/"
    assert int(client.session["_auth_user_id"]) == linked.account.pk


def test_without_the_saml_session_cookie_the_response_is_unsolicited(client, linked):
    request_id = saml_start(client)
    client.cookies.pop(settings.SAML_SESSION_COOKIE_NAME)
    response = acs_post(client, mint_response(in_response_to=request_id, acting_subject_id="pseudo-anna"))
    assert response.status_code in (400, 403)
    assert "_auth_user_id" not in client.session
