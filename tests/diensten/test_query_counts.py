"""P9's query counts (design.md §7): the authorize redirect, the token exchange and userinfo cost the
same number of SQL queries whatever the number of rollen the user holds (1 or 12, of this Dienst
and of others). In-process Django client: the counts are the server's, not the transport's."""

import base64
import hashlib
import secrets
from contextlib import ExitStack, nullcontext
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Rol
from diensten.models import Dienst
from diensten.services import dienst_client_save
from tests.factories import AccountFactory, KenmerkFactory, grant_rol

pytestmark = pytest.mark.django_db

REDIRECT_URI = "https://osr.dienst.example/oidc/callback"


def _dienst(rollen):
    dienst, secret = dienst_client_save(
        dienst=Dienst(
            code="osr", naam_nl="OSR", naam_en="OSR", launch_url="https://osr.dienst.example/", enabled=True
        ),
        redirect_uris=REDIRECT_URI,
        post_logout_redirect_uris="",
    )
    dienst.rollen.set(rollen)
    return dienst, secret


# The statements each step costs (savepoints included), down from 11, 25 and 5: the client and its
# Dienst read once per authorization request instead of three times; the grant read once per token
# request instead of seven times; the user's organisation, the hand-off and its Dienst read with the
# token and the client, the ID token not read back (diensten/validators.py). The token request's
# writes are one transaction (diensten/views.py): outside a test one commit instead of three and 13
# statements instead of 15 (bench P9); inside the test's transaction it is a savepoint, as the access
# token's own savepoint was before, so the count here stayed 13. Then 8 -> 7 and 13 -> 11: the
# authorization view no longer reads the client a second time, and the ID token is saved without
# django-oauth-toolkit's savepoint inside the token transaction. The authorization request's writes
# are one transaction too (no savepoint: here they join the test's; in the bench BEGIN and COMMIT
# are counted beside them). Userinfo 2 -> 1: the rollen claim is read with the token (selectors.py).
# Token 11 -> 7 and authorize 7 -> 5 on PostgreSQL: the ID token, the access token, the hand-off's
# link, the audit event and the spent grant are one statement, and so are the code's grant, its
# hand-off and the audit event (diensten/batched_writes.py); SQLite writes them one by one. Then
# token 7 -> 5 on PostgreSQL: the code's hand-off and the rollen claim are read with the grant
# (selectors.code_read); 11 -> 10 on SQLite (the hand-off; the rollen claim is a query of its own).
USERINFO_QUERIES = 1
AUTHORIZE_QUERIES = {"postgresql": 5, "sqlite": 7}
TOKEN_QUERIES = {"postgresql": 5, "sqlite": 10}


def _counts(role_count: int, capture=None) -> tuple[int, int, int]:
    """The queries of authorize, token and userinfo; with ``capture`` (a context manager factory
    taking the step's name) each step is run inside it as well."""

    def step(name: str):
        stack = ExitStack()
        stack.enter_context(capture(name) if capture else nullcontext())
        return stack, stack.enter_context(CaptureQueriesContext(connection))

    rollen = list(Rol.objects.order_by("code"))
    assert len(rollen) >= 12
    dienst, secret = _dienst(rollen[:6])  # half of the user's rollen belong to the Dienst
    account = AccountFactory()
    kenmerken = [
        KenmerkFactory(organisatie=account.organisatie, waarde=waarde) for waarde in ("11AB", "22CD")
    ]
    for index, rol in enumerate(rollen[:role_count]):
        grant_rol(account, rol.code, kenmerken[index % 2])
    browser = Client()
    browser.force_login(account)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": dienst.application.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email duo",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    browser.get("/overzicht/")  # the session's first request settles its own writes
    stack, authorize = step("authorize")
    with stack:
        response = browser.get("/o/authorize/", query)
    assert response.status_code == 302, response.content
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    server = Client()
    auth = base64.b64encode(f"{dienst.application.client_id}:{secret}".encode()).decode()
    stack, token = step("token")
    with stack:
        response = server.post(
            "/o/token/",
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            HTTP_AUTHORIZATION=f"Basic {auth}",
        )
    assert response.status_code == 200, response.content
    access_token = response.json()["access_token"]
    stack, userinfo = step("userinfo")
    with stack:
        response = server.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert response.status_code == 200
    assert len(response.json()["rollen"]) == min(role_count, 6)
    return len(authorize), len(token), len(userinfo)


def test_authorize_token_and_userinfo_queries_do_not_grow_with_the_number_of_rollen():
    one = _counts(1)
    Dienst.objects.all().delete()
    twelve = _counts(12)
    assert one == twelve, {"1 rol": one, "12 rollen": twelve}


def test_authorize_token_and_userinfo_cost_their_known_number_of_queries(django_assert_num_queries):
    expected = {
        "authorize": AUTHORIZE_QUERIES[connection.vendor],
        "token": TOKEN_QUERIES[connection.vendor],
        "userinfo": USERINFO_QUERIES,
    }
    assert _counts(6, capture=lambda name: django_assert_num_queries(expected[name])) == tuple(
        expected.values()
    )


@pytest.mark.postgresql  # prepared statements: PostgreSQL only
def test_the_reads_of_every_request_are_prepared_statements_on_postgresql():
    """The reads of every authorization, token and userinfo request are prepared once per
    connection (selectors.execute): PostgreSQL spent more time planning them than running them.
    Prepared inside the requests' transactions, they outlive them (here the test's, rolled back)."""
    _counts(6)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        prepared = {name for (name,) in cursor.fetchall()}
    assert {
        "diensten_application_with_dienst",
        "diensten_holds_dienst_rol",
        "diensten_record_code",
        "diensten_code_read_locked",  # with the hand-off and the rollen claim
        "diensten_issue_and_spend",
        "diensten_access_token_for_bearer_rollen",
    } <= prepared


def test_the_claims_builder_takes_the_request_as_django_oauth_toolkit_would_find(monkeypatch):
    """django-oauth-toolkit asks with inspect.signature, twice per token and userinfo request,
    whether get_additional_claims takes the request; the portal's validator answers it without
    looking (validators.py), and the answer is the one the signature gives."""
    from oauth2_provider.oauth2_validators import OAuth2Validator

    from diensten.validators import DienstValidator

    assert DienstValidator._get_additional_claims_is_request_agnostic() is False
    assert OAuth2Validator._get_additional_claims_is_request_agnostic.__func__(DienstValidator) is False
    asked = []
    monkeypatch.setattr(
        OAuth2Validator,
        "_get_additional_claims_is_request_agnostic",
        classmethod(lambda cls: asked.append(cls) or False),
    )
    _counts(6)
    assert asked == []
