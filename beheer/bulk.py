"""Bulk work in Autorisatiebeheer (issue 16 items 1 and 2): registering a file of users, and acting
on a selection of users in the list.

Each selected account goes through the one-at-a-time services (``beheer.services``), and each row
of a file is checked with their rules (and the form's) before and again right before it is
written, so a file or a selection can do nothing a beheerder could not do by hand; every success
and refusal lands in the audit trail per account. A file's checked rows are written in bulk with
the records the services would leave (audit events, outbox mails), falling back to the services
row by row when something changed in between. A refused row that tries to reach beyond her
authorisation (a role her beheerautorisaties do not cover, a kenmerk of another organisation) is
audited too, even though no account exists yet to hang it on.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower, Upper
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import AuditObject, audit_log, audit_log_bulk
from accounts.constants import AuditAction, AuditResult
from accounts.email import email_publish_deferred
from accounts.models import Account, Kenmerk, Rol, RolToekenning, generate_username

from . import selectors, services
from .forms import GebruikerForm
from .models import GebruikersUpload, GebruikersUploadFailure, GebruikersUploadStatus
from .uploads import COLUMN_NAMES, ParsedFile

UPLOAD_VALIDITY = timedelta(hours=24)
# Rows registered per transaction by the task (design.md §7 P8): written in bulk, a few statements a chunk.
RUN_CHUNK = 100
LANGUAGES = {
    "": "nl",
    "nl": "nl",
    "nederlands": "nl",
    "dutch": "nl",
    "en": "en",
    "engels": "en",
    "english": "en",
}


# --- roles, checked the way rol_assign checks them ------------------------------------------------


@dataclass
class RoleRefusal:
    """A role a row asked for that she may not hand out: audited as a refused rol.grant."""

    error_code: str
    rol_code: str = ""
    kenmerk: str = ""
    line: int | None = None


@dataclass
class RoleCatalogue:
    """What she may hand out, loaded once for a whole file."""

    covered: dict[str, Rol]
    other_rollen: set[str]
    kenmerken: dict[str, list[Kenmerk]]
    foreign_kenmerken: set[str]
    types_of: dict[int, set[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, *, beheerder: Account, kenmerk_values: Iterable[str] = ()) -> "RoleCatalogue":
        covered = {}
        types_of = {}
        for rol in selectors.rollen_for_beheerder(beheerder=beheerder):
            covered[rol.code.lower()] = rol
            covered.setdefault(rol.naam.lower(), rol)
            types_of[rol.pk] = {kenmerk_type.pk for kenmerk_type in rol.kenmerk_types.all()}
        other = set()
        for code, naam in Rol.objects.values_list("code", "naam"):
            other.update({code.lower(), naam.lower()})
        kenmerken = defaultdict(list)
        for kenmerk in selectors.kenmerken_for_beheerder(beheerder=beheerder):
            kenmerken[kenmerk.waarde.upper()].append(kenmerk)
        wanted = {value.upper() for value in kenmerk_values} - set(kenmerken)
        foreign = set()
        if wanted:
            # One IN over the upper-cased value, not an OR of iexact per value: SQLite refuses an
            # expression tree deeper than 1000 (a file with many unknown kenmerken).
            foreign = {
                value.upper()
                for value in Kenmerk.objects.annotate(waarde_upper=Upper("waarde"))
                .filter(waarde_upper__in=sorted(wanted))
                .exclude(organisatie_id=beheerder.organisatie_id)
                .values_list("waarde", flat=True)
            }
        return cls(
            covered=covered,
            other_rollen=other - set(covered),
            kenmerken=dict(kenmerken),
            foreign_kenmerken=foreign,
            types_of=types_of,
        )

    def resolve(
        self, rol_text: str, kenmerk_text: str
    ) -> tuple[tuple[Rol, Kenmerk] | None, str, RoleRefusal | None]:
        """One rol + kenmerk pair from a file: (the pair, "") or (None, Dutch error, refusal to audit)."""
        rol_key, kenmerk_key = rol_text.strip().lower(), kenmerk_text.strip().upper()
        if not rol_key:
            return None, _("The kenmerk %(kenmerk)s has no role.") % {"kenmerk": kenmerk_text}, None
        if not kenmerk_key:
            return None, _("The role %(rol)s has no kenmerk.") % {"rol": rol_text}, None
        rol = self.covered.get(rol_key)
        if rol is None:
            if rol_key in self.other_rollen:
                message = _("Your beheerautorisaties do not cover the role %(rol)s.") % {"rol": rol_text}
                return (
                    None,
                    message,
                    RoleRefusal("rol_not_covered", rol_code=rol_text[:64], kenmerk=kenmerk_text[:32]),
                )
            return None, _("Unknown role: %(rol)s.") % {"rol": rol_text}, None
        candidates = self.kenmerken.get(kenmerk_key)
        if not candidates:
            message = _("The kenmerk %(kenmerk)s does not belong to your organisation.") % {
                "kenmerk": kenmerk_text
            }
            error_code = (
                "kenmerk_other_organisation" if kenmerk_key in self.foreign_kenmerken else "kenmerk_not_own"
            )
            return None, message, RoleRefusal(error_code, rol_code=rol.code, kenmerk=kenmerk_text[:32])
        fitting = [kenmerk for kenmerk in candidates if kenmerk.type_id in self.types_of.get(rol.pk, set())]
        if not fitting:
            return (
                None,
                _("The role %(rol)s cannot be scoped with a kenmerk of type %(type)s.")
                % {"rol": rol.naam, "type": candidates[0].type.naam},
                None,
            )
        return (rol, fitting[0]), "", None


def role_refusals_audit(
    *, beheerder: Account, refusals: list[RoleRefusal], request: HttpRequest | None = None, upload=None
) -> None:
    """Audit each refused role of a file: a refused authorisation attempt is a security event (§6)."""
    for refusal in refusals:
        detail = {"error_code": refusal.error_code, "rol_code": refusal.rol_code, "kenmerk": refusal.kenmerk}
        if refusal.line is not None:
            detail["line"] = refusal.line
        if upload is not None:
            detail["upload"] = str(upload.pk)
        audit_log(
            action=AuditAction.ROL_GRANT,
            result=AuditResult.REFUSED,
            actor=beheerder,
            obj=None,
            request=request,
            detail=detail,
        )


def role_pair_check(*, rol: Rol, kenmerk: Kenmerk) -> None:
    """The kenmerk's type must be one the role can be scoped with (the rule rol_assign applies)."""
    if not rol.kenmerk_types.filter(pk=kenmerk.type_id).exists():
        raise ValidationError(
            _("The role %(rol)s cannot be scoped with a kenmerk of type %(type)s.")
            % {"rol": rol.naam, "type": kenmerk.type.naam}
        )


