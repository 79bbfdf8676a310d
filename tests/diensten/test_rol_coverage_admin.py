"""Access ends when rights end (issue 18 item 4) on the admin's two other paths that take coverage
away: a rol removed from a Beheerautorisatie (the catalogue) and a beheerautorisatie unticked on an
account's form. Each first shows a confirmation page that lists the rollen of how many users of which
organisations go and asks a reason; a POST without it changes nothing. Confirmed, exactly the rollen no
other beheerautorisatie of the organisation covers go, each audited, the services told per account
(access_withdrawn) and a back-channel logout queued, published after the commit."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from accounts import coverage
from accounts.hooks import access_withdrawn
from accounts.models import AuditEvent, Beheerautorisatie, BeheerautorisatieToekenning, Rol, RolToekenning
from diensten.models import BackchannelLogout, Handoff
from diensten.services import pairwise_sub
from tests.factories import (
    AccountFactory,
    KenmerkFactory,
    OrganisatieFactory,
    beheerder_create,
    grant_rol,
    rol_holders_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(dienst_register):
    """Beheerder PO covers OSR and PO-Informatiediensten, Beheerder VO covers OSR.

    De Klimop holds PO only: Anna (OSR on two kenmerken, PO-Informatiediensten), Bert (OSR).
    Het Baken holds PO and VO: Carla (OSR). Elders holds VO only: Dirk (OSR). The Dienst ``osr``
    serves OSR and has a back-channel logout URI; Anna, Bert and Carla were handed to it.
    """
    osr = Rol.objects.get(code="osr")
    klimop, baken, elders = (
        OrganisatieFactory(naam="De Klimop"),
        OrganisatieFactory(naam="Het Baken"),
        OrganisatieFactory(naam="Elders"),
    )
    beheerder = beheerder_create("po", organisatie=klimop)
    beheerder_create("po", organisatie=baken)
    beheerder_create("vo", organisatie=baken)
    beheerder_create("vo", organisatie=elders)
    people = {}
    for name, organisatie in (("Anna", klimop), ("Bert", klimop), ("Carla", baken), ("Dirk", elders)):
        people[name] = AccountFactory(organisatie=organisatie, name=name)
        kenmerk = organisatie.kenmerken.first() or KenmerkFactory(organisatie=organisatie)
        grant_rol(people[name], "osr", kenmerk)
    grant_rol(people["Anna"], "osr", KenmerkFactory(organisatie=klimop, waarde="99XX"))
    grant_rol(people["Anna"], "po_informatiediensten", KenmerkFactory(organisatie=klimop, waarde="99YY"))
    dienst = dienst_register("osr", [osr]).dienst
    dienst.backchannel_logout_uri = "https://osr.dienst.example/bcl"
    dienst.save()
    for name in ("Anna", "Bert", "Carla"):
        Handoff.objects.create(
            dienst=dienst,
            account=people[name],
            code_hash=f"hash-{name}",
            acr="urn:etoegang:core:assurance-class:loa3",
            auth_time="2026-11-29T05:00:00Z",
        )
    return {"osr": osr, "klimop": klimop, "beheerder": beheerder, "dienst": dienst, **people}


@pytest.fixture
def withdrawn():
    """The access_withdrawn calls (accounts/hooks.py) while the test runs."""
    calls = []

    def receiver(sender, account_ids, rol_ids, reason, **kwargs):
        calls.append({"account_ids": account_ids, "rol_ids": rol_ids, "reason": reason})

    access_withdrawn.connect(receiver, dispatch_uid="test_rol_coverage_admin")
    yield calls
    access_withdrawn.disconnect(dispatch_uid="test_rol_coverage_admin")


@pytest.fixture
def published(monkeypatch):
    """The back-channel logouts handed to Celery (after the commit)."""
    from diensten import tasks

    sent = []
    monkeypatch.setattr(tasks.deliver_backchannel_logout, "delay", sent.append)
    return sent


def _rollen(account) -> list[str]:
    return sorted(RolToekenning.objects.filter(account=account).values_list("rol__code", flat=True))


def _po_form(*, without: str = "") -> dict:
    po = Beheerautorisatie.objects.get(code="po")
    return {
        "code": po.code,
        "naam": po.naam,
        "volgorde": po.volgorde,
        "rollen": [
            pk
            for pk in po.rollen.values_list("pk", flat=True)
            if not without or pk != Rol.objects.get(code=without).pk
        ],
        "requires_one_of": list(po.requires_one_of.values_list("pk", flat=True)),
        "_save": "Opslaan",
    }


def _po_url() -> str:
    return reverse(
        "admin:accounts_beheerautorisatie_change", args=[Beheerautorisatie.objects.get(code="po").pk]
    )


def _unchanged(world) -> None:
    assert Beheerautorisatie.objects.get(code="po").rollen.filter(code="osr").exists()
    assert _rollen(world["Anna"]) == ["osr", "osr", "po_informatiediensten"]
    assert _rollen(world["Bert"]) == ["osr"]
    assert not BackchannelLogout.objects.exists()
    assert not AuditEvent.objects.filter(action="rol.revoke").exists()


# --- a rol removed from a beheerautorisatie (the catalogue) ---------------------------------------


def test_removing_a_rol_from_a_beheerautorisatie_asks_first_listing_who_loses_it(
    helpdesk_client, world, withdrawn
):
    response = helpdesk_client.post(_po_url(), _po_form(without="osr"))
    assert response.status_code == 200
    page = response.content.decode()
    osr = escape(world["osr"].naam)
    assert f"De rol {osr} wordt ingetrokken bij 2 gebruikers van 1 organisatie" in page
    assert f"De Klimop: 2 gebruikers verliezen de rol {osr}: Anna (" in page
    assert "Bert (" in page
    assert "Het Baken" not in page and "Carla" not in page  # VO covers OSR there
    assert "Elders" not in page and "Dirk" not in page  # does not hold PO
    assert 'name="reason"' in page
    _unchanged(world)
    assert withdrawn == []


def test_confirming_without_a_reason_changes_nothing(helpdesk_client, world):
    response = helpdesk_client.post(
        _po_url(), {**_po_form(without="osr"), "confirmed": "yes", "reason": "  "}
    )
    assert response.status_code == 400
    assert "Geef de reden" in response.content.decode()
    _unchanged(world)


def test_confirmed_the_uncovered_rol_goes_audited_and_the_dienst_is_told(
    helpdesk_client,
    world,
    helpdesk,
    withdrawn,
    published,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = helpdesk_client.post(
            _po_url(),
            {**_po_form(without="osr"), "confirmed": "yes", "reason": "Wijziging catalogus, ticket 12"},
        )
    assert response.status_code == 302
    assert not Beheerautorisatie.objects.get(code="po").rollen.filter(code="osr").exists()
    # Exactly the uncovered rol: Anna keeps PO-Informatiediensten, Het Baken and Elders keep OSR.
    assert _rollen(world["Anna"]) == ["po_informatiediensten"]
    assert _rollen(world["Bert"]) == []
    assert _rollen(world["Carla"]) == ["osr"]
    assert _rollen(world["Dirk"]) == ["osr"]
    # Each assignment audited on its account, by the helpdesk, with the reason.
    events = AuditEvent.objects.filter(action="rol.revoke")
    assert sorted(int(event.object_id) for event in events) == sorted(
        [world["Anna"].pk] * 2 + [world["Bert"].pk]
    )
    assert {event.actor_id for event in events} == {helpdesk.pk}
    assert {event.detail["reason"] for event in events} == {"rol_coverage_changed"}
    assert {event.detail["rol_code"] for event in events} == {"osr"}
    assert {event.detail["helpdesk_reason"] for event in events} == {"Wijziging catalogus, ticket 12"}
    assert {event.detail["beheerautorisatie_code"] for event in events} == {"po"}
    change = AuditEvent.objects.get(action="admin.change", detail__change="action:rollen_removed")
    assert change.detail["reason"] == "Wijziging catalogus, ticket 12" and change.detail["revoked"] == 3
    # The hook: each account named once, with only the rol it lost.
    assert [call["reason"] for call in withdrawn] == ["rol_coverage_changed"]
    assert sorted(pk for call in withdrawn for pk in call["account_ids"]) == sorted(
        [world["Anna"].pk, world["Bert"].pk]
    )
    assert withdrawn[0]["rol_ids"] == [world["osr"].pk]
    # A sub-only logout token queued for Anna and Bert at the Dienst, none for Carla; published after commit.
    logouts = BackchannelLogout.objects.filter(dienst=world["dienst"])
    assert sorted(logouts.values_list("sub", flat=True)) == sorted(
        pairwise_sub(dienst=world["dienst"], account=world[name]) for name in ("Anna", "Bert")
    )
    assert {row.reason for row in logouts} == {"rol_coverage_changed"} and {row.sid for row in logouts} == {
        ""
    }
    assert sorted(published) == sorted(logouts.values_list("pk", flat=True))


def test_a_change_that_keeps_every_rol_saves_without_asking(helpdesk_client, world):
    response = helpdesk_client.post(_po_url(), {**_po_form(), "naam": "Beheerder PO (nieuw)"})
    assert response.status_code == 302
    assert Beheerautorisatie.objects.get(code="po").naam == "Beheerder PO (nieuw)"
    _unchanged(world)


def test_at_scale_the_page_counts_and_names_a_bounded_sample(helpdesk_client, world, monkeypatch):
    rol_holders_create("osr", [f"Gebruiker {number}" for number in range(8)], naam="Achterhoek College")
    monkeypatch.setattr(coverage, "PREVIEW_LINES", 1)
    page = helpdesk_client.post(_po_url(), _po_form(without="osr")).content.decode()
    osr = escape(world["osr"].naam)
    assert f"De rol {osr} wordt ingetrokken bij 10 gebruikers van 2 organisaties" in page
    assert f"Achterhoek College: 8 gebruikers verliezen de rol {osr}: Gebruiker 0 (" in page
    assert "Gebruiker 4 (" in page and "Gebruiker 5 (" not in page
    assert "en nog 3" in page
    assert "De Klimop:" not in page  # beyond the bounded lines ...
    assert "nog 1 regels" in page  # ... but counted


def test_the_withdrawal_is_set_based(world):
    """The queries of the withdrawal do not grow with the number of accounts (each still audited)."""
    po = Beheerautorisatie.objects.get(code="po")

    def withdraw(users: int) -> tuple[int, int]:
        rol_holders_create("po_informatiediensten", users)
        rol = Rol.objects.get(code="po_informatiediensten")
        with CaptureQueriesContext(connection) as queries:
            count = coverage.rol_coverage_withdraw(beheerautorisatie=po, rol_ids={rol.pk}, reason="test")
        return count, len(queries)

    small, small_queries = withdraw(2)  # and Anna's
    large, large_queries = withdraw(40)
    assert (small, large) == (3, 40)
    assert large_queries == small_queries
    assert AuditEvent.objects.filter(action="rol.revoke").count() == 43


def test_revoking_a_beheerautorisatie_withdraws_its_rollen_set_based(helpdesk):
    """The same withdrawal behind the helpdesk's revoke: its queries do not grow with the users."""
    from accounts.services import beheerautorisaties_set

    def revoke(users: int) -> int:
        beheerder = rol_holders_create("osr", users)
        with CaptureQueriesContext(connection) as queries:
            beheerautorisaties_set(account=beheerder, beheerautorisaties=[], granted_by=helpdesk)
        assert not RolToekenning.objects.filter(account__organisatie=beheerder.organisatie).exists()
        return len(queries)

    assert revoke(40) == revoke(2)
    assert (
        AuditEvent.objects.filter(action="rol.revoke", detail__reason="beheerautorisatie_revoked").count()
        == 42
    )


