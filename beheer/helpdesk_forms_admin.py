"""The registration form's own items in the helpdesk admin (issue 15 items 4 and 5).

``HelpdeskFormsAdminMixin`` adds to ``accounts.admin.AccountAdmin``:

- on the account form, question 2.2 and the signature of the bevoegd gezag (part 5), recorded as
  a ``BeheerderFormulier`` when filled in, and the forms processed before (read only);
- ``<id>/intrekken/``: "Intrekken beheeraccount" (part 4) as one audited action, through a
  confirmation page that asks question 4.1 and the reason;
- ``<id>/tokengebruiker/``: registering a legacy token user while the user is present — the user's token
  enrolled and confirmed with a code from it, a temporary password to change at the first login.
"""

import segno
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import audit_log
from accounts.constants import AuditAction
from accounts.models import Account, BeheerautorisatieToekenning, BeheerderFormulier
from accounts.services import uncovered_rollen_preview
from accounts.token_users import token_device_start, token_user_refusal, token_user_register

from .withdraw import beheeraccount_withdraw

CONFIRM_FIELD = "confirmed"
YES_NO = [("ja", gettext_lazy("Yes")), ("nee", gettext_lazy("No"))]
DATE_FORMATS = ["%d-%m-%Y", "%Y-%m-%d"]


def _yes_no(value: str) -> bool | None:
    return {"ja": True, "nee": False}.get(value)


def _yes_no_text(value: bool | None) -> str:
    return "—" if value is None else (_("Yes") if value else _("No"))


def _local_date(moment) -> str:
    return timezone.localtime(moment).strftime("%d-%m-%Y %H:%M")


class SignatureFields(forms.Form):
    """Part 5 of the form: who signed for the bevoegd gezag, and where and when."""

    formulier_signatory_name = forms.CharField(
        label=gettext_lazy("5.1 Name of the signatory"), max_length=200, required=False
    )
    formulier_signatory_job_title = forms.CharField(
        label=gettext_lazy("5.1 Job title of the signatory"),
        max_length=200,
        required=False,
        help_text=gettext_lazy(
            "Only board members registered with the KvK sign for a foundation; for a gemeente the "
            "gemeentesecretaris or a member of the college of B&W."
        ),
    )
    formulier_signatory_email = forms.EmailField(
        label=gettext_lazy("5.1 E-mail address of the signatory"), required=False
    )
    formulier_signed_place = forms.CharField(
        label=gettext_lazy("5.1 Place of signing"), max_length=100, required=False
    )
    formulier_signed_on = forms.DateField(
        label=gettext_lazy("5.1 Date of signing"),
        required=False,
        input_formats=DATE_FORMATS,
        help_text=gettext_lazy("dd-mm-yyyy"),
    )

    SIGNATURE = [
        "formulier_signatory_name",
        "formulier_signatory_job_title",
        "formulier_signatory_email",
        "formulier_signed_place",
        "formulier_signed_on",
    ]

    def signature_clean(self, cleaned: dict, *, required: bool = False) -> None:
        filled = any(cleaned.get(name) for name in self.SIGNATURE)
        if filled or required:
            for name in ("formulier_signatory_name", "formulier_signatory_job_title", "formulier_signed_on"):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, _("Fill this in from the signed form (part 5)."))
        signed_on = cleaned.get("formulier_signed_on")
        if signed_on and signed_on > timezone.localdate():
            self.add_error("formulier_signed_on", _("The form cannot have been signed in the future."))

    def formulier_values(self) -> dict:
        data = self.cleaned_data
        return {
            "signatory_name": data.get("formulier_signatory_name", ""),
            "signatory_job_title": data.get("formulier_signatory_job_title", ""),
            "signatory_email": data.get("formulier_signatory_email", ""),
            "signed_place": data.get("formulier_signed_place", ""),
            "signed_on": data.get("formulier_signed_on"),
        }


