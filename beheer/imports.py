"""Bulk onboarding of beheerders from registration forms (design.md §3.1, docs/import_beheerders.md).

One CSV row is one form (seed 003). Each row is validated completely and imported all or nothing
(rows share a transaction in chunks, see ``rows_import``), so a bad row changes nothing and never
stops the good ones. Running the same file
twice changes nothing: an organisation is found again by its numbers, a beheerder by
organisation + e-mail address. Lookups of what already exists are done once for the whole file.
"""

import csv
import datetime
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.audit import audit_collect, audit_log
from accounts.constants import AuditAction, AuditResult, OrganisatieType
from accounts.models import (
    USERNAME_ALPHABET,
    USERNAME_LENGTH,
    Account,
    AuditEvent,
    Beheerautorisatie,
    BeheerautorisatieToekenning,
    BeheerderFormulier,
    Kenmerk,
    KenmerkType,
    Organisatie,
    generate_username,
)
from accounts.services import (
    beheerautorisatie_revoked_message,
    beheerautorisaties_set,
    beheerautorisaties_validate,
)
from koppeling import services as koppel_services

from .letters import letter_filename, letter_pdf
from .services import registered_email_queue

ORGANISATIE_COLUMNS = [
    "organisatie_type",
    "organisatie_type_anders",
    "organisatie_naam",
    "straat",
    "huisnummer",
    "postcode",
    "woonplaats",
    "instellingscode",
    "bestuursnummer",
    "gemeentecode",
    "crediteurnummer",
    "kvk_nummer",
    "rsin",
]
BEHEERDER_COLUMNS = ["beheerder_naam", "beheerder_functie", "beheerder_telefoon", "beheerder_email"]
# Question 2.2 and part 5 (the signature of the bevoegd gezag) of the form; optional columns, so that
# files made before they existed still import.
FORMULIER_COLUMNS = [
    "account_bestaand",
    "ondertekenaar_naam",
    "ondertekenaar_functie",
    "ondertekenaar_email",
    "ondertekening_plaats",
    "ondertekening_datum",
]
COLUMNS = [*ORGANISATIE_COLUMNS, *BEHEERDER_COLUMNS, "beheerautorisaties", "taal", *FORMULIER_COLUMNS]
OPTIONAL_COLUMNS = {"taal", *FORMULIER_COLUMNS}
YES_NO = {"ja": True, "nee": False, "": None}
REQUIRED = [
    "organisatie_type",
    "organisatie_naam",
    "straat",
    "huisnummer",
    "postcode",
    "woonplaats",
    *BEHEERDER_COLUMNS,
    "beheerautorisaties",
]
NUMBER_FIELDS = ["instellingscode", "bestuursnummer", "gemeentecode", "crediteurnummer", "kvk_nummer", "rsin"]
# Organisation numbers that also become the organisation's kenmerken (so its beheerder can scope roles).
KENMERK_FIELDS = ["instellingscode", "bestuursnummer", "gemeentecode", "crediteurnummer", "kvk_nummer"]


class Outcome:
    NEW = "nieuw"
    UPDATED = "bijgewerkt"
    UNCHANGED = "ongewijzigd"
    REFUSED = "geweigerd"
    ERROR = "fout"


@dataclass
class RowResult:
    line: int
    outcome: str
    organisatie: str = ""
    name: str = ""
    email: str = ""
    username: str = ""
    letter: str = ""
    new_organisatie: bool = False
    errors: list[str] = field(default_factory=list)


class _ChunkRetryError(Exception):
    """A row of a chunk failed while writing: roll the chunk back and import its rows one by one."""


class RowError(Exception):
    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


class RowRefusedError(RowError):
    """The row asks for what the helpdesk took away since (seed 003, "Intrekken beheeraccount")."""

    def __init__(self, messages: list[str], *, account: Account, codes: list[str]):
        super().__init__(messages)
        self.account = account
        self.codes = codes


