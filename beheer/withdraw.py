"""Intrekken beheeraccount (seed 003, part 4): the helpdesk withdraws a beheer account as one action.

The form asks (4.1) whether the person keeps using the account as a user: "Ja > DUO verwijdert uw
beheerdersrol" (only the beheerautorisaties go), "Nee > DUO verwijdert uw account" (the account is
removed and its tokengenerator is sent back, so its TOTP devices go too).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.audit import audit_log
from accounts.constants import AuditAction
from accounts.models import Account, BeheerautorisatieToekenning, BeheerderFormulier
from accounts.services import beheerautorisaties_set
from koppeling.models import UnlinkReason

from .services import account_remove


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
        account_remove(
            account=account,
            actor=actor,
            request=request,
            unlink_reason=UnlinkReason.HELPDESK,
            rol_reason="withdrawn",
        )
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
