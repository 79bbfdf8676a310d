"""The demo Dienst's URLs at /dev/dienst/ (development and test profiles only; see demo_rp.py)."""

from django.urls import path

from . import demo_rp

app_name = "demo_dienst"

urlpatterns = [
    path("", demo_rp.home, name="home"),
    path("login/", demo_rp.login, name="login"),
    path("callback/", demo_rp.callback, name="callback"),
    path("backchannel-logout/", demo_rp.backchannel_logout, name="backchannel_logout"),
    path("logout/", demo_rp.logout, name="logout"),
    path("uitgelogd/", demo_rp.logged_out, name="logged_out"),
]
