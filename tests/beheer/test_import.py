"""python manage.py import_beheerders: validation per row, idempotency, report, mails and letters."""

import csv
import io
import re
import shutil
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from accounts.models import Account, AuditEvent, EmailOutbox, Kenmerk, Organisatie
from beheer.imports import COLUMNS

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "beheerders.csv"

pytestmark = pytest.mark.django_db


def _row(**overrides) -> dict:
    row = {name: "" for name in COLUMNS}
    row.update(
        organisatie_type="onderwijsinstelling",
        organisatie_naam="Het Zuiderlicht Lyceum",
        straat="Laan",
        huisnummer="3",
        postcode="1234 AB",
        woonplaats="Assen",
        instellingscode="31QQ",
        bestuursnummer="43210",
        kvk_nummer="41000001",
        beheerder_naam="Henk Hoekstra",
        beheerder_functie="Conrector",
        beheerder_telefoon="0592 123456",
        beheerder_email="h.hoekstra@zuiderlicht.example",
        beheerautorisaties="vo;rio_algemeen",
    )
    row.update(overrides)
    return row


def _write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _run(path: Path, letters: Path, *extra) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("import_beheerders", str(path), "--letters-dir", str(letters), *extra, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def test_example_file_imports_and_second_run_changes_nothing(tmp_path, django_capture_on_commit_callbacks):
    letters = tmp_path / "brieven"
    with django_capture_on_commit_callbacks(execute=True):
        report, error = _run(EXAMPLE, letters)
    assert error is None, report
    accounts = list(Account.objects.filter(beheerautorisatie_toekenningen__isnull=False).distinct())
    assert len(accounts) == 5
    for account in accounts:
        assert account.username in report
        assert (letters / f"gebruikersnaam-{account.username}.pdf").is_file()
    assert "5 nieuw" in report or "5 rijen" in report
    # each new beheerder: confirmation + activation-code mail
    assert EmailOutbox.objects.filter(template="beheer/email/registered").count() == 5
    assert EmailOutbox.objects.filter(template="koppeling/email/activation_code").count() == 5
    assert len(mail.outbox) == 10

    state = (
        Organisatie.objects.count(),
        Account.objects.count(),
        Kenmerk.objects.count(),
        EmailOutbox.objects.count(),
        sorted(Account.objects.values_list("username", flat=True)),
    )
    shutil.rmtree(letters)
    with django_capture_on_commit_callbacks(execute=True):
        report2, error2 = _run(EXAMPLE, letters)
    assert error2 is None, report2
    assert "ongewijzigd" in report2
    assert (
        Organisatie.objects.count(),
        Account.objects.count(),
        Kenmerk.objects.count(),
        EmailOutbox.objects.count(),
        sorted(Account.objects.values_list("username", flat=True)),
    ) == state
    assert not list(letters.glob("*.pdf"))


def test_new_organisation_gets_its_numbers_as_kenmerken(tmp_path):
    _run(_write(tmp_path / "a.csv", [_row()]), tmp_path / "l")
    organisatie = Organisatie.objects.get(instellingscode="31QQ")
    assert set(organisatie.kenmerken.values_list("type__code", "waarde")) == {
        ("instellingscode", "31QQ"),
        ("bestuursnummer", "43210"),
        ("kvk_nummer", "41000001"),
    }
    account = Account.objects.get(email="h.hoekstra@zuiderlicht.example")
    assert set(account.beheerautorisaties.values_list("code", flat=True)) == {"vo", "rio_algemeen"}
    assert account.created_by is None and not account.has_usable_password()
    actions = set(AuditEvent.objects.filter(object_id=str(account.pk)).values_list("action", flat=True))
    assert {"account.create", "beheerautorisatie.grant", "import.row", "letter.write"} <= actions


def test_bad_rows_are_reported_per_row_in_dutch_and_import_nothing(tmp_path):
    rows = [
        _row(),  # good
        _row(instellingscode="1", beheerder_email="b@x.example", organisatie_naam="Foute Code"),
        _row(
            instellingscode="32QQ",
            bestuursnummer="",
            beheerautorisaties="vo;rio_algemeen",
            beheerder_email="c@x.example",
        ),
        _row(instellingscode="33QQ", beheerautorisaties="vo;bestaat_niet", beheerder_email="d@x.example"),
        _row(instellingscode="34QQ", beheerautorisaties="rio_selfservice", beheerder_email="e@x.example"),
        _row(instellingscode="35QQ", beheerder_email="geen-adres", organisatie_type="school"),
        _row(instellingscode="36QQ", beheerder_naam=""),
    ]
    report, error = _run(_write(tmp_path / "b.csv", rows), tmp_path / "l")
    assert error is not None and "6" in str(error)
    assert Organisatie.objects.count() == 1
    assert Account.objects.count() == 1
    blocks = dict(re.findall(r"rij (\d+): FOUT.*\n((?:    - .*\n)+)", report))
    assert set(blocks) == {"3", "4", "5", "6", "7", "8"}
    assert "instellingscode" in blocks["3"] and "twee cijfers" in blocks["3"]
    assert "bestuursnummer" in blocks["4"]
    assert "bestaat_niet" in blocks["5"]
    assert "RIO Selfservice" in blocks["6"]  # prerequisite PO/VO/BVE/HO
    assert "beheerder_email" in blocks["7"] and "organisatie_type" in blocks["7"]
    assert "beheerder_naam" in blocks["8"]
    # after fixing nothing, a second run still refuses the same rows and leaves the good one alone
    report2, _error = _run(_write(tmp_path / "b.csv", rows), tmp_path / "l")
    assert "rij 2: ongewijzigd" in report2


def test_missing_columns_stop_the_import_before_any_row(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("organisatie_naam,beheerder_email\nX,x@x.example\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Ontbrekende kolommen"):
        call_command(
            "import_beheerders", str(path), "--letters-dir", str(tmp_path / "l"), stdout=io.StringIO()
        )
    assert Organisatie.objects.count() == 0


def test_a_second_beheerder_of_the_same_organisation_and_added_beheerautorisaties(tmp_path):
    _run(
        _write(tmp_path / "a.csv", [_row(), _row(beheerder_email="tweede@zuiderlicht.example")]),
        tmp_path / "l",
    )
    assert Organisatie.objects.count() == 1
    assert Account.objects.count() == 2
    report, error = _run(
        _write(tmp_path / "a.csv", [_row(beheerautorisaties="vo;rio_algemeen;bekostiging")]), tmp_path / "l"
    )
    assert error is None and "bijgewerkt" in report
    account = Account.objects.get(email="h.hoekstra@zuiderlicht.example")
    assert set(account.beheerautorisaties.values_list("code", flat=True)) == {
        "vo",
        "rio_algemeen",
        "bekostiging",
    }


def test_letter_of_an_imported_beheerder_has_the_username_and_no_code(
    tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _run(_write(tmp_path / "a.csv", [_row()]), tmp_path / "l")
    account = Account.objects.get()
    text = PdfReader(tmp_path / "l" / f"gebruikersnaam-{account.username}.pdf").pages[0].extract_text()
    assert account.username in text
    code_mail = next(
        m for m in mail.outbox if "activatiecode" in m.subject.lower() or "activation" in m.subject.lower()
    )
    codes = set(re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", code_mail.body))
    assert codes, code_mail.body
    for code in codes:
        assert code not in text and code.replace("-", "") not in text


def test_dry_run_changes_nothing(tmp_path):
    report, error = _run(_write(tmp_path / "a.csv", [_row()]), tmp_path / "l", "--dry-run")
    assert error is None and "nieuw" in report
    assert Organisatie.objects.count() == 0 and Account.objects.count() == 0
    assert not (tmp_path / "l").exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"organisatie_naam": "Aanvaller BV"},
        {"kvk_nummer": "12345678"},
        {"organisatie_type": "bestuur"},
    ],
)
def test_a_row_whose_details_differ_from_the_matched_organisation_adds_no_beheerder(tmp_path, overrides):
    """One matching number (e.g. another organisation's instellingscode) must not be enough."""
    _run(_write(tmp_path / "first.csv", [_row()]), tmp_path / "letters")
    organisatie = Organisatie.objects.get(instellingscode="31QQ")
    beheerders_before = Account.objects.filter(organisatie=organisatie).count()
    row = _row(beheerder_naam="Mallory", beheerder_email="mallory@evil.example", **overrides)
    output, error = _run(_write(tmp_path / "second.csv", [row]), tmp_path / "letters")
    assert error is not None
    assert "wijken af" in output or "wijken af" in str(error)
    assert Account.objects.filter(organisatie=organisatie).count() == beheerders_before
    assert not Account.objects.filter(email="mallory@evil.example").exists()