@transaction.atomic
def gebruiker_register_with_rollen(
    *,
    beheerder: Account,
    rollen: list[tuple[Rol, Kenmerk]],
    send_code: bool = False,
    request: HttpRequest | None = None,
    **fields: str,
) -> Account:
    """Register a user with their roles, all or nothing: a person is never left half set up.

    The single registration form and every row of a file take this path. ``rol_assign`` checks
    each role again; the caller has checked (and audited) the roles beforehand, so a refusal here
    means the beheerder lost a beheerautorisatie meanwhile, and the whole registration rolls back.
    """
    return _register_with_rollen(
        beheerder=beheerder, rollen=rollen, send_code=send_code, request=request, **fields
    )


def _register_with_rollen(
    *,
    beheerder: Account,
    rollen: list[tuple[Rol, Kenmerk]],
    send_code: bool = False,
    request: HttpRequest | None = None,
    **fields: str,
) -> Account:
    """``gebruiker_register_with_rollen`` inside the caller's transaction (which must be atomic)."""
    account = services.gebruiker_register(beheerder=beheerder, request=request, **fields)
    for rol, kenmerk in dict.fromkeys(rollen):
        services.rol_assign(beheerder=beheerder, account=account, rol=rol, kenmerk=kenmerk, request=request)
    if send_code:
        services.activation_code_request(beheerder=beheerder, account=account, request=request)
    return account


# --- the file of users --------------------------------------------------------------------------


def _form_data(row: dict) -> dict:
    return {
        "name": row["name"],
        "job_title": row["job_title"],
        "email": row["email"],
        "phone": row["phone"],
        "language": LANGUAGES.get(row["language"].strip().lower(), row["language"]),
    }


