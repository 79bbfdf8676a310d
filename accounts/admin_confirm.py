"""Confirmation pages for destructive helpdesk actions in the admin (issue 15).

Undoing a link, removing an account, revoking a right and every bulk action first show a page
that lists what will change and asks a reason. Only a POST that carries that page's confirmation
field and a reason counts: the action's first POST (from the list, or forged) changes nothing.
"""

from django import forms
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

CONFIRM_FIELD = "confirmed"
REASON_MAX_LENGTH = 500


class ReasonForm(forms.Form):
    """The confirmation page's form: the reason is required and goes to the audit trail."""

    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy(
            "Why this is done, e.g. the call or ticket it answers. It is kept in the audit trail."
        ),
        error_messages={"required": gettext_lazy("Give the reason.")},
    )

    def clean_reason(self):
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise ValidationError(_("Give the reason."))
        return reason


def confirmed_reason(request) -> tuple[str | None, ReasonForm]:
    """The reason when this POST comes from a confirmation page with a valid reason, else None.

    A POST without the page's confirmation field (a forged or replayed form, a bulk action
    submitted from the list) never counts as confirmed.
    """
    if request.method != "POST" or request.POST.get(CONFIRM_FIELD) != "yes":
        return None, ReasonForm()
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return None, form
    return form.cleaned_data["reason"], form


def confirmation_page(
    request,
    *,
    admin_site,
    title: str,
    changes: list[str],
    form: ReasonForm,
    cancel_url: str,
    hidden: list[tuple[str, str]] = (),
    opts=None,
    button: str = "",
):
    return TemplateResponse(
        request,
        "admin/helpdesk/confirm.html",
        {
            **admin_site.each_context(request),
            "title": title,
            "changes": changes,
            "form": form,
            "hidden": list(hidden),
            "confirm_field": CONFIRM_FIELD,
            "cancel_url": cancel_url,
            "opts": opts,
            "button": button or _("Yes, carry out"),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def bulk_confirmation(modeladmin, request, queryset, *, title: str, changes: list[str]):
    """The confirmation page of a bulk action: ``(reason, None)`` once confirmed, else ``(None, page)``."""
    reason, form = confirmed_reason(request)
    if reason is not None:
        return reason, None
    opts = modeladmin.model._meta
    hidden = [("action", request.POST.get("action", ""))]
    hidden += [(helpers.ACTION_CHECKBOX_NAME, str(pk)) for pk in queryset.values_list("pk", flat=True)]
    page = confirmation_page(
        request,
        admin_site=modeladmin.admin_site,
        title=title,
        changes=changes,
        form=form,
        cancel_url=reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        hidden=hidden,
        opts=opts,
    )
    return None, page
