"""Session limits (issue 17 item 1): idle timeout renewed by activity, absolute limit, the warning's
endpoints, the explanation after expiry, its audit and the hook the DUO services hear it by."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.constants import AuditAction
from accounts.hooks import session_ended
from accounts.models import AuditEvent
from accounts.session_timeout import ACTIVE_KEY, KIND_KEY, STARTED_KEY
from accounts.sessions import SessionStore
from tests.factories import AccountFactory, StaffFactory

pytestmark = pytest.mark.django_db

START = timezone.now().replace(microsecond=0)


def session_data(client) -> dict:
    return SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value).load()


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def portal_client(client, clock):
    client.force_login(AccountFactory())
    return client


@pytest.fixture
def ended():
    received = []

    def receiver(sender, session_key, reason, **kwargs):
        received.append((session_key, reason))

    session_ended.connect(receiver, dispatch_uid="test_session_ended")
    yield received
    session_ended.disconnect(dispatch_uid="test_session_ended")


def test_login_stamps_the_session_and_its_row_expires_at_the_idle_deadline(portal_client):
    data = session_data(portal_client)
    assert data[STARTED_KEY] == data[ACTIVE_KEY] == int(START.timestamp())
    assert data[KIND_KEY] == "portal"
    row = Session.objects.get(session_key=portal_client.cookies[settings.SESSION_COOKIE_NAME].value)
    assert row.expire_date == START + timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)


def test_defaults_are_fifteen_minutes_idle_and_eight_hours_absolute():
    assert settings.SESSION_IDLE_TIMEOUT == 15 * 60
    assert settings.ADMIN_SESSION_IDLE_TIMEOUT == 15 * 60
    assert settings.SESSION_MAX_AGE == 8 * 60 * 60


def test_a_request_within_the_idle_time_keeps_the_session(portal_client, clock):
    clock.shift(timedelta(minutes=14))
    assert portal_client.get("/overzicht/").status_code == 200


def test_sixteen_minutes_without_a_request_end_the_session_with_an_explanation(portal_client, clock, ended):
    key = portal_client.cookies[settings.SESSION_COOKIE_NAME].value
    clock.shift(timedelta(minutes=16))
    response = portal_client.get("/mijn-gegevens/?tab=1")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Uw sessie is verlopen" in text
    assert "15 minuten niets gedaan" in text
    assert 'href="/saml2/login/?next=%2Fmijn-gegevens%2F%3Ftab%3D1"' in text  # back to this page
    assert "niet opgeslagen" not in text
    assert "no-cache" in response["Cache-Control"]
    assert not Session.objects.filter(session_key=key).exists()
    assert ended == [(key, "expired")]  # the DUO services get a back-channel logout
    event = AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED)
    assert event.detail["reason"] == "idle" and event.actor_id is not None
    # The session is gone: the next request is an anonymous one, sent to the login.
    again = portal_client.get("/overzicht/")
    assert again.status_code == 302 and again["Location"].startswith("/saml2/login/")


def test_activity_renews_the_idle_time(portal_client, clock):
    for _ in range(4):  # an hour of work, a request every ten minutes
        clock.shift(timedelta(minutes=10))
        assert portal_client.get("/overzicht/").status_code == 200
    clock.shift(timedelta(minutes=10))
    response = portal_client.get("/overzicht/")
    assert response.status_code == 200 and "Uw sessie is verlopen" not in response.content.decode()


def test_activity_is_written_at_most_once_a_minute(portal_client, clock):
    clock.shift(timedelta(seconds=61))
    with CaptureQueriesContext(connection) as first:
        portal_client.get("/overzicht/")
    clock.shift(timedelta(seconds=30))
    with CaptureQueriesContext(connection) as second:
        portal_client.get("/overzicht/")
    writes = [
        q["sql"]
        for q in first.captured_queries
        if q["sql"].startswith("UPDATE") and "django_session" in q["sql"]
    ]
    assert len(writes) == 1
    assert not [
        q
        for q in second.captured_queries
        if "django_session" in q["sql"] and not q["sql"].startswith("SELECT")
    ]
    assert session_data(portal_client)[ACTIVE_KEY] == int(START.timestamp()) + 61


def test_the_absolute_limit_ends_an_active_session_after_eight_hours(portal_client, clock, ended):
    for _ in range(8 * 6):
        clock.shift(timedelta(minutes=10))
        response = portal_client.get("/overzicht/")
    # 8 hours after the login, however active.
    text = response.content.decode()
    assert "Uw sessie is verlopen" in text and "langer dan 8 uur" in text
    assert AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED).detail["reason"] == "max_age"
    assert len(ended) == 1


def test_an_expired_post_is_not_replayed_and_the_page_says_the_form_was_not_saved(portal_client, clock):
    clock.shift(timedelta(minutes=20))
    response = portal_client.post(
        "/mijn-gegevens/", {"name": "Nieuwe Naam", "email": "nieuw@example.nl", "phone": "", "job_title": ""}
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "Uw sessie is verlopen" in text and "niet opgeslagen" in text
    assert 'href="/saml2/login/?next=%2Fmijn-gegevens%2F"' in text
    from accounts.models import Account

    assert not Account.objects.filter(name="Nieuwe Naam").exists()

    # Logged in again, the form page itself says what happened and what to do, once.
    portal_client.force_login(Account.objects.get(pk=event_actor()))
    page = portal_client.get("/mijn-gegevens/").content.decode()
    assert "het formulier dat u verstuurde niet opgeslagen" in page and "Vul het opnieuw in" in page
    assert "niet opgeslagen" not in portal_client.get("/mijn-gegevens/").content.decode()


def event_actor() -> int:
    return AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED).actor_id


def test_the_form_notice_is_only_for_the_page_of_the_lost_form(portal_client, clock):
    clock.shift(timedelta(minutes=20))
    portal_client.post("/mijn-gegevens/", {"name": "X"})
    from accounts.models import Account

    portal_client.force_login(Account.objects.get(pk=event_actor()))
    assert "niet opgeslagen" not in portal_client.get("/overzicht/").content.decode()
    assert "niet opgeslagen" in portal_client.get("/mijn-gegevens/").content.decode()


def test_the_admin_has_its_own_idle_setting(client, clock, settings):
    settings.ADMIN_SESSION_IDLE_TIMEOUT = 5 * 60
    client.force_login(StaffFactory())
    assert session_data(client)[KIND_KEY] == "admin"
    clock.shift(timedelta(minutes=6))
    response = client.get("/admin/")
    text = response.content.decode()
    assert "Uw sessie is verlopen" in text and "5 minuten niets gedaan" in text
    assert 'href="/admin/login/?next=%2Fadmin%2F"' in text


def test_a_portal_session_is_not_ended_by_the_admin_setting(portal_client, clock, settings):
    settings.ADMIN_SESSION_IDLE_TIMEOUT = 5 * 60
    clock.shift(timedelta(minutes=6))
    assert "Uw sessie is verlopen" not in portal_client.get("/overzicht/").content.decode()


def test_pages_of_a_logged_in_session_carry_the_warning_dialog(portal_client, clock):
    clock.shift(timedelta(minutes=3))
    text = portal_client.get("/overzicht/").content.decode()
    assert 'role="alertdialog"' in text and 'id="session-timeout"' in text
    assert 'data-remaining="900"' in text  # renewed by this very request (3 minutes > one minute)
    assert 'data-warning="120"' in text
    assert "Ingelogd blijven" in text and 'action="/sessie/verlengen/"' in text
    assert "/static/js/session-timeout.js" in text and "<script>" not in text  # no inline script (CSP)


def test_helpdesk_admin_pages_carry_the_warning_dialog_with_the_admin_limits(client, clock, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.ADMIN_SESSION_IDLE_TIMEOUT = 10 * 60
    staff = StaffFactory(is_superuser=True)
    client.force_login(staff)
    session = client.session  # the admin asks for a verified device, as django_otp records it
    session["otp_device_id"] = TOTPDevice.objects.create(user=staff, name="app", confirmed=True).persistent_id
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'role="alertdialog"' in text and 'id="session-timeout"' in text
    assert 'data-remaining="600"' in text and 'data-warning="120"' in text
    assert 'action="/admin/logout/"' in text and 'action="/sessie/verlengen/"' in text
    assert 'name="next" value="/admin/"' in text
    assert "/static/js/session-timeout.js" in text and "/static/css/admin-a11y.css" in text
    # "Stay logged in" renews the helpdesk session as it does the portal's
    clock.shift(timedelta(minutes=9))
    response = client.post("/sessie/verlengen/", HTTP_ACCEPT="application/json")
    assert response.json() == {"remaining": 600, "extendable": True}
    assert 'id="session-timeout"' not in Client().get("/admin/login/").content.decode()


def test_public_pages_of_an_anonymous_visitor_have_no_dialog(client):
    assert 'id="session-timeout"' not in client.get("/").content.decode()


def test_status_neither_renews_nor_ends_the_session(portal_client, clock):
    clock.shift(timedelta(minutes=10))
    assert portal_client.get("/sessie/").json() == {"remaining": 300, "extendable": True}
    clock.shift(timedelta(minutes=10))
    assert portal_client.get("/sessie/").json()["remaining"] == 0
    # The page the dialog then reloads explains the expiry (the status did not end it silently).
    assert "Uw sessie is verlopen" in portal_client.get("/overzicht/").content.decode()


def test_stay_logged_in_renews_the_session(portal_client, clock):
    clock.shift(timedelta(minutes=14))
    response = portal_client.post("/sessie/verlengen/", HTTP_ACCEPT="application/json")
    assert response.json() == {"remaining": 900, "extendable": True}
    clock.shift(timedelta(minutes=14))
    assert "Uw sessie is verlopen" not in portal_client.get("/overzicht/").content.decode()


def test_stay_logged_in_without_script_goes_back_to_the_page(portal_client):
    response = portal_client.post("/sessie/verlengen/", {"next": "/mijn-gegevens/"})
    assert response.status_code == 302 and response["Location"] == "/mijn-gegevens/"
    response = portal_client.post("/sessie/verlengen/", {"next": "https://evil.example/"})
    assert response["Location"] == settings.LOGIN_REDIRECT_URL


def test_stay_logged_in_after_expiry_is_refused(portal_client, clock):
    clock.shift(timedelta(minutes=16))
    response = portal_client.post("/sessie/verlengen/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401 and response.json()["expired"] is True


def test_stay_logged_in_needs_csrf(clock):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(AccountFactory())
    assert client.post("/sessie/verlengen/", HTTP_ACCEPT="application/json").status_code == 403


def test_extending_cannot_pass_the_absolute_limit(portal_client, clock):
    for _ in range(47):  # active for 7 hours 50 minutes
        clock.shift(timedelta(minutes=10))
        portal_client.get("/sessie/verlengen/")  # any request renews (this one answers 405)
    clock.shift(timedelta(minutes=5))
    state = portal_client.post("/sessie/verlengen/", HTTP_ACCEPT="application/json").json()
    assert state == {"remaining": 300, "extendable": False}


def test_a_session_from_before_the_limits_gets_them_at_its_next_request(client, clock):
    client.force_login(AccountFactory())
    store = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    for key in (STARTED_KEY, ACTIVE_KEY, KIND_KEY):
        del store[key]
    store.save()
    assert client.get("/overzicht/").status_code == 200
    assert session_data(client)[STARTED_KEY] == int(START.timestamp())


def test_an_anonymous_expired_session_is_simply_gone(client, clock):
    store = SessionStore()
    store["koppel_step"] = 1
    store.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    clock.shift(timedelta(hours=2))
    response = client.get("/")
    assert response.status_code == 200 and "Uw sessie is verlopen" not in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.SESSION_EXPIRED).exists()


def test_a_session_that_expires_while_its_user_is_away_is_reported_when_it_expires(
    portal_client, clock, ended
):
    """The sweep (beat, every minute) audits it and tells the DUO services once, not at the user's return."""
    from accounts.session_timeout import ENDED_KEY
    from accounts.tasks import end_expired_sessions

    assert settings.CELERY_BEAT_SCHEDULE["end-expired-sessions"]["task"] == end_expired_sessions.name
    key = portal_client.cookies[settings.SESSION_COOKIE_NAME].value
    clock.shift(timedelta(minutes=14))
    assert end_expired_sessions() == {"ended": 0, "removed": 0}
    clock.shift(timedelta(minutes=2))
    assert end_expired_sessions()["ended"] == 1
    assert end_expired_sessions()["ended"] == 0  # once
    assert ended == [(key, "expired")]
    event = AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED)
    assert event.detail == {"reason": "idle", "kind": "portal", "unattended": True} and event.actor_id
    assert SessionStore(key).load() == {}  # not live
    store = SessionStore(key)
    store.load()
    assert store.expired_row[1][ENDED_KEY] is True

    # The user comes back: told the session expired, without a second report.
    clock.shift(timedelta(minutes=30))
    assert "Uw sessie is verlopen" in portal_client.get("/overzicht/").content.decode()
    assert ended == [(key, "expired")]
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_EXPIRED).count() == 1


def test_the_sweep_deletes_rows_expired_longer_than_the_maximum_ago(portal_client, clock):
    from accounts.tasks import end_expired_sessions

    key = portal_client.cookies[settings.SESSION_COOKIE_NAME].value
    clock.shift(timedelta(minutes=16))
    end_expired_sessions()
    clock.shift(timedelta(hours=8))
    assert end_expired_sessions()["removed"] == 1
    assert not Session.objects.filter(session_key=key).exists()
