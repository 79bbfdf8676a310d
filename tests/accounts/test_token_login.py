"""Legacy token login until the sector's switch date (seeds 001, 004)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import AuditEvent, OverstapPlanning
from koppeling.models import Koppeling, UnlinkReason
from tests.factories import StaffFactory, token_user_create, totp_code

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
PASSWORD = "geheim-token-wachtwoord-1"
SWITCH = datetime.date(2030, 3, 1)
BEFORE = datetime.datetime(2030, 2, 28, 10, 0, tzinfo=AMS)


@pytest.fixture(autouse=True)
def planning():
    OverstapPlanning.objects.update_or_create(
        organisatie_type="onderwijsinstelling", defaults={"switch_date": SWITCH}
    )


@pytest.fixture
def token_user():
    return token_user_create(password=PASSWORD)


def post_login(client, account, device, *, password=PASSWORD, code=None, **extra):
    return client.post(
        "/token/",
        {"username": account.username, "password": password, "otp_token": code or totp_code(device), **extra},
    )


def logged_in_as(client):
    return client.session.get("_auth_user_id")


def test_planning_table_is_seeded_for_every_organisation_type():
    from accounts.constants import OrganisatieType

    assert set(OverstapPlanning.objects.values_list("organisatie_type", flat=True)) == set(
        OrganisatieType.values
    )


def test_token_page_is_dutch_with_labels_for_every_field(client):
    text = client.get("/token/").content.decode()
    assert "Inloggen met token" in text
    for field in ("id_username", "id_password", "id_otp_token"):
        assert f'for="{field}"' in text


def test_valid_username_password_and_code_before_the_switch_date_log_in(client, token_user):
    account, device = token_user
    with time_machine.travel(BEFORE):
        response = post_login(client, account, device)
    assert response.status_code == 302 and response["Location"] == "/overzicht/"
    assert logged_in_as(client) == str(account.pk)
    assert AuditEvent.objects.filter(action="token.login", actor_id=account.pk, result="success").exists()


def test_token_login_follows_a_local_next_only(client, token_user):
    account, device = token_user
    with time_machine.travel(BEFORE):
        response = post_login(client, account, device, next="https://evil.example/")
    assert response["Location"] == "/overzicht/"


@pytest.mark.parametrize(
    "moment", [datetime.datetime(2030, 3, 1, 0, 5, tzinfo=AMS), BEFORE + datetime.timedelta(days=2)]
)
def test_token_login_is_refused_from_the_switch_date_on_with_a_dutch_explanation(client, token_user, moment):
    account, device = token_user
    with time_machine.travel(moment):
        response = post_login(client, account, device)
    assert response.status_code == 403
    assert "overgestapt op eHerkenning" in response.content.decode()
    assert "1 maart 2030" in response.content.decode()
    assert logged_in_as(client) is None
    assert AuditEvent.objects.filter(action="token.login_failed", result="refused").exists()


def test_helpdesk_can_move_the_switch_date_in_the_planning(client, token_user):
    account, device = token_user
    OverstapPlanning.objects.filter(organisatie_type="onderwijsinstelling").update(
        switch_date=datetime.date(2030, 2, 28)
    )
    with time_machine.travel(BEFORE):
        assert post_login(client, account, device).status_code == 403


@pytest.mark.parametrize("ended", [False, True])
def test_an_account_ever_linked_to_eherkenning_is_refused(client, token_user, ended):
    account, device = token_user
    Koppeling.objects.create(
        account=account,
        acting_subject_id="pseudonym-x",
        legal_subject_id=account.organisatie.kvk_nummer,
        level="urn:etoegang:core:assurance-class:loa3",
        ended_at=BEFORE - datetime.timedelta(days=30) if ended else None,
        ended_reason=UnlinkReason.INACTIVE if ended else "",
    )
    with time_machine.travel(BEFORE):
        response = post_login(client, account, device)
    assert response.status_code == 403
    assert "enige geldige inlogmiddel" in response.content.decode()
    assert logged_in_as(client) is None


def test_wrong_totp_code_is_refused(client, token_user):
    account, device = token_user
    with time_machine.travel(BEFORE):
        wrong = f"{(int(totp_code(device)) + 1) % 1000000:06d}"
        response = post_login(client, account, device, code=wrong)
    assert response.status_code == 400
    assert "De combinatie van gebruikersnaam, wachtwoord en code is onjuist." in response.content.decode()
    assert logged_in_as(client) is None
    assert AuditEvent.objects.filter(action="token.login_failed", detail__reason_code="otp").exists()


def test_wrong_password_gets_the_same_answer_as_an_unknown_username(client, token_user):
    account, device = token_user
    with time_machine.travel(BEFORE):
        wrong = post_login(client, account, device, password="niet-het-wachtwoord")
        unknown = client.post(
            "/token/", {"username": "ONBEKEND9", "password": PASSWORD, "otp_token": "123456"}
        )
    assert wrong.status_code == unknown.status_code == 400
    message = "De combinatie van gebruikersnaam, wachtwoord en code is onjuist."
    assert message in wrong.content.decode() and message in unknown.content.decode()


def test_an_unconfirmed_totp_device_does_not_count(client, token_user):
    account, device = token_user
    device.confirmed = False
    device.save()
    with time_machine.travel(BEFORE):
        assert post_login(client, account, device).status_code == 400
    assert logged_in_as(client) is None


def test_staff_accounts_cannot_use_the_token_page(client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    staff = StaffFactory()
    staff.set_password(PASSWORD)
    staff.save()
    device = TOTPDevice.objects.create(user=staff, name="admin", confirmed=True)
    with time_machine.travel(BEFORE):
        response = post_login(client, staff, device)
    assert response.status_code == 400
    assert logged_in_as(client) is None


def test_five_failures_lock_the_username_out_even_for_the_right_credentials(client, token_user):
    account, device = token_user
    with time_machine.travel(BEFORE):
        for _ in range(5):
            post_login(client, account, device, password="fout-wachtwoord")
        response = post_login(client, account, device)
    assert response.status_code == 429
    assert "15 minuten" in response.content.decode()
    assert logged_in_as(client) is None


def test_five_wrong_totp_codes_lock_the_username_out(client, token_user):
    account, device = token_user
    with time_machine.travel(BEFORE):
        for _ in range(5):
            post_login(client, account, device, code="000000")
        response = post_login(client, account, device)
    assert response.status_code == 429
    assert logged_in_as(client) is None


def test_malformed_code_is_a_dutch_400_not_a_500(client, token_user):
    account, device = token_user
    response = post_login(client, account, device, code="12ab")
    assert response.status_code == 400
    assert "De code bestaat uit 6 cijfers." in response.content.decode()


def test_password_is_never_written_to_the_audit_trail(client, token_user):
    account, device = token_user
    with time_machine.travel(BEFORE):
        post_login(client, account, device, password="fout-wachtwoord")
    assert "fout-wachtwoord" not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_token_user_sees_the_overview_and_logs_out_with_the_uitloggen_form(client, token_user):
    account, device = token_user
    with time_machine.travel(BEFORE):
        post_login(client, account, device)
        assert client.get("/overzicht/").status_code == 200
        response = client.post("/uitloggen/")
    assert response.status_code == 302
    assert logged_in_as(client) is None


@pytest.mark.parametrize("situation", ["linked", "after_switch_date"])
def test_a_right_password_with_a_wrong_code_gets_the_generic_answer(client, token_user, situation):
    """No password oracle: the refusal is explained only after both factors are right."""
    account, device = token_user
    moment = BEFORE
    if situation == "linked":
        Koppeling.objects.create(
            account=account,
            acting_subject_id="pseudonym-y",
            legal_subject_id=account.organisatie.kvk_nummer,
            level="urn:etoegang:core:assurance-class:loa3",
        )
    else:
        moment = BEFORE + datetime.timedelta(days=2)  # past SWITCH
    with time_machine.travel(moment):
        right_password = post_login(client, account, device, code="000000")
        wrong_password = post_login(client, account, device, password="fout-wachtwoord", code="000000")
    assert right_password.status_code == wrong_password.status_code == 400
    assert "enige geldige inlogmiddel" not in right_password.content.decode()


def test_the_lockout_counts_per_username_from_any_address(client, token_user):
    account, device = token_user
    with time_machine.travel(BEFORE):
        for n in range(5):
            client.post(
                "/token/",
                {"username": account.username, "password": "fout-wachtwoord", "otp_token": "000000"},
                REMOTE_ADDR=f"198.51.100.{n}",
            )
        response = client.post(
            "/token/",
            {"username": account.username, "password": PASSWORD, "otp_token": totp_code(device)},
            REMOTE_ADDR="203.0.113.9",
        )
    assert response.status_code == 429
    assert logged_in_as(client) is None


def test_a_token_session_ends_when_the_switch_date_passes(client, token_user):
    account, device = token_user
    eve = datetime.datetime(2030, 2, 28, 23, 55, tzinfo=AMS)  # SWITCH is 1 March
    with time_machine.travel(eve):
        assert post_login(client, account, device).status_code == 302
        assert client.get("/overzicht/").status_code == 200
    # Past midnight, same live session (within the idle timeout).
    with time_machine.travel(eve + datetime.timedelta(minutes=10)):
        response = client.get("/overzicht/")
    assert response.status_code == 302 and response["Location"] == "/token/"
    assert logged_in_as(client) is None
