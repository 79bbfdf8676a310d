"""Helpdesk admin for links and koppel blocks: look up, lift a block, undo a link (all audited)."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_confirm import bulk_confirmation
from accounts.audit import audit_log
from accounts.constants import AuditAction

from .lockout import identities_kept_message
from .models import KoppelAttemptCounter, Koppeling, UnlinkReason
from .services import koppel_blocks_lift, koppel_identity_block_lift, link_undo


class ActiveFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", _("active")), ("no", _("undone"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(Koppeling)
class KoppelingAdmin(admin.ModelAdmin):
    list_display = ["account", "legal_subject_id", "created_at", "last_login_at", "ended_at", "ended_reason"]
    list_filter = [ActiveFilter, "ended_reason"]
    search_fields = ["account__username", "account__name", "account__email", "legal_subject_id"]
    list_select_related = ["account"]
    actions = ["undo_links"]
    readonly_fields = [
        "account",
        "acting_subject_id",
        "legal_subject_id",
        "intermediate_entity_id",
        "level",
        "created_at",
        "created_ip",
        "last_login_at",
        "terms_version",
        "terms_accepted_at",
        "ended_at",
        "ended_reason",
        "ended_by",
    ]
    exclude = ["inactivity_warned_at"]

    def has_add_permission(self, request):
        return False  # a link is made by its user in the koppel wizard, never by hand

    def has_delete_permission(self, request, obj=None):
        return False  # an undone link stays as history

    @admin.action(description=_("Undo link"), permissions=["change"])
    def undo_links(self, request, queryset):
        """Undo the selected active links, after a confirmation page that asks the reason (audited)."""
        active = queryset.filter(ended_at__isnull=True).select_related("account")
        reason, page = bulk_confirmation(
            self,
            request,
            queryset,
            title=_("Undo these eHerkenning links?"),
            changes=[
                _("%(account)s: the link is undone; the user is logged out and must link again")
                % {"account": koppeling.account}
                for koppeling in active
            ]
            or [_("None of the selected links is active: nothing changes.")],
        )
        if page is not None:
            return page
        count = 0
        for koppeling in active:
            link_undo(koppeling=koppeling, reason=UnlinkReason.HELPDESK, actor=request.user, request=request)
            audit_log(
                action=AuditAction.ADMIN_CHANGE,
                request=request,
                obj=koppeling.account,
                detail={"change": "action:undo_link", "reason": reason},
            )
            count += 1
        self.message_user(
            request, ngettext("%d link undone.", "%d links undone.", count) % count, messages.SUCCESS
        )


class BlockedFilter(admin.SimpleListFilter):
    title = _("blocked")
    parameter_name = "blocked"

    def lookups(self, request, model_admin):
        return [("yes", _("blocked now"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(blocked_until__gt=timezone.now())
        return queryset


@admin.register(KoppelAttemptCounter)
class KoppelAttemptCounterAdmin(admin.ModelAdmin):
    list_display = ["key", "failures", "window_started_at", "blocked_until", "is_blocked"]
    list_filter = [BlockedFilter]
    search_fields = ["key"]
    search_help_text = _("Search by username (u:USERNAME) or eHerkenning identity (i:KVK:PSEUDONYM).")
    readonly_fields = ["key", "failures", "window_started_at", "blocked_until", "updated_at"]
    actions = ["lift_blocks"]

    @admin.display(boolean=True, description=_("blocked now"))
    def is_blocked(self, obj):
        return obj.blocked_until is not None and obj.blocked_until > timezone.now()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Lift block"), permissions=["change"])
    def lift_blocks(self, request, queryset):
        """Lift the selected blocks (a username's with those of the identities that tried it)."""
        keys = list(queryset.values_list("key", flat=True))
        reason, page = bulk_confirmation(
            self,
            request,
            queryset,
            title=_("Lift these koppel blocks?"),
            changes=[
                _("%(key)s: the block is lifted and the failures are forgotten") % {"key": key}
                for key in keys
            ],
        )
        if page is not None:
            return page
        lifted, kept = 0, []
        for key in keys:
            kind, _sep, value = key.partition(":")
            if kind == "u":
                lift = koppel_blocks_lift(username=value, actor=request.user, request=request, reason=reason)
                lifted += bool(lift)
                kept += lift.identities_kept
            elif kind == "i":
                lifted += koppel_identity_block_lift(
                    identity=value, actor=request.user, request=request, reason=reason
                )
        self.message_user(
            request, ngettext("%d block lifted.", "%d blocks lifted.", lifted) % lifted, messages.SUCCESS
        )
        if kept:
            # As on the account screen: an identity that also tried other usernames stays blocked
            # (an attacker's signature); the helpdesk lifts it by its own i: row if it must.
            self.message_user(request, identities_kept_message(kept), messages.WARNING)
