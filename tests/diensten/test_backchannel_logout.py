"""OpenID Connect Back-Channel Logout 1.0 on a portal logout (issue 18, point 4): a logout token to
every Dienst the session used, valid per the spec, retried while the Dienst is down."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
import time_machine
from authlib.jose import JsonWebKey, jwt
from django.utils import timezone

from accounts.models import AuditEvent
from diensten.logout import LOGOUT_EVENT
from diensten.models import BackchannelLogout
from diensten.tasks import flush_backchannel_logouts

from .conftest import CodeFlow
from .test_oidc_provider import _id_token_claims, _logged_in_flow

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Receiver:
    """A Dienst's back-channel logout endpoint on loopback: answers with the queued statuses."""

    def __init__(self, statuses=(200,)):
        self.statuses = list(statuses)
        self.tokens: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                receiver.tokens.append(parse_qs(body).get("logout_token", [""])[0])
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/backchannel-logout"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_make():
    made = []

    def make(statuses=(200,)):
        receiver = Receiver(statuses)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


def _with_backchannel(registered, url):
    registered.dienst.backchannel_logout_uri = url
    registered.dienst.save()
    return registered


def _logout_claims(flow: CodeFlow, token: str):
    jwks = JsonWebKey.import_key_set(requests.get(flow.metadata["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token, jwks)
    claims.validate()
    return claims


def test_a_portal_logout_sends_a_valid_logout_token_to_each_dienst_of_the_session(
    issuer, rollen, dienst_register, portal_user, browser_for, client, receiver_make
):
    osr_receiver, bron_receiver, unused_receiver = receiver_make(), receiver_make(), receiver_make()
    osr = _with_backchannel(dienst_register("osr", rollen[:1]), osr_receiver.url)
    bron = _with_backchannel(dienst_register("bron", rollen[:1]), bron_receiver.url)
    _with_backchannel(dienst_register("unused", rollen[:1]), unused_receiver.url)
    account, _koppeling, identity = portal_user(rollen[:1])
    browser = browser_for(account, identity)
    osr_flow, osr_token = _logged_in_flow(issuer, osr, browser)
    _logged_in_flow(issuer, osr, browser)  # twice at one Dienst: still one logout token for the session
    bron_flow, bron_token = _logged_in_flow(issuer, bron, browser)

    client.logout()  # the session whose cookie the browser carries

    assert len(osr_receiver.tokens) == 1
    assert len(bron_receiver.tokens) == 1
    assert unused_receiver.tokens == []
    for flow, token, received in (
        (osr_flow, osr_token, osr_receiver),
        (bron_flow, bron_token, bron_receiver),
    ):
        id_token = _id_token_claims(flow, token)
        claims = _logout_claims(flow, received.tokens[0])
        assert claims["iss"] == issuer
        assert claims["aud"] == flow.registered.client_id
        assert claims["sub"] == id_token["sub"]
        assert claims["sid"] == id_token["sid"]
        assert claims["events"] == {LOGOUT_EVENT: {}}
        assert claims["jti"] and claims["iat"]
        assert "nonce" not in claims
    assert AuditEvent.objects.filter(action="dienst.backchannel_logout", result="success").count() == 2


def test_a_dienst_that_is_down_gets_the_logout_token_again_until_it_accepts_it(
    issuer, rollen, dienst_register, portal_user, browser_for, client, receiver_make
):
    """The logout goes through whatever the Dienst answers; the outbox row stays until it accepts,
    and the sweep (Celery beat, every minute) delivers it then. The logout itself never waits."""
    receiver = receiver_make(statuses=(503, 500, 200))
    osr = _with_backchannel(dienst_register("osr", rollen[:1]), receiver.url)
    account, _koppeling, identity = portal_user(rollen[:1])
    _logged_in_flow(issuer, osr, browser_for(account, identity))

    client.logout()  # succeeds although the Dienst answers 503

    delivery = BackchannelLogout.objects.get()
    assert delivery.delivered_at is None
    assert delivery.last_error == "HTTP 503"
    assert flush_backchannel_logouts() == 0  # not yet a minute old: the Celery retries come first
    for minutes, delivered in ((2, False), (3, True)):
        with time_machine.travel(timezone.now() + timedelta(minutes=minutes)):
            flush_backchannel_logouts()
        delivery.refresh_from_db()
        assert (delivery.delivered_at is not None) is delivered
    assert delivery.attempts == 3
    assert len(receiver.tokens) == 3
    assert len(set(receiver.tokens)) == 3  # each attempt a fresh token (its own jti and iat)
    events = AuditEvent.objects.filter(action="dienst.backchannel_logout").order_by("id")
    assert [event.result for event in events] == ["failure", "failure", "success"]
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        assert flush_backchannel_logouts() == 0  # delivered once, never again
    assert len(receiver.tokens) == 3
