"""The provider's endpoints: django-oauth-toolkit's views with the portal's decisions added."""

import calendar
import hashlib
import json

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.db import router, transaction
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.exceptions import InvalidOIDCRedirectURIError, OAuthToolkitError, OIDCError
from oauth2_provider.models import get_access_token_model, get_application_model, get_grant_model
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.signals import app_authorized
from oauth2_provider.views import AuthorizationView, RPInitiatedLogoutView, TokenView, UserInfoView
from oauthlib.common import Request as OauthlibRequest
from oauthlib.oauth2.rfc6749 import errors as oauth2_errors

from accounts.audit import audit_event, audit_log
from accounts.constants import AuditAction, AuditResult

from . import bearer, selectors, services
from .validators import clients_of_request, tokens_of_request


@method_decorator(never_cache, name="dispatch")
class DienstAuthorizationView(AuthorizationView):
    """The authorization endpoint: no consent screen (the Diensten are DUO's own), but only for a
    user who holds a rol of the Dienst; anyone else goes back to the Dienst with ``access_denied``.

    A visitor who is not logged in goes through the eHerkenning login first (``LOGIN_URL`` with
    ``next``) and comes back here.
    """

    http_method_names = ["get"]
    template_name = "diensten/authorize_error.html"

    def get(self, request, *args, **kwargs):
        # prompt=login is django-oauth-toolkit's: to the login (a fresh eHerkenning login, ForceAuthn)
        # and back without the prompt. max_age (OIDC Core §3.1.2.1) likewise when the portal login is
        # older than the Dienst allows; an unreadable max_age is ignored.
        if request.user.is_authenticated and "login" not in request.GET.get("prompt", "").split():
            max_age = services.max_age_parse(request.GET.get("max_age"))
            if max_age is not None and services.login_older_than(account=request.user, seconds=max_age):
                query = request.GET.copy()
                query.pop("max_age")
                return redirect_to_login(
                    f"{request.path}?{query.urlencode()}", resolve_url(self.get_login_url())
                )
        reset = clients_of_request.set({})  # the client and its Dienst read once (validators.py)
        try:
            # The audit event, the grant and its hand-off are written together or not at all: one
            # commit (a WAL flush) instead of three in autocommit mode (P9). No savepoint: inside a
            # transaction already (a test's), the writes simply join it.
            with transaction.atomic(using=router.db_for_write(get_grant_model()), savepoint=False):
                return self._authorize(request, *args, **kwargs)
        finally:
            clients_of_request.reset(reset)

    def _authorize(self, request, *args, **kwargs):
        """django-oauth-toolkit's ``get`` for a client without a consent screen (every Dienst's:
        services.dienst_client_save), without what it does for the screen it does not show: it reads
        the client a second time ("TODO: Cache this!" there), builds the consent form and looks up
        the scope descriptions (P9: ~1 ms). The same validation, the same response. The prompts
        ``login`` and ``create``, RFC 8707 ``resource`` and a client with a consent screen take
        django-oauth-toolkit's own way."""
        prompt = set(request.GET.get("prompt", "").split())
        if prompt & {"login", "create"} or "resource" in request.GET:
            return super().get(request, *args, **kwargs)
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        application = (clients_of_request.get() or {}).get(credentials["client_id"])
        if application is None or not application.skip_authorization:
            return super().get(request, *args, **kwargs)
        self.oauth2_data = {
            "application": application,
            "client_id": credentials["client_id"],
            "redirect_uri": credentials["redirect_uri"],
            "response_type": credentials["response_type"],
            "state": credentials["state"],
            "scopes": scopes,
        }
        if "ui_locales" in credentials and isinstance(credentials["ui_locales"], list):
            credentials["ui_locales"] = " ".join(credentials["ui_locales"])
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.error_response(error, application)
        return self.redirect(uri, application)

    def create_authorization_response(self, request, scopes, credentials, allow):
        application = self.oauth2_data.get("application")
        known = (clients_of_request.get() or {}).get(getattr(application, "client_id", None))
        dienst = selectors.dienst_for_client(client=known if known is not None else application)
        account = request.user
        reason = ""
        if dienst is None or not dienst.enabled:
            reason = "dienst_disabled"
        elif account.organisatie_id is None or not selectors.account_holds_dienst_rol(
            account=account, dienst=dienst
        ):
            reason = "no_rol"
        if reason:
            audit_log(
                action=AuditAction.DIENST_AUTHORIZE,
                result=AuditResult.REFUSED,
                obj=dienst,
                request=request,
                detail={"reason_code": reason},
            )
            allow = False
        else:
            credentials["duo_login"] = services.login_context(request=request)
            credentials["duo_dienst"] = dienst  # the validator records the hand-off with it
            # Written with the code's grant and hand-off, in one statement where it can be
            # (validators.save_authorization_code); else, or without a code, here as before.
            event = credentials["duo_audit"] = audit_event(
                action=AuditAction.DIENST_AUTHORIZE, obj=dienst, request=request
            )
            try:
                response = super().create_authorization_response(request, scopes, credentials, allow)
            except OAuthToolkitError:  # refused after all (the view answers it): the decision stays audited
                if event.pk is None:
                    event.save(force_insert=True)
                raise
            if event.pk is None:
                event.save(force_insert=True)
            return response
        return super().create_authorization_response(request, scopes, credentials, allow)


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class DienstIntrospectionView(View):
    """Token introspection (RFC 7662) for a Dienst's own APIs.

    Only the Dienst the token was issued to may introspect it (with its client credentials), and
    the answer carries the pairwise ``sub``, never the portal's username. A token of a removed or
    unlinked account is not active, whatever its expiry says.
    """

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        core = get_oauthlib_core()
        uri, http_method, body, headers = core._extract_params(request)
        oauth_request = OauthlibRequest(uri, http_method, body, headers)
        if not core.server.request_validator.authenticate_client(oauth_request):
            return HttpResponseForbidden()
        client = oauth_request.client
        value = request.POST.get("token")
        if not value:
            return JsonResponse({"error": "invalid_request"}, status=400)
        token = (
            get_access_token_model()
            .objects.select_related("user", "application")
            .filter(token_checksum=hashlib.sha256(value.encode()).hexdigest(), application=client)
            .first()
        )
        if token is None or not token.is_valid():
            return JsonResponse({"active": False})
        handoff = selectors.handoff_for_access_token(access_token=token)
        if not services.account_may_use_dienst(account=token.user, handoff=handoff):
            audit_log(
                action=AuditAction.DIENST_USERINFO,
                result=AuditResult.REFUSED,
                actor=token.user,
                obj=handoff.dienst if handoff else None,
                request=request,
                detail={"reason_code": services.refusal_reason(handoff=handoff), "via": "introspection"},
            )
            return JsonResponse({"active": False})
        return JsonResponse(
            {
                "active": True,
                "scope": token.scope,
                "client_id": client.client_id,
                "sub": services.pairwise_sub(dienst=handoff.dienst, account=token.user),
                "exp": int(calendar.timegm(token.expires.timetuple())),
                "token_type": "Bearer",
            }
        )


