"""Helpdesk admin: password + TOTP, least privileges, search, read-only audit trail (issue 2 §5)."""

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.constants import AuditAction
from accounts.helpdesk import helpdesk_group_sync
from accounts.models import Account, AuditEvent, Beheerautorisatie, Organisatie
from tests.factories import AccountFactory, KenmerkFactory, OrganisatieFactory, StaffFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def helpdesk():
    staff = StaffFactory()
    staff.set_password(PASSWORD)
    staff.save()
    staff.groups.add(helpdesk_group_sync())
    return staff


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def admin_login(client, staff, *, token=None, password=PASSWORD):
    device = TOTPDevice.objects.filter(user=staff).first()
    data = {"username": staff.username, "password": password, "otp_token": token or ""}
    if device is not None:
        data["otp_device"] = device.persistent_id
    return client.post(reverse("admin:login"), data, REMOTE_ADDR="198.51.100.4")


@pytest.fixture
def verified_client(client, helpdesk):
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    response = admin_login(client, helpdesk, token=current_code(device))
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def test_staff_without_a_confirmed_totp_device_cannot_get_in(client, helpdesk):
    TOTPDevice.objects.create(user=helpdesk, name="unconfirmed", confirmed=False)
    response = admin_login(client, helpdesk, token="123456")
    assert response.status_code == 200  # the login form again
    assert client.get(reverse("admin:index")).status_code == 302


def test_correct_password_without_token_is_not_enough(client, helpdesk):
    TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    admin_login(client, helpdesk, token="")
    assert client.get(reverse("admin:index")).status_code == 302


def test_password_and_current_totp_code_let_helpdesk_in_and_is_audited(verified_client, helpdesk):
    assert verified_client.get(reverse("admin:index")).status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.ADMIN_LOGIN, actor_id=helpdesk.pk).exists()


def test_failed_admin_logins_are_throttled_after_five(client, helpdesk):
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    for _ in range(5):
        admin_login(client, helpdesk, password="wrong password", token="000000")
    response = admin_login(client, helpdesk, token=current_code(device))
    assert response.status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.ADMIN_LOGIN_FAILED).count() >= 5


def test_helpdesk_group_has_no_superuser_rights_but_can_do_daily_work(helpdesk):
    assert not helpdesk.is_superuser
    for perm in ["accounts.add_organisatie", "accounts.add_account", "accounts.view_auditevent"]:
        assert helpdesk.has_perm(perm)
    for perm in [
        "accounts.change_auditevent",
        "accounts.delete_auditevent",
        "accounts.delete_account",
        "auth.change_group",
        "otp_totp.add_totpdevice",
    ]:
        assert not helpdesk.has_perm(perm)


def test_search_finds_accounts_by_username_name_email_organisation_and_kenmerk(verified_client):
    organisatie = OrganisatieFactory(naam="Lyceum Zeewolde", instellingscode="77QQ")
    KenmerkFactory(organisatie=organisatie, waarde="77QQ")
    target = AccountFactory(organisatie=organisatie, name="Karel Appel", email="karel@lyceum.example")
    AccountFactory(name="Someone Else")
    url = reverse("admin:accounts_account_changelist")
    for term in [target.username, "Karel", "karel@lyceum", "Zeewolde", "77QQ"]:
        content = verified_client.get(url, {"q": term}).content.decode()
        assert target.username in content, term
        assert "Someone Else" not in content, term


