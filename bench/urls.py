"""The portal's URLs plus one bare view, for the P2/P3 baselines (bench/wsgi.py only, never production)."""

from django.http import HttpResponse
from django.urls import path

from mijnduo.urls import urlpatterns as portal_urlpatterns


def bare(request):
    """The cheapest Django response: same server, same middleware, no template, no query."""
    return HttpResponse(b"ok", content_type="text/plain")


def bare_login(request):
    """The cheapest page behind a login: the session and the account are loaded, nothing else."""
    if not request.user.is_authenticated:
        return HttpResponse(b"login required", status=403, content_type="text/plain")
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), path("bench/bare-login/", bare_login), *portal_urlpatterns]
from mijnduo.urls import handler400  # noqa: E402,F401
