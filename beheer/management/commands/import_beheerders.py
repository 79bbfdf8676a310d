"""python manage.py import_beheerders FILE.csv — bulk onboarding of beheerders (docs/import_beheerders.md)."""

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.email import email_publish_deferred
from beheer.imports import (
    BeheerdersImport,
    LettersTidied,
    Outcome,
    csv_rows_read,
    header_check,
    letters_partials_tidy,
)


@contextmanager
def letters_dir_claimed(letters_dir: Path, *, dry_run: bool) -> Iterator[LettersTidied | None]:
    """Hold a shared lock on ``letters_dir`` for the whole run; tidy it first when no other import runs.

    A killed run (``kill -9``, OOM) leaves the hidden ``.part`` letters of its open transaction behind
    (``BeheerdersImport._letter_write``). Age is no safe test of "left over": a chunk can wait on a lock
    for minutes, and a re-run right after the kill is the usual case. So every run holds a shared
    ``flock`` on the directory until it ends (the kernel drops it when the process dies, however it
    dies), and a run that starts tidies only when it gets the exclusive lock at once — no other import
    is writing there, so every ``.part`` of ours is left over. Otherwise it leaves them for a later run.
    The exclusive lock is turned into a shared one only after tidying and before this run writes a
    letter. (``flock`` is per machine: runs on two machines sharing one directory are not supported.)
    Yield what was tidied, or None when nothing could be (another import runs, or ``dry_run``).
    """
    if dry_run:
        yield None
        return
    letters_dir.mkdir(parents=True, exist_ok=True)
    lock = os.open(letters_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            tidied = None
        else:
            tidied = letters_partials_tidy(letters_dir=letters_dir)
        fcntl.flock(lock, fcntl.LOCK_SH)  # waits while a starting run tidies
        yield tidied
    finally:
        os.close(lock)  # releases the lock


class Command(BaseCommand):
    help = (
        "Import beheerder registration forms from a CSV file: creates organisations and beheerders, "
        "grants beheerautorisaties, sends the confirmation and activation-code e-mails and writes each "
        "new beheerder's username letter as PDF. Idempotent. See docs/import_beheerders.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV file, UTF-8, one registration form per row")
        parser.add_argument(
            "--letters-dir",
            type=Path,
            default=Path("letters"),
            help="where the username letters (PDF) are written; created if needed (default: ./letters)",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate and report only; change nothing")

    def handle(self, *args, file: Path, letters_dir: Path, dry_run: bool, **options):
        with translation.override("nl"):
            return self._handle(file=file, letters_dir=letters_dir, dry_run=dry_run)

    def _handle(self, *, file: Path, letters_dir: Path, dry_run: bool):
        if not file.is_file():
            raise CommandError(_("File not found: %(file)s") % {"file": file})
        started = time.monotonic()
        try:
            header, rows = csv_rows_read(file)
        except (UnicodeDecodeError, OSError) as error:
            raise CommandError(
                _("Cannot read %(file)s: %(error)s") % {"file": file, "error": error}
            ) from error
        problems = header_check(header)
        if problems:
            raise CommandError(" ".join(problems))
        if connection.vendor == "postgresql":
            # One transaction per row means one WAL flush per row; do not wait for it. A crash can
            # lose the last rows' commits, and running the (idempotent) import again restores them.
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO OFF")
        with letters_dir_claimed(letters_dir, dry_run=dry_run) as tidied:
            if tidied is not None:
                self._tidied_report(tidied)
            importer = BeheerdersImport(letters_dir=letters_dir, dry_run=dry_run)
            importer.preload(row for _line, row in rows)
            with email_publish_deferred():  # the mails go to the workers in chunks at the end
                results = importer.rows_import(rows)

        letter_label = _("letter")
        counts = {
            outcome: 0
            for outcome in (Outcome.NEW, Outcome.UPDATED, Outcome.UNCHANGED, Outcome.REFUSED, Outcome.ERROR)
        }
        for result in results:
            counts[result.outcome] += 1
            if result.outcome == Outcome.REFUSED:
                self.stdout.write(
                    self.style.ERROR(
                        _("row %(line)s: REFUSED username %(username)s  %(organisatie)s / %(email)s")
                        % {
                            "line": result.line,
                            "username": result.username,
                            "organisatie": result.organisatie,
                            "email": result.email,
                        }
                    )
                )
                for message in result.errors:
                    self.stdout.write(f"    - {message}")
                continue
            if result.outcome == Outcome.ERROR:
                self.stdout.write(
                    self.style.ERROR(
                        _("row %(line)s: ERROR %(organisatie)s / %(email)s")
                        % {"line": result.line, "organisatie": result.organisatie, "email": result.email}
                    )
                )
                for message in result.errors:
                    self.stdout.write(f"    - {message}")
                continue
            self.stdout.write(
                _("row %(line)s: %(outcome)s  username %(username)s  %(name)s <%(email)s>  %(organisatie)s")
                % {
                    "line": result.line,
                    "outcome": result.outcome,
                    "username": result.username or "-",
                    "name": result.name,
                    "email": result.email,
                    "organisatie": result.organisatie,
                }
                + (_(" (new organisation)") if result.new_organisatie else "")
                + (f"  {letter_label}: {result.letter}" if result.letter else "")
            )
        if counts[Outcome.REFUSED]:
            self.stdout.write(
                ngettext(
                    "%(count)s row refused: it asks for what the helpdesk has withdrawn since.",
                    "%(count)s rows refused: they ask for what the helpdesk has withdrawn since.",
                    counts[Outcome.REFUSED],
                )
                % {"count": counts[Outcome.REFUSED]}
            )
        self.stdout.write(
            _(
                "%(total)s rows: %(new)s new, %(updated)s updated, %(unchanged)s unchanged, "
                "%(errors)s with errors (%(seconds).1f s)%(dry)s."
            )
            % {
                "total": len(results),
                "new": counts[Outcome.NEW],
                "updated": counts[Outcome.UPDATED],
                "unchanged": counts[Outcome.UNCHANGED],
                "errors": counts[Outcome.ERROR],
                "seconds": time.monotonic() - started,
                "dry": _("; dry run, nothing changed") if dry_run else "",
            }
        )
        if counts[Outcome.ERROR] or counts[Outcome.REFUSED]:
            raise CommandError(
                _("%(errors)s row(s) were not imported; correct them and run the command again.")
                % {"errors": counts[Outcome.ERROR] + counts[Outcome.REFUSED]}
            )

    def _tidied_report(self, tidied: LettersTidied) -> None:
        if tidied.removed:
            count = len(tidied.removed)
            self.stdout.write(
                ngettext(
                    "%(count)s unfinished letter of an interrupted run removed (its beheerder was not "
                    "imported, or has the letter already).",
                    "%(count)s unfinished letters of an interrupted run removed (their beheerders were not "
                    "imported, or have the letter already).",
                    count,
                )
                % {"count": count}
            )
        for path in tidied.completed:
            self.stdout.write(
                _("Letter of an interrupted run completed (its beheerder was imported): %(letter)s")
                % {"letter": path}
            )
