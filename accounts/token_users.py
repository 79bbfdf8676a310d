"""Legacy token users (username + password + TOTP) brought into the portal by the helpdesk.

Seed 001: existing users keep their token until their sector switches, and never after their
first eHerkenning login. The helpdesk either registers one in person — a temporary password to
change at the first login (accounts/token_login.py), and the user's token (TOTP device) enrolled
while the user is present, confirmed by a code from it, as for helpdesk staff — or imports many from a CSV
export of the old system (``manage.py import_tokengebruikers``). Both are audited, and both are
refused for an account that was ever linked to eHerkenning.
"""

import base64
import binascii
import csv
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, identify_hasher
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _

from .audit import audit_log
from .constants import AuditAction, AuditResult
from .models import USERNAME_ALPHABET, Account, Organisatie
from .selectors import account_ever_linked

TOKEN_DEVICE_NAME = "token"
PENDING_DEVICE_NAME = "token (enrolment)"
# RFC 4226 §4 R6: the shared secret is at least 128 bits.
TOTP_SECRET_MIN_BYTES = 16
TEMPORARY_PASSWORD_GROUPS = 4  # 4 × 4 characters from a 25-letter alphabet: about 74 bits


def temporary_password_generate() -> str:
    """A random password read out or handed over once; without look-alike characters."""
    return "-".join(
        "".join(secrets.choice(USERNAME_ALPHABET) for _ in range(4)) for _ in range(TEMPORARY_PASSWORD_GROUPS)
    )


def token_user_refusal(*, account: Account) -> str | None:
    """Why ``account`` cannot be (re)registered as a token user, in Dutch; None when it can."""
    if account.is_staff or account.organisatie_id is None:
        return _("A helpdesk account is not a token user.")
    if account.removed_at is not None or not account.is_active:
        return _("This account has been removed or is not active.")
    if account_ever_linked(account=account):
        return _(
            "This account has been linked to eHerkenning: from then on eHerkenning is its only way to "
            "log in, so no token can be registered."
        )
    return None


def _refuse(*, action: AuditAction, account: Account, actor, request, reason: str, **extra) -> None:
    audit_log(
        action=action,
        result=AuditResult.REFUSED,
        actor=actor,
        obj=account,
        request=request,
        detail={"reason_code": reason, **extra},
    )


def token_device_start(*, account: Account):
    """Create the unconfirmed TOTP device the user adds to their authenticator (any earlier attempt goes)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=account, name=PENDING_DEVICE_NAME, confirmed=False).delete()
    return TOTPDevice.objects.create(user=account, name=PENDING_DEVICE_NAME, confirmed=False)


@transaction.atomic
def token_user_register(
    *, account: Account, device, otp_token: str, actor: Account, request: HttpRequest | None = None
) -> str:
    """Register ``account`` as a token user while the user is present; return the temporary password.

    The device counts only when the code from the user's token generator matches it, so a mistyped
    enrolment locks nobody out. The account's other TOTP devices go (one token per account). The
    temporary password must be changed at the first token login.
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    account = Account.objects.select_for_update(of=("self",)).select_related("organisatie").get(pk=account.pk)
    refusal = token_user_refusal(account=account)
    if refusal is not None:
        _refuse(
            action=AuditAction.TOKEN_USER_REGISTER,
            account=account,
            actor=actor,
            request=request,
            reason="refused",
        )
        raise ValidationError(refusal)
    if device.user_id != account.pk or device.confirmed:
        raise ValidationError(_("Start the enrolment again."))
    if not device.verify_token((otp_token or "").strip()):
        _refuse(
            action=AuditAction.TOKEN_USER_REGISTER,
            account=account,
            actor=actor,
            request=request,
            reason="otp",
        )
        raise ValidationError({"otp_token": _("That code is not valid. Try the code the token shows now.")})
    TOTPDevice.objects.filter(user=account).exclude(pk=device.pk).delete()
    device.name = TOKEN_DEVICE_NAME
    device.confirmed = True
    device.save(update_fields=["name", "confirmed"])
    password = temporary_password_generate()
    account.set_password(password)
    account.password_change_required = True
    account.save(update_fields=["password", "password_change_required"])
    audit_log(action=AuditAction.TOKEN_USER_REGISTER, actor=actor, obj=account, request=request)
    return password


# --- the CSV export of the old system -----------------------------------------------------------

