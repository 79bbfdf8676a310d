"""Issue 16 item 4, design.md §7 P8: the XLSX gebruikersbestand is streamed, and any reader opens it."""

import csv
import io
import zipfile

import pytest
from openpyxl import load_workbook

from accounts.models import AuditEvent
from beheer import export
from tests.factories import AccountFactory, OrganisatieFactory, grant_rol

pytestmark = pytest.mark.django_db

URL = "/beheer/gebruikersbestand/"


def _csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def _open(body: bytes):
    """The file as an independent reader sees it: a sound zip, then openpyxl's rows ('' for no cell)."""
    with zipfile.ZipFile(io.BytesIO(body)) as package:
        assert package.testzip() is None  # every member's CRC checks out
    workbook = load_workbook(io.BytesIO(body), read_only=True)
    rows = [
        ["" if cell is None else cell for cell in row] for row in workbook.active.iter_rows(values_only=True)
    ]
    return workbook, rows


def _sheet_xml(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as package:
        return package.read("xl/worksheets/sheet1.xml").decode("utf-8")


@pytest.fixture
def users(organisatie, kenmerk):
    names = [
        "Zoë Ğüneş-Çelik",
        "Łukasz Żółć",
        "李小龍",
        "Ærøskøbing Ånd 🙂",
        "Tom & Jerry <b>vet</b>",
        "  Piet met spaties  ",
        "=1+1",
        "@SUM(A1:A9)",
    ]
    accounts = [AccountFactory(organisatie=organisatie, name=name) for name in names]
    accounts[0].job_title = "regel een\r\nregel twee"
    accounts[0].phone = "-31 6 1234"
    accounts[0].save()
    grant_rol(accounts[0], "osr", kenmerk)
    return accounts


def test_streamed_xlsx_opens_in_an_independent_reader_with_the_same_rows_as_the_csv(beheer_client, users):
    response = beheer_client.get(URL, {"format": "xlsx"})
    assert response.status_code == 200
    assert response.streaming
    assert not response.has_header("Content-Length")
    assert response["Content-Type"] == export.XLSX_CONTENT_TYPE
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith('attachment; filename="gebruikersbestand-')
    assert response["Content-Disposition"].endswith('.xlsx"')
    workbook, rows = _open(b"".join(response.streaming_content))
    assert workbook.sheetnames == ["Gebruikers"]
    assert rows == _csv_rows(beheer_client.get(URL, {"format": "csv"}))
    names = [row[0] for row in rows]
    assert "李小龍" in names and "Ærøskøbing Ånd 🙂" in names and "Tom & Jerry <b>vet</b>" in names
    assert "  Piet met spaties  " in names  # leading and trailing spaces kept
    assert "'=1+1" in names and "'@SUM(A1:A9)" in names  # still never a formula
    [zoe] = [row for row in rows if row[0] == "Zoë Ğüneş-Çelik"]
    assert "regel een\r\nregel twee" in zoe and "'-31 6 1234" in zoe


def test_every_xlsx_export_is_audited(beheer_client, beheerder, organisatie):
    b"".join(beheer_client.get(URL, {"format": "xlsx"}).streaming_content)
    event = AuditEvent.objects.get(action="gebruikersbestand.export")
    assert event.actor_id == beheerder.pk
    assert event.detail == {"organisatie_id": organisatie.pk, "format": "xlsx"}


def test_characters_illegal_in_xml_are_left_out_and_the_file_still_opens(beheer_client, organisatie):
    # PostgreSQL stores every control character but NUL, which the unit test below covers.
    user = AccountFactory(organisatie=organisatie, name="Kees\x01\x08\x0b\x0c\x1b\ufffe de Vries\x7f")
    response = beheer_client.get(URL, {"format": "xlsx"})
    _, rows = _open(b"".join(response.streaming_content))
    [row] = [row for row in rows if row[1] == user.username]
    assert row[0] == "Kees de Vries\x7f"  # DEL is legal XML


@pytest.mark.parametrize(
    ("text", "xml"),
    [
        ("a\x00b\x1fc\ud800d\uffffe", "abcde"),
        ("Tom & Jerry <x>", "Tom &amp; Jerry &lt;x&gt;"),
        ("a\rb", "a&#13;b"),
        ("_x003D_1+1", "_x005F_x003D_1+1"),  # Excel would read _x003D_ as "="
        ("tab\there, newline\nhere", "tab\there, newline\nhere"),
    ],
)
def test_xlsx_text_keeps_legal_characters_only_and_escapes_markup(text, xml):
    assert export.xlsx_text(text) == xml


def test_an_ooxml_escape_typed_in_a_name_is_written_as_typed(beheer_client, organisatie):
    AccountFactory(organisatie=organisatie, name="_x003D_HYPERLINK(1)")
    sheet = _sheet_xml(b"".join(beheer_client.get(URL, {"format": "xlsx"}).streaming_content))
    assert "<t>_x005F_x003D_HYPERLINK(1)</t>" in sheet


def test_an_organisation_without_users_gives_the_header_only(db):
    empty = OrganisatieFactory()
    _, rows = _open(b"".join(export.gebruikersbestand_xlsx(organisatie_id=empty.pk)))
    assert rows == [[export.cell_text(value) for value in export._header()]]


def test_xlsx_bytes_leave_before_the_rows_are_all_read(monkeypatch, organisatie):
    """The first chunk leaves before any row is read, and compressed chunks keep leaving during the rows."""
    total = 3000
    read = 0

    def rows(*, organisatie_id):
        nonlocal read
        assert organisatie_id == organisatie.pk
        for number in range(total):
            read += 1
            yield [f"Gebruiker {number * 2654435761 % 2**32:08x}", f"user{number}", *[str(number)] * 10]

    monkeypatch.setattr(export, "gebruikersbestand_rows", rows)
    stream = iter(export.gebruikersbestand_xlsx(organisatie_id=organisatie.pk))
    first = next(stream)
    assert first.startswith(b"PK") and read == 0
    chunks, read_at = [first], [read]
    for chunk in stream:
        chunks.append(chunk)
        read_at.append(read)
    assert len([count for count in read_at if 0 < count < total]) >= 2
    _, sheet_rows = _open(b"".join(chunks))
    assert len(sheet_rows) == total and sheet_rows[-1][1] == f"user{total - 1}"


def test_csv_sends_the_header_before_any_row_is_read_then_rows_in_chunks(monkeypatch, organisatie):
    read = 0

    def rows(*, organisatie_id):
        nonlocal read
        yield ["Naam", "Gebruikersnaam"]
        for number in range(250):
            read += 1
            yield [f"Gebruiker {number}", f"user{number}"]

    monkeypatch.setattr(export, "gebruikersbestand_rows", rows)
    stream = export.gebruikersbestand_csv(organisatie_id=organisatie.pk)
    assert next(stream) == "\ufeff"
    assert next(stream) == "Naam;Gebruikersnaam\r\n" and read == 0
    rest = list(stream)
    assert len(rest) == 3  # 100, 100 and 50 rows: not one chunk per row
    assert list(csv.reader(io.StringIO("".join(rest), newline=""), delimiter=";")) == [
        [f"Gebruiker {number}", f"user{number}"] for number in range(250)
    ]
