"""The helpdesk's admin: password + TOTP (django-otp), search, read-only audit trail."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from beheer.admin_actions import ACCOUNT_HELPDESK_ACTIONS
from beheer.helpdesk_admin import AccountHelpdeskAdminMixin, OrganisatieHelpdeskAdminMixin
from beheer.helpdesk_forms_admin import HelpdeskFormsAdminMixin

from . import admin_audit  # noqa: F401 (registers the audit trail's admin)
from .admin_coverage import AccountBeheerautorisatieConfirmMixin, BeheerautorisatieCoverageAdminMixin
from .admin_login import HelpdeskAdminSite, HelpdeskLoginForm
from .audit import audit_log
from .constants import AuditAction, OrganisatieType
from .models import (
    Account,
    Beheerautorisatie,
    EmailOutbox,
    Kenmerk,
    KenmerkType,
    Mededeling,
    Organisatie,
    OverstapPlanning,
    Rol,
    RolToekenning,
)
from .services import beheerautorisaties_set, beheerautorisaties_validate

# Every admin page requires a verified OTP device: staff without a confirmed TOTP device
# cannot log in at all (see README, "Enrol a helpdesk member").
admin.site.__class__ = HelpdeskAdminSite  # OTPAdminSite, passkey-only when HELPDESK_REQUIRE_PASSKEY
# One step: username, password and the code of any confirmed device (accounts/admin_login.py).
admin.site.login_form = HelpdeskLoginForm
admin.site.login_template = "admin/helpdesk_login.html"
admin.site.site_header = _("Mijn DUO Zakelijk — helpdesk")
admin.site.site_title = _("Mijn DUO Zakelijk helpdesk")
admin.site.index_title = _("Security Service Desk")


class AuditedAdminMixin:
    """Write every admin change to the audit trail (object, not field values: they may be personal)."""

    def log_addition(self, request, obj, message):
        audit_log(action=AuditAction.ADMIN_CHANGE, request=request, obj=obj, detail={"change": "add"})
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_log(action=AuditAction.ADMIN_CHANGE, request=request, obj=obj, detail={"change": "change"})
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit_log(action=AuditAction.ADMIN_CHANGE, request=request, obj=obj, detail={"change": "delete"})
        return super().log_deletions(request, queryset)


class KenmerkInline(admin.StackedInline):  # stacked: every field gets its own <label> (WCAG 1.3.1)
    model = Kenmerk
    extra = 1
    fields = ["type", "waarde", "omschrijving"]


@admin.register(Organisatie)
class OrganisatieAdmin(OrganisatieHelpdeskAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["naam", "type", "instellingscode", "bestuursnummer", "gemeentecode", "kvk_nummer"]
    list_filter = ["type"]
    search_fields = [
        "naam",
        "instellingscode",
        "bestuursnummer",
        "gemeentecode",
        "crediteurnummer",
        "kvk_nummer",
        "rsin",
        "kenmerken__waarde",
    ]
    inlines = [KenmerkInline]
    fieldsets = [
        (None, {"fields": ["type", "type_anders", "naam"]}),
        (_("Address"), {"fields": ["straat", "huisnummer", "postcode", "woonplaats"]}),
        (
            _("Numbers"),
            {
                "fields": [
                    "instellingscode",
                    "bestuursnummer",
                    "gemeentecode",
                    "crediteurnummer",
                    "kvk_nummer",
                    "rsin",
                ]
            },
        ),
    ]


class AccountAdminForm(forms.ModelForm):
    beheerautorisaties_keuze = forms.ModelMultipleChoiceField(
        label=_("Beheerautorisaties"),
        queryset=Beheerautorisatie.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Only the helpdesk grants beheerautorisaties. "
            "The prerequisites of the registration form are checked."
        ),
    )

    class Meta:
        model = Account
        fields = ["organisatie", "name", "job_title", "phone", "email", "language", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["beheerautorisaties_keuze"].initial = list(self.instance.beheerautorisaties.all())

    request_user = None  # set by AccountAdmin.get_form

    def clean(self):
        cleaned = super().clean()
        chosen = cleaned.get("beheerautorisaties_keuze") or []
        # The organisation of an existing account is read-only (see AccountAdmin.get_readonly_fields).
        organisatie = cleaned["organisatie"] if "organisatie" in cleaned else self.instance.organisatie
        own = self.request_user is not None and self.instance.pk == self.request_user.pk
        if own and {item.pk for item in chosen} != set(
            self.instance.beheerautorisaties.values_list("pk", flat=True)
        ):
            self.add_error("beheerautorisaties_keuze", _("You cannot change your own beheerautorisaties."))
            return cleaned
        try:
            beheerautorisaties_validate(organisatie=organisatie, beheerautorisaties=chosen)
        except ValidationError as error:
            self.add_error("beheerautorisaties_keuze", error)
        return cleaned


class RolToekenningInline(admin.TabularInline):
    model = RolToekenning
    fk_name = "account"
    extra = 0
    fields = ["rol", "kenmerk", "granted_by", "granted_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # roles are given by the organisation's beheerder, within their beheerautorisaties


@admin.register(Account)
class AccountAdmin(
    AccountBeheerautorisatieConfirmMixin,  # unticking a beheerautorisatie: confirmation page first
    HelpdeskFormsAdminMixin,
    AccountHelpdeskAdminMixin,
    AuditedAdminMixin,
    admin.ModelAdmin,
):
    form = AccountAdminForm
    list_display = ["username", "name", "email", "organisatie", "is_active", "last_login"]
    list_filter = ["is_active", "is_staff", "organisatie__type", "beheerautorisaties"]
    search_fields = [
        "username",
        "name",
        "email",
        "organisatie__naam",
        "organisatie__kenmerken__waarde",
        "organisatie__instellingscode",
        "organisatie__bestuursnummer",
        "organisatie__gemeentecode",
    ]
    search_help_text = _("Search by username, name, e-mail, organisation or kenmerk.")
    list_select_related = ["organisatie"]
    autocomplete_fields = ["organisatie"]
    readonly_fields = ["username", "date_joined", "last_login", "removed_at"]

    def get_readonly_fields(self, request, obj=None):
        # An account belongs to one organisation for life: moving it would keep its eHerkenning link
        # (issued for the old organisation's KvK-nummer) and roles scoped to the old organisation's
        # kenmerken. A person who moves gets a new account (seed 001: one account per organisation).
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "organisatie"] if obj is not None else fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request_user = request.user
        return form

    inlines = [RolToekenningInline]
    # Helpdesk actions through the same services as Autorisatiebeheer (beheer/admin_actions.py).
    actions = ACCOUNT_HELPDESK_ACTIONS

    def get_queryset(self, request):
        return (
            super().get_queryset(request).distinct()
            if request.GET.get("q")
            else super().get_queryset(request)
        )

    def get_fieldsets(self, request, obj=None):
        main = ["organisatie", "name", "job_title", "phone", "email", "language", "is_active"]
        fieldsets = [
            (None, {"fields": (["username"] if obj else []) + main}),
            (_("Beheerautorisaties"), {"fields": ["beheerautorisaties_keuze"]}),
        ]
        if obj:
            fieldsets.append((_("History"), {"fields": ["date_joined", "last_login", "removed_at"]}))
        return [*fieldsets, *self.registration_fieldsets(obj)]  # HelpdeskFormsAdminMixin

    def save_model(self, request, obj, form, change):
        if not change:
            obj.username = Account.objects.unused_username()
            obj.set_unusable_password()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit_log(
            action=AuditAction.ACCOUNT_UPDATE if change else AuditAction.ACCOUNT_CREATE,
            request=request,
            obj=obj,
        )

    @transaction.atomic
    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        beheerautorisaties_set(
            account=form.instance,
            beheerautorisaties=form.cleaned_data.get("beheerautorisaties_keuze") or [],
            granted_by=request.user,
            request=request,
        )

    def has_delete_permission(self, request, obj=None):
        return False  # removal is a status (removed_at), never a hard delete: history must stay


@admin.register(KenmerkType)
class KenmerkTypeAdmin(admin.ModelAdmin):
    list_display = ["naam", "code"]


@admin.register(Rol)
class RolAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["naam", "onderwerp", "code"]
    search_fields = ["naam", "onderwerp", "code"]
    filter_horizontal = ["kenmerk_types"]


@admin.register(Beheerautorisatie)
class BeheerautorisatieAdmin(BeheerautorisatieCoverageAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    # A rol taken from its rollen: confirmation page, then withdrawn where nothing else covers it.
    list_display = ["naam", "code", "requires_bestuursnummer"]
    filter_horizontal = ["rollen", "requires_one_of"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EmailOutbox)
class EmailOutboxAdmin(admin.ModelAdmin):
    list_display = ["created_at", "to", "template", "sent_at", "attempts", "last_error"]
    list_filter = ["template"]
    search_fields = ["to"]
    readonly_fields = [
        "created_at",
        "to",
        "template",
        "language",
        "account",
        "message_id",
        "subject",
        "sent_at",
        "attempts",
        "last_error",
    ]
    exclude = ["context"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MededelingAdminForm(forms.ModelForm):
    organisatie_types = forms.MultipleChoiceField(
        label=_("For organisation types"),
        choices=OrganisatieType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Empty: every organisation type."),
    )

    class Meta:
        model = Mededeling
        fields = [
            "title",
            "text",
            "publish_from",
            "publish_until",
            "organisatie_types",
            "beheerautorisaties",
            "rollen",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The admin splits a date-time into a date and a time input, and its <label> names only the
        # first: each input gets its own accessible name (WCAG 1.3.1, 4.1.2).
        for name in ("publish_from", "publish_until"):
            field = self.fields[name]
            names = (_("%(field)s: date"), _("%(field)s: time"))
            for widget, text in zip(getattr(field.widget, "widgets", []), names, strict=False):
                widget.attrs["aria-label"] = text % {"field": capfirst(field.label)}


@admin.register(Mededeling)
class MededelingAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Mededelingen on the overview screen; each target list narrows the audience (all must match)."""

    form = MededelingAdminForm
    list_display = ["title", "publish_from", "publish_until", "targets"]
    list_filter = ["publish_from"]
    search_fields = ["title", "text"]
    filter_horizontal = ["beheerautorisaties", "rollen"]
    date_hierarchy = "publish_from"

    @admin.display(description=_("Targets"))
    def targets(self, obj):
        types = ", ".join(str(OrganisatieType(value).label) for value in obj.organisatie_types or [])
        return types or _("everyone")


@admin.register(OverstapPlanning)
class OverstapPlanningAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Seed 001's switch planning: until which date each sector may still use the token login."""

    list_display = ["organisatie_type", "switch_date", "note"]
    list_editable = ["switch_date"]
    ordering = ["switch_date", "organisatie_type"]