IMPORT_COLUMNS = ["gebruikersnaam", "naam", "email", "organisatie", "wachtwoord_hash", "totp_secret"]
# Only characters the audit search's username_normalise keeps (it drops white space and "-"): an imported
# username must be findable in the audit trail as it is.
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._]{2,31}$")
# Password hashes of the old system: only real password hashers (not this portal's hashers for activation
# codes and client secrets, which use few iterations on purpose), and PBKDF2 with at least Django 3.2's
# work factor.
IMPORTABLE_HASH_ALGORITHMS = ("pbkdf2_sha256", "argon2", "scrypt")
PBKDF2_MIN_ITERATIONS = 260_000
# Argon2 at least at OWASP's smallest recommended setting (19 MiB, two passes); scrypt at least at
# Django's own work factor (N = 2**14, r = 8).
ARGON2_MIN_MEMORY_KIB = 19_456
ARGON2_MIN_TIME_COST = 2
SCRYPT_MIN_WORK_FACTOR = 2**14
SCRYPT_MIN_BLOCK_SIZE = 8
# The organisation column holds one of its numbers; these identify an organisation on their own.
ORGANISATIE_NUMBER_FIELDS = [
    "instellingscode",
    "gemeentecode",
    "crediteurnummer",
    "kvk_nummer",
    "rsin",
    "bestuursnummer",
]


class TokenOutcome:
    NEW = "nieuw"
    UNCHANGED = "ongewijzigd"
    REFUSED = "geweigerd"
    ERROR = "fout"


@dataclass
class TokenRowResult:
    line: int
    outcome: str
    username: str = ""
    name: str = ""
    errors: list[str] = field(default_factory=list)


