"""Userinfo (OIDC Core §5.3) served without oauthlib on a Dienst's bearer request (diensten/bearer.py,
views.DienstUserInfoView): every answer — claims, refusals, their WWW-Authenticate header, the audit
events — as django-oauth-toolkit's UserInfoView with the portal's validator gives it, asked the same
question in the same test; and one statement whatever the number of rollen."""

import hashlib
import secrets
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken, set_token_value
from oauth2_provider.views import UserInfoView

from accounts.models import AuditEvent, Rol
from diensten.models import Dienst, Handoff
from diensten.services import ACR_TOKEN, AMR_EHERKENNING, AMR_TOKEN, dienst_client_save
from tests.factories import AccountFactory, KenmerkFactory, KoppelingFactory, grant_rol

pytestmark = pytest.mark.django_db

LOA3 = "urn:etoegang:core:assurance-class:loa3"
ALL_SCOPES = "openid profile email duo"


@pytest.fixture
def rollen():
    found = list(Rol.objects.order_by("code")[:12])
    assert len(found) == 12
    return found


@pytest.fixture
def dienst(rollen):
    dienst, _secret = dienst_client_save(
        dienst=Dienst(
            code="osr", naam_nl="OSR", naam_en="OSR", launch_url="https://osr.dienst.example/", enabled=True
        ),
        redirect_uris="https://osr.dienst.example/oidc/callback",
        post_logout_redirect_uris="",
    )
    dienst.rollen.set(rollen[:6])
    return dienst


def _account(rollen, count=3):
    account = AccountFactory()
    kenmerken = [KenmerkFactory(organisatie=account.organisatie, waarde=w) for w in ("11AB", "22CD")]
    for index, rol in enumerate(rollen[:count]):
        grant_rol(account, rol.code, kenmerken[index % 2])
    return account


def _token(
    dienst,
    account,
    *,
    login="eherkenning",
    scope=ALL_SCOPES,
    expires_in=300,
    handoff=True,
    intermediair=None,
):
    """An access token of ``dienst`` for ``account`` with its hand-off, as a token request leaves it."""
    value = secrets.token_urlsafe(30)
    access_token = AccessToken(
        user=account,
        application=dienst.application,
        scope=scope,
        expires=timezone.now() + timedelta(seconds=expires_in),
    )
    set_token_value(access_token, value)
    access_token.save()
    if handoff:
        koppeling = KoppelingFactory(account=account) if login == "eherkenning" else None
        Handoff.objects.create(
            dienst=dienst,
            account=account,
            code_hash=hashlib.sha256(value.encode()).hexdigest(),
            access_token=access_token,
            sid="a" * 32,
            acr=LOA3 if login == "eherkenning" else ACR_TOKEN,
            amr=AMR_EHERKENNING if login == "eherkenning" else AMR_TOKEN,
            auth_time=timezone.now(),
            koppeling_id=koppeling.pk if koppeling else None,
            intermediair=intermediair or {},
        )
    return value


def _audit_since(last_pk):
    return list(
        AuditEvent.objects.filter(pk__gt=last_pk, action="dienst.userinfo")
        .order_by("pk")
        .values_list(
            "result", "actor_id", "actor_repr", "object_type", "object_id", "object_repr", "ip", "detail"
        )
    )


def _answer(response):
    return (
        response.status_code,
        response.content,
        response.get("Content-Type"),
        response.get("WWW-Authenticate"),
    )


def _both(method="get", data=None, **headers):
    """The answer of /o/userinfo/ and of django-oauth-toolkit's UserInfoView to the same request,
    each with the audit events it wrote."""
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = getattr(Client(), method)("/o/userinfo/", data, **headers)
    ours = (_answer(response), _audit_since(last))
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    request = getattr(RequestFactory(), method)("/o/userinfo/", data, **headers)
    reference = UserInfoView.as_view()(request)
    theirs = (_answer(reference), _audit_since(last))
    return ours, theirs


def _bearer(value):
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


@pytest.mark.parametrize("login", ["eherkenning", "token"])
@pytest.mark.parametrize("scope", [ALL_SCOPES, "openid", "openid email", "openid duo", "duo openid profile"])
def test_the_claims_are_those_of_django_oauth_toolkits_userinfo(dienst, rollen, login, scope):
    account = _account(rollen)
    value = _token(dienst, account, login=login, scope=scope, intermediair={"kvk_nummer": "12345678"})
    ours, theirs = _both(**_bearer(value))
    assert ours == theirs
    assert ours[0][0] == 200 and ours[0][2] == "application/json"
    assert b'"sub"' in ours[0][1]


def test_post_is_answered_as_get(dienst, rollen):
    value = _token(dienst, _account(rollen))
    ours, theirs = _both("post", {}, **_bearer(value))
    assert ours == theirs
    assert ours[0][0] == 200
    assert (
        Client().post("/o/userinfo/", **_bearer(value)).json()
        == Client().get("/o/userinfo/", **_bearer(value)).json()
    )


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Token abc", "Bearer a b", "bearer", "Bearer\tx y"],
)
def test_a_missing_or_malformed_bearer_header_is_refused_with_www_authenticate(dienst, rollen, header):
    _token(dienst, _account(rollen))
    ours, theirs = _both(HTTP_AUTHORIZATION=header)
    assert ours == theirs
    status, body, _content_type, challenge = ours[0]
    assert status == 401
    assert challenge.startswith('Bearer error="invalid_token"')
    assert [event[-1]["reason_code"] for event in ours[1]] in (["no_token"], ["invalid_token"])


