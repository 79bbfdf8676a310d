"""The helpdesk registers the DUO services and their OpenID Connect clients (issue 18)."""

from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from joserfc.jwk import KeySet
from oauth2_provider.models import AccessToken, Application, Grant, IDToken, RefreshToken

from accounts.admin import AuditedAdminMixin
from accounts.audit import audit_log
from accounts.constants import AuditAction

from . import services
from .models import Dienst

# The helpdesk manages clients through their Dienst only (confidential, code flow, RS256, exact
# redirect URIs); django-oauth-toolkit's own admin pages would let it make any other kind.
for _model in (Application, AccessToken, Grant, IDToken, RefreshToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class DienstAdminForm(forms.ModelForm):
    redirect_uris = forms.CharField(
        label=_("Redirect URIs"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line. The service must send exactly one of these, character for character."),
    )
    post_logout_redirect_uris = forms.CharField(
        label=_("Post-logout redirect URIs"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=_("One per line: where the service may send a user after logging out."),
    )

    class Meta:
        model = Dienst
        fields = [
            "code",
            "naam_nl",
            "naam_en",
            "omschrijving",
            "launch_url",
            "rollen",
            "enabled",
            "backchannel_logout_uri",
            "token_endpoint_auth_method",
            "jwks",
            "jwks_uri",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.application_id:
            self.initial["redirect_uris"] = self.instance.application.redirect_uris
            self.initial["post_logout_redirect_uris"] = self.instance.application.post_logout_redirect_uris

    def clean(self):
        cleaned = super().clean()
        application = self.instance.application if self.instance.application_id else Application()
        application.redirect_uris = (cleaned.get("redirect_uris") or "").strip()
        application.post_logout_redirect_uris = (cleaned.get("post_logout_redirect_uris") or "").strip()
        application.client_type = Application.CLIENT_CONFIDENTIAL
        application.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
        application.algorithm = Application.RS256_ALGORITHM
        if cleaned.get("jwks_uri") and urlsplit(cleaned["jwks_uri"]).scheme != "https":
            self.add_error("jwks_uri", _("The JWKS URI must start with https://."))
        if cleaned.get("token_endpoint_auth_method") == "private_key_jwt":
            jwks, jwks_uri = cleaned.get("jwks"), cleaned.get("jwks_uri")
            if not jwks and not jwks_uri:
                self.add_error("jwks", _("private_key_jwt needs the service's public keys or a JWKS URI."))
            elif jwks:
                try:
                    KeySet.import_key_set(jwks)
                except Exception:  # noqa: BLE001  (any malformed JWK Set)
                    self.add_error("jwks", _("This is not a JWK Set with public keys."))
                else:
                    if any("d" in key for key in (jwks.get("keys") or [])):
                        self.add_error("jwks", _("Only public keys: this JWK Set holds a private key."))
        try:
            application.clean()
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.error_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
            else:
                self.add_error(None, error)
        return cleaned


@admin.register(Dienst)
class DienstAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = DienstAdminForm
    list_display = ["naam_nl", "code", "enabled", "client_id"]
    list_filter = ["enabled"]
    search_fields = ["naam_nl", "naam_en", "code"]
    filter_horizontal = ["rollen"]
    readonly_fields = ["client_id"]
    actions = ["secret_renew"]
    fieldsets = [
        (None, {"fields": ["code", "naam_nl", "naam_en", "omschrijving", "launch_url", "enabled"]}),
        (_("Who may use it"), {"fields": ["rollen"]}),
        (
            _("OpenID Connect client"),
            {
                "fields": [
                    "client_id",
                    "redirect_uris",
                    "post_logout_redirect_uris",
                    "backchannel_logout_uri",
                    "token_endpoint_auth_method",
                    "jwks",
                    "jwks_uri",
                ]
            },
        ),
    ]

    @admin.display(description=_("client ID"))
    def client_id(self, obj):
        return obj.application.client_id if obj and obj.application_id else "—"

    def save_model(self, request, obj, form, change):
        _dienst, secret = services.dienst_client_save(
            dienst=obj,
            redirect_uris=form.cleaned_data["redirect_uris"],
            post_logout_redirect_uris=form.cleaned_data.get("post_logout_redirect_uris") or "",
        )
        if secret:
            self._secret_show(request, obj, secret)

    @admin.action(description=_("Give the selected services a new client secret"))
    def secret_renew(self, request, queryset):
        for dienst in queryset.select_related("application"):
            secret = services.dienst_secret_renew(dienst=dienst)
            audit_log(
                action=AuditAction.ADMIN_CHANGE,
                request=request,
                obj=dienst,
                detail={"change": "client_secret_renewed"},
            )
            self._secret_show(request, dienst, secret)

    def _secret_show(self, request, dienst, secret):
        messages.warning(
            request,
            _(
                "Client ID of %(dienst)s: %(client_id)s — client secret: %(secret)s. Give the secret to the "
                "service's builders now over a safe channel: it is stored hashed and is never shown again."
            )
            % {"dienst": dienst.naam_nl, "client_id": dienst.application.client_id, "secret": secret},
        )
