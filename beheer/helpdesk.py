"""The helpdesk's account screen (issue 15): what it reads in one go, and the writes behind its actions.

The helpdesk works for every organisation, so nothing here is scoped to a beheerder; the admin
views check the helpdesk permissions. Every write is audited twice on purpose, as in
``beheer.admin_actions``: the service's own security event, and an ``admin.change`` event with
the action and the reason the helpdesk typed.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.admin_audit import action_label, result_label, value_label
from accounts.audit import audit_log
from accounts.constants import AuditAction
from accounts.models import (
    Account,
    AuditEvent,
    BeheerautorisatieToekenning,
    EmailOutbox,
    RolToekenning,
)
from accounts.services import beheerautorisaties_set
from koppeling import services as koppel_services
from koppeling.lockout import identity_key, identity_key_label, pseudonym_short, username_key
from koppeling.models import KoppelAttemptCounter, Koppeling, UnlinkReason

from .constants import GebruikerStatus
from .selectors import ActivationCodeInfo, _with_status_inputs, account_status, activation_code_last
from .services import account_remove

AUDIT_EVENTS_SHOWN = 20
EMAILS_SHOWN = 20


@dataclass(frozen=True)
class Block:
    """One koppel counter that concerns the account: its username, or an identity that tried it."""

    kind: str  # "username" or "identity"
    label: str
    failures: int
    blocked_until: datetime | None

    @property
    def is_blocked(self) -> bool:
        return self.blocked_until is not None and self.blocked_until > timezone.now()


@dataclass(frozen=True)
class AccountCard:
    account: Account
    status: GebruikerStatus
    koppelingen: list[Koppeling]
    beheerautorisaties: list[BeheerautorisatieToekenning]
    rol_count: int
    blocks: list[Block]
    activation_code: ActivationCodeInfo | None
    emails: list[EmailOutbox]
    audit_events: list[AuditEvent]

    @property
    def active_koppeling(self) -> Koppeling | None:
        return next((koppeling for koppeling in self.koppelingen if koppeling.ended_at is None), None)

    @property
    def is_blocked(self) -> bool:
        return any(block.is_blocked for block in self.blocks)


def identity_label(koppeling: Koppeling) -> str:
    return f"{koppeling.legal_subject_id} / {pseudonym_short(koppeling.acting_subject_id)}"


_identity_label = identity_key_label


def account_blocks(*, account: Account) -> list[Block]:
    """The username's counter and the counters of the identities that tried it (two queries)."""
    identities = koppel_services.koppel_identities_for_username(username=account.username, account=account)
    own = username_key(account.username)
    keys = [own, *(identity_key(key) for key in identities)]
    counters = {counter.key: counter for counter in KoppelAttemptCounter.objects.filter(key__in=keys)}
    blocks = []
    for key in keys:
        counter = counters.get(key)
        if counter is None or (not counter.failures and counter.blocked_until is None):
            continue
        is_own = key == own
        blocks.append(
            Block(
                kind="username" if is_own else "identity",
                label=account.username if is_own else _identity_label(key[2:]),
                failures=counter.failures,
                blocked_until=counter.blocked_until,
            )
        )
    return blocks


def audit_events_about(*, account: Account, koppeling_ids: list[int]) -> Q:
    """The audit events about ``account``: it as object or actor, or one of its links as object."""
    about = Q(object_type=Account._meta.label, object_id=str(account.pk)) | Q(actor_id=account.pk)
    if koppeling_ids:
        about |= Q(object_type=Koppeling._meta.label, object_id__in=[str(pk) for pk in koppeling_ids])
    return about


def account_card(*, pk: int) -> AccountCard:
    """Everything the helpdesk needs for one call, in a constant number of queries (Account.DoesNotExist)."""
    account = _with_status_inputs(Account.objects.select_related("organisatie", "created_by")).get(pk=pk)
    koppelingen = list(
        Koppeling.objects.filter(account=account).select_related("ended_by").order_by("-created_at", "-pk")
    )
    beheerautorisaties = list(
        BeheerautorisatieToekenning.objects.filter(account=account)
        .select_related("beheerautorisatie", "granted_by")
        .order_by("beheerautorisatie__volgorde")
    )
    blocks = account_blocks(account=account)
    blocked = {account.username} if any(block.is_blocked for block in blocks) else set()
    audit_events = list(
        AuditEvent.objects.filter(
            audit_events_about(account=account, koppeling_ids=[koppeling.pk for koppeling in koppelingen])
        ).order_by("-created_at", "-id")[:AUDIT_EVENTS_SHOWN]
    )
    for koppeling in koppelingen:
        koppeling.pseudonym_short = pseudonym_short(koppeling.acting_subject_id)
    for event in audit_events:
        event.action_label, event.result_label = action_label(event.action), result_label(event.result)
    emails = list(EmailOutbox.objects.filter(account=account).order_by("-created_at", "-pk")[:EMAILS_SHOWN])
    for mail in emails:
        mail.label = value_label(mail.template)
    return AccountCard(
        account=account,
        status=account_status(account=account, blocked=blocked),
        koppelingen=koppelingen,
        beheerautorisaties=beheerautorisaties,
        rol_count=RolToekenning.objects.filter(account=account).count(),
        blocks=blocks,
        activation_code=activation_code_last(account=account),
        emails=list(
            EmailOutbox.objects.filter(account=account).order_by("-created_at", "-pk")[:EMAILS_SHOWN]
        ),
        audit_events=audit_events,
    )


