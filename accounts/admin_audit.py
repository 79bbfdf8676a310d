"""The audit trail for people (issue 15 item 2): Dutch labels, links, readable detail, filters, CSV export.

Append-only here as everywhere: no add, change or delete in the admin (and the model and, on
PostgreSQL, a trigger refuse them anyway). The export streams the filtered selection as CSV and
is itself written to the audit trail.
"""

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Q, QuerySet, Subquery
from django.db.models.functions import Cast
from django.http import StreamingHttpResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .audit import audit_log
from .constants import AuditAction, AuditResult
from .models import Account, AuditEvent, Organisatie

# --- readable labels ---------------------------------------------------------------------------

DETAIL_LABELS = {
    "username": gettext_lazy("username"),
    "identity": gettext_lazy("eHerkenning identity"),
    "identities": gettext_lazy("eHerkenning identities that tried it"),
    "identities_blocked": gettext_lazy("blocked identities lifted"),
    "reason": gettext_lazy("reason"),
    "reason_code": gettext_lazy("reason"),
    "attempt": gettext_lazy("attempt number"),
    "was_blocked": gettext_lazy("was blocked"),
    "change": gettext_lazy("change"),
    "template": gettext_lazy("e-mail"),
    "outbox_id": gettext_lazy("e-mail number"),
    "activation_id": gettext_lazy("activation code number"),
    "expires_at": gettext_lazy("valid until"),
    "account_id": gettext_lazy("account number"),
    "legal_subject_id": gettext_lazy("KvK-nummer or RSIN"),
    "level": gettext_lazy("assurance level"),
    "terms_version": gettext_lazy("terms of use version"),
    "legacy_devices_removed": gettext_lazy("token devices removed"),
    "rol_code": gettext_lazy("rol"),
    "kenmerk": gettext_lazy("kenmerk"),
    "kenmerk_code": gettext_lazy("kenmerk"),
    "beheerautorisatie_code": gettext_lazy("beheerautorisatie"),
    "error_code": gettext_lazy("error"),
    "error": gettext_lazy("error"),
    "status_code": gettext_lazy("status"),
    "filters": gettext_lazy("filters"),
    "rows": gettext_lazy("rows"),
    "source": gettext_lazy("source"),
    "fields": gettext_lazy("fields"),
    "via": gettext_lazy("via"),
    # registration form and token users (beheer/helpdesk_forms_admin.py, accounts/token_users.py)
    "keep_as_user": gettext_lazy("4.1 keeps the account as user"),
    "formulier_id": gettext_lazy("registration form number"),
    "organisatie_id": gettext_lazy("organisation number"),
}

VALUE_LABELS = {
    # koppel attempts
    "unknown_username": gettext_lazy("unknown username"),
    "no_open_code": gettext_lazy("no valid activation code"),
    "wrong_code": gettext_lazy("wrong activation code"),
    "expired_code": gettext_lazy("activation code expired"),
    "code_used_concurrently": gettext_lazy("activation code used at the same moment"),
    "identity_blocked": gettext_lazy("eHerkenning identity blocked"),
    "username_blocked": gettext_lazy("username blocked"),
    "identity_linked": gettext_lazy("eHerkenning means already linked"),
    "account_inactive": gettext_lazy("account not active"),
    "account_linked": gettext_lazy("account already linked"),
    "legal_subject_mismatch": gettext_lazy("other organisation (KvK-nummer)"),
    # unlink reasons
    "lost": gettext_lazy("means lost"),
    "stolen": gettext_lazy("means stolen"),
    "defect": gettext_lazy("means defect"),
    "other": gettext_lazy("other"),
    "inactive": gettext_lazy("18 months without login"),
    "helpdesk": gettext_lazy("undone by the helpdesk"),
    "removed": gettext_lazy("account removed"),
    # helpdesk changes
    "add": gettext_lazy("added"),
    "delete": gettext_lazy("deleted"),
    "action:send_activation_code": gettext_lazy("new activation code sent"),
    "action:undo_link": gettext_lazy("link undone"),
    "action:lift_block": gettext_lazy("koppel block lifted"),
    "action:revoke_beheerautorisaties": gettext_lazy("all beheerautorisaties revoked"),
    "action:revoke_beheerautorisatie": gettext_lazy("beheerautorisatie revoked"),
    "action:remove": gettext_lazy("account removed"),
    "registration_form": gettext_lazy("registration form recorded"),
    # refusals of the imports and of token registration
    "revoked": gettext_lazy("withdrawn by the helpdesk since"),
    "refused": gettext_lazy("refused"),
    "otp": gettext_lazy("wrong code from the token"),
    "token_import": gettext_lazy("import of token users"),
    "withdrawn": gettext_lazy("beheer account withdrawn"),
    "beheerautorisatie_revoked": gettext_lazy("beheerautorisatie revoked"),
    # e-mails
    "koppeling/email/activation_code": gettext_lazy("activation code"),
    "koppeling/email/link_created": gettext_lazy("notice: link made"),
    "koppeling/email/link_undone": gettext_lazy("notice: link undone"),
    "beheer/email/registered": gettext_lazy("registration confirmation"),
    "accounts/email/email_change_confirm": gettext_lazy("confirm the new e-mail address"),
    "accounts/email/email_changed_notice": gettext_lazy("notice: e-mail address changed"),
    "accounts/email/link_inactive_warning": gettext_lazy("warning: link ends for lack of use"),
    "accounts/email/link_inactive_undone": gettext_lazy("notice: link ended for lack of use"),
    "beheer/email/access_review_due": gettext_lazy("access review due"),
    "beheer/email/access_review_overdue": gettext_lazy("access review overdue"),
}