class _ClaimsRequest:
    """What the validator's claims builder reads of oauthlib's request: the account, the scopes,
    the client and the hand-off (validators.DienstValidator.get_additional_claims)."""

    __slots__ = ("user", "scopes", "client", "duo_handoff", "duo_rollen")

    def __init__(self, *, user, scopes, client, duo_handoff, duo_rollen):
        self.user = user
        self.scopes = scopes
        self.client = client
        self.duo_handoff = duo_handoff
        self.duo_rollen = duo_rollen


class DienstUserInfoView(UserInfoView):
    """The userinfo endpoint (OIDC Core §5.3), GET or POST, without oauthlib on the way of a
    Dienst's request with ``Authorization: Bearer …`` (P9: ~0.14x the bare view's requests/s).

    The token, its account, hand-off, Dienst and link are checked in one statement (bearer.py,
    the validator's rules and refusals), the claims are the validator's (the same builder as the
    ID token's, ``get_oidc_claims``: the same claims for the same scopes), the rollen current at
    request time (read with the token). The answer is django-oauth-toolkit's byte for byte: the
    claims as oauthlib serialises them, ``application/json``; a refusal 401 ``invalid_token`` with
    ``WWW-Authenticate``, or 403 ``insufficient_scope``. What bearer.py leaves alone (no
    Authorization header, and other rare cases) goes django-oauth-toolkit's way.
    """

    @csrf_exempt
    @login_not_required
    def dispatch(self, request, *args, **kwargs):
        # GET and POST straight to the answer: the parent's dispatch goes through a wrapper made
        # anew per request for each of its two method_decorators, then OIDCOnlyMixin's check and
        # View's method lookup (P9: ~20-40 µs per userinfo request). The same markers on this one
        # (CSRF exempt, no login required); the rest, and OIDC switched off, go the parent's way.
        if request.method in ("GET", "POST") and oauth2_settings.OIDC_ENABLED:
            return self._userinfo(request)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        return self._userinfo(request)

    def post(self, request, *args, **kwargs):
        return self._userinfo(request)

    def _userinfo(self, request):
        access = bearer.bearer_access(request, with_rollen=True)
        if access is None:
            return self._create_userinfo_response(request)
        if isinstance(access, HttpResponse):
            return access
        if "openid" not in access.scopes:  # not among the configured scopes: oauthlib's answer
            return bearer.error_response(oauth2_errors.InsufficientScopeError())
        application_id = access.access_token.application_id
        claims = oauth2_settings.OAUTH2_VALIDATOR_CLASS().get_oidc_claims(
            access.access_token,
            None,
            _ClaimsRequest(
                user=access.account,
                scopes=access.scopes,
                # Only its primary key is read (the hand-off's Dienst is the client's).
                client=(
                    None
                    if application_id is None
                    else get_application_model().from_db(
                        access.access_token._state.db, ["id"], [application_id]
                    )
                ),
                duo_handoff=access.handoff,
                duo_rollen=access.rollen,  # the hand-off's Dienst's, read with the token
            ),
        )
        # Encoded here (ASCII: json.dumps escapes the rest): HttpResponse encodes a str with the
        # charset it parses out of the content type first (~10 µs).
        return HttpResponse(json.dumps(claims).encode("ascii"), content_type="application/json")


