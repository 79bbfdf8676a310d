"""private_key_jwt client authentication (RFC 7523) at the token endpoint, driven by Authlib's client
(its PrivateKeyJWT auth method) and by hand-made assertions signed with joserfc: a Dienst that
registered its public keys logs in without a shared secret; a replayed jti, a foreign key, a wrong
audience and the client secret are refused, and audited."""

import time
import uuid

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError as OAuth2Error
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import RSAKey

from accounts.models import AuditEvent
from diensten.client_auth import ASSERTION_TYPE

from .conftest import CodeFlow
from .test_oidc_provider import _id_token_claims

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def key_dienst(dienst_register, rollen):
    """A Dienst registered with private_key_jwt and its public key; the private key stays with it."""
    private = RSAKey.generate_key(2048, parameters={"kid": "dienst-2026"})
    registered = dienst_register("osr", rollen[:1])
    registered.dienst.token_endpoint_auth_method = "private_key_jwt"
    registered.dienst.jwks = {"keys": [private.as_dict(private=False)]}
    registered.dienst.save()
    registered.private = private
    return registered


class KeyFlow(CodeFlow):
    """The code flow of CodeFlow, with private_key_jwt instead of the client secret."""

    def __init__(self, issuer, registered):
        super().__init__(issuer, registered)
        self.client = OAuth2Session(
            registered.client_id,
            registered.private.as_pem(private=True),
            scope="openid profile email duo",
            redirect_uri=registered.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="private_key_jwt",
        )
        self.client.register_client_auth_method(PrivateKeyJWT(self.metadata["token_endpoint"]))


def _assertion(registered, token_endpoint, *, key=None, jti=None, aud=None, lifetime=60) -> str:
    now = int(time.time())
    claims = {
        "iss": registered.client_id,
        "sub": registered.client_id,
        "aud": aud or token_endpoint,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti or str(uuid.uuid4()),
    }
    key = key or registered.private
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _code(flow, browser) -> str:
    from .test_oidc_provider import _query

    response = flow.authorize(browser)
    assert response.status_code == 302, response.text
    return _query(response.headers["Location"])["code"]


def _token_request(flow, code, assertion):
    return requests.post(
        flow.metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.registered.redirect_uri,
            "code_verifier": flow.verifier,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        timeout=10,
    )


def test_discovery_offers_private_key_jwt(issuer):
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]


def test_a_dienst_authenticates_with_its_own_key_through_authlib(
    issuer, key_dienst, portal_user, browser_for, rollen
):
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = KeyFlow(issuer, key_dienst)
    response = flow.authorize(browser_for(account, identity))
    token = flow.token(response.headers["Location"])
    claims = _id_token_claims(flow, token)
    assert claims["aud"] == key_dienst.client_id
    assert AuditEvent.objects.filter(action="dienst.token", result="success", actor_id=account.pk).exists()


def test_a_replayed_client_assertion_is_refused(issuer, key_dienst, portal_user, browser_for, rollen):
    account, _koppeling, identity = portal_user(rollen[:1])
    browser = browser_for(account, identity)
    flow = KeyFlow(issuer, key_dienst)
    assertion = _assertion(key_dienst, flow.metadata["token_endpoint"])
    assert _token_request(flow, _code(flow, browser), assertion).status_code == 200
    second = KeyFlow(issuer, key_dienst)
    answer = _token_request(second, _code(second, browser), assertion)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    event = AuditEvent.objects.get(action="dienst.token", result="refused")
    assert event.detail["error_code"] == "assertion_replayed"


@pytest.mark.parametrize(
    "variant, reason",
    [
        ("foreign_key", "assertion_invalid"),
        ("wrong_audience", "assertion_invalid"),
        ("too_long", "assertion_too_long"),
        ("expired", "assertion_invalid"),
    ],
)
def test_a_bad_client_assertion_is_refused_and_audited(
    issuer, key_dienst, portal_user, browser_for, rollen, variant, reason
):
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = KeyFlow(issuer, key_dienst)
    endpoint = flow.metadata["token_endpoint"]
    assertion = {
        "foreign_key": lambda: _assertion(
            key_dienst, endpoint, key=RSAKey.generate_key(2048, parameters={"kid": "dienst-2026"})
        ),
        "wrong_audience": lambda: _assertion(key_dienst, endpoint, aud="https://elders.example/token"),
        "too_long": lambda: _assertion(key_dienst, endpoint, lifetime=3 * 3600),
        "expired": lambda: _assertion(key_dienst, endpoint, lifetime=-300),
    }[variant]()
    answer = _token_request(flow, _code(flow, browser_for(account, identity)), assertion)
    assert answer.status_code == 401
    event = AuditEvent.objects.get(action="dienst.token", result="refused")
    assert (event.detail["reason_code"], event.detail["error_code"]) == ("client_auth", reason)


def test_a_private_key_jwt_dienst_cannot_use_a_client_secret(
    issuer, key_dienst, portal_user, browser_for, rollen
):
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = CodeFlow(issuer, key_dienst)  # client_secret_basic with the secret it was once given
    response = flow.authorize(browser_for(account, identity))
    with pytest.raises(OAuth2Error) as refused:
        flow.token(response.headers["Location"])
    assert refused.value.error == "invalid_client"


def test_an_assertion_naming_no_key_is_checked_with_each_registered_key(
    issuer, key_dienst, portal_user, browser_for, rollen
):
    other = RSAKey.generate_key(2048, parameters={"kid": "oud"})
    key_dienst.dienst.jwks = {
        "keys": [other.as_dict(private=False), key_dienst.private.as_dict(private=False)]
    }
    key_dienst.dienst.save()
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = KeyFlow(issuer, key_dienst)
    now = int(time.time())
    claims = {
        "iss": key_dienst.client_id,
        "sub": key_dienst.client_id,
        "aud": flow.metadata["token_endpoint"],
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    assertion = jwt.encode({"alg": "RS256"}, claims, key_dienst.private)
    assert _token_request(flow, _code(flow, browser_for(account, identity)), assertion).status_code == 200
