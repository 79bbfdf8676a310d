"""Limits on what an unauthenticated request to the token endpoint can make the portal do (security review):
the JWKS URI fetch is https only, reads at most 64 KB within a deadline, and a failure is remembered for a
minute; an assertion with an absurd ``exp`` is refused, not a server error."""

import json
import uuid

import pytest
import requests
from django.core.cache import cache
from joserfc import jwt
from joserfc.jwk import RSAKey

from diensten import client_auth
from diensten.admin import DienstAdminForm
from diensten.client_auth import ASSERTION_TYPE, AssertionRefusedError, client_assertion_verify, dienst_keys

pytestmark = pytest.mark.django_db

KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


class FakeAnswer:
    """A streamed answer of ``size`` bytes of a JWK Set (padded), as requests gives it."""

    def __init__(self, body: bytes):
        self.body = body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def raise_for_status(self):
        pass

    def iter_content(self, chunk_size):
        for start in range(0, len(self.body), chunk_size):
            yield self.body[start : start + chunk_size]


@pytest.fixture
def uri_dienst(dienst_register, rollen):
    registered = dienst_register("jwk", rollen[:1])
    registered.dienst.token_endpoint_auth_method = "private_key_jwt"
    registered.dienst.jwks_uri = f"https://jwk.dienst.example/{uuid.uuid4().hex}/jwks.json"
    registered.dienst.save()
    return registered


@pytest.fixture
def fetches(monkeypatch):
    calls = []

    def answer_with(body: bytes | Exception):
        def get(url, **kwargs):
            calls.append((url, kwargs))
            if isinstance(body, Exception):
                raise body
            return FakeAnswer(body)

        monkeypatch.setattr(client_auth.requests, "get", get)
        return calls

    return answer_with


def test_a_jwks_of_the_allowed_size_is_fetched_streamed_and_cached(uri_dienst, fetches):
    calls = fetches(json.dumps({"keys": [KEY.as_dict(private=False)]}).encode())
    assert len(dienst_keys(uri_dienst.dienst).keys) == 1
    assert len(dienst_keys(uri_dienst.dienst).keys) == 1
    assert len(calls) == 1
    assert calls[0][1]["stream"] is True
    assert calls[0][1]["allow_redirects"] is False


def test_a_jwks_over_64_kb_is_refused(uri_dienst, fetches):
    padding = "x" * (client_auth.JWKS_MAX_BYTES + 1)
    fetches(json.dumps({"keys": [KEY.as_dict(private=False)], "pad": padding}).encode())
    with pytest.raises(AssertionRefusedError) as refused:
        dienst_keys(uri_dienst.dienst)
    assert refused.value.reason == "jwks_unavailable"


def test_a_fetch_over_its_deadline_is_refused(uri_dienst, fetches, monkeypatch):
    fetches(json.dumps({"keys": [KEY.as_dict(private=False)]}).encode())
    clock = iter(range(0, 10_000, 100))  # every reading of the clock 100 s later
    monkeypatch.setattr(client_auth.time, "monotonic", lambda: next(clock))
    with pytest.raises(AssertionRefusedError) as refused:
        dienst_keys(uri_dienst.dienst)
    assert refused.value.reason == "jwks_unavailable"


def test_a_failed_fetch_is_remembered_for_a_minute(uri_dienst, fetches):
    calls = fetches(requests.ConnectionError("down"))
    for _ in range(5):
        with pytest.raises(AssertionRefusedError):
            dienst_keys(uri_dienst.dienst)
    assert len(calls) == 1
    cache.delete(f"diensten:jwks:{uri_dienst.dienst.pk}:{uri_dienst.dienst.jwks_uri}:failed")


def test_a_jwks_uri_that_is_not_https_is_not_fetched(uri_dienst, fetches):
    calls = fetches(json.dumps({"keys": [KEY.as_dict(private=False)]}).encode())
    uri_dienst.dienst.jwks_uri = f"http://jwk.dienst.example/{uuid.uuid4().hex}/jwks.json"
    with pytest.raises(AssertionRefusedError) as refused:
        dienst_keys(uri_dienst.dienst)
    assert refused.value.reason == "jwks_unavailable"
    assert calls == []


@pytest.mark.parametrize("scheme", ["http", "ftp"])
def test_the_admin_form_accepts_only_an_https_jwks_uri(rollen, scheme):
    data = {
        "code": "jwkform",
        "naam_nl": "Dienst",
        "naam_en": "Service",
        "launch_url": "https://jwkform.dienst.example/start",
        "rollen": [rollen[0].pk],
        "enabled": "on",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": f"{scheme}://jwkform.dienst.example/jwks.json",
        "redirect_uris": "https://jwkform.dienst.example/cb",
    }
    form = DienstAdminForm(data=data)
    assert not form.is_valid()
    assert "jwks_uri" in form.errors
    data["jwks_uri"] = "https://jwkform.dienst.example/jwks.json"
    form = DienstAdminForm(data=data)
    assert "jwks_uri" not in form.errors, form.errors


@pytest.mark.parametrize("exp", [1e300, 10**30])
def test_an_absurd_exp_is_refused_as_invalid_not_a_server_error(dienst_register, rollen, exp):
    registered = dienst_register("exp", rollen[:1])
    registered.dienst.token_endpoint_auth_method = "private_key_jwt"
    registered.dienst.jwks = {"keys": [KEY.as_dict(private=False)]}
    registered.dienst.save()
    client_id = registered.client_id
    audience = "https://portal.example/o/token/"
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "exp": exp, "jti": uuid.uuid4().hex}
    assertion = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, KEY)
    with pytest.raises(AssertionRefusedError) as refused:
        client_assertion_verify(
            assertion_type=ASSERTION_TYPE, assertion=assertion, client_id=client_id, audiences=[audience]
        )
    assert refused.value.reason == "assertion_invalid"
