"""The portal as OpenID Connect provider for the DUO services (issue 18, design.md §9), driven over
HTTP by an independent client library (Authlib), never by the provider's own code."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError as OAuth2Error
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken
from django.utils import timezone

from accounts.models import AuditEvent, Kenmerk, OverstapPlanning
from tests.factories import AccountFactory, KenmerkFactory, OrganisatieFactory, grant_rol

from .conftest import LOA3, CodeFlow

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _query(location: str) -> dict:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def _id_token_claims(flow: CodeFlow, token: dict):
    """The ID token, its signature checked with the portal's JWKS and its claims per OIDC Core §3.1.3.7."""
    jwks = JsonWebKey.import_key_set(requests.get(flow.metadata["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": flow.issuer}},
        claims_params={
            "nonce": flow.nonce,
            "client_id": flow.registered.client_id,
            "access_token": token["access_token"],
        },
    )
    claims.validate()
    return claims


def _logged_in_flow(issuer, registered, browser, **kwargs) -> tuple[CodeFlow, dict]:
    flow = CodeFlow(issuer, registered, **kwargs)
    response = flow.authorize(browser)
    assert response.status_code == 302, response.text
    return flow, flow.token(response.headers["Location"])


def test_discovery_offers_only_the_code_flow_with_s256_and_pairwise_subjects(issuer):
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == issuer
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["subject_types_supported"] == ["pairwise"]
    assert metadata["authorization_endpoint"] == f"{issuer}/o/authorize/"
    assert "duo" in metadata["scopes_supported"]


