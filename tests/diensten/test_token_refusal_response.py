"""Every refusal of the token endpoint is a JSON error the Dienst can read and must not cache
(RFC 6749 §5.2: application/json, Cache-Control: no-store), and a refusal never leaves tokens behind.

oauthlib refuses with an error raised after the tokens were saved when spending the code fails (the
grant gone meanwhile: another request spent it). django-oauth-toolkit turns that error into a JSON
body but with the error's own headers only, which have no Content-Type: the response went out as
text/html, and the token transaction committed the tokens of a refused request.
"""

from unittest import mock

import pytest
from oauth2_provider.models import AccessToken, Grant, IDToken
from oauthlib.oauth2.rfc6749 import errors

from accounts.constants import AuditAction, AuditResult
from accounts.models import AuditEvent
from diensten.validators import DienstValidator
from tests.diensten.test_token_transaction import _code_for_a_logged_in_user, _token_request

pytestmark = pytest.mark.django_db


def _assert_json_error(response, status: int, error: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    assert "no-store" in response["Cache-Control"]
    assert response.json()["error"] == error


def test_a_refusal_after_the_tokens_were_saved_is_json_and_keeps_no_token():
    dienst, secret, code, verifier = _code_for_a_logged_in_user()

    def spent_meanwhile(self, client_id, code, request, *args, **kwargs):
        raise errors.InvalidGrantError(request=request)

    with mock.patch.object(DienstValidator, "invalidate_authorization_code", spent_meanwhile):
        response = _token_request(dienst, secret, code, verifier)
    _assert_json_error(response, 400, "invalid_grant")
    assert not AccessToken.objects.exists()
    assert not IDToken.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.DIENST_TOKEN, result=AuditResult.SUCCESS).exists()
    assert AuditEvent.objects.filter(action=AuditAction.DIENST_TOKEN, result=AuditResult.REFUSED).exists()
    assert Grant.objects.filter(code=code).exists()  # nothing of the refused request stays


def test_the_ordinary_refusals_are_json_and_not_cached():
    dienst, secret, code, verifier = _code_for_a_logged_in_user()
    _assert_json_error(_token_request(dienst, "wrong", code, verifier), 401, "invalid_client")
    _assert_json_error(_token_request(dienst, secret, code, "x" * 50), 400, "invalid_grant")
    _assert_json_error(_token_request(dienst, secret, "no-such-code", verifier), 400, "invalid_grant")