def upload_rows_validate(*, beheerder: Account, rows: list[dict]) -> list[RoleRefusal]:
    """Check every row as the registration form and the services would; return the refusals to audit.

    Sets ``errors`` (Dutch, per row) and ``role_ids`` on each row. The rules: the form's fields; an
    e-mail address once in the file and not yet among her organisation's users; each role covered by
    her beheerautorisaties, with a kenmerk of her own organisation of a type the role accepts.
    """
    catalogue = RoleCatalogue.load(
        beheerder=beheerder,
        kenmerk_values=[kenmerk for row in rows for _rol, kenmerk in row["roles"] if kenmerk],
    )
    labels = {name: str(field.label) for name, field in GebruikerForm.base_fields.items()}
    refusals: list[RoleRefusal] = []
    emails: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        errors = [message for message in row.get("errors", []) if message]
        row["role_ids"] = []
        data = _form_data(row)
        form = GebruikerForm(data)
        if form.is_valid():
            row["language"] = form.cleaned_data["language"]
            row["email"] = Account.objects.normalize_email(form.cleaned_data["email"].strip())
            emails[row["email"].lower()].append(row["line"])
        else:
            for name, messages in form.errors.items():
                label = labels.get(name, COLUMN_NAMES.get(name, name))
                errors.extend(f"{label}: {message}" for message in messages)
        for rol_text, kenmerk_text in row["roles"]:
            pair, message, refusal = catalogue.resolve(rol_text, kenmerk_text)
            if pair is None:
                errors.append(message)
                if refusal is not None:
                    refusal.line = row["line"]
                    refusals.append(refusal)
            elif [pair[0].pk, pair[1].pk] not in row["role_ids"]:
                row["role_ids"].append([pair[0].pk, pair[1].pk])
        row["errors"] = errors
    existing = set(
        Account.objects.filter(organisatie_id=beheerder.organisatie_id, removed_at__isnull=True)
        .annotate(email_lower=Lower("email"))
        .filter(email_lower__in=list(emails))
        .values_list("email_lower", flat=True)
    )
    for row in rows:
        key = row["email"].lower()
        if key not in emails:
            continue
        if key in existing:
            row["errors"].append(_("Your organisation already has a user with this e-mail address."))
        elif len(emails[key]) > 1:
            others = ", ".join(str(line) for line in emails[key] if line != row["line"])
            row["errors"].append(
                _("This e-mail address is in the file more than once (also on line %(lines)s).")
                % {"lines": others}
            )
    return refusals


def gebruikers_uploads_purge(*, now=None) -> int:
    """Delete expired uploads (of anyone): they hold personal data nobody will confirm. Daily by beat, and
    at each new upload; returns how many went."""
    # Not a file that is queued or running: its worker writes to it (or the resume sweep fails it,
    # keeping it one more period so its page can say what happened).
    deleted, _per_model = (
        GebruikersUpload.objects.filter(expires_at__lte=now or timezone.now())
        .exclude(status__in=[GebruikersUploadStatus.QUEUED, GebruikersUploadStatus.RUNNING])
        .delete()
    )
    return deleted


def gebruikers_upload_create(
    *, beheerder: Account, parsed: ParsedFile, filename: str, request: HttpRequest | None = None
) -> GebruikersUpload:
    """Keep a checked file for her preview and confirmation; audit it and its refused roles.

    Expired uploads (of anyone) are purged here: they hold personal data nobody will confirm.
    """
    now = timezone.now()
    gebruikers_uploads_purge(now=now)
    refusals = upload_rows_validate(beheerder=beheerder, rows=parsed.rows)
    upload = GebruikersUpload.objects.create(
        beheerder=beheerder,
        organisatie_id=beheerder.organisatie_id,
        filename=filename[:200],
        created_at=now,
        expires_at=now + UPLOAD_VALIDITY,
        rows=parsed.rows,
        total=sum(1 for row in parsed.rows if not row["errors"]),
    )
    audit_log(
        action=AuditAction.BULK_UPLOAD,
        actor=beheerder,
        obj=upload,
        request=request,
        detail={"rows": len(parsed.rows), "valid": upload.total},
    )
    role_refusals_audit(beheerder=beheerder, refusals=refusals, request=request, upload=upload)
    return upload


def gebruikers_upload_get(
    *, beheerder: Account, upload_id, request: HttpRequest | None = None
) -> GebruikersUpload:
    """Her own upload, not expired; DoesNotExist otherwise (someone else's is audited as refused)."""
    upload = GebruikersUpload.objects.filter(pk=upload_id).first()
    if upload is None:
        raise GebruikersUpload.DoesNotExist
    if upload.beheerder_id != beheerder.pk or upload.organisatie_id != beheerder.organisatie_id:
        audit_log(
            action=AuditAction.BULK_UPLOAD,
            result=AuditResult.REFUSED,
            actor=beheerder,
            obj=upload,
            request=request,
            detail={"error_code": "not_owner"},
        )
        raise GebruikersUpload.DoesNotExist
    return upload


