"""The portal's error pages (400, 403, 404, 405, 500), in its layout and the visitor's language.

They render without a request context: no context processor runs (``auth`` would load the user,
a query) and the session is not touched, so the 500 page still renders when the database is down.
The language comes from the language cookie or the browser (no database either). Each page says
what to do next; the 500 page gives the request id to quote to the helpdesk.

Django has no ``handler405``: ``require_POST`` and class-based views answer a wrong method with an
empty ``HttpResponseNotAllowed``, which ``MethodNotAllowedPageMiddleware`` fills with the page.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.template import loader
from django.utils import translation
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)


def _language(request) -> str:
    try:
        return translation.get_language_from_request(request)
    except Exception:  # noqa: BLE001  (an error page must render whatever the request holds)
        return settings.LANGUAGE_CODE


def error_page(request, *, status: int, kind: str | None = None) -> HttpResponse:
    """Render ``errors/error.html`` for ``status`` (``kind`` varies the text, e.g. ``too_large``)."""
    with translation.override(_language(request)):
        context = {
            "status": status,
            "kind": kind or str(status),
            "request_id": getattr(request, "request_id", ""),
            # What base.html needs, without context processors (the language switch returns to the
            # Referer: this page).
            "csrf_token": _csrf_token(request),
            "DEV_BROKER_ENABLED": settings.EHERKENNING_DEV_BROKER,
            "DEV_MAILBOX_ENABLED": getattr(settings, "DEV_MAILBOX_ENABLED", False),
            "LANGUAGE_CODE": translation.get_language(),
        }
        content = loader.get_template("errors/error.html").render(context)
    response = HttpResponse(content, status=status)
    add_never_cache_headers(response)
    return response


def _csrf_token(request) -> str:
    try:
        return get_token(request) if request is not None else ""
    except Exception:  # noqa: BLE001
        return ""


def bad_request(request, exception=None):
    """400; an oversized body (RequestDataTooBig) gets 413."""
    if isinstance(exception, RequestDataTooBig):
        return error_page(request, status=413, kind="too_large")
    return error_page(request, status=400)


def permission_denied(request, exception=None):
    return error_page(request, status=403)


def page_not_found(request, exception=None):
    return error_page(request, status=404)


# The OpenID Connect provider's endpoints a Dienst's server calls (diensten/urls.py): its client
# library reads JSON, also from a failure (RFC 6749 §5.2's form, ``server_error``), not a page.
_MACHINE_ENDPOINTS = {
    "token",
    "user-info",
    "introspect",
    "revoke-token",
    "jwks-info",
    "oidc-connect-discovery-info",
}


def server_error(request):
    match = getattr(request, "resolver_match", None)
    if match is not None and match.namespace == "oauth2_provider" and match.url_name in _MACHINE_ENDPOINTS:
        response = JsonResponse(
            {
                "error": "server_error",
                "error_description": f"Internal error; request id {getattr(request, 'request_id', '')}",
            },
            status=500,
        )
        add_never_cache_headers(response)
        return response
    return error_page(request, status=500)


class MethodNotAllowedPageMiddleware:
    """Give an empty 405 (Django's ``HttpResponseNotAllowed``) the portal's page; keeps ``Allow``.

    A 405 with a body (an API's JSON answer) is left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.streaming or response.content:
            return response
        page = error_page(request, status=405)
        if "Allow" in response:
            page["Allow"] = response["Allow"]
        return page


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form sent from a stale page is a 403 with the same advice, not Django's
    English technical page."""
    return error_page(request, status=403)
