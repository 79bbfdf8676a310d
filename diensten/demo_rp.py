"""The demo Dienst: a small relying party, as a DUO service would build it, at /dev/dienst/.

Development and test profiles only (``DEMO_DIENST_ENABLED``). It is registered by ``demo_data`` for
the OSR rol (diensten/demo.py), so a newcomer who clicks "Onderwijs Service Register" on the
overview lands here, logged in, and sees the claims it received. It uses only a standard client
library (Authlib for the code flow with PKCE, joserfc for the JWTs) and the portal's public
endpoints over HTTP — nothing of the provider's own code — so it is also a worked example for
docs/een-duo-dienst-aansluiten.md.

Why HTTP to itself works: the portal and this RP share one process, and the RP calls the token
endpoint while the browser's request to /dev/dienst/callback/ is still being served. ``make run``
uses Django's runserver, which serves each request in its own thread (``--nothreading`` is not
given), and pytest's live_server is threaded too; under gunicorn with sync workers the RP would
need a second worker. The back-channel logout, delivered by the eager Celery task during the
portal's logout request, comes in the same way.

Its own state lives where an RP keeps it: the login in a signed cookie of its own (path
/dev/dienst/, not the portal's session), the logged-out sessions reported by back-channel logout in
the cache (locmem in development: one process), the logout tokens' jti there too (replay).
"""

import hashlib
import hmac
import time
from urllib.parse import urlencode

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

COOKIE = "demo_dienst"
COOKIE_SALT = "diensten.demo_rp"
COOKIE_PATH = "/dev/dienst/"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
CACHE_PREFIX = "demo_dienst:"
LOGGED_OUT_SECONDS = 24 * 3600
SCOPE = "openid profile email duo"
CLIENT_ID = "demo-dienst-osr"


def client_secret() -> str:
    """The demo client's secret: derived from SECRET_KEY, so demo_data (which registers it) and the
    RP agree without storing it anywhere. Only the development and test profiles mount the RP."""
    return hmac.new(settings.SECRET_KEY.encode(), b"demo-dienst-client-secret", hashlib.sha256).hexdigest()


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def redirect_uri() -> str:
    return _site(reverse("demo_dienst:callback"))


def _metadata() -> dict:
    cached = cache.get(CACHE_PREFIX + "metadata")
    if cached is None:
        cached = requests.get(_site("/.well-known/openid-configuration"), timeout=5).json()
        cache.set(CACHE_PREFIX + "metadata", cached, 60)
    return cached


def _keys() -> KeySet:
    return KeySet.import_key_set(requests.get(_metadata()["jwks_uri"], timeout=5).json())


def _client() -> OAuth2Session:
    return OAuth2Session(
        CLIENT_ID,
        client_secret(),
        scope=SCOPE,
        redirect_uri=redirect_uri(),
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )


def _read_cookie(request) -> dict:
    value = request.COOKIES.get(COOKIE, "")
    if not value:
        return {}
    try:
        return signing.loads(value, salt=COOKIE_SALT, max_age=8 * 3600)
    except signing.BadSignature:
        return {}


def _with_cookie(response, data: dict | None):
    if data is None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
    else:
        response.set_cookie(
            COOKIE,
            signing.dumps(data, salt=COOKIE_SALT, compress=True),
            path=COOKIE_PATH,
            httponly=True,
            samesite="Lax",
            secure=settings.SITE_URL.startswith("https://"),
        )
    return response


def _logged_out(login: dict) -> bool:
    """Whether a back-channel logout ended this login: by its session (sid) or the whole user (sub)."""
    keys = [CACHE_PREFIX + "sub:" + login.get("sub", "")]
    if login.get("sid"):
        keys.append(CACHE_PREFIX + "sid:" + login["sid"])
    reported = cache.get_many(keys)
    return any(moment >= login.get("logged_in_at", 0) for moment in reported.values())


@never_cache
@require_GET
def home(request):
    """The Dienst's launch URL: shows the login's claims, or starts a login at the portal."""
    state = _read_cookie(request)
    login = state.get("login")
    if not login:
        return HttpResponseRedirect(reverse("demo_dienst:login"))
    if _logged_out(login):
        response = render(request, "diensten/demo_dienst.html", {"ended": True}, status=200)
        return _with_cookie(response, None)
    response = render(
        request,
        "diensten/demo_dienst.html",
        {"claims": login["claims"], "userinfo": login.get("userinfo", {}), "ended": False},
    )
    return response