def gebruikers_upload_confirm(
    *, beheerder: Account, upload: GebruikersUpload, send_codes: bool, request: HttpRequest | None = None
) -> None:
    """Her "yes, register these": hand the file to Celery once (a second confirmation changes nothing)."""
    from .tasks import gebruikers_upload_run_task

    now = timezone.now()
    if upload.expires_at <= now:
        raise ValidationError(_("This file has expired. Upload it again."), code="expired")
    if not upload.total:
        raise ValidationError(_("This file has no rows that can be registered."), code="empty")
    with transaction.atomic():
        claimed = GebruikersUpload.objects.filter(
            pk=upload.pk, beheerder=beheerder, status=GebruikersUploadStatus.PREVIEW
        ).update(
            status=GebruikersUploadStatus.QUEUED, send_codes=send_codes, confirmed_at=now, heartbeat_at=now
        )
        if not claimed:
            raise ValidationError(_("This file has already been confirmed."), code="confirmed")
        audit_log(
            action=AuditAction.BULK_REGISTER,
            actor=beheerder,
            obj=upload,
            request=request,
            detail={"rows": upload.total, "activation_mails": send_codes, "step": "confirmed"},
        )
        upload_id = str(upload.pk)
        transaction.on_commit(lambda: gebruikers_upload_run_task.delay(upload_id))


def _chunk_rights_recheck(*, beheerder: Account, rows: list[dict], upload: GebruikersUpload) -> list[dict]:
    """Her rights again, inside the chunk's transaction: the rows she may still register.

    Her beheerautorisaties are locked for the chunk (a revocation waits for it, or it sees the
    revocation), so a beheerautorisatie revoked while the file runs stops the grants of every later
    chunk: a row asking for a role no longer covered is refused (and audited), and when she is no
    beheerder at all any more, every row is.
    """
    from accounts.models import BeheerautorisatieToekenning

    held = list(
        BeheerautorisatieToekenning.objects.select_for_update()
        .filter(account=beheerder)
        .values_list("beheerautorisatie_id", flat=True)
    )
    if not rows:
        return rows
    if not held or not selectors.beheerder_is(account=beheerder):
        for row in rows:
            row["errors"] = [_("You are no longer a beheerder: this row was not registered.")]
        audit_log(
            action=AuditAction.BULK_REGISTER,
            result=AuditResult.REFUSED,
            actor=beheerder,
            obj=beheerder,
            detail={"reason_code": "uploader_not_beheerder", "upload": str(upload.pk)},
        )
        return []
    covered = set(Rol.objects.filter(beheerautorisaties__in=held).values_list("pk", flat=True))
    codes = dict(
        Rol.objects.filter(pk__in={p[0] for row in rows for p in row["role_ids"]}).values_list("pk", "code")
    )
    allowed, refusals = [], []
    for row in rows:
        uncovered = [pair for pair in row["role_ids"] if pair[0] not in covered]
        if not uncovered:
            allowed.append(row)
            continue
        row["errors"] = [
            _("Your beheerautorisaties do not cover the role %(rol)s.") % {"rol": codes.get(pair[0], "")}
            for pair in uncovered
        ]
        refusals.extend(
            RoleRefusal("rol_not_covered", rol_code=codes.get(pair[0], ""), line=row["line"])
            for pair in uncovered
        )
    role_refusals_audit(beheerder=beheerder, refusals=refusals, upload=upload)
    return allowed


# A file stopped (takeover found) this many times is failed instead of taken over again: a row that
# kills the worker each time (out of memory) must not loop for ever.
MAX_RUNS = 3


def upload_stale_before(*, now=None):
    """The moment before which a queued or running file's heartbeat means its worker is gone."""
    return (now or timezone.now()) - timedelta(seconds=settings.GEBRUIKERS_UPLOAD_STALE_SECONDS)


def upload_is_stale(*, upload: GebruikersUpload, now=None) -> bool:
    """Queued or running without a heartbeat for the stale threshold: its worker stopped."""
    if upload.status not in (GebruikersUploadStatus.QUEUED, GebruikersUploadStatus.RUNNING):
        return False
    beat = upload.heartbeat_at or upload.confirmed_at
    return beat is not None and beat < upload_stale_before(now=now)


