"""Writes for the user's own portal: Snel naar visit counts and Mijn gegevens (seed 002 §1.6–1.7)."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from .audit import audit_log
from .constants import AuditAction, AuditResult
from .email import email_queue
from .models import Account, EmailOutbox, EmailWijziging, OnderwerpBezoek, Rol

EMAIL_CHANGE_VALID = timedelta(hours=24)
# Each request mails an address the user typed: cap it, so the form cannot be used to spam.
EMAIL_CHANGE_DAILY_LIMIT = 5
EMAIL_CHANGE_TEMPLATE = "accounts/email/email_change_confirm"
EMAIL_CHANGED_NOTICE_TEMPLATE = "accounts/email/email_changed_notice"


def onderwerp_visit_count(*, account: Account, rol: Rol, now: datetime | None = None) -> None:
    """Count one visit of an Onderwerp for "Snel naar": one UPDATE, an INSERT only the first time."""
    now = now or timezone.now()
    updated = OnderwerpBezoek.objects.filter(account=account, rol=rol).update(
        count=F("count") + 1, last_visited_at=now
    )
    if updated:
        return
    try:
        with transaction.atomic():
            OnderwerpBezoek.objects.create(account=account, rol=rol, count=1, last_visited_at=now)
    except IntegrityError:  # a parallel first visit won the race: count on its row
        OnderwerpBezoek.objects.filter(account=account, rol=rol).update(
            count=F("count") + 1, last_visited_at=now
        )


def profile_update(
    *, account: Account, name: str, job_title: str, phone: str, request: HttpRequest | None = None
) -> list[str]:
    """Save the user's own name, functie and telefoon; audit which fields changed (not their values)."""
    changed = [
        field
        for field, value in (("name", name), ("job_title", job_title), ("phone", phone))
        if getattr(account, field) != value
    ]
    if not changed:
        return []
    for field, value in (("name", name), ("job_title", job_title), ("phone", phone)):
        setattr(account, field, value)
    account.save(update_fields=changed)
    audit_log(
        action=AuditAction.ACCOUNT_UPDATE,
        actor=account,
        obj=account,
        request=request,
        detail={"change": "profile", "fields": ",".join(changed)},
    )
    return changed


def email_changed_notice_queue(*, account: Account, old_email: str) -> None:
    """Tell the old address that the account's e-mail address changed (by the user or their beheerder),
    so that a changed address never goes unnoticed by its owner."""
    if old_email and old_email.lower() != account.email.lower():
        email_queue(
            to=old_email,
            template=EMAIL_CHANGED_NOTICE_TEMPLATE,
            context={"name": account.name},
            language=account.language,
            account=account,
        )


def _token_hash(token: str) -> str:
    # The token has 256 random bits, so a fast unsalted hash is enough to make a stolen table useless.
    return hashlib.sha256(token.encode()).hexdigest()


class EmailChangeLimitError(Exception):
    """The account asked for EMAIL_CHANGE_DAILY_LIMIT address changes in the last 24 hours."""


@transaction.atomic
def email_change_request(
    *, account: Account, new_email: str, request: HttpRequest | None = None, now: datetime | None = None
) -> EmailWijziging:
    """Start an e-mail change: the new address takes effect only once it confirms the mailed link.

    Confirming proves the user controls the new address (mail for their account, e.g. the
    activation code, must not go to a mistyped or someone else's address). A new request
    invalidates any open one, so only the latest link works.

    At most EMAIL_CHANGE_DAILY_LIMIT a day (each mails an address the user typed): counted under a
    lock on the account row, so parallel requests cannot all pass the count before any of them has
    inserted (raises EmailChangeLimitError; the caller's transaction then writes nothing).
    """
    now = now or timezone.now()
    Account.objects.select_for_update().filter(pk=account.pk).values_list("pk", flat=True).get()
    recent = EmailWijziging.objects.filter(account=account, created_at__gt=now - timedelta(hours=24)).count()
    if recent >= EMAIL_CHANGE_DAILY_LIMIT:
        raise EmailChangeLimitError
    EmailWijziging.objects.filter(
        account=account, confirmed_at__isnull=True, invalidated_at__isnull=True
    ).update(invalidated_at=now)
    wijziging = EmailWijziging.objects.create(
        account=account, new_email=new_email, created_at=now, expires_at=now + EMAIL_CHANGE_VALID
    )
    email_queue(
        to=new_email,
        template=EMAIL_CHANGE_TEMPLATE,
        context={"name": account.name, "wijziging_id": wijziging.pk, "valid_hours": 24},
        language=account.language,
        account=account,
    )
    audit_log(
        action=AuditAction.ACCOUNT_UPDATE,
        actor=account,
        obj=account,
        request=request,
        detail={"change": "email_change_requested"},
    )
    return wijziging


def email_change_email_context(*, outbox: EmailOutbox) -> dict:
    """E-mail secret hook: mint the confirmation token at send time and return its link.

    The token is never stored in the outbox (only its hash, on the change request). A resend
    mints a new token, so only the link in the last mail sent works.
    """
    token = secrets.token_urlsafe(32)
    updated = EmailWijziging.objects.filter(
        pk=outbox.context.get("wijziging_id"), confirmed_at__isnull=True, invalidated_at__isnull=True
    ).update(token_hash=_token_hash(token))
    if not updated:
        return {"confirm_url": ""}
    path = reverse("email_confirm", kwargs={"token": token})
    return {"confirm_url": f"{settings.SITE_URL}{path}"}


class EmailChangeError(Exception):
    """Why a confirmation link is refused: ``unknown``, ``expired`` or ``used``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def email_change_lookup(*, account: Account, token: str, now: datetime | None = None) -> EmailWijziging:
    """Return the open change request for this link, or raise EmailChangeError saying why not."""
    now = now or timezone.now()
    if not token or len(token) > 128:
        raise EmailChangeError("unknown")
    wijziging = EmailWijziging.objects.filter(account=account, token_hash=_token_hash(token)).first()
    if wijziging is None:
        raise EmailChangeError("unknown")
    if wijziging.confirmed_at is not None or wijziging.invalidated_at is not None:
        raise EmailChangeError("used")
    if wijziging.expires_at <= now:
        raise EmailChangeError("expired")
    return wijziging


def email_change_confirm(
    *, account: Account, token: str, request: HttpRequest | None = None, now: datetime | None = None
) -> Account:
    """Make the new address effective: the link is consumed atomically (single use) and audited.

    The link only works for the account that asked for it (the user must be logged in), and the
    old address gets a notice, so a hijacked session cannot silently take over the mail.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            wijziging = email_change_lookup(account=account, token=token, now=now)
            consumed = EmailWijziging.objects.filter(
                pk=wijziging.pk, confirmed_at__isnull=True, invalidated_at__isnull=True, expires_at__gt=now
            ).update(confirmed_at=now)
            if not consumed:  # a parallel request used it first
                raise EmailChangeError("used")
            old_email = account.email
            account.email = wijziging.new_email
            account.save(update_fields=["email"])
            email_changed_notice_queue(account=account, old_email=old_email)
            audit_log(
                action=AuditAction.ACCOUNT_UPDATE,
                actor=account,
                obj=account,
                request=request,
                detail={"change": "email_change_confirmed"},
            )
    except EmailChangeError as error:
        audit_log(
            action=AuditAction.ACCOUNT_UPDATE,
            result=AuditResult.REFUSED,
            actor=account,
            obj=account,
            request=request,
            detail={"change": "email_change_confirm", "reason_code": error.reason},
        )
        raise
    return account