def token_csv_read(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Read the export (UTF-8, optional BOM, comma or semicolon); return the header and (line, row) pairs."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        reader.fieldnames = header
        rows = [
            (reader.line_num, {key: (value or "").strip() for key, value in row.items() if key})
            for row in reader
            if any((value or "").strip() for value in row.values() if isinstance(value, str))
        ]
    return header, rows


def token_header_check(header: list[str]) -> list[str]:
    problems = []
    missing = [name for name in IMPORT_COLUMNS if name not in header]
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    if missing:
        problems.append(_("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)})
    if unknown:
        problems.append(_("Unknown columns: %(columns)s.") % {"columns": ", ".join(unknown)})
    return problems


def totp_secret_to_hex(secret: str) -> str:
    """The base32 secret of an otpauth:// export as the hex key django-otp stores; ValueError if bad."""
    cleaned = re.sub(r"[\s-]", "", secret).upper().rstrip("=")
    if not cleaned or not re.fullmatch(r"[A-Z2-7]+", cleaned):
        raise ValueError("not base32")
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except binascii.Error as error:
        raise ValueError("not base32") from error
    if len(key) < TOTP_SECRET_MIN_BYTES:
        raise ValueError("too short")
    return key.hex()


def password_hash_check(encoded: str) -> None:
    """Accept only a hash in a format this installation's PASSWORD_HASHERS can verify."""
    if not encoded or encoded.startswith(UNUSABLE_PASSWORD_PREFIX):
        raise ValueError("empty")
    hasher = identify_hasher(encoded)  # ValueError for an unknown or unlisted algorithm
    if getattr(hasher, "algorithm", "") not in IMPORTABLE_HASH_ALGORITHMS:
        raise ValueError("not a password hasher")
    try:
        decoded = hasher.decode(encoded)
    except (ValueError, TypeError, IndexError, AssertionError) as error:
        raise ValueError("malformed") from error
    if hasher.algorithm == "pbkdf2_sha256" and decoded["iterations"] < PBKDF2_MIN_ITERATIONS:
        raise ValueError("too few iterations")
    if hasher.algorithm == "argon2" and (
        decoded["memory_cost"] < ARGON2_MIN_MEMORY_KIB or decoded["time_cost"] < ARGON2_MIN_TIME_COST
    ):
        raise ValueError("too little work")
    if hasher.algorithm == "scrypt" and (
        decoded["work_factor"] < SCRYPT_MIN_WORK_FACTOR or decoded["block_size"] < SCRYPT_MIN_BLOCK_SIZE
    ):
        raise ValueError("too little work")


class TokenUsersImport:
    """Validates every row completely; imports each good row in its own transaction."""

    def __init__(self, *, dry_run: bool = False):
        self.dry_run = dry_run
        self.seen: dict[str, int] = {}

    def organisatie_find(self, number: str) -> list[Organisatie]:
        query = Q()
        for name in ORGANISATIE_NUMBER_FIELDS:
            query |= Q(**{name: number})
        return list(Organisatie.objects.filter(query)[:2])

    def row_import(self, line: int, values: dict) -> TokenRowResult:
        username = values.get("gebruikersnaam", "").upper()
        result = TokenRowResult(
            line=line, outcome=TokenOutcome.ERROR, username=username, name=values.get("naam", "")
        )
        errors = []
        for name in IMPORT_COLUMNS:
            if not values.get(name):
                errors.append(_("%(column)s: this column is required.") % {"column": name})
        if username and not USERNAME_PATTERN.match(username):
            errors.append(
                _("gebruikersnaam: %(value)s is not a valid username (3 to 32 letters, digits, . _).")
                % {"value": username}
            )
        if username in self.seen:
            errors.append(
                _("gebruikersnaam: %(value)s already occurs on row %(line)s of this file.")
                % {"value": username, "line": self.seen[username]}
            )
        elif username:
            self.seen[username] = line
        email = Account.objects.normalize_email(values.get("email", ""))
        if email:
            try:
                validate_email(email)
            except ValidationError:
                errors.append(_("email: %(value)s is not a valid e-mail address.") % {"value": email})
        if len(values.get("naam", "")) > 200:
            errors.append(_("%(column)s: at most %(limit)s characters.") % {"column": "naam", "limit": 200})
        if values.get("wachtwoord_hash"):
            try:
                password_hash_check(values["wachtwoord_hash"])
            except ValueError as error:
                if str(error) == "too few iterations":
                    errors.append(
                        _(
                            "wachtwoord_hash: pbkdf2_sha256 with fewer than %(minimum)s iterations "
                            "is too weak."
                        )
                        % {"minimum": PBKDF2_MIN_ITERATIONS}
                    )
                elif str(error) == "too little work":
                    errors.append(
                        _(
                            "wachtwoord_hash: argon2 needs at least %(memory)s KiB and %(passes)s passes, "
                            "scrypt at least N=%(n)s and r=%(r)s: this hash is too weak."
                        )
                        % {
                            "memory": ARGON2_MIN_MEMORY_KIB,
                            "passes": ARGON2_MIN_TIME_COST,
                            "n": SCRYPT_MIN_WORK_FACTOR,
                            "r": SCRYPT_MIN_BLOCK_SIZE,
                        }
                    )
                else:
                    errors.append(
                        _(
                            "wachtwoord_hash: not a password hash in a format this portal can verify "
                            "(pbkdf2_sha256$…, argon2$… or scrypt$…)."
                        )
                    )
        key = ""
        if values.get("totp_secret"):
            try:
                key = totp_secret_to_hex(values["totp_secret"])
            except ValueError:
                errors.append(
                    _("totp_secret: not a base32 secret of at least %(bits)s bits.")
                    % {"bits": TOTP_SECRET_MIN_BYTES * 8}
                )
        organisatie = None
        if values.get("organisatie"):
            found = self.organisatie_find(values["organisatie"])
            if not found:
                errors.append(
                    _(
                        "organisatie: no organisation has the number %(value)s; "
                        "register it in the admin first."
                    )
                    % {"value": values["organisatie"]}
                )
            elif len(found) > 1:
                errors.append(
                    _(
                        "organisatie: the number %(value)s belongs to more than one organisation; "
                        "use its instellingscode, gemeentecode or crediteurnummer."
                    )
                    % {"value": values["organisatie"]}
                )
            else:
                organisatie = found[0]
        if errors:
            result.errors = errors
            return result
        existing = Account.objects.filter(username__iexact=username).first()
        if existing is not None:
            return self._existing(result, existing, organisatie=organisatie, email=email)
        same_person = Account.objects.filter(
            organisatie=organisatie, email__iexact=email, removed_at__isnull=True
        ).first()
        if same_person is not None:
            result.errors = [
                _(
                    "email: %(organisatie)s already has the account %(username)s with this e-mail address; "
                    "register the token on that account in the admin."
                )
                % {"organisatie": organisatie.naam, "username": same_person.username}
            ]
            return result
        try:
            with transaction.atomic():
                account = self._write(
                    username=username,
                    name=values["naam"],
                    email=email,
                    organisatie=organisatie,
                    password_hash=values["wachtwoord_hash"],
                    key=key,
                )
                if self.dry_run:
                    transaction.set_rollback(True)
        except IntegrityError:
            result.errors = [_("gebruikersnaam: %(value)s is already taken.") % {"value": username}]
            return result
        result.outcome = TokenOutcome.NEW
        result.username = account.username
        return result

    def _existing(
        self, result: TokenRowResult, account: Account, *, organisatie, email: str
    ) -> TokenRowResult:
        """A username that exists already: the same token user again changes nothing (idempotent)."""
        if account.organisatie_id != organisatie.pk or account.email.lower() != email.lower():
            result.errors = [
                _("gebruikersnaam: %(value)s already belongs to another account in the portal.")
                % {"value": account.username}
            ]
            return result
        refusal = token_user_refusal(account=account)
        if refusal is not None:
            result.outcome = TokenOutcome.REFUSED
            result.errors = [refusal]
            if not self.dry_run:
                _refuse(
                    action=AuditAction.TOKEN_USER_IMPORT,
                    account=account,
                    actor=None,
                    request=None,
                    reason="refused",
                )
            return result
        result.outcome = TokenOutcome.UNCHANGED
        return result

    def _write(self, *, username, name, email, organisatie, password_hash, key) -> Account:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        account = Account(
            username=username, name=name, email=email, organisatie=organisatie, password=password_hash
        )
        account.save()
        TOTPDevice.objects.create(user=account, name=TOKEN_DEVICE_NAME, key=key, confirmed=True)
        audit_log(action=AuditAction.ACCOUNT_CREATE, obj=account, detail={"source": "token_import"})
        audit_log(
            action=AuditAction.TOKEN_USER_IMPORT, obj=account, detail={"organisatie_id": organisatie.pk}
        )
        return account