def _upload_claim(*, upload_id, now) -> uuid.UUID | None:
    """Take the run's lease: a queued file, or a running one whose worker stopped. One winner.

    A conditional UPDATE: two workers (a redelivery and the beat's takeover) that race for one
    file both try it; PostgreSQL makes the second wait for the first's row lock and re-check the
    condition on the new row, whose heartbeat is fresh by then, so it updates nothing.
    """
    runner = uuid.uuid4()
    stale_before = upload_stale_before(now=now)
    claimed = (
        GebruikersUpload.objects.filter(pk=upload_id)
        .filter(
            Q(status=GebruikersUploadStatus.QUEUED)
            | Q(status=GebruikersUploadStatus.RUNNING, heartbeat_at__lt=stale_before)
            | Q(
                status=GebruikersUploadStatus.RUNNING,
                heartbeat_at__isnull=True,
                confirmed_at__lt=stale_before,
            )
        )
        .update(status=GebruikersUploadStatus.RUNNING, runner=runner, heartbeat_at=now, runs=F("runs") + 1)
    )
    return runner if claimed else None


def _upload_fail(*, upload: GebruikersUpload, runner, failure_code: str, detail: dict | None = None) -> None:
    """End a run that cannot go on: FAILED with the reason the page explains, audited (the helpdesk
    sees which file stopped, why, and how many of its users were registered)."""
    now = timezone.now()
    changes = {"status": GebruikersUploadStatus.FAILED, "finished_at": now, "failure_code": failure_code}
    if failure_code == GebruikersUploadFailure.EXPIRED:
        # The page must still say what happened and list the registered users (their usernames, for
        # the letters): keep the file one more validity period, then the purge takes it.
        changes["expires_at"] = now + UPLOAD_VALIDITY
    if not GebruikersUpload.objects.filter(pk=upload.pk, runner=runner).update(**changes):
        return
    for name, value in changes.items():
        setattr(upload, name, value)
    registered = sum(1 for result in upload.results.values() if "account_id" in result)
    audit_log(
        action=AuditAction.BULK_REGISTER,
        result=AuditResult.REFUSED
        if failure_code == GebruikersUploadFailure.UPLOADER_NOT_BEHEERDER
        else AuditResult.FAILURE,
        actor=upload.beheerder,
        obj=upload.beheerder if failure_code == GebruikersUploadFailure.UPLOADER_NOT_BEHEERDER else upload,
        detail={
            "reason_code": failure_code,
            "upload": str(upload.pk),
            "registered": registered,
            "not_registered": upload.total - registered,
            "runs": upload.runs,
            **(detail or {}),
        },
    )


