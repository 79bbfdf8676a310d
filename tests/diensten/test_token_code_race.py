"""Two token requests with the same code at the same moment: one gets tokens, the other is refused as a
reused code and the tokens of the first are revoked (RFC 6749 §4.1.2) — never two sets of tokens for one
code. The token view locks the grant row for its transaction (diensten/validators.py, ``_grant``)."""

import threading
import time

import pytest
from django.db import connection
from oauth2_provider.models import AccessToken

from diensten import services
from tests.diensten.test_token_transaction import _code_for_a_logged_in_user, _token_request

# serialized_rollback: the catalogue (rollen) comes from data migrations, which a flush would take away.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.postgresql]


def test_two_concurrent_requests_with_one_code_never_both_get_tokens(monkeypatch):
    dienst, secret, code, verifier = _code_for_a_logged_in_user()
    first_has_the_grant = threading.Event()
    real = services.handoff_for_code

    def handoff_for_code(**kwargs):
        # The first request, having read (and, with the fix, locked) the grant, waits a moment so
        # that the second request reaches the grant while the first has not yet spent the code.
        if not first_has_the_grant.is_set():
            first_has_the_grant.set()
            time.sleep(1.0)
        return real(**kwargs)

    monkeypatch.setattr(services, "handoff_for_code", handoff_for_code)
    responses = {}

    def exchange(name):
        try:
            responses[name] = _token_request(dienst, secret, code, verifier)
        finally:
            connection.close()

    first = threading.Thread(target=exchange, args=("first",))
    first.start()
    assert first_has_the_grant.wait(timeout=30)
    second = threading.Thread(target=exchange, args=("second",))
    second.start()
    first.join(timeout=60)
    second.join(timeout=60)

    statuses = sorted(response.status_code for response in responses.values())
    assert statuses == [200, 400], {name: r.content for name, r in responses.items()}
    refused = next(r for r in responses.values() if r.status_code == 400)
    assert refused["Content-Type"].startswith("application/json"), refused.content[:300]
    assert refused.json()["error"] == "invalid_grant"
    # the reuse revoked what the first use issued
    assert not AccessToken.objects.exists()