class DienstTokenView(TokenView):
    """The token endpoint (django-oauth-toolkit's), with every refusal audited.

    Issued tokens are audited where they are made (validators.py); a reused code is audited, with
    the revocation of its first tokens, in services.code_reuse_refuse. Here the other refusals:
    failed client authentication, an unknown or expired code, and a known code whose PKCE verifier
    or redirect URI did not match (oauthlib says ``invalid_grant`` for both; the code stays unused).
    """

    def post(self, request, *args, **kwargs):
        # What one token request writes (the ID token, the access token, its hand-off link, the
        # audit event, the spent grant; or a refusal's audit and revocation) is committed together:
        # one commit instead of three, each a WAL flush (P9). Nothing half-issued survives an error.
        saved = []
        reset = tokens_of_request.set(saved)
        try:
            with transaction.atomic():
                response = super().post(request, *args, **kwargs)
                # oauthlib refuses after the tokens were saved when spending the code fails (the
                # grant gone meanwhile). That refusal is an answer, not an exception: without this
                # the tokens of a refused request would be committed.
                refused_after_saving = response.status_code >= 400 and bool(saved)
                if refused_after_saving:
                    transaction.set_rollback(True)
        finally:
            tokens_of_request.reset(reset)
        if response.status_code >= 400:
            token_error_headers(response)
            if refused_after_saving:
                code = request.POST.get("code", "")
                # Spent by another request: revoke that use's tokens, as for any reused code
                # (audited there); else audited here, with what happened.
                if not (code and len(code) <= 512 and services.code_reuse_refuse(code=code, request=request)):
                    token_refusal_audit(request=request, response=response, reason="refused_after_issue")
            else:
                token_refusal_audit(request=request, response=response)
        return response

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(self, request, *args, **kwargs):
        # django-oauth-toolkit reads the new access token back only to send ``app_authorized``;
        # nothing listens to it here, so that query is made only when something does.
        if app_authorized.has_listeners():
            return super().authorization_flow_token_response(request, *args, **kwargs)
        _url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for key, value in headers.items():
            response[key] = value
        return response