def gebruikers_upload_run(*, upload_id) -> GebruikersUpload | None:
    """Register the valid rows of a confirmed file (the Celery task's work), or continue a stopped run.

    One runner at a time: the run starts by taking a lease (``_upload_claim``) — a queued file, or
    a running file whose heartbeat is older than the stale threshold (its worker died: OOM, deploy,
    kill -9). Every chunk's transaction locks the file's row and checks the lease is still this
    run's, so an old worker that was only slow, not dead, stops at its next chunk instead of
    registering next to its successor.

    The rows are checked again first (an address may have been registered, or a beheerautorisatie
    withdrawn, since the preview). Rows are registered in chunks of ``RUN_CHUNK`` (``_register_chunk``),
    one transaction each holding the chunk's accounts, roles, audit events, outbox mails, results
    and heartbeat: a chunk is all written and recorded, or not at all. A continuation registers
    only the rows without a result, so nobody is registered, mailed or audited twice. A file that
    expired or stopped ``MAX_RUNS`` times is failed instead (``_upload_fail``).
    The mails go through the outbox, published in chunks when the file is done (what a dead worker
    did not publish, the outbox sweep sends).
    """
    now = timezone.now()
    runner = _upload_claim(upload_id=upload_id, now=now)
    if runner is None:
        return None
    upload = GebruikersUpload.objects.select_related("beheerder").get(pk=upload_id)
    beheerder = upload.beheerder
    if upload.expires_at <= now:
        # Confirmed a day ago or more (a run that stopped, or a task delivered late): registering now
        # would surprise her, and the rows were checked against that day's state.
        _upload_fail(upload=upload, runner=runner, failure_code=GebruikersUploadFailure.EXPIRED)
        return upload
    if upload.runs > 1:
        if upload.runs > MAX_RUNS:
            _upload_fail(
                upload=upload, runner=runner, failure_code=GebruikersUploadFailure.STOPPED_REPEATEDLY
            )
            return upload
        audit_log(
            action=AuditAction.BULK_REGISTER,
            actor=beheerder,
            obj=upload,
            detail={"step": "resumed", "runs": upload.runs, "processed": len(upload.results)},
        )
    if not selectors.beheerder_is(account=beheerder) or beheerder.organisatie_id != upload.organisatie_id:
        _upload_fail(
            upload=upload, runner=runner, failure_code=GebruikersUploadFailure.UPLOADER_NOT_BEHEERDER
        )
        return upload
    rows = [dict(row) for row in upload.valid_rows if str(row["line"]) not in upload.results]
    refusals = upload_rows_validate(beheerder=beheerder, rows=rows)
    role_refusals_audit(beheerder=beheerder, refusals=refusals, upload=upload)
    rollen = {
        rol.pk: rol for rol in Rol.objects.filter(pk__in={p[0] for row in rows for p in row["role_ids"]})
    }
    kenmerken = {
        kenmerk.pk: kenmerk
        for kenmerk in Kenmerk.objects.filter(
            pk__in={p[1] for row in rows for p in row["role_ids"]}
        ).select_related("type")
    }
    with email_publish_deferred():
        for start in range(0, len(rows), RUN_CHUNK):
            with transaction.atomic():
                # The lease, checked under the row's lock for the whole chunk: a takeover waits for
                # this chunk to commit (and then sees a fresh heartbeat), or this run sees it lost.
                held = (
                    GebruikersUpload.objects.select_for_update()
                    .filter(pk=upload.pk, runner=runner, status=GebruikersUploadStatus.RUNNING)
                    .values_list("results", flat=True)
                    .first()
                )
                if held is None:
                    return None
                upload.results = held
                chunk = [row for row in rows[start : start + RUN_CHUNK] if str(row["line"]) not in held]
                valid = _chunk_rights_recheck(
                    beheerder=beheerder, rows=[row for row in chunk if not row["errors"]], upload=upload
                )
                try:
                    with transaction.atomic():
                        results = _register_chunk(
                            beheerder=beheerder,
                            rows=valid,
                            rollen=rollen,
                            kenmerken=kenmerken,
                            send_codes=upload.send_codes,
                        )
                except (IntegrityError, ValidationError, PermissionDenied):
                    # Something changed since the check (a username or e-mail address taken meanwhile):
                    # this chunk goes one row at a time through the services, each in its savepoint.
                    results = {
                        str(row["line"]): _register_one(
                            beheerder=beheerder,
                            row=row,
                            rollen=rollen,
                            kenmerken=kenmerken,
                            send_code=upload.send_codes,
                        )
                        for row in valid
                    }
                for row in chunk:
                    upload.results[str(row["line"])] = results.get(str(row["line"])) or {
                        "errors": row["errors"]
                    }
                upload.processed = len(upload.results)
                upload.heartbeat_at = timezone.now()
                GebruikersUpload.objects.filter(pk=upload.pk).update(
                    results=upload.results, processed=upload.processed, heartbeat_at=upload.heartbeat_at
                )
    upload.status = GebruikersUploadStatus.DONE
    upload.finished_at = timezone.now()
    if not GebruikersUpload.objects.filter(
        pk=upload.pk, runner=runner, status=GebruikersUploadStatus.RUNNING
    ).update(status=upload.status, finished_at=upload.finished_at, heartbeat_at=upload.finished_at):
        return None
    registered = sum(1 for result in upload.results.values() if "account_id" in result)
    audit_log(
        action=AuditAction.BULK_REGISTER,
        actor=beheerder,
        obj=upload,
        detail={
            "registered": registered,
            "refused": upload.total - registered,
            "step": "done",
            "runs": upload.runs,
        },
    )
    return upload


def gebruikers_uploads_resume(*, now=None) -> list[str]:
    """The files whose worker stopped (no heartbeat for the stale threshold): hand each to a worker
    that takes it over (``gebruikers_upload_run``); beat, every minute. Returns their ids.

    Also catches a confirmed file whose task was never delivered (the broker was down at the
    confirmation). Scheduling one twice is harmless: only one run can take the lease.
    """
    from .tasks import gebruikers_upload_run_task

    stale_before = upload_stale_before(now=now)
    ids = [
        str(pk)
        for pk in GebruikersUpload.objects.filter(
            Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True, confirmed_at__lt=stale_before),
            status__in=[GebruikersUploadStatus.QUEUED, GebruikersUploadStatus.RUNNING],
        ).values_list("pk", flat=True)
    ]
    for upload_id in ids:
        gebruikers_upload_run_task.delay(upload_id)
    return ids


