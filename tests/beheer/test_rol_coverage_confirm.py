"""The helpdesk's confirmation pages for taking beheerautorisaties away say which rollen of how many
users go with them: the rollen no beheerautorisatie of the organisation covers any more (issue 18)."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from accounts.models import AuditEvent, BeheerautorisatieToekenning, Rol, RolToekenning
from tests.factories import AccountFactory, KenmerkFactory, OrganisatieFactory, beheerder_create, grant_rol

pytestmark = pytest.mark.django_db


@pytest.fixture
def school():
    """A school whose only beheerder holds Beheerder PO; two users with OSR (one of them on two
    kenmerken and with PO-Informatiediensten too); another school's user with OSR besides."""
    organisatie = OrganisatieFactory(naam="De Klimop")
    beheerder = beheerder_create("po", organisatie=organisatie)
    first, second = (
        KenmerkFactory(organisatie=organisatie),
        KenmerkFactory(organisatie=organisatie, waarde="99XX"),
    )
    anna, bert = AccountFactory(organisatie=organisatie), AccountFactory(organisatie=organisatie)
    grant_rol(anna, "osr", first)
    grant_rol(anna, "osr", second)
    grant_rol(anna, "po_informatiediensten", first)
    grant_rol(bert, "osr", first)
    elsewhere = AccountFactory()
    grant_rol(elsewhere, "osr", KenmerkFactory(organisatie=elsewhere.organisatie))
    beheerder_create("po", organisatie=elsewhere.organisatie)
    return {"beheerder": beheerder, "anna": anna, "bert": bert, "elsewhere": elsewhere}


def _naam(code: str) -> str:
    return escape(Rol.objects.get(code=code).naam)


def _revoke_url(beheerder):
    toekenning = BeheerautorisatieToekenning.objects.get(account=beheerder)
    return reverse("admin:accounts_account_helpdesk_revoke", args=[beheerder.pk, toekenning.pk])


def test_the_revoke_page_lists_the_rollen_that_go_and_of_how_many_users(helpdesk_client, school):
    page = helpdesk_client.get(_revoke_url(school["beheerder"])).content.decode()
    assert (
        f"De rol {_naam('osr')} wordt ingetrokken bij 2 gebruikers van De Klimop: "
        "geen beheerautorisatie van de organisatie geeft er nog recht op."
    ) in page
    assert f"De rol {_naam('po_informatiediensten')} wordt ingetrokken bij 1 gebruiker van De Klimop" in page
    assert RolToekenning.objects.count() == 5  # the page changes nothing


def test_a_rol_another_beheerautorisatie_of_the_school_covers_is_not_listed(helpdesk_client, school):
    beheerder_create("vo", organisatie=school["beheerder"].organisatie)  # VO covers OSR
    page = helpdesk_client.get(_revoke_url(school["beheerder"])).content.decode()
    assert f"De rol {_naam('osr')}" not in page
    assert f"De rol {_naam('po_informatiediensten')} wordt ingetrokken bij 1 gebruiker" in page


def test_confirming_revokes_the_listed_rollen_each_audited(helpdesk_client, school, helpdesk):
    response = helpdesk_client.post(
        _revoke_url(school["beheerder"]), {"confirmed": "yes", "reason": "Belnotitie 7"}
    )
    assert response.status_code == 302
    assert not RolToekenning.objects.filter(account__organisatie=school["beheerder"].organisatie).exists()
    assert RolToekenning.objects.filter(account=school["elsewhere"]).exists()
    events = AuditEvent.objects.filter(action="rol.revoke", detail__reason="beheerautorisatie_revoked")
    assert sorted(int(event.object_id) for event in events) == sorted(
        [school["anna"].pk] * 3 + [school["bert"].pk]
    )
    assert {event.actor_id for event in events} == {helpdesk.pk}


def test_the_bulk_action_and_the_withdraw_page_list_them_too(helpdesk_client, school):
    bulk = helpdesk_client.post(
        reverse("admin:accounts_account_changelist"),
        {"action": "revoke_beheerautorisaties", "_selected_action": [school["beheerder"].pk]},
    ).content.decode()
    assert f"De rol {_naam('osr')} wordt ingetrokken bij 2 gebruikers van De Klimop" in bulk
    withdraw = helpdesk_client.get(
        reverse("admin:accounts_account_withdraw", args=[school["beheerder"].pk])
    ).content.decode()
    assert (
        f"De rol {_naam('po_informatiediensten')} wordt ingetrokken bij 1 gebruiker van De Klimop" in withdraw
    )
    assert RolToekenning.objects.count() == 5


def test_the_account_form_of_the_admin_goes_by_the_same_rule(helpdesk_client, school, helpdesk):
    from tests.accounts.test_admin import account_form

    beheerder = school["beheerder"]
    data = {**account_form(beheerder.organisatie), "name": beheerder.name, "email": beheerder.email}
    url = reverse("admin:accounts_account_change", args=[beheerder.pk])
    assert helpdesk_client.post(url, data).status_code == 200  # the confirmation page first
    assert beheerder.beheerautorisaties.exists()
    response = helpdesk_client.post(url, {**data, "confirmed": "yes", "reason": "Belnotitie 8"})
    assert response.status_code == 302
    assert not beheerder.beheerautorisaties.exists()
    assert not RolToekenning.objects.filter(account__organisatie=beheerder.organisatie).exists()
    assert (
        AuditEvent.objects.filter(
            action="rol.revoke", detail__reason="beheerautorisatie_revoked", actor_id=helpdesk.pk
        ).count()
        == 4
    )
