"""The DUO services the portal hands users to (design.md §9), and each hand-off."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AccessToken, Application

from accounts.models import Rol


def _sub_secret() -> str:
    return secrets.token_hex(32)


class Dienst(models.Model):
    """A DUO service behind the portal, registered by the helpdesk, with its OpenID Connect client.

    The client is django-oauth-toolkit's Application (confidential, authorization code, exact
    redirect URIs); the Dienst adds what the portal decides: which rollen may use it.
    """

    code = models.SlugField(_("code"), max_length=64, unique=True)
    naam_nl = models.CharField(_("name (Dutch)"), max_length=200)
    naam_en = models.CharField(_("name (English)"), max_length=200)
    omschrijving = models.TextField(_("description"), blank=True)
    launch_url = models.URLField(
        _("launch URL"),
        max_length=500,
        help_text=_("Where the overview sends a user with one of its rollen."),
    )
    rollen = models.ManyToManyField(
        Rol,
        related_name="diensten",
        verbose_name=_("rollen"),
        help_text=_("Only users with one of these rollen may log in at this service."),
    )
    enabled = models.BooleanField(_("enabled"), default=False)
    application = models.OneToOneField(
        Application,
        on_delete=models.PROTECT,
        related_name="dienst",
        verbose_name=_("OpenID Connect client"),
    )
    backchannel_logout_uri = models.URLField(
        _("back-channel logout URI"),
        max_length=500,
        blank=True,
        help_text=_("OpenID Connect Back-Channel Logout 1.0: where the portal reports a logout."),
    )
    token_endpoint_auth_method = models.CharField(
        _("client authentication"),
        max_length=32,
        choices=[
            ("client_secret_basic", _("Client secret (HTTP Basic or in the body)")),
            ("private_key_jwt", _("Signed JWT with the service's own key (private_key_jwt, RFC 7523)")),
        ],
        default="client_secret_basic",
        help_text=_("With private_key_jwt the client secret is not accepted."),
    )
    jwks = models.JSONField(
        _("public keys (JWKS)"),
        default=dict,
        blank=True,
        help_text=_('For private_key_jwt: the service\'s public keys as a JWK Set ({"keys": [...]}).'),
    )
    jwks_uri = models.URLField(
        _("JWKS URI"),
        max_length=500,
        blank=True,
        help_text=_(
            "For private_key_jwt: where the portal fetches the service's public keys (instead of JWKS)."
        ),
    )
    # The key of this Dienst's pairwise subject identifiers: random per Dienst, never shown, never
    # changed (a new value would give every user a new identity at the Dienst).
    sub_secret = models.CharField(max_length=64, default=_sub_secret, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("DUO service")
        verbose_name_plural = _("DUO services")
        ordering = ["naam_nl"]

    def __str__(self):
        return self.naam

    @property
    def naam(self) -> str:
        return self.naam_en if (get_language() or "nl").startswith("en") else self.naam_nl


class Handoff(models.Model):
    """One hand-off of a portal login to a Dienst: an authorization code and the tokens it gave.

    It keeps what the ID token must say about the portal login (the eHerkenning level, the
    intermediary, the login time), which the token request — server to server, without the
    user's session — cannot read. A code presented twice finds its hand-off here, so the tokens of
    its first use can be revoked (RFC 6749 §4.1.2). The portal session's key is kept hashed for
    back-channel logout.
    """

    dienst = models.ForeignKey(Dienst, on_delete=models.CASCADE, related_name="handoffs")
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64, unique=True)
    access_token = models.OneToOneField(
        AccessToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="handoff"
    )
    session_key_hash = models.CharField(max_length=64, blank=True, db_index=True)
    sid = models.CharField(max_length=64, blank=True)
    acr = models.CharField(max_length=100)
    amr = models.JSONField(default=list)
    auth_time = models.DateTimeField()
    koppeling_id = models.BigIntegerField(null=True, blank=True)
    intermediair = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("hand-off to a service")
        verbose_name_plural = _("hand-offs to services")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.dienst_id}/{self.account_id} {self.created_at:%Y-%m-%d %H:%M}"


class BackchannelLogout(models.Model):
    """A logout token to deliver to one Dienst (OpenID Connect Back-Channel Logout 1.0).

    An outbox row, written in the transaction of the logout that causes it: a delivery whose Celery
    message is lost (broker down) or whose retries ran out is picked up by the beat sweep, so none
    is lost. ``delivered_at`` is set once the Dienst answered 200 or 204.
    """

    dienst = models.ForeignKey(Dienst, on_delete=models.CASCADE, related_name="+")
    sub = models.CharField(max_length=64)
    sid = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("back-channel logout")
        verbose_name_plural = _("back-channel logouts")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.dienst_id} {self.reason} {self.created_at:%Y-%m-%d %H:%M}"


class UsedClientAssertion(models.Model):
    """A private_key_jwt client assertion's ``jti``, kept until the assertion expires: a second use
    is refused (RFC 7523 §3, point 7), across workers (the unique constraint decides)."""

    dienst = models.ForeignKey(Dienst, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=200)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dienst", "jti"], name="uniq_client_assertion_jti")]

    def __str__(self):
        return f"{self.dienst_id} {self.jti}"