def _register_one(*, beheerder: Account, row: dict, rollen: dict, kenmerken: dict, send_code: bool) -> dict:
    """One row through the services (``gebruiker_register_with_rollen``), in its own savepoint."""
    try:
        with transaction.atomic():
            account = _register_with_rollen(
                beheerder=beheerder,
                rollen=[(rollen[rol_pk], kenmerken[kenmerk_pk]) for rol_pk, kenmerk_pk in row["role_ids"]],
                send_code=send_code,
                name=row["name"],
                job_title=row["job_title"],
                email=row["email"],
                phone=row["phone"],
                language=row["language"],
            )
    except (ValidationError, PermissionDenied) as error:
        return {"errors": _messages(error)}
    return {"account_id": account.pk, "username": account.username}


def _unused_usernames(count: int) -> list[str]:
    """``count`` generated usernames no account has (one query per draw, not one per username)."""
    usernames: set[str] = set()
    while len(usernames) < count:
        draw = {generate_username() for _ in range(count - len(usernames))} - usernames
        taken = set(Account.objects.filter(username__in=draw).values_list("username", flat=True))
        usernames |= draw - taken
    return list(usernames)


def _register_chunk(
    *, beheerder: Account, rows: list[dict], rollen: dict, kenmerken: dict, send_codes: bool
) -> dict[str, dict]:
    """Register checked rows with a few statements per chunk instead of some twenty per row.

    The writes of ``gebruiker_register`` and ``rol_assign`` in bulk: the accounts (generated
    usernames, no usable password, created by her), their roles, one audit event per account and per
    role with the details those services record, and each confirmation mail through the outbox
    (``registered_email_queue``; the activation codes through ``activation_code_request``). The rows
    were checked moments before with the services' rules (``upload_rows_validate``); an e-mail
    address taken since then is caught here and the caller redoes the chunk row by row.
    """
    if not rows:
        return {}
    emails = [row["email"].lower() for row in rows]
    taken = (
        Account.objects.filter(organisatie_id=beheerder.organisatie_id, removed_at__isnull=True)
        .annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
    )
    if len(set(emails)) != len(emails) or taken.exists():
        raise ValidationError(_("Your organisation already has a user with this e-mail address."))
    organisatie = beheerder.organisatie
    accounts = Account.objects.bulk_create(
        [
            Account(
                username=username,
                organisatie=organisatie,
                name=row["name"].strip(),
                email=row["email"],
                job_title=row["job_title"].strip(),
                phone=row["phone"].strip(),
                language=row["language"],
                created_by=beheerder,
                password=make_password(None),
            )
            for username, row in zip(_unused_usernames(len(rows)), rows, strict=True)
        ]
    )
    label = Account._meta.label
    audit_log_bulk(
        action=AuditAction.ACCOUNT_CREATE,
        actor=beheerder,
        objects=[AuditObject(type=label, id=str(account.pk), repr=str(account)) for account in accounts],
    )
    granted: dict[tuple[int, int], list[Account]] = defaultdict(list)
    for account, row in zip(accounts, rows, strict=True):
        for rol_pk, kenmerk_pk in dict.fromkeys(tuple(pair) for pair in row["role_ids"]):
            granted[(rol_pk, kenmerk_pk)].append(account)
    RolToekenning.objects.bulk_create(
        [
            RolToekenning(account=account, rol_id=rol_pk, kenmerk_id=kenmerk_pk, granted_by=beheerder)
            for (rol_pk, kenmerk_pk), members in granted.items()
            for account in members
        ]
    )
    for (rol_pk, kenmerk_pk), members in granted.items():
        rol, kenmerk = rollen[rol_pk], kenmerken[kenmerk_pk]
        audit_log_bulk(
            action=AuditAction.ROL_GRANT,
            actor=beheerder,
            objects=[AuditObject(type=label, id=str(account.pk), repr=str(account)) for account in members],
            detail={"rol_code": rol.code, "kenmerk_code": kenmerk.type.code, "kenmerk": kenmerk.waarde},
        )
    for account in accounts:
        services.registered_email_queue(account=account, registered_by=beheerder)
        if send_codes:
            services.activation_code_request(beheerder=beheerder, account=account)
    return {
        str(row["line"]): {"account_id": account.pk, "username": account.username}
        for account, row in zip(accounts, rows, strict=True)
    }


