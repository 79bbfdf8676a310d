from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import views as account_views
from koppeling.saml import views as saml_views

urlpatterns = [
    # The OpenID Connect provider for the DUO services (design.md §9): /o/… and the discovery document.
    # First: the Diensten call these endpoints at machine rates (userinfo, token), and Django tries
    # the patterns in order: resolving /o/userinfo/ behind the portal's pages took 66 µs, first 25 µs;
    # a portal page pays ~14 µs for these eight (/overzicht/ 24 -> 38 µs, against ~3 ms for the page).
    path("", include("diensten.urls")),
    path("", include("accounts.urls")),
    path("koppelen/", include("koppeling.urls")),
    path("beheer/", include("beheer.urls")),
    # The helpdesk's passkeys (WebAuthn): login ceremony and in-person enrolment (accounts/passkeys.py).
    path("admin/passkey/", include("accounts.passkey_urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("toegankelijkheid", RedirectView.as_view(url="/toegankelijkheid/", permanent=True)),
    path("saml2/", include("koppeling.saml.urls")),
    path("uitloggen/", saml_views.logout_view, name="logout"),
]

# The portal's own error pages, rendered without the database (mijnduo/errors.py; 405 by middleware).
handler400 = "mijnduo.errors.bad_request"
handler403 = "mijnduo.errors.permission_denied"
handler404 = "mijnduo.errors.page_not_found"
handler500 = "mijnduo.errors.server_error"

if settings.DEV_MAILBOX_ENABLED:
    urlpatterns += [
        path("dev/mail/", account_views.dev_mail_list, name="dev_mail_list"),
        path("dev/mail/<str:name>/", account_views.dev_mail_detail, name="dev_mail_detail"),
    ]

if settings.EHERKENNING_DEV_BROKER:
    urlpatterns += [path("dev/broker/", include("koppeling.dev_broker.urls"))]
if settings.DEMO_DIENST_ENABLED:
    urlpatterns += [path("dev/dienst/", include("diensten.demo_urls"))]