# --- a beheerautorisatie unticked on the account's form --------------------------------------------


def _account_form(world, *codes):
    from tests.accounts.test_admin import account_form

    beheerder = world["beheerder"]
    return {**account_form(beheerder.organisatie, *codes), "name": beheerder.name, "email": beheerder.email}


def _account_url(world) -> str:
    return reverse("admin:accounts_account_change", args=[world["beheerder"].pk])


def test_unticking_a_beheerautorisatie_on_the_account_form_asks_first(helpdesk_client, world, withdrawn):
    response = helpdesk_client.post(_account_url(world), _account_form(world))
    assert response.status_code == 200
    page = response.content.decode()
    osr, po_info = escape(world["osr"].naam), escape(Rol.objects.get(code="po_informatiediensten").naam)
    assert "verliest beheerautorisatie Beheerder PO" in page
    assert f"De rol {osr} wordt ingetrokken bij 2 gebruikers van De Klimop" in page
    assert f"De rol {po_info} wordt ingetrokken bij 1 gebruiker van De Klimop" in page
    assert "Het Baken" not in page and "Elders" not in page
    assert BeheerautorisatieToekenning.objects.filter(account=world["beheerder"]).exists()
    _unchanged(world)
    assert withdrawn == []
    # Without a reason: still nothing.
    response = helpdesk_client.post(
        _account_url(world), {**_account_form(world), "confirmed": "yes", "reason": ""}
    )
    assert response.status_code == 400
    assert BeheerautorisatieToekenning.objects.filter(account=world["beheerder"]).exists()
    _unchanged(world)


