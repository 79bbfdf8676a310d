"""Intrekken beheeraccount (seed 003, part 4): the helpdesk withdraws a beheer account as one action.

The form asks (4.1) whether the person keeps using the account as a user: "Ja > DUO verwijdert uw
beheerdersrol" (only the beheerautorisaties go), "Nee > DUO verwijdert uw account" (the account is
removed and its tokengenerator is sent back, so its TOTP devices go too).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_log
from accounts.constants import AuditAction
from accounts.models import Account, BeheerautorisatieToekenning, BeheerderFormulier, RolToekenning
from accounts.services import beheerautorisaties_set
from koppeling import services as koppel_services
from koppeling.models import Koppeling, UnlinkReason


@transaction.atomic
def beheeraccount_withdraw(
    *,
    account: Account,
    keep_as_user: bool,
    actor: Account,
    reason: str,
    formulier: dict | None = None,
    request: HttpRequest | None = None,
) -> BeheerderFormulier:
    """Withdraw ``account``'s beheer account; record the form and audit it as one event.

    Every beheerautorisatie is revoked (and remembered as revoked, so an old import file cannot
    grant it back). Without 4.1, the account is also removed: its link undone, its roles revoked,
    its token devices deleted, ``removed_at`` set — a status, never a deletion.
    """
    account = Account.objects.select_for_update().get(pk=account.pk)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason.")})
    if account.pk == actor.pk:
        raise ValidationError(_("You cannot change your own beheerautorisaties."))
    if account.removed_at is not None:
        raise ValidationError(_("This account has already been removed."))
    codes = list(
        BeheerautorisatieToekenning.objects.filter(account=account).values_list(
            "beheerautorisatie__code", flat=True
        )
    )
    if not codes:
        raise ValidationError(_("This account holds no beheerautorisatie: it is no beheer account."))
    beheerautorisaties_set(account=account, beheerautorisaties=[], granted_by=actor, request=request)
    if not keep_as_user:
        account_remove(account=account, actor=actor, request=request, rol_reason="withdrawn")
    record = BeheerderFormulier.objects.create(
        account=account,
        kind=BeheerderFormulier.Kind.INTREKKING,
        keep_as_user=keep_as_user,
        reason=reason[:500],
        processed_by=actor,
        **(formulier or {}),
    )
    audit_log(
        action=AuditAction.BEHEERACCOUNT_WITHDRAW,
        actor=actor,
        obj=account,
        request=request,
        detail={
            "beheerautorisatie_code": ";".join(sorted(codes)),
            "keep_as_user": keep_as_user,
            "reason": reason[:500],
            "formulier_id": record.pk,
        },
    )
    return record


def account_remove(
    *,
    account: Account,
    actor: Account,
    request: HttpRequest | None,
    rol_reason: str,
    detail: dict | None = None,
) -> None:
    """Remove ``account``: a status, never a deletion (the audit trail keeps pointing at it).

    Everything that gives access goes, each audited, so that a later reactivation never silently
    restores it: the link is undone, the roles and beheerautorisaties revoked, the TOTP devices of a
    token user deleted (its tokengenerator is sent back). The one path for the helpdesk's "remove"
    and for Intrekken beheeraccount without 4.1. Call inside a transaction, with the row locked.
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for koppeling in Koppeling.objects.filter(account=account, ended_at__isnull=True).select_related(
        "account"
    ):
        koppel_services.link_undo(
            koppeling=koppeling, reason=UnlinkReason.HELPDESK, actor=actor, request=request
        )
    for toekenning in RolToekenning.objects.filter(account=account).select_related("rol", "kenmerk"):
        rol_detail = {
            "rol_code": toekenning.rol.code,
            "kenmerk": toekenning.kenmerk.waarde,
            "reason": rol_reason,
        }
        toekenning.delete()
        audit_log(action=AuditAction.ROL_REVOKE, actor=actor, obj=account, request=request, detail=rol_detail)
    if BeheerautorisatieToekenning.objects.filter(account=account).exists():
        beheerautorisaties_set(account=account, beheerautorisaties=[], granted_by=actor, request=request)
    TOTPDevice.objects.filter(user=account).delete()
    account.removed_at = timezone.now()
    account.is_active = False
    account.save(update_fields=["removed_at", "is_active"])
    audit_log(
        action=AuditAction.ACCOUNT_REMOVE, actor=actor, obj=account, request=request, detail=detail or {}
    )
