"""The overview screen and Onderwerp pages (seed 002 §1.6)."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import selectors
from accounts.models import Mededeling, OnderwerpBezoek, Rol
from tests.factories import (
    AccountFactory,
    KenmerkFactory,
    MededelingFactory,
    StaffFactory,
    grant_beheerautorisatie,
    grant_rol,
)

pytestmark = pytest.mark.django_db


def user_with_roles(count: int):
    account = AccountFactory()
    kenmerk = KenmerkFactory(organisatie=account.organisatie)
    rollen = list(Rol.objects.order_by("code")[:count])
    assert len(rollen) == count
    for rol in rollen:
        grant_rol(account, rol.code, kenmerk)
    return account, rollen


def test_anonymous_visitor_is_sent_to_the_eherkenning_login(client):
    response = client.get("/overzicht/")
    assert response.status_code == 302
    assert response["Location"] == "/saml2/login/?next=/overzicht/"


def test_overview_lists_the_onderwerpen_of_the_users_roles_only(client):
    account, rollen = user_with_roles(2)
    client.force_login(account)
    response = client.get("/overzicht/")
    assert response.status_code == 200
    text = response.content.decode()
    for rol in rollen:
        assert rol.onderwerp in text
        assert f'href="/onderwerpen/{rol.code}/"' in text
    not_held = Rol.objects.exclude(pk__in=[r.pk for r in rollen]).first()
    assert f"/onderwerpen/{not_held.code}/" not in text


def test_overview_is_in_dutch_with_profiel_mededelingen_and_snel_naar(client):
    account, _rollen = user_with_roles(1)
    client.force_login(account)
    text = client.get("/overzicht/").content.decode()
    for words in ("Onderwerpen", "Profiel", "Mijn gegevens", "Uitloggen", "Mededelingen", "Snel naar"):
        assert words in text
    assert 'action="/uitloggen/"' in text  # Uitloggen is a POST form to the logout URL
    assert 'href="/mijn-gegevens/"' in text


def test_only_beheerders_see_autorisatiebeheer(client):
    beheerder = AccountFactory()
    grant_beheerautorisatie(beheerder, "vo")
    client.force_login(beheerder)
    assert "Autorisatiebeheer" in client.get("/overzicht/").content.decode()
    client.force_login(AccountFactory())
    assert "Autorisatiebeheer" not in client.get("/overzicht/").content.decode()


def test_helpdesk_staff_cannot_use_the_user_portal(client):
    client.force_login(StaffFactory())
    assert client.get("/overzicht/").status_code == 403
    assert client.get("/mijn-gegevens/").status_code == 403


def test_onderwerp_page_shows_the_role_and_its_kenmerken(client):
    account, [rol] = user_with_roles(1)
    client.force_login(account)
    response = client.get(f"/onderwerpen/{rol.code}/")
    assert response.status_code == 200
    text = response.content.decode()
    assert rol.naam in text
    kenmerk = account.rol_toekenningen.get().kenmerk
    assert kenmerk.waarde in text


def test_onderwerp_page_of_a_role_the_user_does_not_have_is_403_in_dutch(client):
    account, [rol] = user_with_roles(1)
    other = Rol.objects.exclude(pk=rol.pk).first()
    colleague = AccountFactory(organisatie=account.organisatie)
    grant_rol(colleague, other.code, KenmerkFactory(organisatie=account.organisatie, waarde="99ZZ"))
    client.force_login(account)
    response = client.get(f"/onderwerpen/{other.code}/")
    assert response.status_code == 403
    assert "niet geautoriseerd" in response.content.decode()


def test_onderwerp_page_of_an_unknown_role_is_404(client):
    """Not 403: the rol catalogue is public (seed 003), so an unknown code leaks nothing (issue 17)."""
    account, _rollen = user_with_roles(1)
    client.force_login(account)
    assert client.get("/onderwerpen/bestaat-niet/").status_code == 404


def test_snel_naar_shows_the_most_visited_onderwerpen_first(client):
    account, rollen = user_with_roles(3)
    client.force_login(account)
    for _ in range(3):
        client.get(f"/onderwerpen/{rollen[2].code}/")
    client.get(f"/onderwerpen/{rollen[1].code}/")
    assert OnderwerpBezoek.objects.get(account=account, rol=rollen[2]).count == 3
    text = client.get("/overzicht/").content.decode()
    snel_naar = text[text.index("Snel naar") :]
    assert f"/onderwerpen/{rollen[2].code}/" in snel_naar
    assert snel_naar.index(rollen[2].code) < snel_naar.index(rollen[1].code)
    assert f"/onderwerpen/{rollen[0].code}/" not in snel_naar  # never visited


def test_a_403_onderwerp_visit_is_not_counted(client):
    account, [rol] = user_with_roles(1)
    other = Rol.objects.exclude(pk=rol.pk).first()
    client.force_login(account)
    client.get(f"/onderwerpen/{other.code}/")
    assert not OnderwerpBezoek.objects.filter(account=account).exists()


def overview_queries(client, account) -> tuple[int, int]:
    """Queries of the overview with cold snapshots (as after SNAPSHOT_SECONDS) and with warm ones."""
    client.force_login(account)
    counts = []
    selectors.rollen_snapshot.clear()
    selectors.mededelingen_snapshot.clear()
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/overzicht/")
        assert response.status_code == 200
        counts.append(len(queries))
    return counts[0], counts[1]


def test_overview_query_count_is_the_same_for_1_and_30_roles_and_at_most_6(client):
    one, _ = user_with_roles(1)
    thirty, rollen = user_with_roles(30)
    grant_beheerautorisatie(thirty, "vo")  # a beheerder: Autorisatiebeheer shown, same queries
    MededelingFactory.create_batch(3)
    for rol in rollen[:10]:
        OnderwerpBezoek.objects.create(account=thirty, rol=rol, count=2)
    few_cold, few = overview_queries(client, one)
    many_cold, many = overview_queries(client, thirty)
    # Session, account, then the organisation and holdings in one; the catalogue and mededelingen
    # snapshots add their four queries only when a worker (re)loads them, whoever asks.
    assert few == many == 3
    assert few_cold == many_cold == 7


def test_a_mededeling_saved_in_this_process_shows_at_once(client):
    account, _rollen = user_with_roles(1)
    client.force_login(account)
    assert "Storing vandaag" not in client.get("/overzicht/").content.decode()  # snapshot now warm
    mededeling = MededelingFactory(title="Storing vandaag")
    assert "Storing vandaag" in client.get("/overzicht/").content.decode()
    mededeling.rollen.set([Rol.objects.exclude(toekenningen__account=account).first()])
    assert "Storing vandaag" not in client.get("/overzicht/").content.decode()


def test_a_rol_renamed_in_this_process_shows_at_once(client):
    account, [rol] = user_with_roles(1)
    client.force_login(account)
    client.get("/overzicht/")
    rol.onderwerp = "Nieuwe naam van de dienst"
    rol.save()
    assert "Nieuwe naam van de dienst" in client.get("/overzicht/").content.decode()


def test_a_change_by_another_worker_shows_after_the_snapshot_time(client, monkeypatch):
    """Another process's change fires no signal here: it shows once the snapshot is reloaded."""
    clock = [1000.0]
    monkeypatch.setattr(selectors.mededelingen_snapshot, "_clock", lambda: clock[0])
    account, _rollen = user_with_roles(1)
    client.force_login(account)
    client.get("/overzicht/")
    mededeling = MededelingFactory(title="Oud bericht")
    Mededeling.objects.filter(pk=mededeling.pk).update(title="Nieuw bericht")  # no signal
    selectors.mededelingen_snapshot._value = None  # as if loaded before the save
    client.get("/overzicht/")  # loads "Nieuw bericht" at clock 1000
    Mededeling.objects.filter(pk=mededeling.pk).update(title="Nieuwste bericht")  # no signal
    clock[0] += selectors.SNAPSHOT_SECONDS - 1
    assert "Nieuw bericht" in client.get("/overzicht/").content.decode()
    clock[0] += 2
    assert "Nieuwste bericht" in client.get("/overzicht/").content.decode()


def test_publication_window_is_checked_on_every_request_not_when_loaded(client):
    account, _rollen = user_with_roles(1)
    now = timezone.now()
    MededelingFactory(title="Vanaf morgen", publish_from=now + timedelta(days=1))
    MededelingFactory(
        title="Tot morgen", publish_from=now - timedelta(days=1), publish_until=now + timedelta(days=1)
    )
    client.force_login(account)
    text = client.get("/overzicht/").content.decode()
    assert "Tot morgen" in text and "Vanaf morgen" not in text
    with time_machine.travel(now + timedelta(days=1, hours=1)):
        client.force_login(account)
        text = client.get("/overzicht/").content.decode()
    assert "Vanaf morgen" in text and "Tot morgen" not in text