def test_confirmed_on_the_account_form_the_rollen_go_audited_and_the_dienst_is_told(
    helpdesk_client,
    world,
    helpdesk,
    withdrawn,
    published,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = helpdesk_client.post(
            _account_url(world), {**_account_form(world), "confirmed": "yes", "reason": "Brief bevoegd gezag"}
        )
    assert response.status_code == 302
    assert not BeheerautorisatieToekenning.objects.filter(account=world["beheerder"]).exists()
    assert _rollen(world["Anna"]) == [] and _rollen(world["Bert"]) == []
    assert _rollen(world["Carla"]) == ["osr"] and _rollen(world["Dirk"]) == ["osr"]
    events = AuditEvent.objects.filter(action="rol.revoke", detail__reason="beheerautorisatie_revoked")
    assert sorted(int(event.object_id) for event in events) == sorted(
        [world["Anna"].pk] * 3 + [world["Bert"].pk]
    )
    assert {event.actor_id for event in events} == {helpdesk.pk}
    reason = AuditEvent.objects.get(action="admin.change", detail__change="action:revoke_beheerautorisatie")
    assert (
        reason.detail["reason"] == "Brief bevoegd gezag" and reason.detail["beheerautorisatie_code"] == "po"
    )
    assert sorted(pk for call in withdrawn for pk in call["account_ids"]) == sorted(
        [world["Anna"].pk, world["Bert"].pk]
    )
    logouts = BackchannelLogout.objects.filter(dienst=world["dienst"])
    assert sorted(logouts.values_list("sub", flat=True)) == sorted(
        pairwise_sub(dienst=world["dienst"], account=world[name]) for name in ("Anna", "Bert")
    )
    assert sorted(published) == sorted(logouts.values_list("pk", flat=True))


def test_ticking_one_more_beheerautorisatie_saves_without_asking(helpdesk_client, world):
    response = helpdesk_client.post(_account_url(world), _account_form(world, "po", "vo"))
    assert response.status_code == 302
    assert set(world["beheerder"].beheerautorisaties.values_list("code", flat=True)) == {"po", "vo"}
    _unchanged(world)