def test_audit_trail_is_read_only_in_the_admin(verified_client):
    event = AuditEvent.objects.first()
    change_url = reverse("admin:accounts_auditevent_change", args=[event.pk])
    assert verified_client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 200
    response = verified_client.post(change_url, {"action": "tampered"})
    assert response.status_code == 403
    assert (
        verified_client.post(
            reverse("admin:accounts_auditevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.ADMIN_LOGIN


def account_form(organisatie, *codes, **extra):
    data = {
        "organisatie": organisatie.pk,
        "name": "Bea Beheer",
        "job_title": "Directeur",
        "phone": "050 000 0000",
        "email": "bea@school.example",
        "language": "nl",
        "is_active": "on",
        "beheerautorisaties_keuze": [Beheerautorisatie.objects.get(code=c).pk for c in codes],
        "rol_toekenningen-TOTAL_FORMS": "0",
        "rol_toekenningen-INITIAL_FORMS": "0",
        "rol_toekenningen-MIN_NUM_FORMS": "0",
        "rol_toekenningen-MAX_NUM_FORMS": "1000",
    }
    data.update(extra)
    return data


def test_helpdesk_creates_organisation_and_beheerder_with_beheerautorisaties(verified_client, helpdesk):
    response = verified_client.post(
        reverse("admin:accounts_organisatie_add"),
        {
            "type": "onderwijsinstelling",
            "naam": "Basisschool De Linde",
            "instellingscode": "45EF",
            "bestuursnummer": "30303",
            "kvk_nummer": "12345678",
            "postcode": "1234 AB",
            "kenmerken-TOTAL_FORMS": "0",
            "kenmerken-INITIAL_FORMS": "0",
            "kenmerken-MIN_NUM_FORMS": "0",
            "kenmerken-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    organisatie = Organisatie.objects.get(instellingscode="45EF")
    response = verified_client.post(
        reverse("admin:accounts_account_add"), account_form(organisatie, "po", "rio_algemeen")
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    beheerder = Account.objects.get(email="bea@school.example")
    assert set(beheerder.beheerautorisaties.values_list("code", flat=True)) == {"po", "rio_algemeen"}
    assert len(beheerder.username) == 8 and not beheerder.has_usable_password()
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.BEHEERAUTORISATIE_GRANT, object_id=str(beheerder.pk)
        ).count()
        == 2
    )


def test_rio_without_sector_beheerautorisatie_is_refused_with_a_dutch_error(verified_client):
    organisatie = OrganisatieFactory(bestuursnummer="30303")
    response = verified_client.post(
        reverse("admin:accounts_account_add"),
        account_form(organisatie, "rio_opleidingseenheid"),
        HTTP_ACCEPT_LANGUAGE="nl",
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "is ook een van deze beheerautorisaties nodig" in content
    assert "Beheerder BVE (Middelbaar Beroepsonderwijs)" in content
    assert not Account.objects.filter(email="bea@school.example").exists()


def test_rio_without_bestuursnummer_is_refused(verified_client):
    organisatie = OrganisatieFactory(
        type="anders", type_anders="Particulier", bestuursnummer="", instellingscode=""
    )
    response = verified_client.post(
        reverse("admin:accounts_account_add"), account_form(organisatie, "ho", "rio_selfservice")
    )
    assert response.status_code == 200
    assert "bestuursnummer" in response.content.decode()
    assert not Account.objects.filter(email="bea@school.example").exists()


def test_helpdesk_member_can_save_his_own_details_but_not_grant_himself_beheerautorisaties(
    verified_client, helpdesk
):
    url = reverse("admin:accounts_account_change", args=[helpdesk.pk])
    data = {
        "name": "Nieuwe Naam",
        "job_title": "",
        "phone": "",
        "email": helpdesk.email,
        "language": "nl",
        "is_active": "on",
        "rol_toekenningen-TOTAL_FORMS": "0",
        "rol_toekenningen-INITIAL_FORMS": "0",
        "rol_toekenningen-MIN_NUM_FORMS": "0",
        "rol_toekenningen-MAX_NUM_FORMS": "1000",
    }
    assert verified_client.post(url, data).status_code == 302
    helpdesk.refresh_from_db()
    assert helpdesk.name == "Nieuwe Naam"
    response = verified_client.post(
        url, {**data, "beheerautorisaties_keuze": [Beheerautorisatie.objects.get(code="po").pk]}
    )
    assert response.status_code == 200
    assert "U kunt uw eigen beheerautorisaties niet wijzigen" in response.content.decode()
    assert not helpdesk.beheerautorisaties.exists()


def test_an_existing_account_cannot_be_moved_to_another_organisation(verified_client):
    account = AccountFactory()
    elsewhere = OrganisatieFactory()
    url = reverse("admin:accounts_account_change", args=[account.pk])
    data = {**account_form(elsewhere), "name": account.name, "email": account.email}
    assert verified_client.post(url, data).status_code == 302
    account.refresh_from_db()
    assert account.organisatie_id != elsewhere.pk
