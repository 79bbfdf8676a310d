"""python manage.py import_tokengebruikers FILE.csv [--dry-run] — legacy token users from the old system."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.token_users import TokenOutcome, TokenUsersImport, token_csv_read, token_header_check


class Command(BaseCommand):
    help = (
        "Import legacy token users from a CSV export of the old system: columns gebruikersnaam, naam, "
        "email, organisatie (one of its numbers), wachtwoord_hash (a Django password hash) and "
        "totp_secret (base32). Every row is validated; idempotent; refused for linked accounts."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV file, UTF-8, one token user per row")
        parser.add_argument("--dry-run", action="store_true", help="validate and report only; change nothing")

    def handle(self, *args, file: Path, dry_run: bool, **options):
        with translation.override("nl"):
            return self._handle(file=file, dry_run=dry_run)

    def _handle(self, *, file: Path, dry_run: bool):
        if not file.is_file():
            raise CommandError(_("File not found: %(file)s") % {"file": file})
        try:
            header, rows = token_csv_read(file)
        except (UnicodeDecodeError, OSError, ValueError) as error:
            raise CommandError(
                _("Cannot read %(file)s: %(error)s") % {"file": file, "error": error}
            ) from error
        problems = token_header_check(header)
        if problems:
            raise CommandError(" ".join(problems))
        importer = TokenUsersImport(dry_run=dry_run)
        results = [importer.row_import(line, row) for line, row in rows]
        counts = dict.fromkeys(
            (TokenOutcome.NEW, TokenOutcome.UNCHANGED, TokenOutcome.REFUSED, TokenOutcome.ERROR), 0
        )
        for result in results:
            counts[result.outcome] += 1
            if result.errors:
                self.stdout.write(
                    self.style.ERROR(
                        _("row %(line)s: %(outcome)s %(username)s %(name)s")
                        % {
                            "line": result.line,
                            "outcome": result.outcome.upper(),
                            "username": result.username,
                            "name": result.name,
                        }
                    )
                )
                for message in result.errors:
                    self.stdout.write(f"    - {message}")
            else:
                self.stdout.write(
                    _("row %(line)s: %(outcome)s  username %(username)s  %(name)s")
                    % {
                        "line": result.line,
                        "outcome": result.outcome,
                        "username": result.username,
                        "name": result.name,
                    }
                )
        self.stdout.write(
            _(
                "%(total)s rows: %(new)s new, %(unchanged)s unchanged, %(refused)s refused, "
                "%(errors)s with errors%(dry)s."
            )
            % {
                "total": len(results),
                "new": counts[TokenOutcome.NEW],
                "unchanged": counts[TokenOutcome.UNCHANGED],
                "refused": counts[TokenOutcome.REFUSED],
                "errors": counts[TokenOutcome.ERROR],
                "dry": _("; dry run, nothing changed") if dry_run else "",
            }
        )
        failed = counts[TokenOutcome.REFUSED] + counts[TokenOutcome.ERROR]
        if failed:
            raise CommandError(
                _("%(errors)s row(s) were not imported; correct them and run the command again.")
                % {"errors": failed}
            )