@pytest.mark.parametrize("spelling", ["bearer {}", "BEARER {}", "Bearer   {}", " Bearer {} "])
def test_the_scheme_is_read_in_any_case_and_spacing_as_oauthlib_reads_it(dienst, rollen, spelling):
    value = _token(dienst, _account(rollen))
    ours, theirs = _both(HTTP_AUTHORIZATION=spelling.format(value))
    assert ours == theirs
    assert ours[0][0] == 200


def test_an_unknown_token_is_refused_and_audited(dienst, rollen):
    _token(dienst, _account(rollen))
    ours, theirs = _both(**_bearer("not-a-token"))
    assert ours == theirs
    assert ours[0][0] == 401
    assert [event[-1] for event in ours[1]] == [{"reason_code": "invalid_token"}]


def test_an_expired_token_is_refused_and_audited(dienst, rollen):
    value = _token(dienst, _account(rollen), expires_in=-1)
    ours, theirs = _both(**_bearer(value))
    assert ours == theirs
    assert ours[0][0] == 401 and b"invalid_token" in ours[0][1]
    assert [event[-1] for event in ours[1]] == [{"reason_code": "invalid_token"}]


def test_a_token_without_the_openid_scope_is_refused_as_invalid(dienst, rollen):
    value = _token(dienst, _account(rollen), scope="profile email duo")
    ours, theirs = _both(**_bearer(value))
    assert ours == theirs
    assert ours[0][0] == 401


@pytest.mark.parametrize("closing", ["removed", "inactive", "unlinked", "no_link", "no_handoff"])
def test_a_token_of_a_closed_account_is_refused_and_audited_with_the_account(dienst, rollen, closing):
    account = _account(rollen)
    value = _token(dienst, account, handoff=closing != "no_handoff")
    if closing == "removed":
        account.removed_at = timezone.now()
        account.save(update_fields=["removed_at"])
    elif closing == "inactive":
        account.is_active = False
        account.save(update_fields=["is_active"])
    elif closing == "unlinked":
        account.koppelingen.update(ended_at=timezone.now())
    elif closing == "no_link":
        Handoff.objects.filter(account=account).update(koppeling_id=None)
    ours, theirs = _both(**_bearer(value))
    assert ours == theirs
    assert ours[0][0] == 401 and ours[0][3].startswith('Bearer error="invalid_token"')
    [event] = ours[1]
    assert event[0] == "refused" and event[1] == account.pk
    assert event[-1] == {"reason_code": "account_closed"}
    assert event[4] == ("" if closing == "no_handoff" else str(dienst.pk))


def test_a_token_login_needs_no_link(dienst, rollen):
    account = _account(rollen)
    value = _token(dienst, account, login="token")
    ours, theirs = _both(**_bearer(value))
    assert ours == theirs
    assert ours[0][0] == 200


def test_a_token_in_the_query_takes_django_oauth_toolkits_way(dienst, rollen):
    value = _token(dienst, _account(rollen))
    ours, theirs = _both(data={"access_token": value})
    assert ours == theirs


def test_a_revoked_rol_disappears_at_once(dienst, rollen):
    account = _account(rollen, count=3)
    value = _token(dienst, account)
    client = Client()
    before = client.get("/o/userinfo/", **_bearer(value)).json()
    assert sorted(rol["code"] for rol in before["rollen"]) == sorted(rol.code for rol in rollen[:3])
    account.rol_toekenningen.filter(rol=rollen[1]).delete()
    after = client.get("/o/userinfo/", **_bearer(value)).json()
    assert sorted(rol["code"] for rol in after["rollen"]) == sorted([rollen[0].code, rollen[2].code])
    assert after["sub"] == before["sub"]


@pytest.mark.parametrize("login", ["eherkenning", "token"])
def test_userinfo_costs_one_statement_whatever_the_number_of_rollen(dienst, rollen, login):
    """The token, its account, hand-off, Dienst and link, and the rollen claim: one statement."""
    counts = {}
    for count in (1, 12):
        value = _token(dienst, _account(rollen, count=count), login=login)
        client = Client()
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/o/userinfo/", **_bearer(value))
        assert response.status_code == 200
        assert len(response.json()["rollen"]) == min(count, 6)
        counts[count] = len(queries)
    assert counts == {1: 1, 12: 1}


