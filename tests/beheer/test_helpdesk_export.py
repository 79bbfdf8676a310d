"""Issue 16 item 4: the helpdesk exports one organisation's gebruikersbestand; every export is audited."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent
from tests.accounts.test_admin import PASSWORD, admin_login, current_code, helpdesk  # noqa: F401 (fixture)
from tests.factories import AccountFactory, StaffFactory
from tests.koppeling.conftest import FAST_HASHERS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hashers(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def admin_client(client, helpdesk):  # noqa: F811
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    assert admin_login(client, helpdesk, token=current_code(device)).status_code == 302
    return client


def export_url(organisatie) -> str:
    return reverse("admin:accounts_organisatie_gebruikersbestand", args=[organisatie.pk])


def _rows(response):
    text = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_helpdesk_exports_one_organisations_users_and_it_is_audited(
    admin_client,
    helpdesk,  # noqa: F811
    organisatie,
    gebruiker,
    other_gebruiker,
):
    response = admin_client.get(export_url(organisatie), {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="gebruikersbestand-')
    names = {row[0] for row in _rows(response)[1:]}
    assert gebruiker.name in names
    assert other_gebruiker.name not in names  # another organisation's user
    event = AuditEvent.objects.get(action="gebruikersbestand.export")
    assert event.actor_id == helpdesk.pk
    assert event.detail == {"organisatie_id": organisatie.pk, "format": "csv"}


def test_helpdesk_export_as_xlsx(admin_client, organisatie, gebruiker):
    response = admin_client.get(export_url(organisatie), {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert b"".join(response.streaming_content).startswith(b"PK")  # a zip: the workbook


def test_organisation_page_links_to_both_exports(admin_client, organisatie):
    html = admin_client.get(reverse("admin:accounts_organisatie_change", args=[organisatie.pk])).content
    assert f"{export_url(organisatie)}?format=csv".encode() in html
    assert f"{export_url(organisatie)}?format=xlsx".encode() in html


def test_unknown_format_and_unknown_organisation(admin_client, organisatie):
    assert admin_client.get(export_url(organisatie), {"format": "pdf"}).status_code == 400
    assert admin_client.get(export_url(organisatie).replace(str(organisatie.pk), "999999")).status_code == 404
    assert not AuditEvent.objects.filter(action="gebruikersbestand.export").exists()


def test_staff_without_the_helpdesk_permissions_gets_403(organisatie, gebruiker):
    staff = StaffFactory()
    staff.set_password(PASSWORD)
    staff.save()
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    client = Client()
    assert admin_login(client, staff, token=current_code(device)).status_code == 302
    assert client.get(export_url(organisatie), {"format": "csv"}).status_code == 403
    [event] = AuditEvent.objects.filter(action="gebruikersbestand.export")  # the refusal, no export
    assert event.result == "refused" and event.actor_id == staff.pk


def test_a_portal_user_cannot_reach_the_admin_export(organisatie, gebruiker):
    client = Client()
    client.force_login(AccountFactory(organisatie=organisatie))
    response = client.get(export_url(organisatie), {"format": "csv"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_beheerders_own_export_is_audited_too(beheer_client, beheerder, organisatie):
    assert beheer_client.get("/beheer/gebruikersbestand/", {"format": "csv"}).status_code == 200
    event = AuditEvent.objects.get(action="gebruikersbestand.export")
    assert event.actor_id == beheerder.pk
    assert event.detail["organisatie_id"] == organisatie.pk