def token_error_headers(response) -> None:
    """A token endpoint error is JSON and must not be cached (RFC 6749 §5.2). oauthlib's errors
    raised outside its validation (spending the code) reach django-oauth-toolkit's view with the
    error's own headers only, without a Content-Type: the JSON body went out as text/html."""
    response["Content-Type"] = "application/json"
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"


def token_refusal_audit(*, request, response, reason: str = "") -> None:
    try:
        error = str(json.loads(response.content).get("error", ""))[:64]
    except (ValueError, AttributeError):
        error = ""
    code = request.POST.get("code", "")
    handoff = services.handoff_for_code(code=code) if code and len(code) <= 512 else None
    if reason:
        pass  # the caller knows what happened
    elif error == "invalid_client":
        if "client_assertion" in request.POST:
            return  # audited with the assertion's reason (validators.py)
        reason = "client_auth"
    elif handoff is None:
        reason = "bad_code" if code else "bad_request"
    elif (grant := get_grant_model().objects.filter(code=code).first()) is None:
        return  # a spent code presented again: audited with the revocation of its tokens
    elif grant.is_expired():
        reason = "code_expired"
    elif not services.account_may_use_dienst(account=handoff.account, handoff=handoff):
        reason = "account_closed"  # removed or unlinked since the hand-off
    else:
        reason = "pkce_or_redirect_uri"
    audit_log(
        action=AuditAction.DIENST_TOKEN,
        result=AuditResult.REFUSED,
        obj=handoff.dienst if handoff else None,
        request=request,
        detail={
            "reason_code": reason,
            "error_code": error,
            "account_id": handoff.account_id if handoff else None,
            "client_id": str(request.POST.get("client_id", ""))[:100],
        },
    )


@method_decorator(never_cache, name="dispatch")
class DienstLogoutView(RPInitiatedLogoutView):
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), django-oauth-toolkit's view:
    the Dienst sends the user here with ``id_token_hint`` (and optionally ``client_id``,
    ``post_logout_redirect_uri``, ``state``); the portal session ends — which sends back-channel
    logouts to the other Diensten of the session — and the user returns to the Dienst.

    Without a valid hint for the logged-in user the portal asks first (a page cannot log him out
    by a link). ``post_logout_redirect_uri`` must equal a registered one character for character
    (django-oauth-toolkit would also accept another loopback port). Refusals are audited.
    """

    template_name = "diensten/logout_confirm.html"

    def validate_post_logout_redirect_uri(self, application, post_logout_redirect_uri):
        super().validate_post_logout_redirect_uri(application, post_logout_redirect_uri)
        if (
            post_logout_redirect_uri
            and post_logout_redirect_uri not in application.post_logout_redirect_uris.split()
        ):
            raise InvalidOIDCRedirectURIError("This client does not have this redirect uri registered.")

    def error_response(self, error: OIDCError):
        audit_log(
            action=AuditAction.DIENST_LOGOUT,
            result=AuditResult.REFUSED,
            request=self.request,
            detail={"via": "end_session", "error_code": str(getattr(error, "error", ""))[:64]},
        )
        return super().error_response(error)

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None, token_user=None):
        audit_log(
            action=AuditAction.DIENST_LOGOUT,
            obj=selectors.dienst_for_client(client=application),
            request=self.request,
            detail={"via": "end_session"},
        )
        return super().do_logout(application, post_logout_redirect_uri, state, token_user)