def test_code_flow_gives_an_id_token_signed_with_the_jwks_key_with_the_eherkenning_login(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    registered = dienst_register("osr", rollen[:1])
    account, koppeling, identity = portal_user(rollen[:1])
    flow, token = _logged_in_flow(issuer, registered, browser_for(account, identity))
    assert "refresh_token" not in token  # a Dienst comes back for fresh rollen
    assert token["expires_in"] == 300
    claims = _id_token_claims(flow, token)
    assert claims["aud"] == registered.client_id
    assert claims["nonce"] == flow.nonce
    assert claims["acr"] == LOA3
    assert claims["amr"] == ["eherkenning"]
    assert claims["exp"] - claims["iat"] == 300
    assert (
        abs(claims["auth_time"] - int(account.__class__.objects.get(pk=account.pk).last_login.timestamp()))
        <= 1
    )
    assert claims["sub"] not in {str(account.pk), account.username, koppeling.acting_subject_id}
    assert claims["name"] == account.name
    assert claims["email"] == account.email
    assert claims["organisatie"]["naam"] == account.organisatie.naam
    assert claims["organisatie"]["instellingscode"] == account.organisatie.instellingscode
    assert "straat" not in claims["organisatie"]
    assert [rol["code"] for rol in claims["rollen"]] == [rollen[0].code]
    assert "intermediair" not in claims
    assert AuditEvent.objects.filter(action="dienst.token", result="success", actor_id=account.pk).exists()


def test_state_comes_back_unchanged_and_the_issuer_is_named_in_the_response(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    registered = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = CodeFlow(issuer, registered)
    response = flow.authorize(browser_for(account, identity))
    location = response.headers["Location"]
    assert location.startswith(registered.redirect_uri + "?")
    assert _query(location)["state"] == flow.state
    assert _query(location)["iss"] == issuer  # RFC 9207: no mix-up between providers


def test_a_redirect_uri_differing_in_one_character_is_refused_without_redirect(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    registered = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    browser = browser_for(account, identity)
    for wrong in (
        registered.redirect_uri.replace("callback", "callbacK"),
        registered.redirect_uri + "/",
        registered.redirect_uri.replace("https://osr.", "https://osr2."),
        registered.redirect_uri + "?x=1",
    ):
        flow = CodeFlow(issuer, registered)
        flow.client.redirect_uri = wrong
        response = flow.authorize(browser)
        assert response.status_code == 400, wrong
        assert "Location" not in response.headers
        assert "De dienst kon u niet aanmelden" in response.text or "could not log you in" in response.text


def test_an_authorization_request_without_pkce_is_refused(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    registered = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = CodeFlow(issuer, registered)
    flow.client.code_challenge_method = None
    url, state = flow.client.create_authorization_url(
        flow.metadata["authorization_endpoint"], nonce=flow.nonce
    )
    assert "code_challenge" not in url
    response = flow.authorize(browser_for(account, identity), url)
    assert response.status_code == 302
    query = _query(response.headers["Location"])
    assert query["error"] == "invalid_request"
    assert "code" not in query


def test_a_plain_pkce_challenge_is_refused(issuer, rollen, dienst_register, portal_user, browser_for):
    registered = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = CodeFlow(issuer, registered)
    url, _state = flow.authorization_url()
    url = url.replace("code_challenge_method=S256", "code_challenge_method=plain")
    assert "code_challenge_method=plain" in url
    response = flow.authorize(browser_for(account, identity), url)
    assert response.status_code == 302
    query = _query(response.headers["Location"])
    assert query["error"] == "invalid_request"
    assert "code" not in query


def test_a_wrong_code_verifier_gets_no_token(issuer, rollen, dienst_register, portal_user, browser_for):
    registered = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = CodeFlow(issuer, registered)
    response = flow.authorize(browser_for(account, identity))
    flow.verifier = flow.verifier[:-1] + ("A" if flow.verifier[-1] != "A" else "B")
    with pytest.raises(OAuth2Error) as refused:
        flow.token(response.headers["Location"])
    assert refused.value.error == "invalid_grant"


def test_a_code_used_twice_is_refused_and_the_tokens_of_its_first_use_are_revoked(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    registered = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = CodeFlow(issuer, registered)
    location = flow.authorize(browser_for(account, identity)).headers["Location"]
    token = flow.token(location)
    assert flow.client.get(flow.metadata["userinfo_endpoint"], timeout=10).status_code == 200
    with pytest.raises(OAuth2Error) as refused:
        flow.token(location)
    assert refused.value.error == "invalid_grant"
    userinfo = requests.get(
        flow.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 401
    assert AuditEvent.objects.filter(action="dienst.token", result="refused").exists()


def test_the_pairwise_sub_is_stable_at_one_dienst_and_different_at_another(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    osr = dienst_register("osr", rollen[:1])
    bron = dienst_register("bron", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    browser = browser_for(account, identity)
    first = _id_token_claims(*_logged_in_flow(issuer, osr, browser))["sub"]
    again = _id_token_claims(*_logged_in_flow(issuer, osr, browser))["sub"]
    elsewhere = _id_token_claims(*_logged_in_flow(issuer, bron, browser))["sub"]
    assert first == again
    assert elsewhere != first


def test_a_dienst_learns_only_its_own_rollen_with_their_kenmerken(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    osr = dienst_register("osr", rollen[:2])
    account, _koppeling, identity = portal_user(rollen)  # all three
    flow, token = _logged_in_flow(issuer, osr, browser_for(account, identity))
    claims = _id_token_claims(flow, token)
    assert sorted(rol["code"] for rol in claims["rollen"]) == sorted(rol.code for rol in rollen[:2])
    for rol in claims["rollen"]:
        assert rol["kenmerken"] == [
            {"type": "instellingscode", "waarde": account.organisatie.instellingscode}
        ]
    # Userinfo answers with the current rollen: one revoked since the token was issued is gone.
    account.rol_toekenningen.filter(rol=rollen[1]).delete()
    userinfo = flow.client.get(flow.metadata["userinfo_endpoint"], timeout=10).json()
    assert [rol["code"] for rol in userinfo["rollen"]] == [rollen[0].code]
    assert userinfo["sub"] == claims["sub"]


def test_another_organisations_data_never_reaches_a_claim(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    osr = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    other = OrganisatieFactory(naam="Andere School")
    other_account, _k, _i = portal_user(rollen[:1], organisatie=other)
    foreign = Kenmerk.objects.get(organisatie=other)
    grant_rol(account, rollen[0].code, foreign)  # a faulty assignment of another school's kenmerk
    flow, token = _logged_in_flow(issuer, osr, browser_for(account, identity))
    claims = _id_token_claims(flow, token)
    userinfo = flow.client.get(flow.metadata["userinfo_endpoint"], timeout=10).json()
    for answer in (dict(claims), userinfo):
        text = str(answer)
        assert foreign.waarde not in text
        assert other.naam not in text
        assert other.kvk_nummer not in text
        assert other_account.name not in text and other_account.email not in text


def test_a_user_without_a_rol_of_the_dienst_gets_access_denied_at_the_redirect_uri_and_it_is_audited(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    osr = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[1:])  # other rollen only
    flow = CodeFlow(issuer, osr)
    response = flow.authorize(browser_for(account, identity))
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(osr.redirect_uri + "?")
    query = _query(location)
    assert query["error"] == "access_denied"
    assert query["state"] == flow.state
    assert "code" not in query
    event = AuditEvent.objects.get(action="dienst.authorize", result="refused")
    assert event.actor_id == account.pk
    assert event.detail["reason_code"] == "no_rol"


def test_a_disabled_dienst_gets_access_denied(issuer, rollen, dienst_register, portal_user, browser_for):
    osr = dienst_register("osr", rollen[:1], enabled=False)
    account, _koppeling, identity = portal_user(rollen[:1])
    response = CodeFlow(issuer, osr).authorize(browser_for(account, identity))
    assert _query(response.headers["Location"])["error"] == "access_denied"


def test_a_visitor_not_logged_in_goes_to_the_eherkenning_login_and_back_to_the_flow(
    issuer, rollen, dienst_register
):
    osr = dienst_register("osr", rollen[:1])
    flow = CodeFlow(issuer, osr)
    url, _state = flow.authorization_url()
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    login = urlsplit(response.headers["Location"])
    assert login.path == "/saml2/login/"
    next_url = parse_qs(login.query)["next"][0]
    assert next_url.startswith("/o/authorize/?")
    assert parse_qs(urlsplit(next_url).query)["client_id"] == [osr.client_id]


def test_a_ketenmachtiging_names_the_intermediary(issuer, rollen, dienst_register, portal_user, browser_for):
    osr = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1], intermediate="69012345")
    claims = _id_token_claims(*_logged_in_flow(issuer, osr, browser_for(account, identity)))
    assert claims["intermediair"] == {"kvk_nummer": "69012345", "naam": "Regionaal Bureau Noord"}


def test_without_scope_duo_the_dienst_gets_no_organisation_or_rollen(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    osr = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    claims = _id_token_claims(*_logged_in_flow(issuer, osr, browser_for(account, identity), scope="openid"))
    assert "rollen" not in claims and "organisatie" not in claims
    assert "email" not in claims and "name" not in claims
    assert claims["acr"] == LOA3


@pytest.mark.parametrize("closing", ["removed", "unlinked", "dienst_disabled"])
def test_a_token_of_a_removed_or_unlinked_account_is_refused_at_userinfo_and_introspection(
    issuer, rollen, dienst_register, portal_user, browser_for, closing
):
    osr = dienst_register("osr", rollen[:1])
    account, koppeling, identity = portal_user(rollen[:1])
    flow, token = _logged_in_flow(issuer, osr, browser_for(account, identity))
    introspect = f"{issuer}/o/introspect/"
    auth = (osr.client_id, osr.secret)
    answer = requests.post(introspect, data={"token": token["access_token"]}, auth=auth, timeout=10).json()
    assert answer["active"] is True
    assert answer["sub"] == _id_token_claims(flow, token)["sub"]
    assert "username" not in answer
    if closing == "removed":
        account.removed_at = timezone.now()
        account.save(update_fields=["removed_at"])
    elif closing == "unlinked":
        koppeling.ended_at = timezone.now()
        koppeling.save(update_fields=["ended_at"])
    else:  # the helpdesk switches the Dienst off: its users' tokens end at once, not when they expire
        type(osr.dienst).objects.filter(pk=osr.dienst.pk).update(enabled=False)
    assert flow.client.get(flow.metadata["userinfo_endpoint"], timeout=10).status_code == 401
    answer = requests.post(introspect, data={"token": token["access_token"]}, auth=auth, timeout=10).json()
    assert answer == {"active": False}
    reasons = set(
        AuditEvent.objects.filter(
            action="dienst.userinfo", result="refused", actor_id=account.pk
        ).values_list("detail__reason_code", flat=True)
    )
    assert reasons == {"dienst_disabled" if closing == "dienst_disabled" else "account_closed"}


def test_only_the_dienst_that_holds_a_token_may_introspect_it(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    osr = dienst_register("osr", rollen[:1])
    bron = dienst_register("bron", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    _flow, token = _logged_in_flow(issuer, osr, browser_for(account, identity))
    introspect = f"{issuer}/o/introspect/"
    other = requests.post(
        introspect, data={"token": token["access_token"]}, auth=(bron.client_id, bron.secret), timeout=10
    )
    assert other.json() == {"active": False}
    wrong_secret = requests.post(
        introspect, data={"token": token["access_token"]}, auth=(osr.client_id, "x"), timeout=10
    )
    assert wrong_secret.status_code == 403


def test_a_token_login_gets_its_own_acr_and_no_eherkenning_level(
    issuer, rollen, dienst_register, browser_for
):
    osr = dienst_register("osr", rollen[:1])
    account = AccountFactory()
    grant_rol(account, rollen[0].code, KenmerkFactory(organisatie=account.organisatie))
    # The user's sector may still use the token (seed 001's planning): otherwise the portal logs them out.
    OverstapPlanning.objects.update_or_create(
        organisatie_type=account.organisatie.type,
        defaults={"switch_date": timezone.localdate() + timedelta(days=365)},
    )
    claims = _id_token_claims(*_logged_in_flow(issuer, osr, browser_for(account, auth_method="token")))
    assert claims["acr"] == "urn:mijnduo:acr:token"
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert "intermediair" not in claims


def _token_refusals() -> list[str]:
    return [
        event.detail.get("reason_code")
        for event in AuditEvent.objects.filter(action="dienst.token", result="refused").order_by("id")
    ]


def test_every_refusal_at_the_token_endpoint_is_audited(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    registered = dienst_register("osr", rollen[:1])
    account, koppeling, identity = portal_user(rollen[:1])
    browser = browser_for(account, identity)

    flow = CodeFlow(issuer, registered)
    location = flow.authorize(browser).headers["Location"]
    right_verifier = flow.verifier
    flow.verifier = right_verifier[:-1] + ("A" if right_verifier[-1] != "A" else "B")
    with pytest.raises(OAuth2Error):
        flow.token(location)  # wrong PKCE verifier
    # Another last character: a secret that already ends in "x" (1 in 62) stayed right with "x".
    flow.client.client_secret = registered.secret[:-1] + ("x" if registered.secret[-1] != "x" else "y")
    flow.verifier = right_verifier
    with pytest.raises(OAuth2Error) as refused:
        flow.token(location)  # wrong client secret
    assert refused.value.error == "invalid_client"
    flow.client.client_secret = registered.secret
    with pytest.raises(OAuth2Error):
        flow.token(location.replace("code=", "code=x"))  # a code the portal never issued
    flow.token(location)  # the code itself was never spent by the failures
    with pytest.raises(OAuth2Error):
        flow.token(location)  # used twice
    assert _token_refusals() == ["pkce_or_redirect_uri", "client_auth", "bad_code", "code_reused"]
    assert (
        AuditEvent.objects.filter(action="dienst.token", result="success", actor_id=account.pk).count() == 1
    )


def test_a_code_of_an_account_unlinked_before_the_token_request_gets_no_token_and_is_audited(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    registered = dienst_register("osr", rollen[:1])
    account, koppeling, identity = portal_user(rollen[:1])
    flow = CodeFlow(issuer, registered)
    location = flow.authorize(browser_for(account, identity)).headers["Location"]
    koppeling.ended_at = timezone.now()
    koppeling.save(update_fields=["ended_at"])
    with pytest.raises(OAuth2Error) as refused:
        flow.token(location)
    assert refused.value.error == "invalid_grant"
    assert _token_refusals() == ["account_closed"]


def test_a_bad_bearer_token_at_userinfo_is_audited(issuer):
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    answer = requests.get(
        metadata["userinfo_endpoint"], headers={"Authorization": "Bearer not-a-token"}, timeout=10
    )
    assert answer.status_code == 401
    event = AuditEvent.objects.get(action="dienst.userinfo")
    assert (event.result, event.detail["reason_code"]) == ("refused", "invalid_token")


def test_prompt_login_sends_a_logged_in_user_to_a_fresh_eherkenning_login_and_back_without_it(
    issuer, rollen, dienst_register, portal_user, browser_for
):
    registered = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    flow = CodeFlow(issuer, registered)
    url, flow.state = flow.authorization_url(prompt="login")
    response = flow.authorize(browser_for(account, identity), url)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/saml2/login/"
    back = _query(response.headers["Location"])["next"]
    assert back.startswith("/o/authorize/?") and "prompt" not in _query(back)
    assert _query(back)["code_challenge_method"] == "S256"


@pytest.mark.parametrize("hours_ago, fresh_login", [(2, True), (0, False)])
def test_max_age_asks_for_a_fresh_login_only_when_the_portal_login_is_older(
    issuer, rollen, dienst_register, portal_user, browser_for, hours_ago, fresh_login
):
    registered = dienst_register("osr", rollen[:1])
    account, _koppeling, identity = portal_user(rollen[:1])
    browser = browser_for(account, identity)
    account.__class__.objects.filter(pk=account.pk).update(
        last_login=timezone.now() - timedelta(hours=hours_ago)
    )
    flow = CodeFlow(issuer, registered)
    url, flow.state = flow.authorization_url(max_age=3600)
    response = flow.authorize(browser, url)
    assert response.status_code == 302
    location = response.headers["Location"]
    if fresh_login:
        assert urlsplit(location).path == "/saml2/login/"
        assert "max_age" not in _query(_query(location)["next"])
    else:
        assert location.startswith(registered.redirect_uri) and "code" in _query(location)