def action_label(code: str) -> str:
    try:
        return str(AuditAction(code).label)
    except ValueError:
        return code


def result_label(code: str) -> str:
    try:
        return str(AuditResult(code).label)
    except ValueError:
        return code


def value_label(value) -> str:
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if value is None or value == "":
        return "—"
    text = str(value)
    label = VALUE_LABELS.get(text)
    return str(label) if label is not None else text


def detail_items(detail: dict | None) -> list[tuple[str, str]]:
    """The detail of one event as (Dutch label, readable value) pairs, in a stable order."""
    return [
        (str(DETAIL_LABELS.get(key, key.replace("_", " "))), value_label(value))
        for key, value in sorted((detail or {}).items(), key=lambda item: _detail_order(item[0]))
    ]


def _detail_order(key: str) -> tuple[int, str]:
    keys = list(DETAIL_LABELS)
    return (keys.index(key), key) if key in keys else (len(keys), key)


def account_screen_url(pk) -> str:
    return reverse("admin:accounts_account_helpdesk", args=[pk])


def object_url(event: AuditEvent) -> str:
    """The admin page of the event's object, when it has one."""
    if not event.object_type or not event.object_id:
        return ""
    if event.object_type == Account._meta.label:
        return account_screen_url(event.object_id)
    try:
        model = apps.get_model(event.object_type)
    except (LookupError, ValueError):
        return ""
    if not admin.site.is_registered(model):
        return ""
    try:
        return reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[event.object_id]
        )
    except NoReverseMatch:
        return ""


def _link(url: str, text: str):
    if not text:
        return "—"
    return format_html('<a href="{}">{}</a>', url, text) if url else text


# --- filters -------------------------------------------------------------------------------------


