"""Issue 16 item 4: the gebruikersbestand as CSV and XLSX, her organisation's only, never a formula."""

import csv
import io
from datetime import timedelta

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone
from openpyxl import load_workbook

from beheer.export import cell_text
from koppeling.models import ActivationCode
from tests.factories import AccountFactory, KoppelingFactory, beheerder_create, grant_rol, token_user_create

pytestmark = pytest.mark.django_db

URL = "/beheer/gebruikersbestand/"


def _csv_rows(response):
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


def _xlsx_rows(response):
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return [
        [cell if cell is not None else "" for cell in row]
        for row in workbook.active.iter_rows(values_only=True)
    ]


def _by_username(rows):
    header, *body = rows
    return header, {row[1]: dict(zip(header, row, strict=True)) for row in body}


@pytest.fixture
def staff(organisatie, beheerder, kenmerk):
    now = timezone.now()
    linked = AccountFactory(organisatie=organisatie, name="Greet Gekoppeld")
    KoppelingFactory(
        account=linked, created_at=now - timedelta(days=10), last_login_at=now - timedelta(days=1)
    )
    grant_rol(linked, "osr", kenmerk)
    grant_rol(linked, "examensecretaris", kenmerk)
    waiting = AccountFactory(organisatie=organisatie, name='=HYPERLINK("http://evil.example","klik")')
    ActivationCode.objects.create(
        account=waiting,
        code_hash="h",
        created_at=now,
        expires_at=now + timedelta(hours=24),
        issued_by=beheerder,
    )
    token, _ = token_user_create(
        organisatie=organisatie, name="Tom Token", job_title="+31 6 1234", phone="-5"
    )
    removed = AccountFactory(organisatie=organisatie, name="Vera Verwijderd", removed_at=now, is_active=False)
    return {"linked": linked, "waiting": waiting, "token": token, "removed": removed}


def test_csv_has_status_roles_kenmerken_login_means_link_date_last_login_and_code_status(
    beheer_client, staff, kenmerk
):
    response = beheer_client.get(URL, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, rows = _by_username(_csv_rows(response))
    assert header[:3] == ["Naam", "Gebruikersnaam", "E-mailadres"]
    linked = rows[staff["linked"].username]
    assert linked["Status"] == "gekoppeld"
    assert "OSR" in linked["Rollen"] and "Examensecretaris" in linked["Rollen"]
    assert kenmerk.waarde in linked["Kenmerken"]
    assert linked["Inlogmiddel"] == "eHerkenning"
    assert linked["Gekoppeld op"] and linked["Laatst ingelogd"]
    waiting = rows[staff["waiting"].username]
    assert waiting["Activatiecode"].startswith("geldig tot")
    assert rows[staff["token"].username]["Inlogmiddel"] == "token"
    assert staff["removed"].username not in rows


def test_no_exported_cell_starts_a_formula(beheer_client, staff):
    for export_format, read in (("csv", _csv_rows), ("xlsx", _xlsx_rows)):
        rows = read(beheer_client.get(URL, {"format": export_format}))
        cells = [cell for row in rows for cell in row]
        assert not [cell for cell in cells if str(cell)[:1] in ("=", "+", "-", "@")], export_format
        assert '\'=HYPERLINK("http://evil.example","klik")' in cells
        assert "'+31 6 1234" in cells and "'-5" in cells


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_cell_text_neutralises_formula_prefixes(value):
    assert cell_text(value) == "'" + value


def test_xlsx_has_the_same_rows(beheer_client, staff):
    response = beheer_client.get(URL, {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    header, rows = _by_username(_xlsx_rows(response))
    assert header[0] == "Naam"
    assert rows[staff["linked"].username]["Status"] == "gekoppeld"
    assert set(rows) == set(_by_username(_csv_rows(beheer_client.get(URL, {"format": "csv"})))[1])


def test_another_organisations_beheerder_gets_only_his_own(client, staff, other_organisatie, other_gebruiker):
    other_beheerder = beheerder_create("vo", organisatie=other_organisatie)
    client.force_login(other_beheerder)
    _, rows = _by_username(_csv_rows(client.get(URL, {"format": "csv"})))
    assert set(rows) == {other_beheerder.username, other_gebruiker.username}


def test_user_without_beheerautorisatie_gets_403(client, organisatie, staff):
    client.force_login(AccountFactory(organisatie=organisatie))
    for export_format in ("csv", "xlsx"):
        assert client.get(URL, {"format": export_format}).status_code == 403


def test_unknown_format_is_a_dutch_400(beheer_client):
    response = beheer_client.get(URL, {"format": "pdf"})
    assert response.status_code == 400
    assert "csv of xlsx" in response.content.decode()


def test_export_query_count_does_not_grow_with_users(
    beheer_client, organisatie, kenmerk, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count():
        with CaptureQueriesContext(connection) as queries:
            b"".join(beheer_client.get(URL, {"format": "csv"}).streaming_content)
        return len(queries)

    AccountFactory.create_batch(2, organisatie=organisatie)
    few = count()
    for account in AccountFactory.create_batch(50, organisatie=organisatie):
        KoppelingFactory(account=account)
        grant_rol(account, "osr", kenmerk)
    assert count() == few
