"""The helpdesk's login to the admin: username, password and the current code of their app, in one step.

django-otp's admin form asks for an explicit device: with a right username, password and code, the
first answer is "Please select a device." and a device drop-down with a challenge button — things a
TOTP app or a list of backup codes never needs. Here the code is tried against each of the member's
confirmed devices and the first that verifies it logs the member in. django-otp's throttling stays per
device; a device tried before the one that matched keeps the failure count it had (the member did
nothing wrong with it — the concern behind django-otp's explicit choice).

Every failure gets one answer — unknown user, wrong password, no device, wrong or used code — so the
form tells nobody that the password alone was right. A wrong code is a failed login for django-axes
(5 per username, 15 minutes) and the audit trail, as a wrong password is.
"""

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.admin import OTPAdminSite
from django_otp.models import Device
from django_otp_webauthn.models import WebAuthnCredential

from .audit import audit_log
from .constants import AuditAction, AuditResult

THROTTLE_FIELDS = ("throttling_failure_count", "throttling_failure_timestamp")


def otp_device_verify(*, user, token: str) -> Device | None:
    """Return the first confirmed device of ``user`` that accepts ``token`` (and records its use), or None.

    The devices are locked while they are tried, so one code cannot be used twice by parallel
    requests. When a device accepts the code, the failures this same try recorded on the devices
    tried before it are taken back; when none accepts it, each keeps its failure.
    """
    with transaction.atomic():
        tried: list[tuple[Device, dict]] = []
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            before = {name: getattr(device, name) for name in THROTTLE_FIELDS if hasattr(device, name)}
            if device.verify_token(token):
                for other, state in tried:
                    if state:
                        type(other).objects.filter(pk=other.pk).update(**state)
                return device
            tried.append((device, before))
    return None


def otp_token_field() -> forms.CharField:
    """The verification-code field: a code from the authenticator app or a backup code, which
    ``otp_device_verify`` tries against every confirmed device (so no device choice)."""
    return forms.CharField(
        label=_("Verification code"),
        max_length=32,
        strip=True,
        help_text=_("The code your authenticator app shows now, or one of your backup codes."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


class HelpdeskLoginForm(AdminAuthenticationForm):
    """Username, password and verification code; no device choice, no challenge button."""

    otp_token = otp_token_field()

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "passkey_required": _("Helpdesk staff log in with their passkey: use the button below."),
        "invalid_login": _(
            "Enter the correct username, password and verification code of a staff account. "
            "Note that the fields may be case-sensitive."
        ),
    }

    def confirm_login_allowed(self, user):
        """A right password of an account that may not use the admin (not staff) is a refused login too:
        audited (and counted by django-axes) like a wrong one, with the same answer."""
        try:
            super().confirm_login_allowed(user)
        except ValidationError:
            user_login_failed.send(
                sender=__name__,
                credentials={"username": self.cleaned_data.get("username", "")},
                request=self.request,
            )
            raise

    def clean(self):
        if settings.HELPDESK_REQUIRE_PASSKEY:
            # Nothing is checked, so the answer tells nothing about the password.
            audit_log(
                action=AuditAction.ADMIN_LOGIN_FAILED,
                result=AuditResult.REFUSED,
                request=self.request,
                detail={
                    "username": str(self.cleaned_data.get("username", ""))[:150],
                    "reason_code": "passkey_required",
                },
            )
            raise ValidationError(self.error_messages["passkey_required"], code="passkey_required")
        token = self.cleaned_data.get("otp_token")
        if not token:
            # The field's own error says what is missing. No password check without a code:
            # its answer would tell whether the password alone was right.
            return self.cleaned_data
        super().clean()  # the password (through django-axes) and is_staff
        if self.user_cache is None:  # username or password missing: their fields say so
            return self.cleaned_data
        device = otp_device_verify(user=self.user_cache, token=token)
        if device is None:
            # Counted by django-axes and written to the audit trail like a wrong password.
            user_login_failed.send(
                sender=__name__,
                credentials={"username": self.cleaned_data.get("username", "")},
                request=self.request,
            )
            self.user_cache = None
            raise self.get_invalid_login_error()
        # django_otp.login() records the device in the session when auth's login() runs.
        self.user_cache.otp_device = device
        return self.cleaned_data


class HelpdeskAdminSite(OTPAdminSite):
    """django-otp's admin site; with ``HELPDESK_REQUIRE_PASSKEY`` only a passkey-verified session opens it."""

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        if settings.HELPDESK_REQUIRE_PASSKEY:
            if isinstance(getattr(request.user, "otp_device", None), WebAuthnCredential):
                return True
            # A session verified otherwise (a TOTP code) while only passkeys may open the admin.
            # Django asks several times per request (the view, the login page, its context): one
            # refusal, one audit event.
            if getattr(request, "_passkey_refusal_audited", False):
                return False
            request._passkey_refusal_audited = True
            audit_log(
                action=AuditAction.ADMIN_LOGIN_FAILED,
                result=AuditResult.REFUSED,
                request=request,
                detail={"username": request.user.get_username()[:150], "reason_code": "passkey_required"},
            )
            return False
        return True
