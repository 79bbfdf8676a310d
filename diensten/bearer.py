"""A Dienst's bearer request (userinfo), checked without oauthlib: the same checks and refusals as
django-oauth-toolkit's ``validate_bearer_token`` with the portal's validator (validators.py), on one
statement (selectors.access_token_for_bearer).

oauthlib's way costs about a millisecond of Python per request before the first query: a copy of
the WSGI environ, the URL re-escaped and parsed, an oauthlib request object, the ORM compiling a
six-table join, and a second round trip for the eHerkenning link (P9: the bare view behind that
check reached only ~0.2x the bare view's requests/s). Requests this module does not take —
without an Authorization header (the token in the query or the body), a token restricted to RFC
8707 resources, a resource server that introspects elsewhere, an Application model that decides
``is_usable`` — go django-oauth-toolkit's own way (``None``), which answers them as before.
"""

from dataclasses import dataclass

from django.http import HttpResponse
from oauth2_provider.models import AbstractApplication, get_application_model
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from accounts.models import Account

from . import selectors
from .models import Handoff
from .services import ACR_TOKEN


@dataclass(frozen=True)
class BearerAccess:
    """A valid bearer token: its account, the hand-off that issued it (with its Dienst), and its
    scopes as django-oauth-toolkit gives them (the configured scopes the token holds, in the
    settings' order)."""

    access_token: object
    account: Account
    handoff: Handoff
    scopes: list[str]
    # With ``with_rollen``: the rollen claim for the hand-off's Dienst, read with the token.
    rollen: list[dict] | None = None


def error_response(error: errors.OAuth2Error) -> HttpResponse:
    """oauthlib's error answer as django-oauth-toolkit's UserInfoView sends it: the JSON body, the
    status, and for 401 ``WWW-Authenticate: Bearer error=…`` (RFC 6750 §3); no Content-Type of its
    own (Django's default), as before."""
    response = HttpResponse(content=error.json, status=error.status_code)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _refused(reason: str, *, actor=None, obj=None) -> HttpResponse:
    # As validators.DienstValidator.validate_bearer_token audits it (no request: no IP).
    audit_log(
        action=AuditAction.DIENST_USERINFO,
        result=AuditResult.REFUSED,
        actor=actor,
        obj=obj,
        detail={"reason_code": reason},
    )
    return error_response(errors.InvalidTokenError())


def _oauthlib_way_only() -> bool:
    return bool(
        oauth2_settings.RESOURCE_SERVER_INTROSPECTION_URL
        or get_application_model().is_usable is not AbstractApplication.is_usable
    )


def bearer_access(
    request, *, scope: str = "openid", with_rollen: bool = False
) -> BearerAccess | HttpResponse | None:
    """Check the bearer token of ``request`` for ``scope``: a BearerAccess, a refusal (401
    ``invalid_token``, audited), or None for a request this check leaves to django-oauth-toolkit.
    ``with_rollen``: the rollen claim is read in the same statement (``BearerAccess.rollen``).

    The rules are validators.DienstValidator's, in its order: a token must be sent, exist, not be
    expired and hold ``scope``; its account must be active and not removed, and for an eHerkenning
    hand-off the link it logged in with must still be in place (services.account_may_use_dienst;
    a token login needs no link); its Dienst must be enabled. Only the Authorization header is
    read, as oauthlib reads it: two words, the first ``Bearer`` in any case; anything else is no
    token.
    """
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None or _oauthlib_way_only():
        return None
    words = header.split()
    token = words[1] if len(words) == 2 and words[0].lower() == "bearer" else None
    if not token:
        return _refused("no_token")
    found = selectors.access_token_for_bearer(token=token, with_rollen=with_rollen)
    if found is None:
        return _refused("invalid_token")
    access_token, account, handoff, link_in_place, rollen = found
    if access_token.resource:
        return None  # an RFC 8707 audience to check: django-oauth-toolkit's way
    if not access_token.is_valid([scope] if scope else None):
        return _refused("invalid_token")
    # services.account_may_use_dienst, with the link's check read in the same statement.
    if (
        account is None
        or not account.is_active
        or account.removed_at is not None
        or handoff is None
        or (handoff.acr != ACR_TOKEN and (handoff.koppeling_id is None or not link_in_place))
    ):
        return _refused("account_closed", actor=account, obj=handoff.dienst if handoff else None)
    if not handoff.dienst.enabled:
        return _refused("dienst_disabled", actor=account, obj=handoff.dienst)
    return BearerAccess(
        access_token=access_token,
        account=account,
        handoff=handoff,
        scopes=list(access_token.scopes),
        rollen=rollen,
    )
