"""The token exchange writes all or nothing (diensten/views.py, DienstTokenView): a failure while a
token is being issued leaves no ID token or access token behind that no audit event accounts for,
and the code is not spent."""

import base64
import hashlib
import secrets
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, Grant, IDToken

from accounts.constants import AuditAction, AuditResult
from accounts.models import AuditEvent, Rol
from diensten.models import Dienst, Handoff
from diensten.services import dienst_client_save
from tests.factories import AccountFactory, KenmerkFactory, grant_rol

pytestmark = pytest.mark.django_db

REDIRECT_URI = "https://osr.dienst.example/oidc/callback"


def _dienst_for_a_logged_in_user() -> tuple[Dienst, str, Client]:
    """A Dienst, its secret, and a logged-in browser of a user holding its rol."""
    rol = Rol.objects.order_by("code").first()
    dienst, secret = dienst_client_save(
        dienst=Dienst(
            code="osr", naam_nl="OSR", naam_en="OSR", launch_url="https://osr.dienst.example/", enabled=True
        ),
        redirect_uris=REDIRECT_URI,
        post_logout_redirect_uris="",
    )
    dienst.rollen.set([rol])
    account = AccountFactory()
    grant_rol(account, rol.code, KenmerkFactory(organisatie=account.organisatie))
    browser = Client()
    browser.force_login(account)
    return dienst, secret, browser


def _code(dienst: Dienst, browser: Client) -> tuple[str, str]:
    """An authorization request's code, and its PKCE verifier."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    response = browser.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": dienst.application.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid duo",
            "state": "s",
            "nonce": "n",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 302, response.content
    return parse_qs(urlsplit(response["Location"]).query)["code"][0], verifier


def _code_for_a_logged_in_user() -> tuple[Dienst, str, str, str]:
    dienst, secret, browser = _dienst_for_a_logged_in_user()
    return dienst, secret, *_code(dienst, browser)


def _token_request(dienst: Dienst, secret: str, code: str, verifier: str, *, client: Client | None = None):
    auth = base64.b64encode(f"{dienst.application.client_id}:{secret}".encode()).decode()
    return (client or Client()).post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


def test_a_failure_while_issuing_leaves_no_token_behind_and_the_code_unspent():
    dienst, secret, code, verifier = _code_for_a_logged_in_user()

    def audit_fails(**kwargs):
        raise RuntimeError("audit trail unavailable")

    # The audit event is made by audit_event where the writes are one statement (PostgreSQL,
    # diensten/batched_writes.py), by audit_log where they are written one by one.
    with (
        mock.patch("diensten.validators.audit_log", side_effect=audit_fails),
        mock.patch("diensten.validators.audit_event", side_effect=audit_fails),
    ):
        with pytest.raises(RuntimeError):
            _token_request(dienst, secret, code, verifier)
    assert not IDToken.objects.exists()
    assert not AccessToken.objects.exists()
    assert Grant.objects.filter(code=code).exists()
    assert Handoff.objects.get().access_token_id is None

    response = _token_request(dienst, secret, code, verifier)  # the same code, once all is well
    assert response.status_code == 200, response.content
    assert AccessToken.objects.count() == 1
    assert IDToken.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.DIENST_TOKEN, result=AuditResult.SUCCESS).count() == 1
