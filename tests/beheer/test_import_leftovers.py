"""import_beheerders after a killed run: the hidden ``.part`` letters it left are finished or removed by
the next run, and only those (docs/import_beheerders.md, "Letters of an interrupted run")."""

import fcntl
import os

import pytest

from accounts.models import Account
from tests.beheer.test_import import _row, _run, _write

pytestmark = pytest.mark.django_db

# A username of the portal's form that no account has: the letter of a transaction that never committed.
GONE = "XXXXXXXX"


def _stale(letters, username=GONE):
    letters.mkdir(parents=True, exist_ok=True)
    partial = letters / f".gebruikersnaam-{username}.pdf.part"
    partial.write_bytes(b"%PDF- letter of a rolled-back beheerder")
    return partial


def test_the_next_run_removes_a_killed_runs_letter_of_a_beheerder_who_was_not_imported(
    tmp_path, django_capture_on_commit_callbacks
):
    letters = tmp_path / "letters"
    partial = _stale(letters)
    # Not this import's own: other names, a username not of the portal's form, a subdirectory.
    others = [
        letters / ".notes.part",
        letters / ".gebruikersnaam-xxxxxxxx.pdf.part",
        letters / "brief.pdf.part",
    ]
    for path in others:
        path.write_bytes(b"keep")
    (letters / "oud").mkdir()
    nested = _stale(letters / "oud")
    with django_capture_on_commit_callbacks(execute=True):
        report, error = _run(_write(tmp_path / "rows.csv", [_row()]), letters)
    assert error is None, report
    assert not Account.objects.filter(username=GONE).exists()
    assert not partial.exists()
    assert "1 onafgemaakte brief van een afgebroken import verwijderd" in report
    assert all(path.read_bytes() == b"keep" for path in others)
    assert nested.exists()
    new = Account.objects.get(email="h.hoekstra@zuiderlicht.example")
    assert sorted(path.name for path in letters.glob("*.pdf")) == [f"gebruikersnaam-{new.username}.pdf"]


def test_the_next_run_names_a_letter_whose_beheerder_was_committed_before_the_kill(
    tmp_path, django_capture_on_commit_callbacks
):
    """Killed between the COMMIT and the rename: the beheerder exists, and a re-run (row "unchanged")
    writes no letter, so the left-over one is the beheerder's only letter and must not be removed."""
    letters = tmp_path / "letters"
    rows = _write(tmp_path / "rows.csv", [_row()])
    with django_capture_on_commit_callbacks(execute=False):  # the rename never runs
        report, error = _run(rows, letters)
    assert error is None, report
    account = Account.objects.get(email="h.hoekstra@zuiderlicht.example")
    partial = letters / f".gebruikersnaam-{account.username}.pdf.part"
    written = partial.read_bytes()
    assert not list(letters.glob("*.pdf"))

    with django_capture_on_commit_callbacks(execute=True):
        report, error = _run(rows, letters)
    assert error is None, report
    letter = letters / f"gebruikersnaam-{account.username}.pdf"
    assert letter.read_bytes() == written
    assert not partial.exists()
    assert f"Brief van een afgebroken import afgemaakt (de beheerder is geïmporteerd): {letter}" in report


def test_a_run_leaves_the_letters_of_an_import_that_is_still_running(
    tmp_path, django_capture_on_commit_callbacks
):
    letters = tmp_path / "letters"
    partial = _stale(letters)
    running = os.open(letters, os.O_RDONLY)
    try:
        fcntl.flock(running, fcntl.LOCK_SH)  # as a running import holds it
        with django_capture_on_commit_callbacks(execute=True):
            report, error = _run(_write(tmp_path / "rows.csv", [_row()]), letters)
        assert error is None, report
        assert partial.exists()  # may be a letter its transaction is about to name
    finally:
        os.close(running)
    with django_capture_on_commit_callbacks(execute=True):
        report, error = _run(_write(tmp_path / "rows.csv", [_row()]), letters)
    assert error is None, report
    assert not partial.exists()


def test_a_dry_run_leaves_the_letters_directory_alone(tmp_path):
    letters = tmp_path / "letters"
    partial = _stale(letters)
    report, error = _run(_write(tmp_path / "rows.csv", [_row()]), letters, "--dry-run")
    assert error is None, report
    assert partial.exists()