def test_a_token_of_a_disabled_dienst_is_refused_at_once_on_both_ways(dienst, rollen):
    """The helpdesk switches a Dienst off (a leak, an end of contract): its tokens stop working at
    once, on the fast path and on django-oauth-toolkit's way alike, and the refusal is audited."""
    value = _token(dienst, _account(rollen))
    Dienst.objects.filter(pk=dienst.pk).update(enabled=False)
    ours, theirs = _both(**_bearer(value))
    assert ours == theirs
    assert ours[0][0] == 401 and 'error="invalid_token"' in ours[0][3]
    assert [(result, detail["reason_code"]) for result, *_rest, detail in ours[1]] == [
        ("refused", "dienst_disabled")
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_userinfo_answers_on_a_new_connection_and_when_its_statements_are_prepared_already(dienst, rollen):
    """On PostgreSQL the statement is prepared once per connection (selectors.execute): a new
    connection prepares it again, and a connection that has it without the portal knowing (its
    bookkeeping lost) uses it instead of failing to prepare it twice."""
    value = _token(dienst, _account(rollen))
    client = Client()
    first = client.get("/o/userinfo/", **_bearer(value))
    assert first.status_code == 200
    connection.close()
    again = client.get("/o/userinfo/", **_bearer(value))
    assert (again.status_code, again.content) == (200, first.content)
    if hasattr(connection, "_diensten_prepared"):
        del connection._diensten_prepared
    once_more = client.get("/o/userinfo/", **_bearer(value))
    assert (once_more.status_code, once_more.content) == (200, first.content)


@pytest.mark.parametrize(
    "holding", ["none_of_the_dienst", "foreign_kenmerk", "two_kenmerken", "no_organisatie"]
)
def test_the_rollen_read_with_the_token_are_those_of_django_oauth_toolkits_userinfo(dienst, rollen, holding):
    """The rollen claim comes with the token in one statement (selectors.access_token_for_bearer):
    the same rollen, kenmerken and order as the claims builder's own query, also when there are
    none, when a toekenning names another organisation's kenmerk (never shown), when a rol is held
    for several kenmerken, and for an account without an organisation."""
    account = _account(rollen, count=0)
    served, other = rollen[:6], rollen[6:]
    if holding == "none_of_the_dienst":
        grant_rol(account, other[0].code, KenmerkFactory(organisatie=account.organisatie))
    elif holding == "foreign_kenmerk":
        grant_rol(account, served[0].code, KenmerkFactory())  # another organisation's kenmerk
        grant_rol(account, served[1].code, KenmerkFactory(organisatie=account.organisatie))
    elif holding == "two_kenmerken":
        for waarde in ("99ZZ", "11AA"):
            kenmerk = KenmerkFactory(organisatie=account.organisatie, waarde=waarde)
            grant_rol(account, served[2].code, kenmerk)
            grant_rol(account, served[0].code, kenmerk)
    else:
        grant_rol(account, served[0].code, KenmerkFactory())
        account.organisatie = None
        account.save(update_fields=["organisatie"])
    # An account without an organisation: a token login (the eHerkenning link names one).
    value = _token(dienst, account, login="token" if holding == "no_organisatie" else "eherkenning")
    ours, theirs = _both(**_bearer(value))
    assert ours == theirs
    assert ours[0][0] == 200
    claim = Client().get("/o/userinfo/", **_bearer(value)).json()["rollen"]
    expected = {
        "none_of_the_dienst": [],
        "foreign_kenmerk": [served[1].code],
        "two_kenmerken": sorted([served[0].code, served[2].code]),
        "no_organisatie": [],
    }[holding]
    assert [rol["code"] for rol in claim] == expected
    if holding == "two_kenmerken":
        assert [kenmerk["waarde"] for kenmerk in claim[0]["kenmerken"]] == ["11AA", "99ZZ"]


def _health_check_pending():
    """As at the start of a request on a reused connection outside the test client (which keeps
    Django's request_started handler away): the CONN_HEALTH_CHECKS check not yet made."""
    connection.ensure_connection()
    assert connection.health_check_enabled
    connection.health_check_done = False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_bearer_statement_is_the_connections_health_check(dienst, rollen, monkeypatch):
    """Django would send SELECT 1 before the request's first statement; userinfo's one statement
    serves as that check instead (selectors._as_health_check): no round trip of its own."""
    value = _token(dienst, _account(rollen))
    client = Client()
    first = client.get("/o/userinfo/", **_bearer(value))
    checks = []
    monkeypatch.setattr(type(connections["default"]), "is_usable", lambda self: checks.append(self) or True)
    _health_check_pending()
    again = client.get("/o/userinfo/", **_bearer(value))
    assert (again.status_code, again.content) == (200, first.content)
    assert checks == []
    assert connection.health_check_done


@pytest.mark.postgresql  # a server-side end of the connection
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_userinfo_answers_when_the_server_closed_the_connection_meanwhile(dienst, rollen):
    """The connection ended by the server between two requests (a restart, an idle timeout): as
    with Django's own health check, the request is answered on a new connection, not with a 500."""
    import psycopg2

    value = _token(dienst, _account(rollen))
    client = Client()
    first = client.get("/o/userinfo/", **_bearer(value))
    assert first.status_code == 200
    _health_check_pending()
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    killer = psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
    )
    killer.autocommit = True
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    killer.close()
    again = client.get("/o/userinfo/", **_bearer(value))
    assert (again.status_code, again.content) == (200, first.content)
    assert connection.connection.info.backend_pid != pid
