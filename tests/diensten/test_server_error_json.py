"""An internal failure at an endpoint a Dienst's server calls is answered in JSON (mijnduo/errors.py),
as its client library reads every other answer there; the provider's browser pages keep the portal's
500 page."""

from unittest import mock

import pytest
from django.test import Client, RequestFactory
from django.urls import resolve

from mijnduo.errors import server_error
from tests.diensten.test_token_transaction import _code_for_a_logged_in_user, _token_request

pytestmark = pytest.mark.django_db


def test_an_internal_failure_at_the_token_endpoint_is_a_json_server_error():
    dienst, secret, code, verifier = _code_for_a_logged_in_user()
    failing = mock.Mock(side_effect=RuntimeError("audit trail unavailable"))
    with (
        mock.patch("diensten.validators.audit_log", failing),
        mock.patch("diensten.validators.audit_event", failing),
    ):
        response = _token_request(
            dienst, secret, code, verifier, client=Client(raise_request_exception=False)
        )
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["error"] == "server_error"
    assert response["X-Request-ID"] in body["error_description"]  # to quote to the helpdesk


@pytest.mark.parametrize("path", ["/o/authorize/", "/o/logout/"])
def test_the_provider_s_browser_pages_keep_the_portal_s_500_page(path):
    request = RequestFactory().get(path)
    request.resolver_match = resolve(path)
    request.request_id = "r-1"
    response = server_error(request)
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
    assert b"r-1" in response.content
