"""Helpdesk actions on accounts (accounts.admin.AccountAdmin), through the same services as the screens.

Each action is audited twice on purpose: the service writes the security event itself (code
issued, link undone, block lifted, beheerautorisatie revoked) and the action adds an
``admin.change`` event that says the helpdesk did it from the admin, with the reason.

Every bulk action first shows a confirmation page (``helpdesk_admin.bulk_confirmation``) that
lists the selected accounts and asks a reason; the action's POST from the list changes nothing.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_confirm import bulk_confirmation
from accounts.audit import audit_log
from accounts.constants import AuditAction
from accounts.models import BeheerautorisatieToekenning
from accounts.services import beheerautorisaties_set, uncovered_rollen_preview
from koppeling import services as koppel_services
from koppeling.lockout import identities_kept_message
from koppeling.models import Koppeling, UnlinkReason


def _audit(request, account, name: str, reason: str = "") -> None:
    detail = {"change": f"action:{name}"}
    if reason:
        detail["reason"] = reason
    audit_log(action=AuditAction.ADMIN_CHANGE, request=request, obj=account, detail=detail)


def _confirm(modeladmin, request, queryset, *, title: str, what: str, extra=None):
    """The confirmation page listing every selected account and what happens to it, then the
    consequences ``extra()`` lists."""
    accounts = [str(account) for account in queryset.order_by("name", "pk")]
    changes = [f"{account}: {what}" for account in accounts]
    if extra is not None:
        changes += extra()
    return bulk_confirmation(modeladmin, request, queryset, title=title, changes=changes)


def _report(modeladmin, request, done: int, skipped: list[str], message_done: str) -> None:
    if done:
        modeladmin.message_user(request, message_done, messages.SUCCESS)
    if skipped:
        modeladmin.message_user(
            request, _("Skipped: %(accounts)s") % {"accounts": "; ".join(skipped)}, messages.WARNING
        )


@admin.action(description=_("Send a new activation code"), permissions=["change"])
def send_activation_code(modeladmin, request, queryset):
    reason, page = _confirm(
        modeladmin,
        request,
        queryset,
        title=_("Send a new activation code?"),
        what=_("a new activation code by e-mail (an earlier code stops working)"),
    )
    if page is not None:
        return page
    done, skipped = 0, []
    linked = set(
        Koppeling.objects.filter(account__in=queryset, ended_at__isnull=True).values_list(
            "account_id", flat=True
        )
    )
    for account in queryset.select_related("organisatie"):
        if account.organisatie_id is None or not account.is_active or account.removed_at is not None:
            skipped.append(_("%(account)s (not an active user)") % {"account": account})
            continue
        if account.pk in linked:
            skipped.append(_("%(account)s (already linked)") % {"account": account})
            continue
        koppel_services.activation_code_send(account=account, issued_by=request.user, request=request)
        _audit(request, account, "send_activation_code", reason)
        done += 1
    message = ngettext(
        "Activation code e-mail queued for %(count)s account.",
        "Activation code e-mail queued for %(count)s accounts.",
        done,
    )
    _report(modeladmin, request, done, skipped, message % {"count": done})


@admin.action(description=_("Undo the eHerkenning link"), permissions=["change"])
def undo_link(modeladmin, request, queryset):
    reason, page = _confirm(
        modeladmin,
        request,
        queryset,
        title=_("Undo the eHerkenning link?"),
        what=_("the eHerkenning link is undone; the user is logged out and must link again"),
    )
    if page is not None:
        return page
    done, skipped = 0, []
    koppelingen = {
        koppeling.account_id: koppeling
        for koppeling in Koppeling.objects.filter(account__in=queryset, ended_at__isnull=True).select_related(
            "account"
        )
    }
    for account in queryset:
        koppeling = koppelingen.get(account.pk)
        if koppeling is None:
            skipped.append(_("%(account)s (not linked)") % {"account": account})
            continue
        koppel_services.link_undo(
            koppeling=koppeling, reason=UnlinkReason.HELPDESK, actor=request.user, request=request
        )
        _audit(request, account, "undo_link", reason)
        done += 1
    message = ngettext("Link undone for %(count)s account.", "Link undone for %(count)s accounts.", done)
    _report(modeladmin, request, done, skipped, message % {"count": done})


@admin.action(description=_("Lift the koppel block"), permissions=["change"])
def lift_block(modeladmin, request, queryset):
    """Lift the block of each username and of every eHerkenning identity that tried it."""
    reason, page = _confirm(
        modeladmin,
        request,
        queryset,
        title=_("Lift the koppel block?"),
        what=_(
            "the block of the username and of the eHerkenning identities that tried it is lifted "
            "(an identity that also tried other usernames stays blocked)"
        ),
    )
    if page is not None:
        return page
    lifted, skipped, kept = 0, [], []
    for account in queryset:
        lift = koppel_services.koppel_blocks_lift(
            username=account.username, actor=request.user, request=request, reason=reason
        )
        if lift:
            lifted += 1
        else:
            skipped.append(_("%(account)s (not blocked)") % {"account": account})
        kept += lift.identities_kept
        _audit(request, account, "lift_block", reason)
    message = ngettext("Block lifted for %(count)s account.", "Block lifted for %(count)s accounts.", lifted)
    _report(modeladmin, request, lifted, skipped, message % {"count": lifted})
    if kept:
        modeladmin.message_user(request, identities_kept_message(kept), messages.WARNING)


@admin.action(description=_("Revoke all beheerautorisaties"), permissions=["change"])
def revoke_beheerautorisaties(modeladmin, request, queryset):
    """Part 4 of the registration form ("Intrekken beheeraccount"): the account stays a user."""
    reason, page = _confirm(
        modeladmin,
        request,
        queryset,
        title=_("Revoke all beheerautorisaties?"),
        what=_("every beheerautorisatie is revoked; the account stays a user"),
        extra=lambda: uncovered_rollen_preview(
            losing=BeheerautorisatieToekenning.objects.filter(account__in=queryset).select_related(
                "account__organisatie"
            )
        ),
    )
    if page is not None:
        return page
    done, skipped = 0, []
    for account in queryset.prefetch_related("beheerautorisatie_toekenningen"):
        if not account.beheerautorisatie_toekenningen.all():
            continue
        try:
            beheerautorisaties_set(
                account=account, beheerautorisaties=[], granted_by=request.user, request=request
            )
        except ValidationError as error:
            skipped.append(f"{account} ({' '.join(error.messages)})")
            continue
        _audit(request, account, "revoke_beheerautorisaties", reason)
        done += 1
    message = ngettext(
        "Beheerautorisaties revoked for %(count)s account.",
        "Beheerautorisaties revoked for %(count)s accounts.",
        done,
    )
    _report(modeladmin, request, done, skipped, message % {"count": done})


ACCOUNT_HELPDESK_ACTIONS = [send_activation_code, undo_link, lift_block, revoke_beheerautorisaties]
