from django.urls import path

from . import session_timeout, token_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("toegankelijkheid/", views.toegankelijkheid, name="toegankelijkheid"),
    path("gebruiksvoorwaarden/", views.gebruiksvoorwaarden, name="gebruiksvoorwaarden"),
    path("uitgelogd/", views.uitgelogd, name="uitgelogd"),
    path("healthz", views.healthz, name="healthz"),
    path("sessie/", session_timeout.session_status, name="session_status"),
    path("sessie/verlengen/", session_timeout.session_extend, name="session_extend"),
]

urlpatterns += [
    path("overzicht/", views.overzicht, name="overzicht"),
    path("onderwerpen/<slug:code>/", views.onderwerp, name="onderwerp"),
    path("mijn-gegevens/", views.mijn_gegevens, name="mijn_gegevens"),
    path("mijn-gegevens/e-mail/<str:token>/", views.email_confirm, name="email_confirm"),
    path("token/", views.token_login_view, name="token_login"),
    path("token/wachtwoord/", token_views.token_password_change, name="token_password_change"),
]
