"""Request id and client IP, shared by the audit trail and the logs."""

import contextvars
import logging
import re
import secrets

from django.conf import settings

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str:
    return _request_id.get()


def client_ip(request) -> str | None:
    """Return the client address, trusting exactly TRUSTED_PROXY_COUNT proxies.

    X-Forwarded-For is attacker-controlled except for the entries appended by our own proxies,
    so we take the entry that the outermost trusted proxy saw, never the leftmost one.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR") or None


class RequestIdMiddleware:
    """Give every request an id (from a trusted proxy's X-Request-ID or a fresh one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "") if settings.TRUSTED_PROXY_COUNT else ""
        request_id = incoming if _SAFE_ID.match(incoming) else secrets.token_hex(8)
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Put the request id on every record: from the request being handled, or from the record's own
    ``request`` (Django logs a 4xx/5xx response after the middleware has returned)."""

    def filter(self, record):
        request_id = _request_id.get()
        if request_id == "-":
            request_id = getattr(getattr(record, "request", None), "request_id", request_id)
        record.request_id = request_id
        return True
