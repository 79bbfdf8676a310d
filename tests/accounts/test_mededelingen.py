"""Mededelingen on the overview screen: targeting and publication window (seed 002 §1.6)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Beheerautorisatie, Rol
from accounts.selectors import holdings_for_account, mededelingen_for_account
from tests.factories import (
    AccountFactory,
    GemeenteFactory,
    KenmerkFactory,
    MededelingFactory,
    grant_beheerautorisatie,
    grant_rol,
)

pytestmark = pytest.mark.django_db


def shown(account) -> set[str]:
    return {
        m.title
        for m in mededelingen_for_account(
            holdings=holdings_for_account(account=account),
            organisatie_type=account.organisatie.type,
            now=timezone.now(),
        )
    }


def test_a_mededeling_without_targets_is_shown_to_everyone():
    MededelingFactory(title="Onderhoud")
    assert shown(AccountFactory()) == {"Onderhoud"}
    assert shown(AccountFactory(organisatie=GemeenteFactory())) == {"Onderhoud"}


def test_organisation_type_target_shows_it_only_to_that_type():
    MededelingFactory(title="Voor gemeenten", organisatie_types=["gemeente"])
    assert shown(AccountFactory(organisatie=GemeenteFactory())) == {"Voor gemeenten"}
    assert shown(AccountFactory()) == set()  # an onderwijsinstelling


def test_beheerautorisatie_target_shows_it_only_to_its_holders():
    mededeling = MededelingFactory(title="Voor beheerders PO")
    mededeling.beheerautorisaties.set([Beheerautorisatie.objects.get(code="po")])
    beheerder = AccountFactory()
    grant_beheerautorisatie(beheerder, "po")
    other_beheerder = AccountFactory()
    grant_beheerautorisatie(other_beheerder, "vo")
    assert shown(beheerder) == {"Voor beheerders PO"}
    assert shown(other_beheerder) == set()
    assert shown(AccountFactory()) == set()


def test_rol_target_shows_it_only_to_users_with_that_role():
    mededeling = MededelingFactory(title="Voor OSR")
    mededeling.rollen.set([Rol.objects.get(code="osr")])
    user = AccountFactory()
    grant_rol(user, "osr", KenmerkFactory(organisatie=user.organisatie))
    other = AccountFactory()
    grant_rol(other, "verzuimmelder", KenmerkFactory(organisatie=other.organisatie))
    assert shown(user) == {"Voor OSR"}
    assert shown(other) == set()


def test_every_non_empty_target_list_must_match():
    mededeling = MededelingFactory(
        title="PO-beheerders van scholen", organisatie_types=["onderwijsinstelling"]
    )
    mededeling.beheerautorisaties.set([Beheerautorisatie.objects.get(code="po")])
    school_beheerder = AccountFactory()
    grant_beheerautorisatie(school_beheerder, "po")
    gemeente_user = AccountFactory(organisatie=GemeenteFactory())
    grant_beheerautorisatie(gemeente_user, "gemeente")
    assert shown(school_beheerder) == {"PO-beheerders van scholen"}
    assert shown(AccountFactory()) == set()  # right type, no PO beheerautorisatie
    assert shown(gemeente_user) == set()


def test_a_mededeling_is_shown_only_within_its_publication_window(client):
    start = timezone.now() + timedelta(days=1)
    MededelingFactory(title="Storing zaterdag", publish_from=start, publish_until=start + timedelta(days=2))
    account = AccountFactory()
    client.force_login(account)
    assert "Storing zaterdag" not in client.get("/overzicht/").content.decode()
    with time_machine.travel(start + timedelta(hours=1)):
        client.force_login(account)
        assert "Storing zaterdag" in client.get("/overzicht/").content.decode()
    with time_machine.travel(start + timedelta(days=2)):
        client.force_login(account)
        assert "Storing zaterdag" not in client.get("/overzicht/").content.decode()


def test_a_mededeling_without_end_stays_published():
    MededelingFactory(title="Blijvend", publish_from=timezone.now() - timedelta(days=400))
    assert shown(AccountFactory()) == {"Blijvend"}


def test_helpdesk_group_may_manage_mededelingen():
    from accounts.helpdesk import helpdesk_group_sync

    codenames = set(helpdesk_group_sync().permissions.values_list("codename", flat=True))
    assert {
        "add_mededeling",
        "change_mededeling",
        "delete_mededeling",
        "change_overstapplanning",
    } <= codenames


def test_helpdesk_admin_form_stores_the_chosen_organisation_types():
    from accounts.admin import MededelingAdminForm

    form = MededelingAdminForm(
        data={
            "title": "Voor gemeenten",
            "text": "Tekst",
            "publish_from": "2026-01-01 08:00",
            "organisatie_types": ["gemeente", "deurwaarder"],
        }
    )
    assert form.is_valid(), form.errors
    assert form.save().organisatie_types == ["gemeente", "deurwaarder"]


def test_publication_end_before_its_start_is_refused():
    from django.core.exceptions import ValidationError

    mededeling = MededelingFactory.build(publish_until=timezone.now() - timedelta(days=1))
    with pytest.raises(ValidationError):
        mededeling.full_clean()