# --- writes ----------------------------------------------------------------------------------


def _helpdesk_audit(
    *, request: HttpRequest, account: Account, action: str, reason: str = "", **extra
) -> None:
    detail = {"change": f"action:{action}", **extra}
    if reason:
        detail["reason"] = reason
    audit_log(action=AuditAction.ADMIN_CHANGE, request=request, obj=account, detail=detail)


def helpdesk_blocks_lift(
    *, account: Account, request: HttpRequest, reason: str = ""
) -> koppel_services.BlockLift:
    """Lift the username's block and those of the identities that tried it, as one audited action."""
    lift = koppel_services.koppel_blocks_lift(
        username=account.username, actor=request.user, request=request, reason=reason
    )
    _helpdesk_audit(request=request, account=account, action="lift_block", reason=reason)
    return lift


def helpdesk_code_send(*, account: Account, request: HttpRequest) -> EmailOutbox:
    """Send a new activation code (the previous one stops working when it arrives)."""
    if account.organisatie_id is None or not account.is_active or account.removed_at is not None:
        raise ValidationError(_("This account is not an active user: no activation code can be sent."))
    if Koppeling.objects.filter(account=account, ended_at__isnull=True).exists():
        raise ValidationError(_("This account is already linked. Undo the link first if the means is lost."))
    outbox = koppel_services.activation_code_send(account=account, issued_by=request.user, request=request)
    _helpdesk_audit(request=request, account=account, action="send_activation_code")
    return outbox


def helpdesk_link_undo(*, account: Account, request: HttpRequest, reason: str) -> Koppeling:
    """Undo the account's active link (lost or stolen means); the reason is audited."""
    koppeling = (
        Koppeling.objects.filter(account=account, ended_at__isnull=True).select_related("account").first()
    )
    if koppeling is None:
        raise ValidationError(_("This account has no eHerkenning link."))
    koppel_services.link_undo(
        koppeling=koppeling, reason=UnlinkReason.HELPDESK, actor=request.user, request=request
    )
    _helpdesk_audit(request=request, account=account, action="undo_link", reason=reason)
    return koppeling


def helpdesk_beheerautorisatie_revoke(
    *, account: Account, toekenning: BeheerautorisatieToekenning, request: HttpRequest, reason: str
) -> None:
    """Revoke one beheerautorisatie; the prerequisites of the rest are checked (ValidationError)."""
    if account.pk == request.user.pk:
        raise ValidationError(_("You cannot change your own beheerautorisaties."))
    remaining = [
        item.beheerautorisatie
        for item in BeheerautorisatieToekenning.objects.filter(account=account)
        .exclude(pk=toekenning.pk)
        .select_related("beheerautorisatie")
    ]
    beheerautorisaties_set(
        account=account, beheerautorisaties=remaining, granted_by=request.user, request=request
    )
    _helpdesk_audit(
        request=request,
        account=account,
        action="revoke_beheerautorisatie",
        reason=reason,
        beheerautorisatie_code=toekenning.beheerautorisatie.code,
    )


@transaction.atomic
def helpdesk_account_remove(*, account: Account, request: HttpRequest, reason: str) -> None:
    """Remove an account (``beheer.withdraw.account_remove``); helpdesk staff are not removed from here."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.removed_at is not None:
        raise ValidationError(_("This account has already been removed."))
    if account.is_staff or account.pk == request.user.pk:
        raise ValidationError(_("A helpdesk account cannot be removed here."))
    account_remove(
        account=account,
        actor=request.user,
        request=request,
        unlink_reason=UnlinkReason.HELPDESK,
        rol_reason="removed",
        detail={"reason": reason},
    )
    _helpdesk_audit(request=request, account=account, action="remove", reason=reason)
