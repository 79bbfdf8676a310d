from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import views as account_views

urlpatterns = [
    path("", include("accounts.urls")),
    path("koppelen/", include("koppeling.urls")),
    path("beheer/", include("beheer.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("toegankelijkheid", RedirectView.as_view(url="/toegankelijkheid/", permanent=True)),
]

if settings.DEV_MAILBOX_ENABLED:
    urlpatterns += [
        path("dev/mail/", account_views.dev_mail_list, name="dev_mail_list"),
        path("dev/mail/<str:name>/", account_views.dev_mail_detail, name="dev_mail_detail"),
    ]
