"""The helpdesk's admin login (issue 13 §3): username, password and the current code of any of their
confirmed devices, on the first try, in one Dutch form without a device choice."""

import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.constants import AuditAction
from accounts.helpdesk import helpdesk_group_sync
from accounts.models import AuditEvent
from tests.factories import AccountFactory, StaffFactory, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
ENGLISH = [
    "Please select a device",
    "OTP Token",
    "OTP Device",
    "Get OTP Challenge",
    "Please enter",
    "Log in",
    "Username",
    "Password",
    "Verification code",
]


@pytest.fixture
def helpdesk():
    staff = StaffFactory()
    staff.set_password(PASSWORD)
    staff.save()
    staff.groups.add(helpdesk_group_sync())
    return staff


def login_post(client, staff, *, code, password=PASSWORD):
    """What the browser posts: the three visible fields, nothing else."""
    return client.post(
        reverse("admin:login"),
        {"username": staff.username, "password": password, "otp_token": code, "next": "/admin/"},
        REMOTE_ADDR="198.51.100.4",
    )


def logged_in(client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"


def test_one_device_username_password_and_code_log_in_on_the_first_try(client, helpdesk):
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    response = login_post(client, helpdesk, code=totp_code(device))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == "/admin/"
    assert logged_in(client)
    assert AuditEvent.objects.filter(action=AuditAction.ADMIN_LOGIN, actor_id=helpdesk.pk).exists()


@pytest.mark.parametrize("which", [0, 1])
def test_two_devices_the_code_of_either_logs_in(client, helpdesk, which):
    devices = [
        TOTPDevice.objects.create(user=helpdesk, name=name, confirmed=True) for name in ("oud", "nieuw")
    ]
    response = login_post(client, helpdesk, code=totp_code(devices[which]))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert logged_in(client)
    # The device that verified is the one recorded; the other one is not counted as a failure.
    assert client.session["otp_device_id"] == devices[which].persistent_id
    other = TOTPDevice.objects.get(pk=devices[1 - which].pk)
    assert other.throttling_failure_count == 0


def test_a_backup_code_beside_the_app_logs_in_once(client, helpdesk):
    TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    backup = StaticDevice.objects.create(user=helpdesk, name="backup", confirmed=True)
    StaticToken.objects.create(device=backup, token="abcd2345")
    assert login_post(client, helpdesk, code="abcd2345").status_code == 302
    assert logged_in(client)
    client.logout()
    assert login_post(client, helpdesk, code="abcd2345").status_code == 200  # used up
    assert not logged_in(client)


def test_wrong_code_gives_a_dutch_error_and_no_login_and_is_counted(client, helpdesk):
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    response = login_post(client, helpdesk, code=wrong_code(device))
    assert response.status_code == 200
    content = response.content.decode()
    assert "verificatiecode" in content
    assert "Voer de juiste gebruikersnaam" in content
    assert not logged_in(client)
    assert AuditEvent.objects.filter(action=AuditAction.ADMIN_LOGIN_FAILED).count() == 1
    assert TOTPDevice.objects.get(pk=device.pk).throttling_failure_count == 1


def test_wrong_code_and_wrong_password_give_the_same_answer(client, helpdesk):
    """Otherwise the answer tells whoever guesses passwords that they found the right one."""
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    code = wrong_code(device)
    bad_code = login_post(client, helpdesk, code=code).content.decode()
    bad_password = login_post(client, helpdesk, code=code, password="wrong password").content.decode()

    def without_token(html):
        # The CSRF token (masked afresh in every response) is in the form and in the passkey script's configuration.
        return "\n".join(
            line
            for line in html.splitlines()
            if "csrfmiddlewaretoken" not in line and "csrfToken" not in line
        )

    assert without_token(bad_code) == without_token(bad_password)


def test_staff_without_a_confirmed_device_is_refused(client, helpdesk):
    device = TOTPDevice.objects.create(user=helpdesk, name="not yet", confirmed=False)
    response = login_post(client, helpdesk, code=totp_code(device))
    assert response.status_code == 200
    assert "Voer de juiste gebruikersnaam" in response.content.decode()
    assert not logged_in(client)
    assert AuditEvent.objects.filter(action=AuditAction.ADMIN_LOGIN_FAILED).count() == 1


def test_five_wrong_codes_lock_the_username_out(client, helpdesk):
    """A known password must not allow unthrottled guessing of the code: django-axes counts it."""
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    for _ in range(5):
        login_post(client, helpdesk, code="000000" if totp_code(device) != "000000" else "111111")
    response = login_post(client, helpdesk, code=totp_code(device))
    assert response.status_code == 429
    assert not logged_in(client)


def test_login_page_is_dutch_without_device_choice_or_challenge(client, helpdesk):
    TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    pages = [client.get(reverse("admin:login")), login_post(client, helpdesk, code="12")]
    for response in pages:
        content = response.content.decode()
        assert response.status_code == 200
        for text in ENGLISH:
            assert text not in content, text
        for text in ["Gebruikersnaam", "Wachtwoord", "Verificatiecode", "Inloggen", 'lang="nl"']:
            assert text in content, text
        assert 'name="otp_device"' not in content
        assert 'name="otp_challenge"' not in content
        assert 'autocomplete="one-time-code"' in content


def test_login_page_in_english_on_request(client):
    content = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ["Username", "Password", "Verification code", "Log in"]:
        assert text in content, text
    assert "OTP Token" not in content


def test_a_right_password_of_an_account_that_is_not_staff_is_refused_and_audited(client):
    """A token user has a password and a TOTP device; the admin refuses it, in the trail like a wrong password."""
    user = AccountFactory()
    user.set_password(PASSWORD)
    user.save()
    device = TOTPDevice.objects.create(user=user, name="token", confirmed=True)
    response = login_post(client, user, code=totp_code(device))
    assert response.status_code == 200
    assert "Voer de juiste gebruikersnaam" in response.content.decode()
    assert not logged_in(client)
    event = AuditEvent.objects.get(action=AuditAction.ADMIN_LOGIN_FAILED)
    assert event.detail == {"username": user.username}
