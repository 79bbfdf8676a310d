"""Passkeys (WebAuthn) for the helpdesk's admin login, on django-otp-webauthn.

A passkey is phishing-resistant where a TOTP code is not: the browser signs the challenge for this
site's origin only, so a look-alike site that relays the helpdesk's login gets nothing it can use.
The login is passwordless (a discoverable credential, user verification required: the passkey is
something the member has, unlocked by something they know or are); the login screen offers it beside
username + password + TOTP code, and ``HELPDESK_REQUIRE_PASSKEY`` turns the second way off for staff.

Enrolment is in person, like TOTP enrolment (``manage.py enrol_totp``): ``manage.py enrol_passkey
USERNAME`` prints a one-time link, valid for a quarter of an hour; the member opens it in their own
browser, confirms with their password (and, when they have a TOTP device, its current code: link and
password alone are not a second factor), and creates the passkey. The link stops working once used
(a new credential changes the state it was signed over), after a password change, or when it expires.

Every refusal — an unknown or disabled passkey, a non-staff account, a bad or replayed ceremony, a
wrong password or link at enrolment — is written to the audit trail.
"""

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth.signals import user_login_failed
from django.core import signing
from django.http import Http404
from django.middleware import csrf
from django.shortcuts import render, resolve_url
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn import exceptions as webauthn_exceptions
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.utils import rewrite_exceptions
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from .admin_login import otp_device_verify, otp_token_field
from .audit import audit_log
from .constants import AuditAction, AuditResult
from .models import Account

ENROLMENT_MAX_AGE = 15 * 60  # seconds
ENROLMENT_SESSION_KEY = "passkey_enrolment_account"
ENROLMENT_SALT = "accounts.passkeys.enrolment"


# --- the relying party: this site, as SITE_URL names it ------------------------------------------