class ActionFilter(admin.SimpleListFilter):
    title = gettext_lazy("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return sorted(AuditAction.choices, key=lambda choice: str(choice[1]))

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class ResultFilter(admin.SimpleListFilter):
    title = gettext_lazy("result")
    parameter_name = "result"

    def lookups(self, request, model_admin):
        return AuditResult.choices

    def queryset(self, request, queryset):
        return queryset.filter(result=self.value()) if self.value() else queryset


class AuditSearchForm(forms.Form):
    van = forms.DateField(
        label=gettext_lazy("From (date)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d-%m-%Y"],
    )
    tot = forms.DateField(
        label=gettext_lazy("Up to and including (date)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d-%m-%Y"],
    )
    organisatie = forms.CharField(
        label=gettext_lazy("Organisation (name or number)"), required=False, max_length=200
    )
    gebruikersnaam = forms.CharField(label=gettext_lazy("Account (username)"), required=False, max_length=64)
    account_id = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    organisatie_id = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("van") and cleaned.get("tot") and cleaned["tot"] < cleaned["van"]:
            self.add_error("tot", _("The end date lies before the start date."))
        return cleaned


SEARCH_PARAMETERS = list(AuditSearchForm.base_fields)


def _pk_texts(queryset: QuerySet) -> QuerySet:
    """The primary keys of ``queryset`` as text, to compare with ``AuditEvent.object_id``."""
    return queryset.annotate(pk_text=Cast("pk", output_field=CharField())).values("pk_text")


def _about_accounts(accounts: QuerySet, *, usernames: list[str] = ()) -> Q:
    """Events with one of ``accounts`` as object or actor, or one of their links, or a typed username."""
    about = Q(object_type=Account._meta.label, object_id__in=_pk_texts(accounts))
    about |= Q(actor_id__in=Subquery(accounts.values("pk")))
    try:
        koppeling_model = apps.get_model("koppeling", "Koppeling")
    except LookupError:
        koppeling_model = None
    if koppeling_model is not None:
        about |= Q(
            object_type=koppeling_model._meta.label,
            object_id__in=_pk_texts(
                koppeling_model.objects.filter(account__in=Subquery(accounts.values("pk")))
            ),
        )
    for username in usernames:
        about |= Q(detail__username=username)
    return about


def username_normalise(text: str) -> str:
    return "".join((text or "").split()).replace("-", "").upper()


class AuditSearchFilter(admin.ListFilter):
    """Period, organisation and account in one labelled form (the koppel attempts of a username included)."""

    title = gettext_lazy("period, organisation and account")
    template = "admin/accounts/auditevent/search_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        data = {}
        for name in SEARCH_PARAMETERS:
            values = params.pop(name, None)
            if values:
                value = values[-1] if isinstance(values, list) else values
                data[name] = value
                self.used_parameters[name] = value
        self.form = AuditSearchForm(data or None)
        self.valid = not data or self.form.is_valid()
        self.hidden_params = [
            (name, value)
            for name, values in request.GET.lists()
            if name not in SEARCH_PARAMETERS and name not in ("p", "e")
            for value in values
        ]

    def has_output(self):
        return True

    def choices(self, changelist):
        return []

    def expected_parameters(self):
        return SEARCH_PARAMETERS

    def queryset(self, request, queryset):
        if not self.used_parameters or not self.valid:
            return queryset
        data = self.form.cleaned_data
        zone = timezone.get_current_timezone()
        if data.get("van"):
            queryset = queryset.filter(created_at__gte=datetime.combine(data["van"], time.min, zone))
        if data.get("tot"):
            queryset = queryset.filter(
                created_at__lt=datetime.combine(data["tot"] + timedelta(days=1), time.min, zone)
            )
        if data.get("organisatie"):
            text = data["organisatie"].strip()
            organisaties = Organisatie.objects.filter(
                Q(naam__icontains=text)
                | Q(kvk_nummer=text)
                | Q(rsin=text)
                | Q(instellingscode__iexact=text)
                | Q(bestuursnummer=text)
                | Q(gemeentecode=text)
                | Q(crediteurnummer=text)
            )
            queryset = queryset.filter(
                _about_accounts(Account.objects.filter(organisatie__in=organisaties))
                | Q(object_type=Organisatie._meta.label, object_id__in=_pk_texts(organisaties))
            )
        if data.get("organisatie_id"):
            organisaties = Organisatie.objects.filter(pk=data["organisatie_id"])
            queryset = queryset.filter(
                _about_accounts(Account.objects.filter(organisatie__in=organisaties))
                | Q(object_type=Organisatie._meta.label, object_id=str(data["organisatie_id"]))
            )
        if data.get("gebruikersnaam"):
            username = username_normalise(data["gebruikersnaam"])
            queryset = queryset.filter(
                _about_accounts(Account.objects.filter(username=username), usernames=[username])
            )
        if data.get("account_id"):
            # By object and actor only (indexed): every koppel attempt on a real username names its
            # account (koppeling.services.koppel_attempt); the typed-username search is "gebruikersnaam".
            queryset = queryset.filter(_about_accounts(Account.objects.filter(pk=data["account_id"])))
        return queryset


# --- the admin -----------------------------------------------------------------------------------


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CHUNK = 2000


def csv_cell(value) -> str:
    """One exported cell as text, never a formula (OWASP CSV injection: a leading apostrophe)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action_display", "result_display", "actor_link", "object_link", "ip"]
    list_display_links = ["created_at"]
    list_filter = [AuditSearchFilter, ActionFilter, ResultFilter]
    search_fields = ["actor_repr", "object_repr", "object_id", "ip", "request_id"]
    search_help_text = gettext_lazy("Search by actor, object, IP address or request number.")
    change_list_template = "admin/accounts/auditevent/change_list.html"
    show_full_result_count = False
    fields = [
        "created_at",
        "action_display",
        "result_display",
        "actor_link",
        "object_link",
        "ip",
        "request_id",
        "detail_list",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("action"), ordering="action")
    def action_display(self, obj):
        return action_label(obj.action)

    @admin.display(description=gettext_lazy("result"), ordering="result")
    def result_display(self, obj):
        return result_label(obj.result)

    @admin.display(description=gettext_lazy("by"))
    def actor_link(self, obj):
        if obj.actor_id is None:
            return obj.actor_repr or _("system or visitor")
        return _link(account_screen_url(obj.actor_id), obj.actor_repr or str(obj.actor_id))

    @admin.display(description=gettext_lazy("object"))
    def object_link(self, obj):
        return _link(object_url(obj), obj.object_repr or obj.object_id)

    @admin.display(description=gettext_lazy("detail"))
    def detail_list(self, obj):
        items = detail_items(obj.detail)
        if not items:
            return "—"
        return format_html(
            '<dl class="audit-detail">{}</dl>',
            format_html_join("", "<dt>{}</dt><dd>{}</dd>", items),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_view),
            name="accounts_auditevent_export",
        )
        return [export, *super().get_urls()]

    def _search_invalid(self, request) -> bool:
        data = {name: request.GET[name] for name in SEARCH_PARAMETERS if request.GET.get(name)}
        return bool(data) and not AuditSearchForm(data).is_valid()

    def changelist_view(self, request, extra_context=None):
        invalid = self._search_invalid(request)
        if invalid:
            messages.error(request, _("The filter is not valid (see the dates); it was not applied."))
        response = super().changelist_view(request, extra_context=extra_context)
        if invalid and response.status_code == 200:
            response.status_code = 400
        return response

    def export_view(self, request):
        """The filtered selection as CSV, streamed row by row; the export itself is audited."""
        if not self.has_view_permission(request):
            audit_log(
                action=AuditAction.AUDIT_EXPORT,
                result=AuditResult.REFUSED,
                request=request,
                detail={"reason_code": "no_permission"},
            )
            raise PermissionDenied
        if self._search_invalid(request):
            messages.error(request, _("The filter is not valid (see the dates); nothing was exported."))
            response = self.changelist_view(request)
            response.status_code = 400
            return response
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        filters = request.GET.urlencode()
        audit_log(action=AuditAction.AUDIT_EXPORT, request=request, detail={"filters": filters[:500]})
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(
            _export_rows(queryset, language=translation.get_language()),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="audittrail-{stamp}.csv"'
        return response


EXPORT_HEADER = [
    gettext_lazy("time (UTC)"),
    gettext_lazy("action"),
    gettext_lazy("action code"),
    gettext_lazy("result"),
    gettext_lazy("by"),
    gettext_lazy("by (account number)"),
    gettext_lazy("object type"),
    gettext_lazy("object number"),
    gettext_lazy("object"),
    gettext_lazy("IP address"),
    gettext_lazy("request number"),
    gettext_lazy("detail"),
]


def _export_rows(queryset: QuerySet, *, language: str) -> Iterator[str]:
    """The CSV row by row, in the language of the request (the body is produced after the view returned)."""
    writer = csv.writer(_Echo(), delimiter=";")
    with translation.override(language):
        yield "\ufeff"
        yield writer.writerow([csv_cell(str(title)) for title in EXPORT_HEADER])
        for event in queryset.iterator(chunk_size=EXPORT_CHUNK):
            detail = "; ".join(f"{label}: {value}" for label, value in detail_items(event.detail))
            row = [
                event.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                action_label(event.action),
                event.action,
                result_label(event.result),
                event.actor_repr,
                event.actor_id,
                event.object_type,
                event.object_id,
                event.object_repr,
                event.ip,
                event.request_id,
                detail,
            ]
            yield writer.writerow([csv_cell(value) for value in row])
