"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at the portal's end_session_endpoint:
django-oauth-toolkit's view with exact post-logout redirect URIs, back-channel logout to the other
Diensten of the session, refusals audited."""

from urllib.parse import urlencode

import pytest
import requests

from accounts.models import AuditEvent
from diensten.models import BackchannelLogout

from .test_backchannel_logout import _with_backchannel, receiver_make  # noqa: F401
from .test_oidc_provider import _logged_in_flow, _query

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _end_session(flow, token, **params):
    return {
        "id_token_hint": token["id_token"],
        "client_id": flow.registered.client_id,
        "post_logout_redirect_uri": flow.registered.dienst.application.post_logout_redirect_uris,
        "state": "terug-123",
        **params,
    }


def test_discovery_advertises_the_end_session_endpoint(issuer):
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["end_session_endpoint"] == f"{issuer}/o/logout/"


def test_a_dienst_logs_the_user_out_of_the_portal_and_the_other_diensten(
    issuer,
    rollen,
    dienst_register,
    portal_user,
    browser_for,
    receiver_make,  # noqa: F811
):
    bron_receiver = receiver_make()
    osr = dienst_register("osr", rollen[:1])
    bron = _with_backchannel(dienst_register("bron", rollen[:1]), bron_receiver.url)
    account, _koppeling, identity = portal_user(rollen[:1])
    browser = browser_for(account, identity)
    flow, token = _logged_in_flow(issuer, osr, browser)
    _logged_in_flow(issuer, bron, browser)

    answer = browser.get(
        flow.metadata["end_session_endpoint"],
        params=_end_session(flow, token),
        allow_redirects=False,
        timeout=10,
    )

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("https://osr.dienst.example/?")
    assert _query(answer.headers["Location"]) == {"state": "terug-123"}
    assert browser.get(f"{issuer}/overzicht/", allow_redirects=False, timeout=10).status_code == 302
    assert len(bron_receiver.tokens) == 1
    assert BackchannelLogout.objects.get().dienst_id == bron.dienst.pk
    assert AuditEvent.objects.filter(action="dienst.backchannel_logout", result="success").count() == 2


@pytest.mark.parametrize(
    "uri",
    [
        "https://osr.dienst.example/x",
        "https://osr.dienst.example/?a=1",
        "https://osr.dienst.example",
        "http://osr.dienst.example/",
    ],
)
def test_a_post_logout_redirect_uri_differing_in_any_character_is_refused(
    issuer, rollen, dienst_register, portal_user, browser_for, uri
):
    osr = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    browser = browser_for(account, identity)
    flow, token = _logged_in_flow(issuer, osr, browser)
    answer = browser.get(
        flow.metadata["end_session_endpoint"],
        params=_end_session(flow, token, post_logout_redirect_uri=uri),
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 400
    assert "kon u niet uitloggen" in answer.text
    assert browser.get(f"{issuer}/overzicht/", allow_redirects=False, timeout=10).status_code == 200
    assert AuditEvent.objects.filter(action="dienst.backchannel_logout", result="refused").exists()


def test_without_an_id_token_hint_the_portal_asks_before_logging_out(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    osr = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    browser = browser_for(account, identity)
    flow, _token = _logged_in_flow(issuer, osr, browser)
    query = urlencode({"client_id": osr.client_id})
    answer = browser.get(
        f"{flow.metadata['end_session_endpoint']}?{query}", allow_redirects=False, timeout=10
    )
    assert answer.status_code == 200
    assert "Uitloggen bij Mijn DUO Zakelijk" in answer.text
    assert browser.get(f"{issuer}/overzicht/", allow_redirects=False, timeout=10).status_code == 200
