"""Back-channel logout on every trigger besides a portal logout (issue 18, point 4): the link undone
(beheerder, 18-month job), the account removed, a rol of the Dienst revoked, the organisation losing
the beheerautorisatie behind it, and the portal session expiring. Each token valid per
Back-Channel Logout 1.0 and checked with the portal's JWKS by an independent library (Authlib)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.hooks import session_ended_send
from accounts.lifecycle import inactive_links_unlink
from accounts.models import Beheerautorisatie, Rol, RolToekenning
from accounts.services import beheerautorisaties_set
from beheer.services import gebruiker_remove, koppeling_undo, rol_revoke
from diensten.logout import LOGOUT_EVENT
from diensten.models import BackchannelLogout
from diensten.tasks import flush_backchannel_logouts
from koppeling.models import Koppeling
from tests.factories import beheerder_create

from .test_backchannel_logout import _logout_claims, _with_backchannel, receiver_make  # noqa: F401
from .test_oidc_provider import _id_token_claims, _logged_in_flow

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _covered_rollen():
    """Two rollen, each covered by a beheerautorisatie that does not cover the other."""
    for first in Rol.objects.filter(beheerautorisaties__isnull=False).distinct().order_by("code"):
        for second in (
            Rol.objects.filter(beheerautorisaties__isnull=False).exclude(pk=first.pk).order_by("code")
        ):
            a = Beheerautorisatie.objects.filter(rollen=first).exclude(rollen=second).first()
            b = Beheerautorisatie.objects.filter(rollen=second).exclude(rollen=first).first()
            if a and b:
                return (first, a), (second, b)
    pytest.fail("the catalogue has no two separately covered rollen")


@pytest.fixture
def handed_off(issuer, dienst_register, portal_user, browser_for, receiver_make):  # noqa: F811
    """A user handed to the Dienst ``osr`` (its rol) and to ``bron`` (the other rol), each with a receiver."""
    (rol, autorisatie), (other_rol, other_autorisatie) = _covered_rollen()

    def make(statuses=(200,)):
        osr_receiver, bron_receiver = receiver_make(statuses), receiver_make()
        osr = _with_backchannel(dienst_register("osr", [rol]), osr_receiver.url)
        bron = _with_backchannel(dienst_register("bron", [other_rol]), bron_receiver.url)
        account, koppeling, identity = portal_user([rol, other_rol])
        beheerder = beheerder_create(
            autorisatie.code, other_autorisatie.code, organisatie=account.organisatie
        )
        browser = browser_for(account, identity)
        osr_flow, osr_token = _logged_in_flow(issuer, osr, browser)
        _logged_in_flow(issuer, bron, browser)
        return {
            "account": account,
            "koppeling": koppeling,
            "beheerder": beheerder,
            "rol": rol,
            "autorisatie": autorisatie,
            "other_autorisatie": other_autorisatie,
            "osr": osr_receiver,
            "bron": bron_receiver,
            "sub": _id_token_claims(osr_flow, osr_token)["sub"],
            "flow": osr_flow,
            "token": osr_token,
        }

    return make


def _assert_sub_logout(case, received: str, *, sid: bool = False):
    claims = _logout_claims(case["flow"], received)
    assert claims["iss"] == case["flow"].issuer
    assert claims["aud"] == case["flow"].registered.client_id
    assert claims["sub"] == case["sub"]
    assert claims["events"] == {LOGOUT_EVENT: {}}
    assert claims["jti"] and claims["iat"]
    assert "nonce" not in claims
    # Access ended, not one session: no sid, so every session of the user at the Dienst ends.
    assert ("sid" in claims) is sid
    return claims


def test_a_link_undone_by_the_beheerder_logs_the_user_out_of_every_dienst(handed_off):
    case = handed_off()
    koppeling_undo(beheerder=case["beheerder"], account=case["account"], reason="lost")
    assert len(case["osr"].tokens) == 1
    assert len(case["bron"].tokens) == 1
    _assert_sub_logout(case, case["osr"].tokens[0])
    assert BackchannelLogout.objects.filter(reason="unlinked").count() == 2


def test_a_link_undone_by_the_18_month_job_logs_the_user_out(handed_off):
    case = handed_off()
    Koppeling.objects.filter(pk=case["koppeling"].pk).update(
        last_login_at=timezone.now() - timedelta(days=600)
    )
    assert inactive_links_unlink(batch_size=10, publish=False) == 1
    assert len(case["osr"].tokens) == 1
    assert len(case["bron"].tokens) == 1
    _assert_sub_logout(case, case["osr"].tokens[0])
    assert set(BackchannelLogout.objects.values_list("reason", flat=True)) == {"inactive"}


def test_a_removed_account_is_logged_out_of_every_dienst_once(handed_off):
    case = handed_off()
    gebruiker_remove(beheerder=case["beheerder"], account=case["account"])
    # Link undone, both rollen revoked, account removed: one token per Dienst, not four.
    assert len(case["osr"].tokens) == 1
    assert len(case["bron"].tokens) == 1
    _assert_sub_logout(case, case["osr"].tokens[0])


def test_a_revoked_rol_logs_the_user_out_of_the_dienst_of_that_rol_only(handed_off):
    case = handed_off()
    toekenning = RolToekenning.objects.get(account=case["account"], rol=case["rol"])
    rol_revoke(beheerder=case["beheerder"], toekenning=toekenning)
    assert len(case["osr"].tokens) == 1
    assert case["bron"].tokens == []
    _assert_sub_logout(case, case["osr"].tokens[0])
    assert BackchannelLogout.objects.get().reason == "rol_revoked"


def test_a_rol_granted_again_and_revoked_again_gives_a_new_logout(handed_off):
    """Each withdrawal is reported: a delivered token does not swallow the next one."""
    case = handed_off()
    kenmerk = RolToekenning.objects.get(account=case["account"], rol=case["rol"]).kenmerk
    RolToekenning.objects.filter(account=case["account"], rol=case["rol"]).delete()
    RolToekenning.objects.get_or_create(account=case["account"], rol=case["rol"], kenmerk=kenmerk)
    RolToekenning.objects.get(account=case["account"], rol=case["rol"]).delete()
    assert len(case["osr"].tokens) == 2


def test_the_organisation_losing_the_beheerautorisatie_behind_a_rol_logs_its_users_out(handed_off):
    case = handed_off()
    beheerautorisaties_set(
        account=case["beheerder"], beheerautorisaties=[case["other_autorisatie"]], granted_by=None
    )
    assert len(case["osr"].tokens) == 1
    assert case["bron"].tokens == []  # its rol is still covered
    _assert_sub_logout(case, case["osr"].tokens[0])
    assert BackchannelLogout.objects.get().reason == "beheerautorisatie_revoked"


def test_a_beheerautorisatie_still_held_by_another_beheerder_of_the_organisation_ends_nothing(handed_off):
    case = handed_off()
    beheerder_create(case["autorisatie"].code, organisatie=case["account"].organisatie)
    beheerautorisaties_set(
        account=case["beheerder"], beheerautorisaties=[case["other_autorisatie"]], granted_by=None
    )
    assert case["osr"].tokens == []
    assert not BackchannelLogout.objects.exists()


def test_an_expired_portal_session_logs_out_that_session_once(handed_off, client, settings):
    case = handed_off()
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    session_ended_send(session_key=session_key, reason="expired")
    assert len(case["osr"].tokens) == 1
    assert len(case["bron"].tokens) == 1
    claims = _assert_sub_logout(case, case["osr"].tokens[0], sid=True)
    assert claims["sid"] == _id_token_claims(case["flow"], case["token"])["sid"]
    session_ended_send(session_key=session_key, reason="expired")  # reported twice: sent once
    client.logout()  # and a logout afterwards adds nothing either
    assert len(case["osr"].tokens) == 1


def test_a_dienst_that_is_down_gets_the_unlink_logout_until_it_accepts_it(handed_off):
    case = handed_off(statuses=(503, 200))
    koppeling_undo(beheerder=case["beheerder"], account=case["account"], reason="stolen")
    delivery = BackchannelLogout.objects.get(dienst__code="osr")
    assert delivery.delivered_at is None
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        flush_backchannel_logouts()
        assert len(case["osr"].tokens) == 2
        _assert_sub_logout(case, case["osr"].tokens[1])  # a fresh token, valid when it is sent
    delivery.refresh_from_db()
    assert delivery.delivered_at is not None


def test_a_user_who_never_went_to_the_dienst_gets_no_logout_there(
    dienst_register,
    portal_user,
    receiver_make,  # noqa: F811
):  # noqa: F811
    (rol, autorisatie), _other = _covered_rollen()
    receiver = receiver_make()
    _with_backchannel(dienst_register("osr", [rol]), receiver.url)
    account, _koppeling, _identity = portal_user([rol])
    beheerder = beheerder_create(autorisatie.code, organisatie=account.organisatie)
    koppeling_undo(beheerder=beheerder, account=account, reason="lost")
    assert receiver.tokens == []
    assert not BackchannelLogout.objects.exists()
