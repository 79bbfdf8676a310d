"""private_key_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core §9) for the Diensten.

A Dienst that registered its public keys (a JWK Set, or a JWKS URI the portal fetches) proves who it
is at the token endpoint with a JWT signed by its own private key instead of a shared secret: the
portal never holds anything that lets it, or a thief of its database, pose as the Dienst. The JWT
library is joserfc (it comes with Authlib); nothing of the signature checking is written here.
"""

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .models import Dienst, UsedClientAssertion

logger = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PRIVATE_KEY_JWT = "private_key_jwt"
ALGORITHMS = ["RS256", "PS256", "ES256"]
# An assertion is for one request, and its jti is kept until it expires: it may live at most this
# long (and a minute of clock skew). An hour, because that is what client libraries make by default
# (Authlib's PrivateKeyJWT: exp = iat + 3600).
MAX_LIFETIME = timedelta(hours=1)
LEEWAY = 60
JWKS_CACHE_SECONDS = 300
# The fetch is triggered by unauthenticated requests to the token endpoint: a failure is remembered
# for a minute (no fetch per request), and a fetch reads at most 64 KB within an overall deadline.
JWKS_FAILURE_CACHE_SECONDS = 60
JWKS_MAX_BYTES = 64 * 1024
JWKS_DEADLINE_SECONDS = 10
MAX_ASSERTION_LENGTH = 8192


class AssertionRefusedError(Exception):
    """The client assertion does not authenticate a Dienst; ``reason`` says why (for the audit)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def dienst_keys(dienst: Dienst) -> KeySet:
    """The Dienst's public keys: registered in the admin, or fetched from its JWKS URI (cached)."""
    if dienst.jwks:
        return KeySet.import_key_set(dienst.jwks)
    if not dienst.jwks_uri:
        raise AssertionRefusedError("no_keys")
    key = f"diensten:jwks:{dienst.pk}:{dienst.jwks_uri}"
    data = cache.get(key)
    if data is None:
        if cache.get(f"{key}:failed"):
            raise AssertionRefusedError("jwks_unavailable")
        try:
            data = jwks_fetch(dienst.jwks_uri)
        except (requests.RequestException, ValueError) as exc:
            logger.warning("JWKS of Dienst %s not fetched: %s", dienst.code, type(exc).__name__)
            cache.set(f"{key}:failed", True, JWKS_FAILURE_CACHE_SECONDS)
            raise AssertionRefusedError("jwks_unavailable") from exc
        cache.set(key, data, JWKS_CACHE_SECONDS)
    try:
        return KeySet.import_key_set(data)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise AssertionRefusedError("jwks_invalid") from exc


def jwks_fetch(uri: str):
    """The JSON at an https ``uri``: at most JWKS_MAX_BYTES, read within JWKS_DEADLINE_SECONDS; else
    ValueError (or a requests error)."""
    if urlsplit(uri).scheme != "https":
        raise ValueError("JWKS URI is not https")
    deadline = time.monotonic() + JWKS_DEADLINE_SECONDS
    with requests.get(uri, timeout=5, allow_redirects=False, stream=True) as answer:
        answer.raise_for_status()
        body = bytearray()
        for chunk in answer.iter_content(chunk_size=8192):
            body += chunk
            if len(body) > JWKS_MAX_BYTES:
                raise ValueError("JWKS larger than the limit")
            if time.monotonic() > deadline:
                raise ValueError("JWKS fetch over its deadline")
    return json.loads(bytes(body))


def client_assertion_verify(
    *, assertion_type: str, assertion: str, client_id: str, audiences: list[str]
) -> Dienst:
    """The Dienst whose key signed ``assertion``, after every check of RFC 7523 §3; or AssertionRefusedError.

    ``iss`` and ``sub`` are the client id (and equal ``client_id`` when the request names one),
    ``aud`` names the token endpoint or the issuer, ``exp`` is within MAX_LIFETIME, and the ``jti``
    was never seen before for this Dienst.
    """
    if assertion_type != ASSERTION_TYPE:
        raise AssertionRefusedError("assertion_type")
    if not assertion or len(assertion) > MAX_ASSERTION_LENGTH:
        raise AssertionRefusedError("assertion_malformed")
    try:
        unverified = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise AssertionRefusedError("assertion_malformed") from exc
    issuer = unverified.get("iss") if isinstance(unverified, dict) else None
    if not isinstance(issuer, str) or not issuer or (client_id and client_id != issuer):
        raise AssertionRefusedError("client_mismatch")
    dienst = (
        Dienst.objects.select_related("application")
        .filter(application__client_id=issuer, token_endpoint_auth_method=PRIVATE_KEY_JWT)
        .first()
    )
    if dienst is None:
        raise AssertionRefusedError("unknown_client")
    try:
        token = _decode(assertion, dienst_keys(dienst))
        claims = dict(token.claims)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            sub={"essential": True, "value": issuer},
            aud={"essential": True, "values": audiences},
            exp={"essential": True},
            jti={"essential": True},
            leeway=LEEWAY,
        ).validate(claims)
    except AssertionRefusedError:
        raise
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise AssertionRefusedError("assertion_invalid") from exc
    try:
        expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (OverflowError, OSError, ValueError, TypeError) as exc:  # exp = 1e300, inf, NaN
        raise AssertionRefusedError("assertion_invalid") from exc
    if expires_at > timezone.now() + MAX_LIFETIME + timedelta(seconds=LEEWAY):
        raise AssertionRefusedError("assertion_too_long")
    try:
        with transaction.atomic():
            UsedClientAssertion.objects.create(
                dienst=dienst, jti=str(claims["jti"])[:200], expires_at=expires_at
            )
    except IntegrityError as exc:
        raise AssertionRefusedError("assertion_replayed") from exc
    return dienst


def _decode(assertion: str, keys: KeySet):
    """Verify with the key the header names (``kid``), or — many client libraries name none — with
    each of the Dienst's keys in turn."""
    header = jws.extract_compact(assertion.encode()).protected
    if header.get("kid"):
        return jwt.decode(assertion, keys, algorithms=ALGORITHMS)
    error = None
    for key in keys.keys:
        try:
            return jwt.decode(assertion, key, algorithms=ALGORITHMS)
        except JoseError as exc:
            error = exc
    raise error or AssertionRefusedError("no_keys")


def used_client_assertions_purge(*, now=None) -> int:
    """Forget the jti of assertions that expired (a replay of those fails on ``exp`` anyway)."""
    now = now or timezone.now()
    deleted, _detail = UsedClientAssertion.objects.filter(
        expires_at__lt=now - timedelta(seconds=LEEWAY)
    ).delete()
    return deleted