def _messages(error: ValidationError | PermissionDenied) -> list[str]:
    if isinstance(error, ValidationError):
        return error.messages
    return [str(error)]


def upload_accounts(*, upload: GebruikersUpload) -> list[Account]:
    """The accounts a file registered, in the order of the file (for their letters)."""
    ids = [
        upload.results[str(row["line"])]["account_id"]
        for row in upload.rows
        if "account_id" in upload.results.get(str(row["line"]), {})
    ]
    if not ids:
        return []
    return selectors.accounts_for_letters(beheerder=upload.beheerder, ids=ids)


# --- actions on a selection in the list -----------------------------------------------------------


class SelectionAction:
    CODES = "activatiecodes"
    ASSIGN = "rol_toekennen"
    REVOKE = "rol_intrekken"
    LETTERS = "brieven"
    REMOVE = "verwijderen"


def selection_accounts(
    *, beheerder: Account, ids: list[int], action: str, request: HttpRequest | None = None
) -> list[Account]:
    """The selected accounts of her organisation in list order; DoesNotExist (audited) if one is not hers."""
    try:
        return selectors.accounts_for_letters(beheerder=beheerder, ids=ids)
    except Account.DoesNotExist:
        own = set(
            Account.objects.filter(organisatie_id=beheerder.organisatie_id, pk__in=ids).values_list(
                "pk", flat=True
            )
        )
        audit_log(
            action=AuditAction.BULK_ACTION,
            result=AuditResult.REFUSED,
            actor=beheerder,
            request=request,
            detail={
                "action": action,
                "error_code": "not_in_organisation",
                "ids": ",".join(str(pk) for pk in ids if pk not in own)[:200],
            },
        )
        raise


@dataclass
class SelectionOutcome:
    done: list[Account] = field(default_factory=list)
    refused: list[tuple[Account, str]] = field(default_factory=list)


def selection_apply(
    *,
    beheerder: Account,
    accounts: list[Account],
    action: str,
    rol: Rol | None = None,
    kenmerk: Kenmerk | None = None,
    request: HttpRequest | None = None,
) -> SelectionOutcome:
    """Do ``action`` to each selected account through the one-account service, each on its own.

    One account's refusal (a beheerder cannot be removed, a linked user needs no code) never stops
    the others; it is reported back by name. The services audit each success and each refused
    authorisation; a refusal they leave unaudited (outside her reach) is audited here, per account.
    """
    outcome = SelectionOutcome()
    toekenningen = {}
    if action == SelectionAction.REVOKE:
        toekenningen = {
            toekenning.account_id: toekenning
            for toekenning in RolToekenning.objects.filter(
                account__in=accounts, rol=rol, kenmerk=kenmerk
            ).select_related("rol", "kenmerk__type", "account")
        }
    with email_publish_deferred():
        for account in accounts:
            try:
                if action == SelectionAction.CODES:
                    services.activation_code_request(beheerder=beheerder, account=account, request=request)
                elif action == SelectionAction.ASSIGN:
                    services.rol_assign(
                        beheerder=beheerder, account=account, rol=rol, kenmerk=kenmerk, request=request
                    )
                elif action == SelectionAction.REVOKE:
                    if account.pk not in toekenningen:
                        raise ValidationError(_("This user does not have this role with this kenmerk."))
                    services.rol_revoke(
                        beheerder=beheerder, toekenning=toekenningen[account.pk], request=request
                    )
                elif action == SelectionAction.REMOVE:
                    services.gebruiker_remove(beheerder=beheerder, account=account, request=request)
                else:
                    raise ValueError(f"Unknown action {action!r}")
            except PermissionDenied as error:
                if action != SelectionAction.ASSIGN:  # rol_assign audits its own refusals
                    audit_log(
                        action=AuditAction.BULK_ACTION,
                        result=AuditResult.REFUSED,
                        actor=beheerder,
                        obj=account,
                        request=request,
                        detail={"action": action, "error_code": "not_within_reach"},
                    )
                outcome.refused.append((account, str(error)))
            except ValidationError as error:
                outcome.refused.append((account, " ".join(error.messages)))
            else:
                outcome.done.append(account)
    return outcome
