"""Passkeys for the helpdesk (issue 15 item 6): the one login screen offers both ways, enrolment in person by
a one-time link, HELPDESK_REQUIRE_PASSKEY, and every refusal audited. The WebAuthn ceremonies themselves,
with a virtual authenticator in Chromium, are in tests/e2e/test_passkey_login.py."""

import json

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.constants import AuditAction, AuditResult
from accounts.helpdesk import helpdesk_group_sync
from accounts.models import AuditEvent
from accounts.passkeys import passkey_enrolment_account, passkey_enrolment_token
from tests.factories import AccountFactory, StaffFactory, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff():
    member = StaffFactory()
    member.set_password(PASSWORD)
    member.save()
    member.groups.add(helpdesk_group_sync())
    return member


def refusals(action=AuditAction.ADMIN_LOGIN_FAILED):
    return AuditEvent.objects.filter(action=action, result=AuditResult.REFUSED)


# --- the login screen ----------------------------------------------------------------------------


def test_login_screen_offers_password_and_code_and_a_passkey_in_dutch(client):
    html = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert 'name="otp_token"' in html
    assert "Inloggen met een passkey" in html
    assert 'id="passkey-verification-button"' in html
    config = json.loads(
        html.split('id="otp_webauthn_config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["beginAuthenticationUrl"] == reverse("passkey_login_begin")
    assert config["completeAuthenticationUrl"] == reverse("passkey_login_complete")
    # CSP: the library's script from our static files, its configuration as data, no inline script.
    assert "/static/django_otp_webauthn/otp_webauthn_auth.js" in html
    assert "<script>" not in html


def test_content_security_policy_allows_no_inline_script_on_the_login_screen(client):
    policy = client.get(reverse("admin:login"))["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src


def test_the_passkey_scripts_texts_are_dutch(client):
    script = client.get(reverse("passkey_jsi18n"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "Verification canceled or not allowed." in script
    assert "Verificatie" in script


def test_a_ceremony_without_the_csrf_token_is_refused_and_audited(client):
    csrf_client = type(client)(enforce_csrf_checks=True)
    response = csrf_client.post(reverse("passkey_login_begin"))
    assert response.status_code == 403
    assert refusals().filter(detail__method="passkey").count() == 1


def test_a_forged_or_replayed_assertion_is_refused_with_4xx_and_audited(client):
    begin = client.post(reverse("passkey_login_begin"))
    assert begin.status_code == 200
    assert begin.json()["userVerification"] == "required"
    forged = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"},
    }
    response = client.post(reverse("passkey_login_complete"), forged, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert "_auth_user_id" not in client.session
    # The challenge is gone: the same answer again is refused too (no state to complete).
    again = client.post(reverse("passkey_login_complete"), forged, content_type="application/json")
    assert again.status_code == 400
    assert refusals().filter(detail__method="passkey").count() == 2


def test_malformed_json_is_a_4xx_not_a_500(client):
    client.post(reverse("passkey_login_begin"))
    response = client.post(reverse("passkey_login_complete"), "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500


# --- HELPDESK_REQUIRE_PASSKEY --------------------------------------------------------------------


def test_required_passkey_refuses_password_and_code_and_audits_it(client, staff, settings):
    settings.HELPDESK_REQUIRE_PASSKEY = True
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    response = client.post(
        reverse("admin:login"),
        {"username": staff.username, "password": PASSWORD, "otp_token": totp_code(device), "next": "/admin/"},
    )
    assert response.status_code == 200
    assert "passkey" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302
    event = refusals().get()
    assert event.detail == {"username": staff.username, "reason_code": "passkey_required"}


def test_a_code_verified_session_is_refused_once_per_request_when_passkeys_become_required(
    client, staff, settings
):
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    client.force_login(staff)
    session = client.session
    session["otp_device_id"] = device.persistent_id  # verified by a code, as django_otp records it
    session.save()
    assert client.get(reverse("admin:index")).status_code == 200
    settings.HELPDESK_REQUIRE_PASSKEY = True
    response = client.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("admin:login"))
    # two requests (the admin, then its login page): two refusals, not one per permission check
    assert refusals().filter(detail__reason_code="passkey_required").count() == 2


def test_required_passkey_login_screen_shows_only_the_passkey(client, settings):
    settings.HELPDESK_REQUIRE_PASSKEY = True
    html = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert 'name="otp_token"' not in html
    assert 'name="password"' not in html
    assert 'id="passkey-verification-button"' in html


def test_required_passkey_closes_the_admin_to_a_session_verified_by_totp(client, staff, settings):
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    response = client.post(
        reverse("admin:login"),
        {"username": staff.username, "password": PASSWORD, "otp_token": totp_code(device), "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    settings.HELPDESK_REQUIRE_PASSKEY = True
    assert client.get(reverse("admin:index")).status_code == 302


# --- enrolment in person -------------------------------------------------------------------------


def test_enrol_passkey_prints_a_link_that_opens_the_password_step(client, staff, capsys, settings):
    settings.SITE_URL = "https://zakelijk.example.nl"
    call_command("enrol_passkey", staff.username)
    url = capsys.readouterr().out.strip().splitlines()[-1]
    assert url.startswith("https://zakelijk.example.nl/admin/passkey/registreren/")
    path = url.removeprefix("https://zakelijk.example.nl")
    html = client.get(path, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert 'name="password"' in html
    assert 'id="passkey-register-button"' not in html
    assert AuditEvent.objects.filter(action=AuditAction.PASSKEY_LINK, object_id=str(staff.pk)).exists()


def test_enrol_passkey_refuses_a_non_staff_account():
    from django.core.management.base import CommandError

    user = AccountFactory()
    with pytest.raises(CommandError):
        call_command("enrol_passkey", user.username)


def test_the_right_password_shows_the_register_button(client, staff):
    token = passkey_enrolment_token(account=staff)
    url = reverse("passkey_enrol", args=[token])
    response = client.post(url, {"password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="nl")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="passkey-register-button"' in html
    assert reverse("passkey_enrol_begin", args=[token]) in html
    begin = client.post(reverse("passkey_enrol_begin", args=[token]))
    assert begin.status_code == 200
    assert begin.json()["user"]["name"] == staff.username


def test_a_wrong_password_is_refused_audited_and_gives_no_ceremony(client, staff):
    token = passkey_enrolment_token(account=staff)
    response = client.post(reverse("passkey_enrol", args=[token]), {"password": "wrong"})
    assert response.status_code == 400
    assert 'id="passkey-register-button"' not in response.content.decode()
    assert refusals(AuditAction.PASSKEY_ENROL).filter(detail__reason_code="wrong_password").count() == 1
    assert client.post(reverse("passkey_enrol_begin", args=[token])).status_code == 400
    assert refusals(AuditAction.PASSKEY_ENROL).count() == 2


def test_an_account_with_totp_enrols_only_with_its_current_code(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    token = passkey_enrolment_token(account=staff)
    url = reverse("passkey_enrol", args=[token])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert 'name="otp_token"' in html
    # Link + password alone is not enough.
    response = client.post(url, {"password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="nl")
    assert response.status_code == 400
    assert 'id="passkey-register-button"' not in response.content.decode()
    # A wrong code: refused, audited, and a failed login for django-axes.
    response = client.post(url, {"password": PASSWORD, "otp_token": "000000"}, HTTP_ACCEPT_LANGUAGE="nl")
    assert response.status_code == 400
    assert "Dit wachtwoord of deze verificatiecode klopt niet." in response.content.decode()
    assert refusals(AuditAction.PASSKEY_ENROL).filter(detail__reason_code="wrong_code").count() == 1
    assert AuditEvent.objects.filter(
        action=AuditAction.ADMIN_LOGIN_FAILED, result=AuditResult.FAILURE, detail__username=staff.username
    ).exists()
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(username=staff.username).get().failures_since_start == 1
    assert client.post(reverse("passkey_enrol_begin", args=[token])).status_code == 400
    # Password and current code (after django-otp's throttle delay of the wrong one): the ceremony opens.
    device.refresh_from_db()
    device.throttle_reset()
    response = client.post(url, {"password": PASSWORD, "otp_token": totp_code(device)})
    assert response.status_code == 200
    assert 'id="passkey-register-button"' in response.content.decode()


def test_the_link_expires_after_15_minutes(client, staff):
    token = passkey_enrolment_token(account=staff)
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=16)):
        assert passkey_enrolment_account(token) is None
        assert client.get(reverse("passkey_enrol", args=[token])).status_code == 404
    assert refusals(AuditAction.PASSKEY_ENROL).filter(detail__reason_code="invalid_link").count() == 1
    assert passkey_enrolment_account(token) == staff


def test_a_password_change_invalidates_the_link(staff):
    token = passkey_enrolment_token(account=staff)
    staff.set_password("another long password 42")
    staff.save()
    assert passkey_enrolment_account(token) is None


def test_a_tampered_link_is_refused(client, staff):
    token = passkey_enrolment_token(account=staff)
    assert client.get(reverse("passkey_enrol", args=[token[:-2] + "xx"])).status_code == 404


def test_a_link_of_another_account_does_not_open_this_ceremony(client, staff):
    """The session of one enrolment cannot start the ceremony of another link."""
    other = StaffFactory()
    other.set_password(PASSWORD)
    other.save()
    token = passkey_enrolment_token(account=staff)
    client.post(reverse("passkey_enrol", args=[token]), {"password": PASSWORD})
    other_token = passkey_enrolment_token(account=other)
    assert client.post(reverse("passkey_enrol_begin", args=[other_token])).status_code == 400


def test_wrong_passwords_at_enrolment_count_towards_the_login_lockout(client, staff):
    """The enrolment page is no way around django-axes: after five wrong passwords the right one fails too."""
    token = passkey_enrolment_token(account=staff)
    url = reverse("passkey_enrol", args=[token])
    for _attempt in range(5):
        client.post(url, {"password": "wrong"})
    response = client.post(url, {"password": PASSWORD})
    assert 'id="passkey-register-button"' not in response.content.decode()
    assert client.post(reverse("passkey_enrol_begin", args=[token])).status_code == 400
