"""Legacy token users (issue 15 item 5): the helpdesk registers one in person or imports them, and
the temporary password must be changed at the first token login."""

import base64
import datetime
import io
import secrets

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.constants import AuditAction, AuditResult
from accounts.helpdesk import helpdesk_group_sync
from accounts.models import Account, AuditEvent, OverstapPlanning
from accounts.token_users import IMPORT_COLUMNS
from tests.accounts.test_admin import PASSWORD, admin_login, current_code
from tests.factories import (
    AccountFactory,
    KoppelingFactory,
    OrganisatieFactory,
    StaffFactory,
    token_user_create,
    totp_code,
)

pytestmark = pytest.mark.django_db

TEMPORARY = "TIJD-ELIJ-KWAC-HTW1"
NEW_PASSWORD = "mijn-eigen-lange-wachtwoord-7"


@pytest.fixture(autouse=True)
def planning():
    OverstapPlanning.objects.update_or_create(
        organisatie_type="onderwijsinstelling", defaults={"switch_date": datetime.date(2099, 1, 1)}
    )


@pytest.fixture
def helpdesk():
    staff = StaffFactory()
    staff.set_password(PASSWORD)
    staff.save()
    staff.groups.add(helpdesk_group_sync())
    return staff


@pytest.fixture
def verified_client(client, helpdesk):
    from django.test import Client

    staff_client = Client()
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    assert admin_login(staff_client, helpdesk, token=current_code(device)).status_code == 302
    return staff_client


def next_code(device) -> str:
    """The code of the next 30-second step: a code once used is refused again (replay)."""
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift + 1).token()
    return f"{token:0{device.digits}d}"


def token_post(client, username, password, code, **extra):
    return client.post("/token/", {"username": username, "password": password, "otp_token": code, **extra})


# --- forced password change at the first token login -------------------------------------------


@pytest.fixture
def temporary_user():
    account, device = token_user_create(password=TEMPORARY)
    account.password_change_required = True
    account.save(update_fields=["password_change_required"])
    return account, device


def test_a_temporary_password_leads_to_the_password_change_and_not_into_the_portal(client, temporary_user):
    account, device = temporary_user
    response = token_post(client, account.username, TEMPORARY, totp_code(device), next="/mijn-gegevens/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("token_password_change"))
    assert "_auth_user_id" not in client.session
    assert client.get("/overzicht/").status_code == 302  # not logged in
    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "Kies een nieuw wachtwoord" in text
    assert 'for="id_new_password1"' in text and 'for="id_new_password2"' in text


def test_the_new_password_must_differ_from_the_temporary_one_and_follow_the_rules(client, temporary_user):
    account, device = temporary_user
    token_post(client, account.username, TEMPORARY, totp_code(device))
    url = reverse("token_password_change")
    response = client.post(url, {"new_password1": TEMPORARY, "new_password2": TEMPORARY})
    assert response.status_code == 400
    assert "Kies een ander wachtwoord dan het tijdelijke" in response.content.decode()
    response = client.post(url, {"new_password1": "kort", "new_password2": "kort"})
    assert response.status_code == 400
    account.refresh_from_db()
    assert account.password_change_required and account.check_password(TEMPORARY)
    assert "_auth_user_id" not in client.session


def test_after_choosing_a_password_he_is_logged_in_and_the_temporary_one_is_gone(client, temporary_user):
    account, device = temporary_user
    token_post(client, account.username, TEMPORARY, totp_code(device))
    response = client.post(
        reverse("token_password_change"),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "next": "/mijn-gegevens/"},
    )
    assert response.status_code == 302 and response["Location"] == "/mijn-gegevens/"
    assert client.session["_auth_user_id"] == str(account.pk)
    account.refresh_from_db()
    assert not account.password_change_required
    assert account.check_password(NEW_PASSWORD) and not account.check_password(TEMPORARY)
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_PASSWORD_CHANGE, object_id=str(account.pk)
    ).exists()
    client.logout()
    response = token_post(client, account.username, NEW_PASSWORD, next_code(device))
    assert response.status_code == 302 and response["Location"] == reverse("overzicht")


