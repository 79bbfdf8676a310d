"""The helpdesk's view of the access review: which organisations are overdue, and on which roles.

Read-only: a review is the beheerders' to do. For a role nobody confirmed in time the helpdesk decides
(contacts the organisation, or revokes it in the account's admin page); nothing is revoked silently.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_confirm import bulk_confirmation
from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from accounts.models import RolToekenning

from .models import AccessReview, AccessReviewDecision
from .review import ReviewStatus, review_helpdesk_keep, review_status, reviews_with_progress

UNDECIDED_SHOWN = 200


class ReviewStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ReviewStatus.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        grace = timedelta(days=settings.ACCESS_REVIEW_GRACE_DAYS)
        reminder = timedelta(days=settings.ACCESS_REVIEW_REMINDER_DAYS)
        open_ = Q(completed_at__isnull=True)
        conditions = {
            ReviewStatus.COMPLETED: Q(completed_at__isnull=False),
            ReviewStatus.OVERDUE: open_ & Q(due_at__lte=now - grace),
            ReviewStatus.DUE: open_ & Q(due_at__gt=now - grace, due_at__lte=now + reminder),
            ReviewStatus.NOT_DUE: open_ & Q(due_at__gt=now + reminder),
        }
        condition = conditions.get(self.value())
        return queryset if condition is None else queryset.filter(condition)


class AccessReviewDecisionInline(admin.TabularInline):
    model = AccessReviewDecision
    fields = ["account", "rol_naam", "kenmerk_waarde", "decision", "decided_by", "decided_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "decided_by")


@admin.register(AccessReview)
class AccessReviewAdmin(admin.ModelAdmin):
    list_display = ["organisatie", "due_at", "status_column", "progress_column", "completed_at", "reminders"]
    list_filter = [ReviewStatusFilter]
    search_fields = ["organisatie__naam", "organisatie__instellingscode", "organisatie__bestuursnummer"]
    ordering = ["due_at", "pk"]
    fields = [
        "organisatie",
        "started_at",
        "due_at",
        "status_column",
        "progress_column",
        "completed_at",
        "completed_by",
        "reminder_due_sent_at",
        "reminder_overdue_sent_at",
        "undecided_roles",
    ]
    readonly_fields = fields
    inlines = [AccessReviewDecisionInline]
    actions = ["keep_undecided"]

    def get_queryset(self, request):
        return reviews_with_progress(super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request):
        return request.user.has_perm("beheer.decide_accessreview")

    @admin.action(
        description=_("Keep the undecided roles of the selected overdue reviews (helpdesk decision)"),
        permissions=["decide"],
    )
    def keep_undecided(self, request, queryset):
        """Close overdue cycles the beheerders left open; each kept role is audited as the helpdesk's.

        Through the confirmation page with a reason (audited with each kept role): nothing changes before.
        """
        reason, page = bulk_confirmation(
            self,
            request,
            queryset,
            title=_("Keep the undecided roles?"),
            changes=[
                _(
                    "The roles nobody decided on in %(organisatie)s are kept, by you, "
                    "and the review completed."
                )
                % {"organisatie": cycle.organisatie}
                for cycle in queryset.select_related("organisatie")
            ],
        )
        if page is not None:
            return page
        for cycle in queryset:
            try:
                kept = review_helpdesk_keep(
                    review=cycle, helpdesk=request.user, request=request, reason=reason
                )
            except ValidationError as error:
                audit_log(
                    action=AuditAction.ACCESS_REVIEW_DECIDE,
                    result=AuditResult.REFUSED,
                    request=request,
                    obj=cycle.organisatie,
                    detail={"reason_code": "not_overdue", "review": str(cycle.pk)},
                )
                self.message_user(request, f"{cycle.organisatie}: {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "%(organisatie)s: %(count)d role kept, review completed.",
                        "%(organisatie)s: %(count)d roles kept, review completed.",
                        kept,
                    )
                    % {"organisatie": cycle.organisatie, "count": kept},
                    messages.SUCCESS,
                )

    @admin.display(description=_("status"))
    def status_column(self, obj):
        status = review_status(review=obj)
        if status == ReviewStatus.OVERDUE:
            return format_html("<strong>{}</strong>", status.label)
        return status.label

    @admin.display(description=_("reviewed"))
    def progress_column(self, obj):
        return _("%(reviewed)s of %(total)s") % {"reviewed": obj.decided, "total": obj.decided + obj.pending}

    @admin.display(description=_("reminders"))
    def reminders(self, obj):
        sent = [
            f"{label} {timezone.localtime(moment):%d-%m-%Y}"
            for label, moment in (
                (_("due"), obj.reminder_due_sent_at),
                (_("overdue"), obj.reminder_overdue_sent_at),
            )
            if moment
        ]
        return ", ".join(sent) or "—"

    @admin.display(description=_("roles without a decision"))
    def undecided_roles(self, obj):
        if obj.completed_at is not None:
            return "—"
        rows = (
            RolToekenning.objects.filter(
                account__organisatie_id=obj.organisatie_id, account__removed_at__isnull=True
            )
            .exclude(pk__in=AccessReviewDecision.objects.filter(review=obj).values("toekenning_id"))
            .select_related("account", "rol", "kenmerk")
            .order_by("account__name", "rol__naam")[:UNDECIDED_SHOWN]
        )
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> — {} ({})</li>',
            (
                (
                    reverse("admin:accounts_account_change", args=[row.account_id]),
                    row.account.name,
                    row.rol.naam,
                    row.kenmerk.waarde,
                )
                for row in rows
            ),
        )
        return format_html("<ul>{}</ul>", items) if items else "—"
