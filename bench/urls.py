"""The portal's URLs plus one bare view, for the P2/P3 baselines (bench/wsgi.py only, never production)."""

from django.http import HttpResponse
from django.urls import path
from oauth2_provider.decorators import protected_resource

from diensten.bearer import bearer_access
from mijnduo.urls import urlpatterns as portal_urlpatterns


def bare(request):
    """The cheapest Django response: same server, same middleware, no template, no query."""
    return HttpResponse(b"ok", content_type="text/plain")


def bare_login(request):
    """The cheapest page behind a login: the session and the account are loaded, nothing else."""
    if not request.user.is_authenticated:
        return HttpResponse(b"login required", status=403, content_type="text/plain")
    return HttpResponse(b"ok", content_type="text/plain")


def bare_bearer(request):
    """The bare view behind the bearer check userinfo makes (P9, diensten/bearer.py): the access
    token read and checked (expiry, account still active and linked, in one statement), nothing
    else — what userinfo costs before it reads any claim."""
    access = bearer_access(request, scope="")
    if access is None:
        return _bare_behind_oauthlib(request)
    if isinstance(access, HttpResponse):
        return access
    return HttpResponse(b"ok", content_type="text/plain")


@protected_resource()
def _bare_behind_oauthlib(request):
    """The same behind django-oauth-toolkit's own bearer check (oauthlib and the portal's validator),
    for what bearer.py leaves to it."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/bare-login/", bare_login),
    path("bench/bare-bearer/", bare_bearer),
    path("bench/bare-bearer-oauthlib/", _bare_behind_oauthlib),
    *portal_urlpatterns,
]
from mijnduo.urls import handler400  # noqa: E402,F401