def csv_rows_read(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Read the file (UTF-8, with or without Excel's BOM); return the header and (line, row) pairs."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        delimiter = "," if sample.count(",") >= sample.count("\t") else "\t"
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        reader.fieldnames = header
        rows = [
            (reader.line_num, {key: (value or "").strip() for key, value in row.items() if key})
            for row in reader
            if any((value or "").strip() for value in row.values() if isinstance(value, str))
        ]
    return header, rows


def header_check(header: list[str]) -> list[str]:
    missing = [name for name in COLUMNS if name not in header and name not in OPTIONAL_COLUMNS]
    unknown = [name for name in header if name not in COLUMNS]
    problems = []
    if missing:
        problems.append(_("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)})
    if unknown:
        problems.append(_("Unknown columns: %(columns)s.") % {"columns": ", ".join(unknown)})
    return problems


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [f"{name}: {message}" for name, errors in error.message_dict.items() for message in errors]
    return list(error.messages)


class BeheerdersImport:
    """Imports rows one by one with what it knows about the database loaded up front."""

    def __init__(self, *, letters_dir: Path | None, dry_run: bool = False):
        self.letters_dir = letters_dir
        self.dry_run = dry_run
        self.beheerautorisaties = {
            item.code: item for item in Beheerautorisatie.objects.prefetch_related("requires_one_of")
        }
        self.kenmerk_types = {item.code: item for item in KenmerkType.objects.all()}
        self.organisaties: dict[tuple[str, str], Organisatie] = {}
        self.beheerders: dict[tuple[int, str], Account] = {}
        self.removed: dict[tuple[int, str], Account] = {}
        self._usernames: list[str] = []

    # --- lookups, loaded once for the whole file ------------------------------------------------

    @staticmethod
    def _org_keys(values: dict) -> list[tuple[str, str]]:
        """The numbers that identify an organisation of this type (seed 003, "Bij 1.2 Organisatienummer")."""
        kind = values.get("organisatie_type", "")
        keys = []
        for name in ("instellingscode", "gemeentecode", "crediteurnummer"):
            if values.get(name):
                keys.append((name, values[name]))
        if kind == OrganisatieType.BESTUUR and values.get("bestuursnummer"):
            keys.append(("bestuur", values["bestuursnummer"]))
        if kind == OrganisatieType.ANDERS:
            keys += [(f"anders_{name}", values[name]) for name in ("kvk_nummer", "rsin") if values.get(name)]
        return keys

    def _remember(self, organisatie: Organisatie) -> None:
        for name in ("instellingscode", "gemeentecode", "crediteurnummer"):
            if getattr(organisatie, name):
                self.organisaties[(name, getattr(organisatie, name))] = organisatie
        if organisatie.type == OrganisatieType.BESTUUR and organisatie.bestuursnummer:
            self.organisaties[("bestuur", organisatie.bestuursnummer)] = organisatie
        if organisatie.type == OrganisatieType.ANDERS:
            for name in ("kvk_nummer", "rsin"):
                if getattr(organisatie, name):
                    self.organisaties[(f"anders_{name}", getattr(organisatie, name))] = organisatie

    def preload(self, rows: Iterable[dict]) -> None:
        """Fetch the organisations and beheerders the file may refer to, in a handful of queries."""
        rows = list(rows)
        wanted: dict[str, set[str]] = {name: set() for name in NUMBER_FIELDS}
        for row in rows:
            for name in NUMBER_FIELDS:
                if row.get(name):
                    wanted[name].add(row[name])
        for name, values in wanted.items():
            if values:
                for organisatie in Organisatie.objects.filter(**{f"{name}__in": values}):
                    self._remember(organisatie)
        organisatie_ids = {organisatie.pk for organisatie in self.organisaties.values()}
        emails = {row.get("beheerder_email", "").lower() for row in rows}
        for account in Account.objects.filter(organisatie_id__in=organisatie_ids).prefetch_related(
            "beheerautorisatie_toekenningen", "beheerautorisatie_intrekkingen__beheerautorisatie"
        ):
            if account.email.lower() not in emails:
                continue
            key = (account.organisatie_id, account.email.lower())
            if account.removed_at is None:
                self.beheerders[key] = account
            elif key not in self.removed or account.removed_at > self.removed[key].removed_at:
                self.removed[key] = account

    # --- one row ------------------------------------------------------------------------------

    def validate(self, values: dict) -> tuple[Organisatie, list[Beheerautorisatie], dict]:
        """Check one row completely; return its (possibly existing) organisation, autorisaties, account."""
        errors = []
        for name in REQUIRED:
            if not values.get(name):
                errors.append(_("%(column)s: this column is required.") % {"column": name})
        kind = values.get("organisatie_type", "").lower()
        if kind and kind not in OrganisatieType.values:
            errors.append(
                _("organisatie_type: %(value)s is not one of %(choices)s.")
                % {"value": kind, "choices": ", ".join(OrganisatieType.values)}
            )
        values["organisatie_type"] = kind
        if kind == OrganisatieType.ANDERS and not (values.get("kvk_nummer") or values.get("rsin")):
            errors.append(_("An organisation of type anders needs a kvk_nummer or rsin (to find it again)."))
        codes = [
            code.strip().lower() for code in values.get("beheerautorisaties", "").split(";") if code.strip()
        ]
        unknown = [code for code in codes if code not in self.beheerautorisaties]
        if unknown:
            errors.append(
                _("beheerautorisaties: unknown code(s) %(codes)s; known are: %(known)s.")
                % {"codes": ", ".join(unknown), "known": ", ".join(self.beheerautorisaties)}
            )
        chosen = [
            self.beheerautorisaties[code] for code in dict.fromkeys(codes) if code in self.beheerautorisaties
        ]
        email = values.get("beheerder_email", "")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                errors.append(
                    _("beheerder_email: %(value)s is not a valid e-mail address.") % {"value": email}
                )
        language = (values.get("taal") or "nl").lower()
        if language not in {"nl", "en"}:
            errors.append(_("taal: use nl or en."))

        matches = {id(org): org for key in self._org_keys(values) if (org := self.organisaties.get(key))}
        if len(matches) > 1:
            errors.append(
                _("The organisation numbers of this row belong to different existing organisations.")
            )
        organisatie = next(iter(matches.values()), None)
        if organisatie is not None and organisatie.pk is not None:
            errors += _existing_organisatie_differences(organisatie=organisatie, values=values)
        if organisatie is None and kind in OrganisatieType.values:
            organisatie = Organisatie(
                type=kind,
                type_anders=values.get("organisatie_type_anders", ""),
                naam=values.get("organisatie_naam", ""),
                straat=values.get("straat", ""),
                huisnummer=values.get("huisnummer", ""),
                postcode=values.get("postcode", "").upper(),
                woonplaats=values.get("woonplaats", ""),
                **{name: values.get(name, "") for name in NUMBER_FIELDS},
            )
            try:
                # Uniqueness is the database's job (IntegrityError below): the numbers were looked up already.
                organisatie.full_clean(validate_unique=False, validate_constraints=False)
            except ValidationError as error:
                errors += _messages(error)
        if organisatie is not None and chosen:
            try:
                beheerautorisaties_validate(organisatie=organisatie, beheerautorisaties=chosen)
            except ValidationError as error:
                errors += _messages(error)
        account_fields = {
            "name": values.get("beheerder_naam", ""),
            "job_title": values.get("beheerder_functie", ""),
            "phone": values.get("beheerder_telefoon", ""),
            "email": Account.objects.normalize_email(email),
            "language": language,
        }
        for name, limit in (
            ("beheerder_naam", 200),
            ("beheerder_functie", 200),
            ("beheerder_telefoon", 32),
            ("ondertekenaar_naam", 200),
            ("ondertekenaar_functie", 200),
            ("ondertekening_plaats", 100),
        ):
            if len(values.get(name, "")) > limit:
                errors.append(
                    _("%(column)s: at most %(limit)s characters.") % {"column": name, "limit": limit}
                )
        formulier = self._formulier_validate(values, errors)
        if organisatie is not None and not errors:
            errors += self._existing_account_check(organisatie, account_fields, chosen, formulier)
        if errors:
            raise RowError(errors)
        account_fields["formulier"] = formulier
        return organisatie, chosen, account_fields

    @staticmethod
    def _formulier_validate(values: dict, errors: list[str]) -> dict:
        """Question 2.2 and the signature of the bevoegd gezag (part 5), when the file has them."""
        has_account = values.get("account_bestaand", "").lower()
        if has_account not in YES_NO:
            errors.append(_("account_bestaand: use ja or nee."))
        signed_on = None
        text = values.get("ondertekening_datum", "")
        if text:
            for pattern in ("%d-%m-%Y", "%Y-%m-%d"):
                try:
                    signed_on = datetime.datetime.strptime(text, pattern).date()  # noqa: DTZ007 (a date)
                    break
                except ValueError:
                    continue
            if signed_on is None:
                errors.append(
                    _("ondertekening_datum: %(value)s is not a date (dd-mm-jjjj).") % {"value": text}
                )
            elif signed_on > timezone.localdate():
                errors.append(_("ondertekening_datum: the form cannot be signed in the future."))
        signature = [values.get(name, "") for name in FORMULIER_COLUMNS[1:]]
        if any(signature):
            for name in ("ondertekenaar_naam", "ondertekenaar_functie", "ondertekening_datum"):
                if not values.get(name):
                    errors.append(
                        _("%(column)s: required when the form's signature (part 5) is filled in.")
                        % {"column": name}
                    )
        signatory_email = values.get("ondertekenaar_email", "")
        if signatory_email:
            try:
                validate_email(signatory_email)
            except ValidationError:
                errors.append(
                    _("ondertekenaar_email: %(value)s is not a valid e-mail address.")
                    % {"value": signatory_email}
                )
        return {
            "has_account": YES_NO.get(has_account),
            "signatory_name": values.get("ondertekenaar_naam", ""),
            "signatory_job_title": values.get("ondertekenaar_functie", ""),
            "signatory_email": signatory_email,
            "signed_place": values.get("ondertekening_plaats", ""),
            "signed_on": signed_on,
        }

    def _existing_account_check(
        self, organisatie: Organisatie, account_fields: dict, chosen: list, formulier: dict
    ) -> list[str]:
        """Refuse what the helpdesk withdrew since the form; check question 2.2 against the accounts."""
        key = (organisatie.pk, account_fields["email"].lower())
        account = self.beheerders.get(key) if organisatie.pk is not None else None
        if account is None:
            removed = self.removed.get(key) if organisatie.pk is not None else None
            if removed is not None:
                raise RowRefusedError(
                    [
                        _(
                            "The account %(username)s of this beheerder was removed on %(date)s; "
                            "register the beheerder again in the admin."
                        )
                        % {
                            "username": removed.username,
                            "date": date_format(timezone.localtime(removed.removed_at), "d-m-Y"),
                        }
                    ],
                    account=removed,
                    codes=[item.code for item in chosen],
                )
            if formulier["has_account"]:
                return [
                    _(
                        "account_bestaand: the form says the beheerder already has an account, but "
                        "%(organisatie)s has no account with the e-mail address %(email)s; look the account "
                        "up in the admin."
                    )
                    % {"organisatie": organisatie.naam, "email": account_fields["email"]}
                ]
            return []
        have = {t.beheerautorisatie_id for t in account.beheerautorisatie_toekenningen.all()}
        revoked = [
            intrekking
            for intrekking in account.beheerautorisatie_intrekkingen.all()
            if intrekking.beheerautorisatie_id in {item.pk for item in chosen} - have
        ]
        if revoked:
            raise RowRefusedError(
                [beheerautorisatie_revoked_message(intrekking=item) for item in revoked],
                account=account,
                codes=[item.beheerautorisatie.code for item in revoked],
            )
        return []

    # Rows written in one transaction by ``rows_import``; a row that fails at write time sends its chunk
    # back to one transaction per row.
    CHUNK_ROWS = 50

    def rows_import(self, rows: list[tuple[int, dict]]) -> list[RowResult]:
        """Import (line, row) pairs in file order; the result of each row in the same order.

        Each row is validated and written as ``row_import`` does, but the rows of a chunk share one
        transaction and one INSERT of their audit events (design.md §7 P7: a transaction and six
        audit statements per row were a third of the import's time). Validation refuses almost every
        bad row before it writes anything; when a row still fails while writing (a number taken
        since, a letter that cannot be written), the whole chunk is rolled back, the letters it wrote
        removed, and its rows imported again one transaction per row, so that the failing row
        leaves nothing and the others are imported as usual. A letter gets its own name only when
        its chunk commits (``_letter_write``).
        """
        if self.dry_run:
            return [self.row_import(line, values) for line, values in rows]
        results: list[RowResult] = []
        for start in range(0, len(rows), self.CHUNK_ROWS):
            chunk = rows[start : start + self.CHUNK_ROWS]
            organisaties, beheerders = dict(self.organisaties), dict(self.beheerders)
            letters: list[Path] = []
            try:
                with transaction.atomic(), audit_collect():
                    chunk_results = [
                        self.row_import(line, values, chunk_letters=letters) for line, values in chunk
                    ]
            except _ChunkRetryError:
                self.organisaties, self.beheerders = organisaties, beheerders
                _letters_discard(letters)  # their accounts were rolled back; the rows get new usernames
                chunk_results = [self.row_import(line, values) for line, values in chunk]
            except BaseException:
                _letters_discard(letters)  # e.g. the chunk's audit INSERT failed: nothing was committed
                raise
            results += chunk_results
        return results

    def row_import(self, line: int, values: dict, *, chunk_letters: list[Path] | None = None) -> RowResult:
        """Import one row in its own transaction; or, with ``chunk_letters`` (``rows_import``), in the
        caller's transaction, raising ``_ChunkRetryError`` when a write fails."""
        result = RowResult(
            line=line,
            outcome=Outcome.ERROR,
            organisatie=values.get("organisatie_naam", ""),
            name=values.get("beheerder_naam", ""),
            email=values.get("beheerder_email", ""),
        )
        try:
            organisatie, chosen, account_fields = self.validate(values)
            if chunk_letters is not None:
                try:
                    account, outcome, new_organisatie = self._write(organisatie, chosen, account_fields)
                    if outcome == Outcome.NEW and self.letters_dir is not None:
                        result.letter = str(self._letter_write(account, written=chunk_letters))
                except (OSError, ValidationError, IntegrityError) as error:
                    raise _ChunkRetryError from error
            else:
                # The row's audit events are written with one INSERT at the end of its transaction.
                letters: list[Path] = []
                try:
                    with transaction.atomic():
                        with audit_collect():
                            account, outcome, new_organisatie = self._write(
                                organisatie, chosen, account_fields
                            )
                            if outcome == Outcome.NEW and self.letters_dir is not None and not self.dry_run:
                                # Inside the row's transaction: a beheerder whose letter could not be
                                # written is not imported (the report says why), so a re-run makes both.
                                result.letter = str(self._letter_write(account, written=letters))
                        if self.dry_run:
                            transaction.set_rollback(True)
                except BaseException:
                    _letters_discard(letters)
                    raise
        except RowRefusedError as error:
            result.outcome = Outcome.REFUSED
            result.username = error.account.username
            result.errors = error.messages
            if not self.dry_run:
                audit_log(
                    action=AuditAction.IMPORT_ROW,
                    result=AuditResult.REFUSED,
                    obj=error.account,
                    detail={"reason_code": "revoked", "beheerautorisatie_code": ";".join(error.codes)},
                )
            return result
        except RowError as error:
            result.errors = error.messages
            return result
        except OSError as error:
            result.errors = [_("Cannot write the letter: %(error)s") % {"error": error}]
            return result
        except (ValidationError, IntegrityError) as error:
            result.errors = (
                _messages(error) if isinstance(error, ValidationError) else [str(error).splitlines()[0]]
            )
            return result
        if not self.dry_run:
            self._remember(organisatie)
            self.beheerders[(organisatie.pk, account.email.lower())] = account
        result.outcome = outcome
        result.organisatie = organisatie.naam
        result.new_organisatie = new_organisatie
        result.username = account.username
        return result

    def _write(self, organisatie: Organisatie, chosen: list, account_fields: dict):
        account_fields = dict(account_fields)
        formulier = account_fields.pop("formulier", None) or {}
        account, outcome, new_organisatie = self._write_account(organisatie, chosen, account_fields)
        if outcome != Outcome.UNCHANGED and any(value not in (None, "") for value in formulier.values()):
            BeheerderFormulier.objects.create(
                account=account, source=BeheerderFormulier.Source.IMPORT, **formulier
            )
        return account, outcome, new_organisatie

    def _write_account(self, organisatie: Organisatie, chosen: list, account_fields: dict):
        new_organisatie = organisatie.pk is None
        if new_organisatie:
            organisatie.save()
            audit_log(action=AuditAction.ORGANISATIE_CREATE, obj=organisatie, detail={"source": "import"})
            Kenmerk.objects.bulk_create(
                [
                    Kenmerk(
                        organisatie=organisatie,
                        type=self.kenmerk_types[name],
                        waarde=getattr(organisatie, name),
                    )
                    for name in KENMERK_FIELDS
                    if getattr(organisatie, name) and name in self.kenmerk_types
                ],
                ignore_conflicts=True,
            )
        account = self.beheerders.get((organisatie.pk, account_fields["email"].lower()))
        if account is not None:
            have = {t.beheerautorisatie_id for t in account.beheerautorisatie_toekenningen.all()}
            if {item.pk for item in chosen} <= have:
                return account, Outcome.UNCHANGED, False
            current = [self.beheerautorisaties_by_pk[pk] for pk in have]
            # Add what the form asks for; never take away (withdrawal is its own form, seed 003).
            beheerautorisaties_set(account=account, beheerautorisaties=[*current, *chosen], granted_by=None)
            account.__dict__.pop("_prefetched_objects_cache", None)
            return account, Outcome.UPDATED, False
        account = Account.objects.create_user(
            username=self._username_unused(), organisatie=organisatie, **account_fields
        )
        audit_log(action=AuditAction.ACCOUNT_CREATE, obj=account, detail={"source": "import"})
        BeheerautorisatieToekenning.objects.bulk_create(
            [BeheerautorisatieToekenning(account=account, beheerautorisatie=item) for item in chosen]
        )
        for item in chosen:
            audit_log(
                action=AuditAction.BEHEERAUTORISATIE_GRANT,
                obj=account,
                detail={"beheerautorisatie_code": item.code, "source": "import"},
            )
        registered_email_queue(account=account, registered_by=None, is_beheerder=True)
        koppel_services.activation_code_send(account=account, issued_by=None)
        audit_log(action=AuditAction.IMPORT_ROW, obj=account, detail={"organisatie_id": organisatie.pk})
        return account, Outcome.NEW, new_organisatie

    def _username_unused(self) -> str:
        """A generated username not in use, checked a batch at a time (``unused_username`` checks
        one per query). The unique index stays the final guard against a username taken since."""
        if not self._usernames:
            candidates = {generate_username() for _ in range(self.USERNAME_BATCH)}
            taken = set(Account.objects.filter(username__in=candidates).values_list("username", flat=True))
            self._usernames = list(candidates - taken)
        return self._usernames.pop()

    USERNAME_BATCH = 200

    @property
    def beheerautorisaties_by_pk(self) -> dict[int, Beheerautorisatie]:
        return {item.pk: item for item in self.beheerautorisaties.values()}

    def _letter_write(self, account: Account, *, written: list[Path]) -> Path:
        """Write the account's letter under a temporary name that becomes its own when the transaction
        commits; return that name.

        Written before the commit, a failed write (disk full) still rolls the beheerder back; named
        only after it, a rolled-back chunk or a killed run never leaves a ``.pdf`` with the username
        of an account that does not exist (a killed run can leave hidden ``.part`` files). ``written``
        collects the temporary files, for the caller to remove when the transaction does not commit
        (``_letters_discard``).
        """
        path = self.letters_dir / letter_filename(account=account)
        partial = _letter_partial(path)
        written.append(partial)
        partial.write_bytes(letter_pdf(account=account))
        transaction.on_commit(lambda: partial.replace(path), robust=True)
        audit_log(action=AuditAction.LETTER_WRITE, obj=account, detail={"file": path.name})
        return path


def _letter_partial(path: Path) -> Path:
    """The temporary name of a letter until its transaction commits: hidden, and not a .pdf."""
    return path.with_name(f".{path.name}.part")


def _letters_discard(partials: list[Path]) -> None:
    for partial in partials:
        partial.unlink(missing_ok=True)


# ``_letter_partial`` of ``letter_filename``; ``letters_partials_tidy`` checks that they still agree.
_LETTER_PARTIAL_NAME = re.compile(
    rf"\.gebruikersnaam-([{USERNAME_ALPHABET}]{{{USERNAME_LENGTH}}})\.pdf\.part"
)


@dataclass
class LettersTidied:
    """What ``letters_partials_tidy`` did with the temporary letters an interrupted run left behind."""

    removed: list[Path] = field(default_factory=list)
    completed: list[Path] = field(default_factory=list)  # the letters' final names


def letters_partials_tidy(*, letters_dir: Path) -> LettersTidied:
    """Finish or remove the temporary letters (``_letter_partial``) that a killed run left in ``letters_dir``.

    Call only while no other import writes to ``letters_dir`` (the command holds an exclusive lock on
    the directory): every temporary letter is then left over, never one that a running transaction is
    about to name. Only hidden files of this import's own pattern (``.gebruikersnaam-<USERNAME>.pdf.part``,
    a username of the portal's form) directly in ``letters_dir`` are touched; nothing else there is.

    A temporary letter is either of a transaction that never committed (the run was killed before the
    COMMIT: its account does not exist, or the username was handed out again since), or of one that did
    commit when the run was killed before its ``on_commit`` rename. The second is the beheerder's only
    letter — a re-run finds the beheerder "unchanged" and writes none — so it gets its name now; it is
    recognised by the ``letter.write`` event committed with its account. Every other one is removed: a
    letter with the username of an account that does not exist must never be sent.
    """
    tidied = LettersTidied()
    partials: dict[str, Path] = {}
    with os.scandir(letters_dir) as entries:
        for entry in entries:
            match = _LETTER_PARTIAL_NAME.fullmatch(entry.name)
            if match and entry.is_file(follow_symlinks=False):
                partials[match.group(1)] = Path(entry.path)
    if not partials:
        return tidied
    accounts = {
        str(pk): username
        for pk, username in Account.objects.filter(username__in=partials).values_list("pk", "username")
    }
    written = {
        (accounts[object_id], (detail or {}).get("file"))
        for object_id, detail in AuditEvent.objects.filter(
            action=AuditAction.LETTER_WRITE,
            result=AuditResult.SUCCESS,
            object_type=Account._meta.label,
            object_id__in=list(accounts),
        ).values_list("object_id", "detail")
    }
    for username, partial in sorted(partials.items()):
        path = letters_dir / letter_filename(account=Account(username=username))
        if _letter_partial(path) != partial:  # the pattern above no longer matches letter_filename
            continue
        if (username, path.name) in written and not path.exists():
            partial.replace(path)
            tidied.completed.append(path)
        else:
            partial.unlink(missing_ok=True)
            tidied.removed.append(partial)
    return tidied


def _normalised_name(text: str) -> str:
    return " ".join((text or "").split()).casefold()


def _existing_organisatie_differences(*, organisatie: Organisatie, values: dict) -> list[str]:
    """Refuse a row whose organisation details differ from the existing organisation it matched.

    Rows come from registration forms filled in outside DUO. Matching on one number alone would let
    a form with another organisation's gemeentecode (say) add a beheerder to that organisation; so a
    matched organisation must agree on its type, its name and every number the row fills in. A real
    change of details goes through the helpdesk admin first.
    """
    differences = []
    if values.get("organisatie_type") != organisatie.type:
        differences.append("organisatie_type")
    if _normalised_name(values.get("organisatie_naam", "")) != _normalised_name(organisatie.naam):
        differences.append("organisatie_naam")
    for name in NUMBER_FIELDS:
        if values.get(name) and values[name] != getattr(organisatie, name):
            differences.append(name)
    if not differences:
        return []
    return [
        _(
            "The details of this row differ from the existing organisation %(naam)s (%(fields)s). "
            "Check the form, or change the organisation in the admin first."
        )
        % {"naam": organisatie.naam, "fields": ", ".join(differences)}
    ]