def test_the_password_change_page_without_a_fresh_login_changes_nothing(client, temporary_user):
    account, _device = temporary_user
    response = client.post(
        reverse("token_password_change"), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "Deze pagina is verlopen" in response.content.decode()
    account.refresh_from_db()
    assert account.password_change_required and account.check_password(TEMPORARY)


def test_the_password_change_is_refused_when_the_account_was_linked_meanwhile(client, temporary_user):
    account, device = temporary_user
    token_post(client, account.username, TEMPORARY, totp_code(device))
    KoppelingFactory(account=account)
    response = client.post(
        reverse("token_password_change"), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_PASSWORD_CHANGE, result=AuditResult.REFUSED, object_id=str(account.pk)
    ).exists()


# --- registration by the helpdesk, in person --------------------------------------------------


def test_helpdesk_registers_a_token_user_in_his_presence(verified_client, client):
    account = AccountFactory(name="Jan Kok")
    url = reverse("admin:accounts_account_token_user", args=[account.pk])
    assert "als de gebruiker erbij is" in verified_client.get(url).content.decode()
    page = verified_client.post(url, {"step": "start"})
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=account, confirmed=False)
    assert "otpauth://totp/" in page.content.decode()

    wrong = verified_client.post(url, {"step": "confirm", "device": device.pk, "otp_token": "000000"})
    assert wrong.status_code == 400
    account.refresh_from_db()
    assert not account.has_usable_password() and not account.password_change_required

    done = verified_client.post(url, {"step": "confirm", "device": device.pk, "otp_token": totp_code(device)})
    assert done.status_code == 200
    account.refresh_from_db()
    assert account.password_change_required
    device.refresh_from_db()
    assert device.confirmed
    temporary = done.context["password"]
    assert temporary in done.content.decode() and account.check_password(temporary)
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_USER_REGISTER, object_id=str(account.pk)
    ).exists()
    assert temporary not in str(list(AuditEvent.objects.values_list("detail", flat=True)))

    # His first login with the token goes to the password change.
    response = token_post(client, account.username, temporary, next_code(device))
    assert response["Location"].startswith(reverse("token_password_change"))


def test_helpdesk_registration_is_refused_for_a_linked_account(verified_client):
    account = AccountFactory()
    KoppelingFactory(account=account)
    url = reverse("admin:accounts_account_token_user", args=[account.pk])
    assert "gekoppeld aan eHerkenning" in verified_client.get(url).content.decode()
    response = verified_client.post(url, {"step": "start"})
    assert response.status_code == 403
    assert not TOTPDevice.objects.filter(user=account).exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_USER_REGISTER, result=AuditResult.REFUSED, object_id=str(account.pk)
    ).exists()


def test_token_registration_page_of_an_unknown_account_is_404_and_needs_the_change_right(
    verified_client, helpdesk
):
    assert verified_client.get(reverse("admin:accounts_account_token_user", args=[987654])).status_code == 404
    account = AccountFactory()
    helpdesk.groups.clear()
    helpdesk.user_permissions.add(Permission.objects.get(codename="view_account"))
    assert (
        verified_client.get(reverse("admin:accounts_account_token_user", args=[account.pk])).status_code
        == 403
    )


# --- import from the old system ----------------------------------------------------------------


def base32_secret() -> tuple[str, str]:
    key = secrets.token_bytes(20)
    return base64.b32encode(key).decode(), key.hex()


def write_csv(path, rows):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=IMPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_import(path, *extra) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("import_tokengebruikers", str(path), *extra, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


@pytest.fixture
def organisatie():
    return OrganisatieFactory(naam="Stichting Noorderlicht", instellingscode="21XY")


def row(org, **overrides):
    secret, _hex = base32_secret()
    values = {
        "gebruikersnaam": "JKOK01",
        "naam": "Jan Kok",
        "email": "jan@noorderlicht.example",
        "organisatie": org.instellingscode,
        "wachtwoord_hash": make_password("oud-token-wachtwoord-42"),
        "totp_secret": secret,
    }
    values.update(overrides)
    return values


def test_imported_token_user_logs_in_with_his_old_password_and_totp(client, tmp_path, organisatie):
    secret, key_hex = base32_secret()
    path = write_csv(tmp_path / "export.csv", [row(organisatie, totp_secret=secret)])
    report, error = run_import(path)
    assert error is None, report
    assert "nieuw" in report and "JKOK01" in report
    account = Account.objects.get(username="JKOK01")
    assert account.organisatie == organisatie and not account.password_change_required
    device = TOTPDevice.objects.get(user=account)
    assert device.confirmed and device.key == key_hex
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_USER_IMPORT, object_id=str(account.pk)).exists()

    response = token_post(client, "jkok01", "oud-token-wachtwoord-42", totp_code(device))
    assert response.status_code == 302 and response["Location"] == reverse("overzicht")
    assert client.session["_auth_user_id"] == str(account.pk)

    # Idempotent: the same export again changes nothing (not even a password the user changed since).
    account.set_password(NEW_PASSWORD)
    account.save(update_fields=["password"])
    report, error = run_import(path)
    assert error is None, report
    assert "ongewijzigd" in report
    account.refresh_from_db()
    assert account.check_password(NEW_PASSWORD)
    assert Account.objects.filter(username="JKOK01").count() == 1