def registration_form_class(base):
    """The account form with question 2.2 and part 5 of the registration form."""

    class RegistrationForm(base):
        formulier_has_account = forms.ChoiceField(
            label=gettext_lazy("2.2 Does the beheerder already have a Mijn DUO Zakelijk account?"),
            choices=YES_NO,
            required=False,
            widget=forms.RadioSelect,
        )
        formulier_signatory_name = SignatureFields.base_fields["formulier_signatory_name"]
        formulier_signatory_job_title = SignatureFields.base_fields["formulier_signatory_job_title"]
        formulier_signatory_email = SignatureFields.base_fields["formulier_signatory_email"]
        formulier_signed_place = SignatureFields.base_fields["formulier_signed_place"]
        formulier_signed_on = SignatureFields.base_fields["formulier_signed_on"]

        signature_clean = SignatureFields.signature_clean
        formulier_values = SignatureFields.formulier_values
        SIGNATURE = SignatureFields.SIGNATURE

        def clean(self):
            cleaned = super().clean()
            self.signature_clean(cleaned)
            if cleaned.get("formulier_has_account") == "ja" and self.instance.pk is None:
                self.add_error(
                    "formulier_has_account",
                    _(
                        "According to the form the beheerder already has an account: look that account "
                        "up and grant the beheerautorisaties there."
                    ),
                )
            return cleaned

        def formulier_filled(self) -> bool:
            return bool(self.cleaned_data.get("formulier_has_account")) or any(
                self.cleaned_data.get(name) for name in self.SIGNATURE
            )

    return RegistrationForm


class WithdrawForm(SignatureFields):
    keep_as_user = forms.ChoiceField(
        label=gettext_lazy("4.1 Does the beheerder want to keep using the account as a user?"),
        choices=YES_NO,
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Yes: only the beheerder role is removed. No: the whole account is removed (and the "
            "tokengenerator is sent back to DUO SSD)."
        ),
        error_messages={"required": gettext_lazy("Answer question 4.1 of the form.")},
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("E.g. the form or ticket this answers. It is kept in the audit trail."),
        error_messages={"required": gettext_lazy("Give the reason.")},
    )

    def clean_reason(self):
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise ValidationError(_("Give the reason."))
        return reason

    def clean(self):
        cleaned = super().clean()
        self.signature_clean(cleaned)
        return cleaned


