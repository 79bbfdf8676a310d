"""The helpdesk's passkey endpoints, under /admin/passkey/ (accounts/passkeys.py)."""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from . import passkeys

urlpatterns = [
    path("inloggen/begin/", passkeys.PasskeyLoginBeginView.as_view(), name="passkey_login_begin"),
    path("inloggen/voltooien/", passkeys.PasskeyLoginCompleteView.as_view(), name="passkey_login_complete"),
    path("registreren/<str:token>/", passkeys.passkey_enrol, name="passkey_enrol"),
    path(
        "registreren/<str:token>/begin/", passkeys.PasskeyEnrolBeginView.as_view(), name="passkey_enrol_begin"
    ),
    path(
        "registreren/<str:token>/voltooien/",
        passkeys.PasskeyEnrolCompleteView.as_view(),
        name="passkey_enrol_complete",
    ),
    # The texts of django-otp-webauthn's scripts (its own Dutch catalogue).
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]), name="passkey_jsi18n"),
]
