"""The helpdesk's account screen in the admin (issue 15 item 1) and its confirmation pages.

``AccountHelpdeskAdminMixin`` adds to ``accounts.admin.AccountAdmin``: the screen at
``<id>/helpdesk/`` (the list opens it), and one URL per action. Destructive actions (undo the
link, revoke a beheerautorisatie, remove) and every bulk action first show a confirmation page
that lists what will change and asks a reason; only a POST carrying that page's confirmation
and a reason changes anything, and the reason goes to the audit trail.
"""

from django.contrib import messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.admin_confirm import confirmation_page, confirmed_reason
from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from accounts.models import Account, BeheerautorisatieToekenning
from accounts.services import uncovered_rollen_preview
from koppeling.lockout import identities_kept_message

from . import helpdesk


def _permission_refused(request, reason_code: str):
    """A staff member without the helpdesk's permissions opened one of its screens: audited, then 403."""
    audit_log(
        action=AuditAction.ADMIN_CHANGE,
        result=AuditResult.REFUSED,
        request=request,
        detail={"reason_code": reason_code, "path": request.path[:200]},
    )
    raise PermissionDenied


class _HelpdeskChangeList(ChangeList):
    def url_for_result(self, result):
        return reverse(
            "admin:accounts_account_helpdesk", args=[result.pk], current_app=self.model_admin.admin_site.name
        )


