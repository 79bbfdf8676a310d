"""Access ends when rights end (issue 18, point 4): a rol that no beheerautorisatie of the organisation
covers any more is revoked from its users together with the beheerautorisatie, so a user logs in at
the Dienst again without it; a rol another beheerautorisatie of the organisation still covers stays.
Driven over HTTP by an independent client library (Authlib), as the other provider tests."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Rol, RolToekenning
from accounts.services import beheerautorisaties_set
from diensten.models import BackchannelLogout
from tests.factories import StaffFactory, beheerder_create

from .conftest import CodeFlow
from .test_backchannel_logout import _logout_claims, _with_backchannel, receiver_make  # noqa: F401
from .test_oidc_provider import _id_token_claims, _logged_in_flow, _query

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def po_school(issuer, dienst_register, portal_user, browser_for, receiver_make):  # noqa: F811
    """A school whose beheerder holds Beheerder PO (it covers OSR and PO-Informatiediensten), a user
    holding both rollen handed to the Dienst that serves them, with a back-channel logout receiver."""
    osr, po_info = Rol.objects.get(code="osr"), Rol.objects.get(code="po_informatiediensten")

    def make(*other_codes):
        receiver = receiver_make()
        registered = _with_backchannel(dienst_register("osr", [osr, po_info]), receiver.url)
        account, _koppeling, identity = portal_user([osr, po_info])
        beheerder = beheerder_create("po", organisatie=account.organisatie)
        for code in other_codes:  # another beheerder of the same school
            beheerder_create(code, organisatie=account.organisatie)
        browser = browser_for(account, identity)
        flow, token = _logged_in_flow(issuer, registered, browser)
        assert {rol["code"] for rol in _id_token_claims(flow, token)["rollen"]} == {
            "osr",
            "po_informatiediensten",
        }
        return {
            "account": account,
            "beheerder": beheerder,
            "registered": registered,
            "browser": browser,
            "flow": flow,
            "token": token,
            "receiver": receiver,
        }

    return make


def _userinfo_rollen(flow: CodeFlow) -> set[str]:
    answer = flow.client.get(flow.metadata["userinfo_endpoint"], timeout=10)
    assert answer.status_code == 200
    return {rol["code"] for rol in answer.json().get("rollen", [])}


def test_the_rollen_of_a_revoked_beheerautorisatie_leave_its_users_claims_overview_and_session(
    issuer, po_school, client
):
    case = po_school()
    helpdesk = StaffFactory()
    beheerautorisaties_set(account=case["beheerder"], beheerautorisaties=[], granted_by=helpdesk)

    assert not RolToekenning.objects.filter(account=case["account"]).exists()
    # The token the Dienst holds answers without the rollen; a new login is refused.
    assert _userinfo_rollen(case["flow"]) == set()
    flow = CodeFlow(issuer, case["registered"])
    response = flow.authorize(case["browser"])
    assert _query(response.headers["Location"])["error"] == "access_denied"
    page = client.get("/overzicht/").content.decode()
    assert reverse("onderwerp", args=["osr"]) not in page
    assert "https://osr.dienst.example/start" not in page
    # One back-channel logout, for the user, with the reason.
    assert len(case["receiver"].tokens) == 1
    assert (
        _logout_claims(case["flow"], case["receiver"].tokens[0])["sub"]
        == _id_token_claims(case["flow"], case["token"])["sub"]
    )
    assert BackchannelLogout.objects.get().reason == "beheerautorisatie_revoked"
    # Each assignment revoked through the same audit as any revoke, by the helpdesk, per account.
    events = AuditEvent.objects.filter(action="rol.revoke", object_id=str(case["account"].pk))
    assert sorted(event.detail["rol_code"] for event in events) == ["osr", "po_informatiediensten"]
    assert {event.detail["reason"] for event in events} == {"beheerautorisatie_revoked"}
    assert {event.actor_id for event in events} == {helpdesk.pk}


def test_a_rol_another_beheerautorisatie_of_the_organisation_covers_stays(issuer, po_school, client):
    case = po_school("vo")  # Beheerder VO covers OSR, not PO-Informatiediensten
    beheerautorisaties_set(account=case["beheerder"], beheerautorisaties=[], granted_by=StaffFactory())

    assert set(RolToekenning.objects.filter(account=case["account"]).values_list("rol__code", flat=True)) == {
        "osr"
    }
    assert _userinfo_rollen(case["flow"]) == {"osr"}
    flow, token = _logged_in_flow(issuer, case["registered"], case["browser"])
    assert [rol["code"] for rol in _id_token_claims(flow, token)["rollen"]] == ["osr"]
    page = client.get("/overzicht/").content.decode()
    assert "https://osr.dienst.example/start" in page  # OSR still opens the Dienst
    assert len(case["receiver"].tokens) == 1  # PO-Informatiediensten went: the Dienst hears of it
    events = AuditEvent.objects.filter(action="rol.revoke", object_id=str(case["account"].pk))
    assert [event.detail["rol_code"] for event in events] == ["po_informatiediensten"]


def test_the_beheerautorisatie_and_its_rollen_go_in_one_transaction(po_school, monkeypatch):
    """A failure while the rollen are revoked keeps the beheerautorisatie, the rollen and the Dienst's session."""
    case = po_school()
    from accounts import coverage

    real_audit_log_bulk = coverage.audit_log_bulk

    def audit_log_failing_on_rol_revoke(**kwargs):
        if kwargs["action"] == "rol.revoke" or getattr(kwargs["action"], "value", None) == "rol.revoke":
            raise RuntimeError("audit trail unavailable")
        return real_audit_log_bulk(**kwargs)

    # The rollen are revoked and audited set-based (accounts/coverage.py).
    monkeypatch.setattr(coverage, "audit_log_bulk", audit_log_failing_on_rol_revoke)
    with pytest.raises(RuntimeError):
        beheerautorisaties_set(account=case["beheerder"], beheerautorisaties=[], granted_by=StaffFactory())
    assert case["beheerder"].beheerautorisatie_toekenningen.count() == 1
    assert RolToekenning.objects.filter(account=case["account"]).count() == 2
    assert not BackchannelLogout.objects.exists()
    assert case["receiver"].tokens == []