@never_cache
@require_GET
def login(request):
    """Start the authorization code flow with PKCE (S256), state and nonce."""
    client = _client()
    verifier = generate_token(48)
    nonce = generate_token(20)
    extra = {}
    if request.GET.get("prompt") == "login":
        extra["prompt"] = "login"
    url, state = client.create_authorization_url(
        _metadata()["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
    )
    response = HttpResponseRedirect(url)
    return _with_cookie(response, {"pending": {"state": state, "verifier": verifier, "nonce": nonce}})


@never_cache
@require_GET
def callback(request):
    """The redirect URI: check state, exchange the code, validate the ID token, ask userinfo."""
    pending = _read_cookie(request).get("pending") or {}
    if request.GET.get("error"):
        return render(
            request, "diensten/demo_dienst.html", {"error": request.GET["error"], "ended": False}, status=403
        )
    if not pending or request.GET.get("state") != pending.get("state"):
        return HttpResponseBadRequest("Onbekende of verlopen aanmelding: begin opnieuw.")
    metadata = _metadata()
    client = _client()
    try:
        token = client.fetch_token(
            metadata["token_endpoint"],
            authorization_response=request.build_absolute_uri(),
            code_verifier=pending["verifier"],
            state=pending["state"],
        )
        claims = id_token_validate(token["id_token"], nonce=pending["nonce"], metadata=metadata)
        userinfo = client.get(metadata["userinfo_endpoint"], timeout=5).json()
    except Exception as exc:  # noqa: BLE001  (a demo: show what went wrong, never a 500)
        return HttpResponseBadRequest(f"Aanmelden bij de demodienst mislukt: {type(exc).__name__}")
    login_state = {"claims": claims, "userinfo": userinfo, "sub": claims["sub"], "sid": claims.get("sid", "")}
    login_state["logged_in_at"] = time.time()
    login_state["id_token"] = token["id_token"]
    return _with_cookie(HttpResponseRedirect(reverse("demo_dienst:home")), {"login": login_state})


def id_token_validate(value: str, *, nonce: str, metadata: dict) -> dict:
    """The ID token's signature (the portal's JWKS) and its claims (OIDC Core §3.1.3.7)."""
    token = jwt.decode(value, _keys(), algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": CLIENT_ID},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(token.claims)
    return dict(token.claims)


@csrf_exempt
@require_POST
def backchannel_logout(request):
    """OpenID Connect Back-Channel Logout 1.0 §2.6: validate the logout token, end the sessions it
    names, answer 200 (or 400 with an error, never a redirect)."""
    value = request.POST.get("logout_token", "")
    try:
        claims = logout_token_validate(value)
    except (JoseError, ValueError, KeyError, requests.RequestException) as exc:
        return HttpResponse(f'{{"error": "invalid_request", "detail": "{type(exc).__name__}"}}', status=400)
    now = time.time()
    if claims.get("sid"):
        cache.set(CACHE_PREFIX + "sid:" + claims["sid"], now, LOGGED_OUT_SECONDS)
    else:
        cache.set(CACHE_PREFIX + "sub:" + claims["sub"], now, LOGGED_OUT_SECONDS)
    return HttpResponse(status=200, headers={"Cache-Control": "no-store"})


def logout_token_validate(value: str) -> dict:
    token = jwt.decode(value, _keys(), algorithms=["RS256"])
    claims = dict(token.claims)
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": _metadata()["issuer"]},
        aud={"essential": True, "value": CLIENT_ID},
        iat={"essential": True},
        jti={"essential": True},
        leeway=60,
    ).validate(claims)
    if LOGOUT_EVENT not in (claims.get("events") or {}):
        raise ValueError("no logout event")
    if "nonce" in claims:
        raise ValueError("nonce in a logout token")
    if not claims.get("sub") and not claims.get("sid"):
        raise ValueError("neither sub nor sid")
    if not cache.add(CACHE_PREFIX + "jti:" + claims["jti"], 1, 600):
        raise ValueError("replayed logout token")
    return claims


@never_cache
@require_POST
def logout(request):
    """Log out here and at the portal (RP-initiated logout) when the portal offers it."""
    login = (_read_cookie(request).get("login")) or {}
    end_session = _metadata().get("end_session_endpoint")
    if end_session and login.get("id_token"):
        query = urlencode(
            {
                "id_token_hint": login["id_token"],
                "client_id": CLIENT_ID,
                "post_logout_redirect_uri": _site(reverse("demo_dienst:logged_out")),
            }
        )
        return _with_cookie(HttpResponseRedirect(f"{end_session}?{query}"), None)
    return _with_cookie(HttpResponseRedirect(reverse("demo_dienst:logged_out")), None)


@never_cache
@require_GET
def logged_out(request):
    return render(request, "diensten/demo_dienst.html", {"ended": True, "own_logout": True})