def test_bad_rows_are_reported_in_dutch_per_row_and_import_nothing(tmp_path, organisatie):
    other = AccountFactory(username="BEZET01", organisatie=organisatie)
    path = write_csv(
        tmp_path / "export.csv",
        [
            row(organisatie, gebruikersnaam="HASH01", wachtwoord_hash="md5$zout$abc"),
            row(organisatie, gebruikersnaam="HASH02", wachtwoord_hash="geheim"),
            row(organisatie, gebruikersnaam="ORG01", organisatie="99ZZ"),
            row(organisatie, gebruikersnaam="DUBBEL", email="a@noorderlicht.example"),
            row(organisatie, gebruikersnaam="dubbel", email="b@noorderlicht.example"),
            row(organisatie, gebruikersnaam="BEZET01", email="iemand@noorderlicht.example"),
            row(organisatie, gebruikersnaam="KORT01", totp_secret="JBSWY3DP"),
            row(organisatie, gebruikersnaam="", naam=""),
        ],
    )
    before = Account.objects.count()
    report, error = run_import(path)
    assert error is not None
    assert "rij 2: FOUT HASH01" in report
    assert (
        report.count("wachtwoord_hash: geen wachtwoordhash in een formaat dat dit portaal kan controleren")
        == 2
    )
    assert "organisatie: geen organisatie heeft het nummer 99ZZ" in report
    assert "gebruikersnaam: DUBBEL komt al voor op rij 5 van dit bestand" in report
    assert "gebruikersnaam: BEZET01 hoort al bij een ander account in het portaal" in report
    assert "totp_secret: geen base32-geheim van minstens 128 bits" in report
    assert "gebruikersnaam: deze kolom is verplicht" in report
    # Only the first DUBBEL was good.
    assert Account.objects.count() == before + 1
    assert Account.objects.filter(username="DUBBEL").exists()
    assert not TOTPDevice.objects.filter(user=other).exists()


def test_import_is_refused_for_a_linked_account(tmp_path, organisatie):
    account = AccountFactory(username="GEKOP01", organisatie=organisatie, email="jan@noorderlicht.example")
    KoppelingFactory(account=account)
    path = write_csv(tmp_path / "export.csv", [row(organisatie, gebruikersnaam="GEKOP01")])
    report, error = run_import(path)
    assert error is not None
    assert "GEWEIGERD" in report and "gekoppeld aan eHerkenning" in report
    account.refresh_from_db()
    assert not account.has_usable_password()
    assert not TOTPDevice.objects.filter(user=account).exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_USER_IMPORT, result=AuditResult.REFUSED, object_id=str(account.pk)
    ).exists()


def test_dry_run_validates_and_changes_nothing(tmp_path, organisatie):
    path = write_csv(tmp_path / "export.csv", [row(organisatie)])
    report, error = run_import(path, "--dry-run")
    assert error is None, report
    assert "proefrun, niets gewijzigd" in report
    assert not Account.objects.filter(username="JKOK01").exists()
    assert not AuditEvent.objects.filter(action=AuditAction.TOKEN_USER_IMPORT).exists()


def test_missing_columns_stop_the_import(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("gebruikersnaam,naam\nA,B\n", encoding="utf-8")
    report, error = run_import(path)
    assert error is not None and "Ontbrekende kolommen" in str(error)
