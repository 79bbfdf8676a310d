"""import_beheerders in bulk (design.md §7 P7): a constant number of statements per imported row, and a row
that fails while writing leaves nothing while the other rows of its chunk are imported."""

import string
from pathlib import Path

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, AuditEvent, EmailOutbox, Organisatie
from beheer import imports
from tests.beheer.test_import import _row, _run, _write

pytestmark = pytest.mark.django_db

# Per new beheerder: organisation, its kenmerken, account, beheerautorisaties, two outbox mails. The
# audit events of a chunk of rows are one INSERT, its transaction one BEGIN/COMMIT.
STATEMENTS_PER_ROW = 6


def _rows(count: int, offset: int) -> list[dict]:
    letters = string.ascii_uppercase
    return [
        _row(
            organisatie_naam=f"School {n}",
            instellingscode=f"{n // 676 % 100:02d}{letters[n // 26 % 26]}{letters[n % 26]}",
            bestuursnummer=f"{10000 + n:05d}",
            kvk_nummer=f"{40000000 + n:08d}",
            beheerder_naam=f"Beheerder {n}",
            beheerder_email=f"beheerder{n}@school{n}.example",
            beheerautorisaties="vo",
        )
        for n in range(offset, offset + count)
    ]


def _statements(tmp_path: Path, count: int, offset: int) -> int:
    path = _write(tmp_path / f"rows-{offset}.csv", _rows(count, offset))
    with CaptureQueriesContext(connection) as queries:
        # A letters directory per run: in the test's transaction no rename runs on commit, so a next run
        # in the same directory would first finish the previous run's .part letters (two statements a run).
        output, error = _run(path, tmp_path / f"letters-{offset}")
    assert error is None, output
    assert Account.objects.filter(email__endswith=f"@school{offset}.example").exists()
    return len(queries.captured_queries)


# On SQLite Django splits a bulk INSERT by the 999-variable limit, so the audit INSERT of a chunk becomes
# two statements at 20 rows: the count is PostgreSQL's (bench P7 runs there).
@pytest.mark.postgresql
def test_statements_per_imported_row_are_constant(tmp_path):
    five, ten, twenty = (_statements(tmp_path, n, offset) for n, offset in ((5, 100), (10, 200), (20, 300)))
    assert ten - five == 5 * STATEMENTS_PER_ROW
    assert twenty - ten == 10 * STATEMENTS_PER_ROW


@pytest.mark.postgresql
def test_statements_per_row_stay_constant_over_several_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(imports.BeheerdersImport, "CHUNK_ROWS", 4)
    eight, sixteen = (_statements(tmp_path, n, offset) for n, offset in ((8, 400), (16, 500)))
    # 8 more rows are 2 more chunks: 6 statements a row and a few a chunk, nothing that grows.
    assert sixteen - eight <= 8 * STATEMENTS_PER_ROW + 2 * 4


def test_a_row_failing_while_writing_leaves_nothing_and_its_chunk_is_imported(
    tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    real = imports.letter_pdf

    def letter_pdf(*, account):
        if account.name == "Beheerder 602":
            raise OSError("disk full")
        return real(account=account)

    monkeypatch.setattr(imports, "letter_pdf", letter_pdf)
    letters = tmp_path / "letters"
    with django_capture_on_commit_callbacks(execute=True):  # the letters get their names at the commit
        output, error = _run(_write(tmp_path / "rows.csv", _rows(5, 600)), letters)
    assert error is not None
    assert "disk full" in output
    imported = Account.objects.filter(email__contains="@school60")
    assert sorted(imported.values_list("name", flat=True)) == [f"Beheerder {n}" for n in (600, 601, 603, 604)]
    assert not Organisatie.objects.filter(naam="School 602").exists()
    assert not EmailOutbox.objects.filter(to="beheerder602@school602.example").exists()
    assert not AuditEvent.objects.filter(object_repr__contains="School 602").exists()
    # The letters written before the chunk was rolled back are gone: one letter per imported beheerder.
    assert sorted(path.name for path in letters.iterdir()) == sorted(
        f"gebruikersnaam-{account.username}.pdf" for account in imported
    )
    for account in imported:
        actions = set(AuditEvent.objects.filter(object_id=str(account.pk)).values_list("action", flat=True))
        assert {"account.create", "beheerautorisatie.grant", "import.row", "letter.write"} <= actions
    assert EmailOutbox.objects.filter(account__in=imported).count() == 2 * 4


def test_a_chunk_whose_audit_insert_fails_leaves_no_letter(tmp_path, monkeypatch):
    """The letters of a chunk that never commits are not left behind: a killed run or a failed audit
    INSERT must not leave PDFs with the usernames of accounts that do not exist."""

    def audit_insert_fails(*args, **kwargs):
        raise DatabaseError("audit insert failed")

    monkeypatch.setattr(AuditEvent.objects, "bulk_create", audit_insert_fails)
    letters = tmp_path / "letters"
    with pytest.raises(DatabaseError, match="audit insert failed"):
        _run(_write(tmp_path / "rows.csv", _rows(3, 700)), letters)
    assert not Account.objects.filter(email__contains="@school70").exists()
    assert list(letters.iterdir()) == []


def test_a_letter_has_its_name_only_once_its_chunk_committed(tmp_path, django_capture_on_commit_callbacks):
    letters = tmp_path / "letters"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        output, error = _run(_write(tmp_path / "rows.csv", _rows(2, 800)), letters)
    assert error is None, output
    assert not list(letters.glob("*.pdf"))  # still in the transaction of the test
    for callback in callbacks:
        callback()
    imported = Account.objects.filter(email__contains="@school80")
    assert sorted(path.name for path in letters.iterdir()) == sorted(
        f"gebruikersnaam-{account.username}.pdf" for account in imported
    )
