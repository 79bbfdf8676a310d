"""Koppel services: activation codes, the koppel attempt, links and blocks.

CONTRACT: other parts call ``activation_code_send``, ``activation_code_issue``, ``link_create``,
``link_undo`` and ``koppel_block_lift`` (and the e-mail hook ``activation_code_email_context``);
keep their signatures.
"""

import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from accounts.email import email_queue
from accounts.hooks import access_withdrawn_send
from accounts.models import Account, AuditEvent, EmailOutbox

from . import codes
from .identity import EHerkenningIdentity
from .lockout import identity_key, lockout, username_key, username_text
from .models import ActivationCode, Koppeling, UnlinkReason

logger = logging.getLogger(__name__)

CODE_VALIDITY = timedelta(hours=24)
ACTIVATION_CODE_TEMPLATE = "koppeling/email/activation_code"
MAX_USERNAME_LENGTH = 64


class LinkRefusedError(Exception):
    """A link that may not be made; ``message`` is shown to the user as it is."""

    def __init__(self, message, *, reason: str):
        super().__init__(str(message))
        self.message = message
        self.reason = reason


# --- activation codes ------------------------------------------------------------------------


def activation_code_send(
    *, account: Account, issued_by: Account | None, request: HttpRequest | None = None
) -> EmailOutbox:
    """Queue the activation-code e-mail for ``account``; the code itself is issued at send time.

    The outbox row holds no secret: ``activation_code_email_context`` issues the code inside the
    sending transaction, so the plain code exists only in the worker's memory and in the message.
    The username is deliberately not in this mail: it reaches the user on paper, through the
    beheerder (seed 002 §1.1), so a mailbox alone is not enough to link an account.
    """
    outbox = email_queue(
        to=account.email,
        template=ACTIVATION_CODE_TEMPLATE,
        context={
            "name": account.name,
            "organisatie": account.organisatie.naam if account.organisatie_id else "",
            "valid_hours": int(CODE_VALIDITY.total_seconds() // 3600),
            "issued_by_id": issued_by.pk if issued_by is not None else None,
        },
        language=account.language,
        account=account,
    )
    audit_log(
        action=AuditAction.EMAIL_QUEUED,
        actor=issued_by,
        obj=account,
        request=request,
        detail={"template": ACTIVATION_CODE_TEMPLATE, "outbox_id": outbox.pk},
    )
    return outbox


def activation_code_email_context(*, outbox: EmailOutbox) -> dict:
    """E-mail secret hook (accounts.email.SECRET_HOOKS): issue a fresh code, return {"activation_code": …}.

    Runs inside the sending transaction: if the SMTP server refuses the message, the new code and
    the invalidation of the previous one roll back with it.
    """
    if outbox.account_id is None:
        raise ValueError("An activation-code e-mail needs its account.")
    issued_by = None
    issued_by_id = outbox.context.get("issued_by_id")
    if issued_by_id:
        issued_by = Account.objects.filter(pk=issued_by_id).first()
    account = Account.objects.get(pk=outbox.account_id)
    code = activation_code_issue(account=account, issued_by=issued_by)
    return {
        "activation_code": code,
        "valid_until": timezone.now() + CODE_VALIDITY,
    }


@transaction.atomic
def activation_code_issue(*, account: Account, issued_by: Account | None = None) -> str:
    """Create a new code for ``account`` (invalidating the previous one) and return it in plain text.

    Only the salted hash is stored. The failure counter of the username is left alone: a fresh
    code must not give an attacker (or an impatient beheerder) a fresh set of five tries.
    """
    # Serialise concurrent issues for one account; the partial unique index is the final guard.
    # FOR NO KEY UPDATE, not FOR UPDATE: the worker holds this lock during the SMTP exchange, and a
    # FOR UPDATE lock would make every INSERT referencing the account (outbox, audit) wait for it.
    Account.objects.select_for_update(no_key=True).filter(pk=account.pk).first()
    now = timezone.now()
    ActivationCode.objects.filter(account=account, used_at__isnull=True, invalidated_at__isnull=True).update(
        invalidated_at=now
    )
    code = codes.code_generate()
    activation_code = ActivationCode.objects.create(
        account=account,
        code_hash=codes.code_hash(codes.code_normalise(code)),
        created_at=now,
        expires_at=now + CODE_VALIDITY,
        issued_by=issued_by,
    )
    audit_log(
        action=AuditAction.CODE_ISSUED,
        actor=issued_by,
        obj=account,
        detail={"activation_id": activation_code.pk, "expires_at": activation_code.expires_at.isoformat()},
    )
    return code


def _activation_code_consume(*, activation_code: ActivationCode, now: datetime) -> bool:
    """Mark the code used with one conditional UPDATE, so that two parallel requests cannot both use it."""
    return (
        ActivationCode.objects.filter(
            pk=activation_code.pk, used_at__isnull=True, invalidated_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        == 1
    )


# --- the koppel attempt ----------------------------------------------------------------------


def username_normalise(text: str) -> str:
    """The form in which a typed username is looked up and counted: no spaces, upper case."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(text.split()).replace("-", "").upper()[:MAX_USERNAME_LENGTH]


@dataclass(frozen=True)
class KoppelResult:
    """The outcome of one koppel attempt. ``koppeling`` is set on success only.

    ``failed`` covers every case in which the username and code were not both right — unknown
    username, wrong code, expired, used or superseded code, a block — and the view answers them
    all with the same response. ``refused`` is set only after the username and code were right.
    """

    koppeling: Koppeling | None = None
    failed: bool = False
    refused: LinkRefusedError | None = None


def koppel_attempt(
    *,
    identity: EHerkenningIdentity,
    username: str,
    code: str,
    ip: str | None,
    terms_version: str = "",
    terms_accepted_at: datetime | None = None,
) -> KoppelResult:
    """Try to link ``identity`` to the account with ``username`` using activation ``code``.

    Order matters for what an attacker can learn (design.md §6): reserve a try on both counters
    first (identity, then username; see koppeling/lockout.py), then always run exactly one
    password-hash check (against a dummy hash when there is no usable code), and only after the
    username and code proved right, look at the link rules — so nothing about an account leaks
    to someone who does not hold its code.

    The identity counter counts every attempt the identity makes, also one against a blocked
    username. A refusal after the right code (link rules) consumes nothing and resets nothing: the
    code stays usable once the cause is fixed, and a known-good pair cannot be used to wipe the
    identity's count between guesses.
    """
    typed = username_normalise(username)
    canonical = codes.code_normalise(code) or ""
    detail = {"username": username_text(typed), "identity": identity.key}

    identity_reservation = lockout.reserve(identity_key(identity.key))
    # Looked up before the block checks so that a refused attempt names the account it tried: the
    # helpdesk finds it by username, and a lift of that account's block finds this identity.
    account = Account.objects.filter(username=typed).select_related("organisatie").first()
    if not identity_reservation.allowed:
        codes.code_check_blocked(canonical)  # the same hash work as an evaluated attempt: same timing
        _attempt_refused(account=account, detail={**detail, "reason": "identity_blocked"}, ip=ip)
        return KoppelResult(failed=True)
    if identity_reservation.started_block:
        audit_log(action=AuditAction.KOPPEL_BLOCKED, ip=ip, detail={"identity": identity.key})
    username_reservation = lockout.reserve(username_key(typed))
    if not username_reservation.allowed:
        codes.code_check_blocked(canonical)  # the same hash work as an evaluated attempt: same timing
        _attempt_refused(account=account, detail={**detail, "reason": "username_blocked"}, ip=ip)
        return KoppelResult(failed=True)

    now = timezone.now()
    # The same two queries whether the username exists or not (account id 0 never does), so that
    # the response time does not tell a real username from an unknown one.
    activation_code = (
        ActivationCode.objects.filter(
            account_id=account.pk if account is not None else 0,
            used_at__isnull=True,
            invalidated_at__isnull=True,
        )
        .order_by("-created_at")
        .first()
    )
    matches = codes.code_check(canonical, activation_code.code_hash if activation_code else None)
    valid = matches and activation_code is not None and activation_code.expires_at > now

    if not valid:
        if account is None:
            reason = "unknown_username"
        elif activation_code is None:
            reason = "no_open_code"
        elif not matches:
            reason = "wrong_code"
        else:
            reason = "expired_code"
        audit_log(
            action=AuditAction.KOPPEL_ATTEMPT,
            result=AuditResult.FAILURE,
            obj=account,
            ip=ip,
            detail={**detail, "reason": reason, "attempt": username_reservation.count},
        )
        if username_reservation.started_block:
            audit_log(
                action=AuditAction.KOPPEL_BLOCKED,
                obj=account,
                ip=ip,
                detail={"username": username_text(typed)},
            )
        return KoppelResult(failed=True)

    try:
        with transaction.atomic():
            koppeling = link_create(
                account=account,
                identity=identity,
                ip=ip,
                terms_version=terms_version,
                terms_accepted_at=terms_accepted_at,
            )
            if not _activation_code_consume(activation_code=activation_code, now=now):
                # Used by a parallel request between our read and now: the same answer as "used".
                raise _CodeGoneError
    except _CodeGoneError:
        audit_log(
            action=AuditAction.KOPPEL_ATTEMPT,
            result=AuditResult.FAILURE,
            obj=account,
            ip=ip,
            detail={**detail, "reason": "code_used_concurrently"},
        )
        return KoppelResult(failed=True)
    except LinkRefusedError as refusal:
        audit_log(
            action=AuditAction.KOPPEL_ATTEMPT,
            result=AuditResult.REFUSED,
            obj=account,
            ip=ip,
            detail={**detail, "reason": refusal.reason},
        )
        return KoppelResult(refused=refusal)

    lockout.reset(username_key(typed))
    lockout.reset(identity_key(identity.key))
    audit_log(action=AuditAction.KOPPEL_ATTEMPT, obj=account, ip=ip, detail=detail)
    return KoppelResult(koppeling=koppeling)


class _CodeGoneError(Exception):
    pass


def _attempt_refused(*, account: Account | None, detail: dict, ip: str | None) -> None:
    audit_log(
        action=AuditAction.KOPPEL_ATTEMPT, result=AuditResult.REFUSED, obj=account, ip=ip, detail=detail
    )


# --- links -----------------------------------------------------------------------------------


def link_create(
    *,
    account: Account,
    identity: EHerkenningIdentity,
    ip: str | None,
    terms_version: str = "",
    terms_accepted_at: datetime | None = None,
) -> Koppeling:
    """Bind ``identity`` to ``account`` after checking the link rules (design.md §6); raise LinkRefusedError.

    After the link, eHerkenning is the only way in (seed 001): the legacy token's TOTP devices are
    deleted and the password made unusable, in the same transaction. The user gets an e-mail
    notice, so a link they did not make themselves does not go unnoticed.
    """
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with transaction.atomic():
        account = (
            Account.objects.select_for_update(of=("self",)).select_related("organisatie").get(pk=account.pk)
        )
        if Koppeling.objects.filter(
            acting_subject_id=identity.acting_subject_id,
            legal_subject_id__in=identity.legal_subject_ids,
            ended_at__isnull=True,
        ).exists():
            raise LinkRefusedError(
                _(
                    "Your eHerkenning means is already linked to a Mijn DUO account. You cannot link it to "
                    "a second account. Log in with eHerkenning to use your account."
                ),
                reason="identity_linked",
            )
        if not account.is_active or account.removed_at is not None:
            raise LinkRefusedError(
                _("This Mijn DUO account is not active. Contact the beheerder of your organisation."),
                reason="account_inactive",
            )
        if Koppeling.objects.filter(account=account, ended_at__isnull=True).exists():
            raise LinkRefusedError(
                _(
                    "This Mijn DUO account is already linked to an eHerkenning means. If your means is "
                    "lost, stolen or defective, ask the beheerder of your organisation to undo the link."
                ),
                reason="account_linked",
            )
        legal_ids = account.organisatie.legal_subject_ids if account.organisatie_id else set()
        # The broker may send the KvK-nummer, the RSIN or both: the organisation matches on either.
        matching = [number for number in identity.legal_subject_ids if number in legal_ids]
        if legal_ids and not matching:
            raise LinkRefusedError(
                _(
                    "Your eHerkenning means was issued for another organisation (KvK-nummer or RSIN) than "
                    "the organisation of this Mijn DUO account. Log in with the eHerkenning authorisation "
                    "of the organisation of your account, or contact your beheerder."
                ),
                reason="legal_subject_mismatch",
            )
        now = timezone.now()
        try:
            with transaction.atomic():
                koppeling = Koppeling.objects.create(
                    account=account,
                    acting_subject_id=identity.acting_subject_id,
                    # The number the organisation is known by, so later logins find the link.
                    legal_subject_id=matching[0] if legal_ids else identity.legal_subject_id,
                    intermediate_entity_id=identity.intermediate_entity_id,
                    level=identity.level,
                    created_at=now,
                    created_ip=ip,
                    last_login_at=now,
                    terms_version=terms_version,
                    terms_accepted_at=terms_accepted_at,
                )
        except IntegrityError as error:
            # A parallel request linked the same identity (to another account) between our check and
            # this insert; the unique index on active links decides, and the answer is the same.
            raise LinkRefusedError(
                _(
                    "Your eHerkenning means is already linked to a Mijn DUO account. You cannot link it to "
                    "a second account. Log in with eHerkenning to use your account."
                ),
                reason="identity_linked",
            ) from error
        totp_removed, _ignored = TOTPDevice.objects.filter(user=account).delete()
        static_removed, _ignored = StaticDevice.objects.filter(user=account).delete()
        account.set_unusable_password()
        account.save(update_fields=["password"])
        audit_log(
            action=AuditAction.LINK_CREATE,
            actor=account,
            obj=koppeling,
            ip=ip,
            detail={
                "account_id": account.pk,
                "legal_subject_id": identity.legal_subject_id,
                "level": identity.level,
                "terms_version": terms_version,
                "legacy_devices_removed": totp_removed + static_removed,
            },
        )
        email_queue(
            to=account.email,
            template="koppeling/email/link_created",
            context={
                "name": account.name,
                "username": account.username,
                "linked_at": timezone.localtime(now).strftime("%d-%m-%Y %H:%M"),
                "legal_subject_id": identity.legal_subject_id,
                "company_name": identity.company_name,
            },
            language=account.language,
            account=account,
        )
    return koppeling


def link_undo(
    *, koppeling: Koppeling, reason: UnlinkReason, actor: Account | None, request: HttpRequest | None = None
) -> None:
    """End an active link (the account and its roles stay), audit it and e-mail the user a notice.

    A conditional UPDATE ends it, so that two parallel undos (beheerder and helpdesk, or the
    18-month job) audit and mail once. The user must walk the koppelproces again (seed 002 §1.5).
    """
    reason = UnlinkReason(reason)
    now = timezone.now()
    with transaction.atomic():
        ended = Koppeling.objects.filter(pk=koppeling.pk, ended_at__isnull=True).update(
            ended_at=now, ended_reason=reason.value, ended_by=actor
        )
        if not ended:
            return
        koppeling.ended_at, koppeling.ended_reason, koppeling.ended_by = now, reason.value, actor
        account = koppeling.account
        # End the account's live sessions at once: a lost or stolen means must not stay logged in
        # until its session expires. Django checks every session against a hash of the password
        # field, so a fresh unusable password invalidates them all (the account never has a usable
        # one once linked).
        account.set_unusable_password()
        account.save(update_fields=["password"])
        # The DUO services the user was handed to log them out too (back-channel logout, app diensten).
        access_withdrawn_send(account_ids=[account.pk], reason="unlinked")
        audit_log(
            action=AuditAction.LINK_UNDO,
            actor=actor,
            obj=koppeling,
            request=request,
            detail={"account_id": account.pk, "reason": reason.value},
        )
        email_queue(
            to=account.email,
            template="koppeling/email/link_undone",
            context={"name": account.name, "username": account.username, "reason": reason.value},
            language=account.language,
            account=account,
        )


# --- blocks ----------------------------------------------------------------------------------


def koppel_identities_for_username(*, username: str, account: Account | None = None) -> list[str]:
    """The eHerkenning identity keys that tried ``username`` within the lockout's reach, newest first.

    Read from the audit trail's koppel attempts (by the account as object, or by the typed username
    for attempts that named no account), since the identity's own counter does not say which
    usernames it tried. Only attempts young enough to still count (window + block) matter.
    """
    typed = username_normalise(username)
    since = timezone.now() - lockout.window - lockout.block
    about = Q(detail__username=username_text(typed))
    if account is not None:
        about |= Q(object_type=Account._meta.label, object_id=str(account.pk))
    keys: list[str] = []
    for detail in (
        AuditEvent.objects.filter(about, action=AuditAction.KOPPEL_ATTEMPT, created_at__gte=since)
        .order_by("-created_at", "-id")
        .values_list("detail", flat=True)
    ):
        key = (detail or {}).get("identity")
        if key and key not in keys:
            keys.append(key)
    return keys


def koppel_identities_trying_others(*, identities: list[str], username: str) -> set[str]:
    """Those of ``identities`` that also tried another username within the lockout's reach.

    Such an identity is not lifted with one username's block: it may be someone trying many
    usernames, and the helpdesk spoke with the holder of this one only.
    """
    if not identities:
        return set()
    since = timezone.now() - lockout.window - lockout.block
    return set(
        AuditEvent.objects.filter(
            action=AuditAction.KOPPEL_ATTEMPT, created_at__gte=since, detail__identity__in=identities
        )
        .exclude(detail__username=username_text(username_normalise(username)))
        .values_list("detail__identity", flat=True)
    )


@dataclass(frozen=True)
class BlockLift:
    """What one lift did: whether the username was blocked, which identities were lifted, and which
    were left alone because they also tried other usernames."""

    username_was_blocked: bool
    identities_lifted: list[str]
    identities_kept: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.username_was_blocked or bool(self.identities_lifted)


def koppel_block_lift(
    *, username: str, actor: Account, request: HttpRequest | None = None, reason: str = ""
) -> bool:
    """Lift the koppel block of ``username`` and of the identities that tried it (``koppel_blocks_lift``).

    Returns whether any block was lifted.
    """
    return bool(koppel_blocks_lift(username=username, actor=actor, request=request, reason=reason))


def koppel_blocks_lift(
    *, username: str, actor: Account, request: HttpRequest | None = None, reason: str = ""
) -> BlockLift:
    """Lift the koppel block of ``username`` and of every identity that tried it (only it); one audit event.

    A block is on two counters (design.md §6): the username and the eHerkenning identity that
    typed it. Lifting the username alone leaves the caller's own identity blocked, so their correct
    code would still be refused. The failure counts are reset too: after the helpdesk has spoken
    with the user they get five fresh tries. Truthy when any block was lifted.
    """
    typed = username_normalise(username)
    account = Account.objects.filter(username=typed).first()
    identities = koppel_identities_for_username(username=typed, account=account)
    others = koppel_identities_trying_others(identities=identities, username=typed)
    kept = [key for key in identities if key in others]
    with transaction.atomic():
        username_lifted = lockout.reset(username_key(typed))
        lifted_identities = [
            key for key in identities if key not in others and lockout.reset(identity_key(key))
        ]
        detail = {
            "username": username_text(typed),
            "was_blocked": username_lifted,
            "identities": ", ".join(identities),
            "identities_blocked": ", ".join(lifted_identities),
        }
        if kept:
            detail["identities_kept"] = ", ".join(kept)
        if reason:
            detail["reason"] = reason
        audit_log(action=AuditAction.KOPPEL_UNBLOCK, actor=actor, obj=account, request=request, detail=detail)
    return BlockLift(
        username_was_blocked=username_lifted, identities_lifted=lifted_identities, identities_kept=kept
    )


def koppel_identity_block_lift(
    *, identity: str, actor: Account, request: HttpRequest | None = None, reason: str = ""
) -> bool:
    """Lift the per-identity koppel block (``identity`` is ``EHerkenningIdentity.key``), audited."""
    lifted = lockout.reset(identity_key(identity))
    detail = {"identity": identity, "was_blocked": lifted}
    if reason:
        detail["reason"] = reason
    audit_log(action=AuditAction.KOPPEL_UNBLOCK, actor=actor, request=request, detail=detail)
    return lifted


__all__ = [
    "KoppelResult",
    "LinkRefusedError",
    "activation_code_email_context",
    "activation_code_issue",
    "activation_code_send",
    "koppel_attempt",
    "BlockLift",
    "koppel_block_lift",
    "koppel_blocks_lift",
    "koppel_identities_for_username",
    "koppel_identities_trying_others",
    "koppel_identity_block_lift",
    "link_create",
    "link_undo",
    "username_normalise",
]