class TokenEnrolForm(forms.Form):
    device = forms.IntegerField(widget=forms.HiddenInput)
    otp_token = forms.RegexField(
        label=gettext_lazy("Code from the user's token"),
        regex=r"^[0-9]{6}$",
        help_text=gettext_lazy("The 6 digits the token shows now, read out by the user."),
        error_messages={"invalid": gettext_lazy("The code consists of 6 digits.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )


class HelpdeskFormsAdminMixin:
    """See the module docstring. Composes with the other mixins through ``super()``."""

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/intrekken/", wrap(self.withdraw_view), name="accounts_account_withdraw"),
            path("<int:pk>/tokengebruiker/", wrap(self.token_user_view), name="accounts_account_token_user"),
            *super().get_urls(),
        ]

    # --- the account form ---------------------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = registration_form_class(kwargs.get("form", self.form))
        return super().get_form(request, obj, change=change, **kwargs)

    def registration_fieldsets(self, obj=None) -> list:
        """The fieldsets this mixin adds to the account form (AccountAdmin.get_fieldsets appends them)."""
        fieldsets = [
            (
                _("Registration form (seed 003): questions 2.2 and 5"),
                {
                    "fields": ["formulier_has_account", *SignatureFields.SIGNATURE],
                    "description": _(
                        "Record what the signed form says when you process it; the history of processed "
                        "forms is below."
                    ),
                },
            )
        ]
        if obj is not None:
            fieldsets.append(
                (
                    _("Beheer account and token"),
                    {
                        "fields": [
                            "helpdesk_form_actions",
                            "registration_forms_processed",
                            "beheerautorisaties_revoked",
                        ]
                    },
                )
            )
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        return [
            *fields,
            "helpdesk_form_actions",
            "registration_forms_processed",
            "beheerautorisaties_revoked",
        ]

    @admin.display(description=gettext_lazy("Actions"))
    def helpdesk_form_actions(self, obj):
        links = [
            (reverse("admin:accounts_account_withdraw", args=[obj.pk]), _("Withdraw beheer account")),
            (reverse("admin:accounts_account_token_user", args=[obj.pk]), _("Register as token user")),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.display(description=gettext_lazy("Processed registration forms (seed 003)"))
    def registration_forms_processed(self, obj):
        """Read only, as text: an inline would demand its own management form in every account POST."""
        rows = [
            (
                _local_date(formulier.processed_at),
                formulier.get_kind_display(),
                _yes_no_text(formulier.has_account),
                _yes_no_text(formulier.keep_as_user),
                ", ".join(
                    part
                    for part in (
                        formulier.signatory_name,
                        formulier.signatory_job_title,
                        formulier.signed_place,
                        formulier.signed_on.strftime("%d-%m-%Y") if formulier.signed_on else "",
                    )
                    if part
                )
                or "—",
                formulier.processed_by.name if formulier.processed_by else formulier.get_source_display(),
                formulier.reason or "—",
            )
            for formulier in obj.beheerder_formulieren.select_related("processed_by")
        ]
        if not rows:
            return _("none")
        head = format_html_join(
            "",
            '<th scope="col">{}</th>',
            (
                (text,)
                for text in (
                    _("processed at"),
                    _("kind of form"),
                    _("2.2 account"),
                    _("4.1 keep as user"),
                    _("signed by"),
                    _("processed by"),
                    _("reason"),
                )
            ),
        )
        body = format_html_join(
            "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
        )
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)

    @admin.display(description=gettext_lazy("Revoked beheerautorisaties (an import cannot grant them back)"))
    def beheerautorisaties_revoked(self, obj):
        intrekkingen = obj.beheerautorisatie_intrekkingen.select_related("beheerautorisatie", "revoked_by")
        items = [
            (
                intrekking.beheerautorisatie.naam,
                _local_date(intrekking.revoked_at),
                intrekking.revoked_by.name if intrekking.revoked_by else "—",
            )
            for intrekking in intrekkingen
        ]
        if not items:
            return _("none")
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} — {} ({})</li>", items))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if hasattr(form, "formulier_filled") and form.formulier_filled():
            record = BeheerderFormulier.objects.create(
                account=form.instance,
                kind=BeheerderFormulier.Kind.AANMELDING,
                has_account=_yes_no(form.cleaned_data.get("formulier_has_account", "")),
                source=BeheerderFormulier.Source.ADMIN,
                processed_by=request.user,
                **form.formulier_values(),
            )
            audit_log(
                action=AuditAction.ADMIN_CHANGE,
                request=request,
                obj=form.instance,
                detail={"change": "registration_form", "formulier_id": record.pk},
            )

    # --- shared ------------------------------------------------------------------------------

    def _forms_account(self, request, pk: int) -> Account:
        account = get_object_or_404(Account.objects.select_related("organisatie"), pk=pk)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        return account

    def _forms_back(self, request, account: Account, message: str, level=messages.SUCCESS):
        self.message_user(request, message, level)
        return HttpResponseRedirect(reverse("admin:accounts_account_change", args=[account.pk]))

    def _forms_page(self, request, template: str, account: Account, status: int = 200, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": account,
                "account": account,
                "cancel_url": reverse("admin:accounts_account_change", args=[account.pk]),
                **context,
            },
            status=status,
        )

    # --- Intrekken beheeraccount (part 4) -------------------------------------------------------

    def withdraw_view(self, request, pk: int):
        account = self._forms_account(request, pk)
        codes = list(
            BeheerautorisatieToekenning.objects.filter(account=account)
            .order_by("beheerautorisatie__volgorde")
            .values_list("beheerautorisatie__naam", flat=True)
        )
        if not codes:
            return self._forms_back(
                request,
                account,
                _("This account holds no beheerautorisatie: it is no beheer account."),
                messages.ERROR,
            )
        changes = [
            _("%(account)s loses every beheerautorisatie: %(names)s.")
            % {"account": account, "names": ", ".join(codes)},
            _("An old registration form or import file cannot grant them back; only a new grant here can."),
            _(
                "4.1 Yes: the account stays a user with the roles a beheerautorisatie of the "
                "organisation still covers."
            ),
            *uncovered_rollen_preview(
                losing=BeheerautorisatieToekenning.objects.filter(account=account).select_related(
                    "account__organisatie"
                )
            ),
            _("4.1 No: the account is removed — its eHerkenning link undone, its roles and token revoked."),
        ]
        status = 200
        if request.method == "POST" and request.POST.get(CONFIRM_FIELD) == "yes":
            form = WithdrawForm(request.POST)
            if form.is_valid():
                keep = form.cleaned_data["keep_as_user"] == "ja"
                try:
                    beheeraccount_withdraw(
                        account=account,
                        keep_as_user=keep,
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                        formulier=form.formulier_values(),
                        request=request,
                    )
                except ValidationError as error:
                    return self._forms_back(request, account, " ".join(error.messages), messages.ERROR)
                return self._forms_back(
                    request,
                    account,
                    _("Beheer account withdrawn; the account stays a user.")
                    if keep
                    else _("Beheer account withdrawn and the account removed."),
                )
            status = 400
        else:
            form = WithdrawForm()
        return self._forms_page(
            request,
            "admin/helpdesk/withdraw.html",
            account,
            status=status,
            title=_("Withdraw the beheer account of %(account)s?") % {"account": account},
            changes=changes,
            form=form,
            confirm_field=CONFIRM_FIELD,
        )

    # --- token user (item 5) ----------------------------------------------------------------

    def token_user_view(self, request, pk: int):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        account = self._forms_account(request, pk)
        refusal = token_user_refusal(account=account)
        if refusal is not None:
            if request.method == "POST":
                audit_log(
                    action=AuditAction.TOKEN_USER_REGISTER,
                    result="refused",
                    request=request,
                    obj=account,
                    detail={"reason_code": "refused"},
                )
            return self._forms_page(
                request,
                "admin/helpdesk/token_user.html",
                account,
                status=403 if request.method == "POST" else 200,
                title=_("Register %(account)s as token user") % {"account": account},
                refusal=refusal,
            )
        context = {"title": _("Register %(account)s as token user") % {"account": account}}
        if request.method != "POST":
            return self._forms_page(
                request, "admin/helpdesk/token_user.html", account, step="start", **context
            )
        if request.POST.get("step") == "start":
            device = token_device_start(account=account)
            return self._forms_page(
                request,
                "admin/helpdesk/token_user.html",
                account,
                step="enrol",
                form=TokenEnrolForm(initial={"device": device.pk}),
                **self._enrol_context(device),
                **context,
            )
        form = TokenEnrolForm(request.POST)
        device_pk = request.POST.get("device", "")
        device = (
            TOTPDevice.objects.filter(pk=int(device_pk), user=account, confirmed=False).first()
            if device_pk.isascii() and device_pk.isdigit() and len(device_pk) <= 18
            else None
        )
        if device is None:
            return self._forms_back(request, account, _("Start the enrolment again."), messages.ERROR)
        if form.is_valid():
            try:
                password = token_user_register(
                    account=account,
                    device=device,
                    otp_token=form.cleaned_data["otp_token"],
                    actor=request.user,
                    request=request,
                )
            except ValidationError as error:
                if not hasattr(error, "error_dict"):
                    return self._forms_back(request, account, " ".join(error.messages), messages.ERROR)
                form.add_error("otp_token", error.message_dict.get("otp_token", error.messages))
            else:
                response = self._forms_page(
                    request,
                    "admin/helpdesk/token_user.html",
                    account,
                    step="done",
                    password=password,
                    **context,
                )
                response["Cache-Control"] = "no-store"
                return response
        return self._forms_page(
            request,
            "admin/helpdesk/token_user.html",
            account,
            status=400,
            step="enrol",
            form=form,
            **self._enrol_context(device),
            **context,
        )

    @staticmethod
    def _enrol_context(device) -> dict:
        uri = device.config_url
        return {
            "otpauth_uri": uri,
            # Generated here from the URI, with no user text in it: safe to inline.
            "qr_svg": mark_safe(segno.make(uri, error="m").svg_inline(scale=4)),  # noqa: S308
        }