class AccountHelpdeskAdminMixin:
    """The account screen that answers a helpdesk call, and its actions (see the module docstring)."""

    def get_changelist(self, request, **kwargs):
        return _HelpdeskChangeList

    def get_urls(self):
        wrap = self.admin_site.admin_view
        urls = [
            path("<int:pk>/helpdesk/", wrap(self.helpdesk_view), name="accounts_account_helpdesk"),
            path(
                "<int:pk>/helpdesk/lift/",
                wrap(self.helpdesk_lift_view),
                name="accounts_account_helpdesk_lift",
            ),
            path(
                "<int:pk>/helpdesk/code/",
                wrap(self.helpdesk_code_view),
                name="accounts_account_helpdesk_code",
            ),
            path(
                "<int:pk>/helpdesk/unlink/",
                wrap(self.helpdesk_unlink_view),
                name="accounts_account_helpdesk_unlink",
            ),
            path(
                "<int:pk>/helpdesk/remove/",
                wrap(self.helpdesk_remove_view),
                name="accounts_account_helpdesk_remove",
            ),
            path(
                "<int:pk>/helpdesk/revoke/<int:toekenning_pk>/",
                wrap(self.helpdesk_revoke_view),
                name="accounts_account_helpdesk_revoke",
            ),
        ]
        return urls + super().get_urls()

    # --- permissions -----------------------------------------------------------------------

    def _helpdesk_check(self, request, *, change: bool = False) -> None:
        """Only staff with the helpdesk's permissions: view the account and the audit trail; change to act."""
        if not (self.has_view_permission(request) and request.user.has_perm("accounts.view_auditevent")):
            _permission_refused(request, "helpdesk_view")
        if change and not self.has_change_permission(request):
            _permission_refused(request, "helpdesk_change")

    def _account(self, pk: int) -> Account:
        return get_object_or_404(Account.objects.select_related("organisatie"), pk=pk)

    def _screen_url(self, account: Account) -> str:
        return reverse("admin:accounts_account_helpdesk", args=[account.pk], current_app=self.admin_site.name)

    def _done(self, request, account: Account, message: str, level=messages.SUCCESS):
        self.message_user(request, message, level)
        return HttpResponseRedirect(self._screen_url(account))

    def _post_only(self, request) -> None:
        if request.method != "POST":
            raise Http404

    # --- the screen ------------------------------------------------------------------------

    def helpdesk_view(self, request, pk: int):
        self._helpdesk_check(request)
        try:
            card = helpdesk.account_card(pk=pk)
        except Account.DoesNotExist as error:
            raise Http404 from error
        account = card.account
        trail = reverse("admin:accounts_auditevent_changelist", current_app=self.admin_site.name)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Account %(username)s") % {"username": account.username},
            "subtitle": account.name,
            "opts": self.model._meta,
            "original": account,
            "card": card,
            "can_change": self.has_change_permission(request, account),
            "trail_url": f"{trail}?{urlencode({'account_id': account.pk})}",
            "change_url": reverse(
                "admin:accounts_account_change", args=[account.pk], current_app=self.admin_site.name
            ),
            "organisatie_url": (
                reverse(
                    "admin:accounts_organisatie_change",
                    args=[account.organisatie_id],
                    current_app=self.admin_site.name,
                )
                if account.organisatie_id
                else ""
            ),
        }
        return TemplateResponse(request, "admin/helpdesk/account.html", context)

    # --- actions without confirmation (they take nothing away) --------------------------------

    def helpdesk_lift_view(self, request, pk: int):
        self._post_only(request)
        self._helpdesk_check(request, change=True)
        account = self._account(pk)
        lift = helpdesk.helpdesk_blocks_lift(account=account, request=request)
        kept = ""
        if lift.identities_kept:
            kept = " " + identities_kept_message(lift.identities_kept)
        if not lift:
            return self._done(request, account, _("There was no block to lift.") + kept, messages.INFO)
        return self._done(
            request,
            account,
            _("Block lifted: the username and the eHerkenning identities that tried it.") + kept,
        )

    def helpdesk_code_view(self, request, pk: int):
        self._post_only(request)
        self._helpdesk_check(request, change=True)
        account = self._account(pk)
        try:
            helpdesk.helpdesk_code_send(account=account, request=request)
        except ValidationError as error:
            return self._done(request, account, " ".join(error.messages), messages.ERROR)
        return self._done(
            request,
            account,
            _("A new activation code is on its way by e-mail. An earlier code stops working."),
        )

    # --- destructive actions: confirmation page with a reason --------------------------------

    def _confirm_or_do(
        self, request, account: Account, *, title: str, changes: list[str], perform, done: str
    ):
        reason, form = confirmed_reason(request)
        if reason is None:
            return confirmation_page(
                request,
                admin_site=self.admin_site,
                title=title,
                changes=changes,
                form=form,
                cancel_url=self._screen_url(account),
                opts=self.model._meta,
            )
        try:
            perform(reason)
        except ValidationError as error:
            return self._done(request, account, " ".join(error.messages), messages.ERROR)
        return self._done(request, account, done)

    def helpdesk_unlink_view(self, request, pk: int):
        self._helpdesk_check(request, change=True)
        account = self._account(pk)
        koppeling = account.koppelingen.filter(ended_at__isnull=True).first()
        if koppeling is None:
            return self._done(request, account, _("This account has no eHerkenning link."), messages.ERROR)
        return self._confirm_or_do(
            request,
            account,
            title=_("Undo the eHerkenning link of %(account)s?") % {"account": account},
            changes=[
                _("The link with eHerkenning identity %(identity)s (linked on %(since)s) is undone.")
                % {
                    "identity": helpdesk.identity_label(koppeling),
                    "since": _local(koppeling.created_at),
                },
                _("The user is logged out everywhere and gets an e-mail notice."),
                _("The account and its roles stay; the user links again with a new activation code."),
            ],
            perform=lambda reason: helpdesk.helpdesk_link_undo(
                account=account, request=request, reason=reason
            ),
            done=_("Link undone."),
        )

    def helpdesk_revoke_view(self, request, pk: int, toekenning_pk: int):
        self._helpdesk_check(request, change=True)
        account = self._account(pk)
        toekenning = get_object_or_404(
            BeheerautorisatieToekenning.objects.select_related("beheerautorisatie", "account__organisatie"),
            pk=toekenning_pk,
            account=account,
        )
        return self._confirm_or_do(
            request,
            account,
            title=_("Revoke beheerautorisatie %(name)s?") % {"name": toekenning.beheerautorisatie.naam},
            changes=[
                _("%(account)s loses beheerautorisatie %(name)s.")
                % {"account": account, "name": toekenning.beheerautorisatie.naam},
                *uncovered_rollen_preview(losing=[toekenning]),
                _(
                    "The account stays a user; the roles a beheerautorisatie of the organisation "
                    "still covers stay."
                ),
            ],
            perform=lambda reason: helpdesk.helpdesk_beheerautorisatie_revoke(
                account=account, toekenning=toekenning, request=request, reason=reason
            ),
            done=_("Beheerautorisatie revoked."),
        )

    def helpdesk_remove_view(self, request, pk: int):
        self._helpdesk_check(request, change=True)
        account = self._account(pk)
        if account.removed_at is not None:
            return self._done(request, account, _("This account has already been removed."), messages.ERROR)
        return self._confirm_or_do(
            request,
            account,
            title=_("Remove account %(account)s?") % {"account": account},
            changes=[
                _("The account is removed: it can no longer log in or link."),
                _("An active eHerkenning link is undone."),
                _("All its roles and beheerautorisaties are revoked."),
                *uncovered_rollen_preview(
                    losing=account.beheerautorisatie_toekenningen.select_related("account__organisatie")
                ),
                _("The account's history stays in the audit trail."),
            ],
            perform=lambda reason: helpdesk.helpdesk_account_remove(
                account=account, request=request, reason=reason
            ),
            done=_("Account removed."),
        )


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%d-%m-%Y %H:%M")


class OrganisatieHelpdeskAdminMixin:
    """The gebruikersbestand of one organisation for the helpdesk (issue 16 item 4): the same file,
    from the same code, as the organisation's beheerders download, and audited the same way."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.gebruikersbestand_view)
        return [
            path("<int:pk>/gebruikersbestand/", view, name="accounts_organisatie_gebruikersbestand"),
            *super().get_urls(),
        ]

    def gebruikersbestand_view(self, request, pk: int):
        from django.http import HttpResponse

        from .export import gebruikersbestand_response

        if not (self.has_view_permission(request) and request.user.has_perm("accounts.view_account")):
            audit_log(
                action=AuditAction.GEBRUIKERSBESTAND_EXPORT,
                result=AuditResult.REFUSED,
                request=request,
                detail={"reason_code": "no_permission", "organisatie": str(pk)},
            )
            raise PermissionDenied
        organisatie = get_object_or_404(self.model, pk=pk)
        export_format = request.GET.get("format", "csv")
        if export_format not in ("csv", "xlsx"):
            return HttpResponse(
                _("Choose the format csv or xlsx."), status=400, content_type="text/plain; charset=utf-8"
            )
        return gebruikersbestand_response(
            organisatie_id=organisatie.pk, export_format=export_format, request=request
        )