def site_rp_id(request=None) -> str:
    """The relying party id: the host name of SITE_URL (a passkey is bound to it)."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def site_origin() -> str:
    parts = urlsplit(settings.SITE_URL)
    return f"{parts.scheme}://{parts.netloc}"


class HelpdeskWebAuthnHelper(WebAuthnHelper):
    """The relying party is SITE_URL, read at every ceremony (a changed SITE_URL needs no restart)."""

    def get_relying_party_domain(self) -> str:
        return site_rp_id()

    def get_allowed_origins(self) -> list[str]:
        return [site_origin()]


# --- login --------------------------------------------------------------------------------------


class CsrfOnly(SessionAuthentication):
    """CSRF checked on every ceremony request, also before anyone is logged in; authenticates nobody.

    DRF's session authentication checks CSRF only for a logged-in user, and its default list has Basic
    authentication, a password check beside django-axes: neither belongs on these endpoints.
    """

    def authenticate(self, request):
        self.enforce_csrf(request)
        return None


class NotHelpdeskStaff(APIException):
    status_code = 403
    default_detail = _("This passkey cannot be used to log in to the helpdesk.")
    default_code = "not_staff"


class AuditedRefusalsMixin:
    """Every refused ceremony is an ``admin.login_failed`` (or enrolment) event with the reason code."""

    authentication_classes = [CsrfOnly]
    permission_classes = [AllowAny]
    audit_action = AuditAction.ADMIN_LOGIN_FAILED

    def handle_exception(self, exc):
        code = getattr(exc, "default_code", None) or type(exc).__name__
        audit_log(
            action=self.audit_action,
            result=AuditResult.REFUSED,
            request=self.request,
            obj=getattr(self, "audited_account", None),
            detail={"method": "passkey", "reason_code": str(code)[:64]},
        )
        return super().handle_exception(exc)


@method_decorator(never_cache, name="dispatch")
class PasskeyLoginBeginView(AuditedRefusalsMixin, BeginCredentialAuthenticationView):
    """The challenge for a passwordless login (no user yet: user verification is required)."""

    def get_user(self):
        return None

    def get_helper(self):
        return HelpdeskWebAuthnHelper(request=self.request)


@method_decorator(never_cache, name="dispatch")
class PasskeyLoginCompleteView(AuditedRefusalsMixin, CompleteCredentialAuthenticationView):
    """Verify the signed challenge; log the member in with the passkey as their verified OTP device."""

    def get_user(self):
        return None

    def get_helper(self):
        return HelpdeskWebAuthnHelper(request=self.request)

    def check_device_usable(self, device):
        self.audited_account = device.user
        super().check_device_usable(device)
        if not device.user.is_staff:
            raise NotHelpdeskStaff()

    def complete_auth(self, device):
        # auth's login cycles the session key and sends user_logged_in (audited as admin.login).
        auth_login(self.request, device.user, backend="django.contrib.auth.backends.ModelBackend")
        otp_login(self.request, device)

    def get_success_url(self):
        return self.get_redirect_url() or resolve_url("admin:index")


# --- enrolment, in person -----------------------------------------------------------------------


def _enrolment_state(account: Account) -> str:
    """What a link is signed over: a new passkey or a new password makes every earlier link invalid."""
    last = (
        WebAuthnCredential.objects.filter(user=account).order_by("-pk").values_list("pk", flat=True).first()
    )
    return salted_hmac(
        ENROLMENT_SALT, f"{account.pk}|{account.password}|{last}|{account.is_staff}|{account.is_active}"
    ).hexdigest()[:32]


def passkey_enrolment_token(*, account: Account) -> str:
    return signing.dumps({"a": account.pk, "s": _enrolment_state(account)}, salt=ENROLMENT_SALT)


def passkey_enrolment_url(*, account: Account) -> str:
    token = passkey_enrolment_token(account=account)
    return settings.SITE_URL.rstrip("/") + reverse("passkey_enrol", args=[token])


def passkey_enrolment_account(token: str) -> Account | None:
    """The staff account a still valid, unused enrolment link is for, else None."""
    try:
        data = signing.loads(token, salt=ENROLMENT_SALT, max_age=ENROLMENT_MAX_AGE)
    except signing.BadSignature:
        return None
    account = Account.objects.filter(pk=data.get("a"), is_staff=True, is_active=True).first()
    if account is None or not constant_time_compare(data.get("s", ""), _enrolment_state(account)):
        return None
    return account


class PasskeyEnrolPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp_token = otp_token_field()

    def __init__(self, *args, code_required: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not code_required:
            del self.fields["otp_token"]


def _code_required(account: Account) -> bool:
    """An account with a confirmed TOTP device proves its second factor before it may add a passkey."""
    return TOTPDevice.objects.filter(user=account, confirmed=True).exists()


def _refuse_link(request, reason: str, account=None):
    audit_log(
        action=AuditAction.PASSKEY_ENROL,
        result=AuditResult.REFUSED,
        request=request,
        obj=account,
        detail={"reason_code": reason},
    )
    raise Http404(_("This enrolment link is not valid (any more). Ask for a new one."))


@never_cache
@sensitive_post_parameters("password")
def passkey_enrol(request, token: str):
    """Step 1: the member confirms with their password. Step 2: their browser creates the passkey."""
    account = passkey_enrolment_account(token)
    if account is None:
        _refuse_link(request, "invalid_link")
    context = {
        **admin.site.each_context(request),
        "title": _("Register a passkey"),
        "account": account,
        "token": token,
    }
    if request.session.get(ENROLMENT_SESSION_KEY) == [account.pk, token]:
        return TemplateResponse(request, "admin/passkey_enrol.html", {**context, "step": "register"})
    code_required = _code_required(account)
    form = PasskeyEnrolPasswordForm(request.POST or None, code_required=code_required)
    if request.method == "POST" and form.is_valid():
        # Through authenticate(): django-axes counts a wrong password here as at the login (5 per username).
        user = authenticate(request, username=account.username, password=form.cleaned_data["password"])
        password_right = user is not None and user.pk == account.pk
        code_right = not code_required or (
            password_right
            and otp_device_verify(user=account, token=form.cleaned_data["otp_token"]) is not None
        )
        if password_right and code_right:
            request.session.cycle_key()
            request.session[ENROLMENT_SESSION_KEY] = [account.pk, token]
            return TemplateResponse(request, "admin/passkey_enrol.html", {**context, "step": "register"})
        if password_right:
            # A wrong code is a failed login: django-axes counts it, the audit trail has it.
            user_login_failed.send(
                sender=__name__, credentials={"username": account.username}, request=request
            )
        audit_log(
            action=AuditAction.PASSKEY_ENROL,
            result=AuditResult.REFUSED,
            request=request,
            obj=account,
            detail={"reason_code": "wrong_password" if not password_right else "wrong_code"},
        )
        if code_required:
            # One answer for both: it does not tell whether the password alone was right.
            form.add_error(None, _("That password or verification code is not correct."))
        else:
            form.add_error("password", _("That password is not correct."))
    status = 400 if request.method == "POST" else 200
    return render(
        request, "admin/passkey_enrol.html", {**context, "step": "password", "form": form}, status=status
    )


class EnrolmentMixin(AuditedRefusalsMixin):
    audit_action = AuditAction.PASSKEY_ENROL

    def initial(self, request, *args, **kwargs):
        self.audited_account = passkey_enrolment_account(kwargs["token"])
        super().initial(request, *args, **kwargs)

    def check_can_register(self):
        account = self.audited_account
        if account is None or self.request.session.get(ENROLMENT_SESSION_KEY) != [
            account.pk,
            self.kwargs["token"],
        ]:
            raise webauthn_exceptions.InvalidState()

    def get_user(self):
        return self.audited_account

    def get_helper(self):
        return HelpdeskWebAuthnHelper(request=self.request)


@method_decorator(never_cache, name="dispatch")
class PasskeyEnrolBeginView(EnrolmentMixin, BeginCredentialRegistrationView):
    pass


@method_decorator(never_cache, name="dispatch")
class PasskeyEnrolCompleteView(EnrolmentMixin, CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        account = self.get_user()
        state = self.get_state()
        with rewrite_exceptions(logger=None):
            device = self.get_helper().register_complete(user=account, state=state, data=self.request.data)
        self.request.session.pop(ENROLMENT_SESSION_KEY, None)
        audit_log(action=AuditAction.PASSKEY_ENROL, request=self.request, actor=account, obj=account)
        return Response(data={"id": device.pk}, content_type="application/json")


def passkey_login_config(request) -> dict:
    """The configuration django-otp-webauthn's login script reads (json_script, no inline script)."""
    return {
        "autocompleteLoginFieldSelector": None,
        "csrfToken": csrf.get_token(request),
        "beginAuthenticationUrl": reverse("passkey_login_begin"),
        "completeAuthenticationUrl": reverse("passkey_login_complete"),
        "beginRegistrationUrl": "",
        "completeRegistrationUrl": "",
    }


def passkey_enrol_config(request, token: str) -> dict:
    return {
        "autocompleteLoginFieldSelector": None,
        "csrfToken": csrf.get_token(request),
        "beginAuthenticationUrl": "",
        "completeAuthenticationUrl": "",
        "beginRegistrationUrl": reverse("passkey_enrol_begin", args=[token]),
        "completeRegistrationUrl": reverse("passkey_enrol_complete", args=[token]),
    }
