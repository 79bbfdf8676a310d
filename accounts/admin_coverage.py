"""Confirmation pages for admin forms that take coverage away (issue 18 item 4).

Two change forms of the admin end access as surely as the helpdesk's revoke action: removing a rol
from a Beheerautorisatie (the catalogue's coverage) and unticking a beheerautorisatie on an
account's form. Both first show the confirmation page of accounts/admin_confirm.py — which rollen of
how many users of which organisations go — and ask a reason; only that page's POST, carrying the
form's own fields back, saves. A POST of the form alone changes nothing.
"""

from django.contrib.admin.utils import unquote
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .admin_confirm import CONFIRM_FIELD, confirmation_page, confirmed_reason
from .audit import audit_log
from .constants import AuditAction
from .coverage import rol_coverage_preview, rol_coverage_withdraw
from .models import BeheerautorisatieToekenning
from .services import uncovered_rollen_preview

_NOT_CARRIED = {"csrfmiddlewaretoken", CONFIRM_FIELD, "reason"}


def _carried_fields(request) -> list[tuple[str, str]]:
    """The form's own POST, carried through the confirmation page as hidden fields."""
    return [
        (name, value) for name, values in request.POST.lists() if name not in _NOT_CARRIED for value in values
    ]


class _ConfirmChangeMixin:
    """Before the change form saves, ask for confirmation when ``_losing`` finds something taken away."""

    def _bound_form(self, request, obj):
        form_class = self.get_form(request, obj, change=True)
        return form_class(request.POST, request.FILES, instance=obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST" or object_id is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic():
            obj = self._locked_object(request, unquote(object_id))
            if obj is None or not self.has_change_permission(request, obj):
                return super().changeform_view(request, object_id, form_url, extra_context)
            form = self._bound_form(request, obj)
            if not form.is_valid():  # the change form shows the errors; nothing is saved
                return super().changeform_view(request, object_id, form_url, extra_context)
            losing = self._losing(obj, form)
            if not losing:
                return super().changeform_view(request, object_id, form_url, extra_context)
            reason, reason_form = confirmed_reason(request)
            if reason is None:
                title, changes = self._confirmation(obj, losing)
                return confirmation_page(
                    request,
                    admin_site=self.admin_site,
                    title=title,
                    changes=changes,
                    form=reason_form,
                    cancel_url=request.path,
                    hidden=_carried_fields(request),
                    opts=self.model._meta,
                    button=_("Yes, save"),
                )
            response = super().changeform_view(request, object_id, form_url, extra_context)
            self._after_save(request, obj, losing, reason)  # same transaction: together or not at all
            return response


class BeheerautorisatieCoverageAdminMixin(_ConfirmChangeMixin):
    """For BeheerautorisatieAdmin: a rol removed from its rollen is revoked where nothing else covers it."""

    def _locked_object(self, request, object_id):
        # One catalogue change at a time: what the page listed is what is withdrawn.
        return self.get_queryset(request).select_for_update().filter(pk=object_id).first()

    def _losing(self, obj, form) -> set[int]:
        kept = {rol.pk for rol in form.cleaned_data.get("rollen") or []}
        return set(obj.rollen.values_list("pk", flat=True)) - kept

    def _confirmation(self, obj, losing):
        names = ", ".join(obj.rollen.filter(pk__in=losing).order_by("naam").values_list("naam", flat=True))
        preview = rol_coverage_preview(beheerautorisatie=obj, rol_ids=losing)
        return (
            _("Remove rollen from beheerautorisatie %(name)s?") % {"name": obj.naam},
            [
                _("Beheerautorisatie %(name)s no longer covers: %(rollen)s.")
                % {"name": obj.naam, "rollen": names},
                *preview.changes,
                _(
                    "Roles another beheerautorisatie of the organisation covers stay; "
                    "other organisations are untouched."
                ),
            ],
        )

    def _after_save(self, request, obj, losing, reason):
        removed = set(losing) - set(obj.rollen.values_list("pk", flat=True))
        if removed:  # saved (an invalid form saves nothing)
            rol_coverage_withdraw(
                beheerautorisatie=obj, rol_ids=removed, reason=reason, actor=request.user, request=request
            )


class AccountBeheerautorisatieConfirmMixin(_ConfirmChangeMixin):
    """For AccountAdmin: unticking a beheerautorisatie goes through the same page as the helpdesk's
    revoke action, listing the rollen of the organisation that go with it."""

    def _locked_object(self, request, object_id):
        obj = self.get_object(request, object_id)
        if obj is not None:
            list(
                BeheerautorisatieToekenning.objects.select_for_update().filter(account=obj).values_list("pk")
            )
        return obj

    def _losing(self, obj, form) -> list[BeheerautorisatieToekenning]:
        if "beheerautorisaties_keuze" not in form.cleaned_data:
            return []
        kept = {item.pk for item in form.cleaned_data["beheerautorisaties_keuze"]}
        return list(
            BeheerautorisatieToekenning.objects.filter(account=obj)
            .exclude(beheerautorisatie_id__in=kept)
            .select_related("beheerautorisatie", "account__organisatie")
            .order_by("beheerautorisatie__volgorde")
        )

    def _confirmation(self, obj, losing):
        names = ", ".join(item.beheerautorisatie.naam for item in losing)
        return (
            ngettext(
                "Revoke beheerautorisatie %(names)s of %(account)s?",
                "Revoke beheerautorisaties %(names)s of %(account)s?",
                len(losing),
            )
            % {"names": names, "account": obj},
            [
                *(
                    _("%(account)s loses beheerautorisatie %(name)s.")
                    % {"account": obj, "name": item.beheerautorisatie.naam}
                    for item in losing
                ),
                *uncovered_rollen_preview(losing=losing),
                _(
                    "The account stays a user; the roles a beheerautorisatie of the organisation "
                    "still covers stay."
                ),
            ],
        )

    def _after_save(self, request, obj, losing, reason):
        # The rollen went with the beheerautorisatie in AccountAdmin.save_related (beheerautorisaties_set).
        still = set(
            BeheerautorisatieToekenning.objects.filter(pk__in=[item.pk for item in losing]).values_list(
                "pk", flat=True
            )
        )
        for item in losing:
            if item.pk not in still:
                audit_log(
                    action=AuditAction.ADMIN_CHANGE,
                    request=request,
                    obj=obj,
                    detail={
                        "change": "action:revoke_beheerautorisatie",
                        "reason": reason,
                        "beheerautorisatie_code": item.beheerautorisatie.code,
                    },
                )
