"""Issue 16 item 2: actions on a selection in the list, each behind a confirmation page (who and what)."""

import pytest

from accounts.models import Account, AuditEvent, EmailOutbox, Rol, RolToekenning
from tests.factories import AccountFactory, KoppelingFactory, beheerder_create, grant_rol

pytestmark = pytest.mark.django_db

URL = "/beheer/selectie/"


@pytest.fixture
def people(organisatie):
    return [
        AccountFactory(organisatie=organisatie, name=name, email=f"{name.lower()}@school.example")
        for name in ("Anna", "Bram", "Cees")
    ]


def _ids(accounts):
    return [account.pk for account in accounts]


def test_the_list_offers_the_actions_on_the_selection(beheer_client, people):
    html = beheer_client.get("/beheer/").content.decode()
    assert 'action="/beheer/selectie/"' in html
    for value in ("activatiecodes", "rol_toekennen", "rol_intrekken", "brieven", "verwijderen"):
        assert f'<option value="{value}">' in html


@pytest.mark.parametrize("action", ["activatiecodes", "brieven", "verwijderen"])
def test_the_confirmation_page_lists_who_and_changes_nothing(beheer_client, people, action):
    response = beheer_client.get(URL, {"actie": action, "id": _ids(people)})
    assert response.status_code == 200
    html = response.content.decode()
    for person in people:
        assert person.name in html and person.username in html
    assert not EmailOutbox.objects.exists()
    assert Account.objects.filter(removed_at__isnull=True, pk__in=_ids(people)).count() == 3


def test_sending_activation_codes_queues_one_mail_each_and_audits_each(
    beheer_client, beheerder, people, organisatie, django_capture_on_commit_callbacks
):
    linked = AccountFactory(organisatie=organisatie, name="Gekoppeld")
    KoppelingFactory(account=linked)
    with django_capture_on_commit_callbacks(execute=True):
        response = beheer_client.post(
            URL, {"actie": "activatiecodes", "id": _ids([*people, linked])}, follow=True
        )
    for person in people:
        assert (
            EmailOutbox.objects.filter(account=person, template="koppeling/email/activation_code").count()
            == 1
        )
        assert AuditEvent.objects.filter(
            action="email.queued", actor_id=beheerder.pk, object_id=str(person.pk)
        ).exists()
    assert not EmailOutbox.objects.filter(account=linked).exists()
    html = response.content.decode()
    assert "gedaan voor 3 gebruikers" in html
    assert "Niet voor Gekoppeld" in html


def test_assigning_a_role_asks_for_the_role_then_shows_who_and_what_then_assigns(
    beheer_client, beheerder, people, kenmerk
):
    osr = Rol.objects.get(code="osr")
    choose = beheer_client.get(URL, {"actie": "rol_toekennen", "id": _ids(people)})
    assert choose.status_code == 200 and 'name="rol"' in choose.content.decode()
    confirm = beheer_client.get(
        URL, {"actie": "rol_toekennen", "id": _ids(people), "rol": osr.pk, "kenmerk": kenmerk.pk}
    )
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert osr.naam in html and kenmerk.waarde in html and 'method="post"' in html
    assert not RolToekenning.objects.exists()
    beheer_client.post(
        URL, {"actie": "rol_toekennen", "id": _ids(people), "rol": osr.pk, "kenmerk": kenmerk.pk}
    )
    for person in people:
        assert RolToekenning.objects.filter(account=person, rol=osr, kenmerk=kenmerk).exists()
        assert AuditEvent.objects.filter(
            action="rol.grant", result="success", object_id=str(person.pk)
        ).exists()


def test_a_forged_role_in_a_bulk_assign_is_refused_and_audited_per_account(
    beheer_client, beheerder, people, other_kenmerk
):
    gba = Rol.objects.get(code="gba")
    response = beheer_client.post(
        URL, {"actie": "rol_toekennen", "id": _ids(people), "rol": gba.pk, "kenmerk": other_kenmerk.pk}
    )
    assert response.status_code == 400
    assert not RolToekenning.objects.exists()
    for person in people:
        assert AuditEvent.objects.filter(
            action="rol.grant", result="refused", actor_id=beheerder.pk, object_id=str(person.pk)
        ).exists()


def test_revoking_a_role_revokes_it_where_held_and_reports_the_others(beheer_client, people, kenmerk):
    for person in people[:2]:
        grant_rol(person, "osr", kenmerk)
    osr = Rol.objects.get(code="osr")
    confirm = beheer_client.get(
        URL, {"actie": "rol_intrekken", "id": _ids(people), "rol": osr.pk, "kenmerk": kenmerk.pk}
    )
    assert "wordt ingetrokken bij deze 3 gebruikers" in confirm.content.decode()
    response = beheer_client.post(
        URL, {"actie": "rol_intrekken", "id": _ids(people), "rol": osr.pk, "kenmerk": kenmerk.pk}, follow=True
    )
    assert not RolToekenning.objects.filter(rol=osr).exists()
    for person in people[:2]:
        assert AuditEvent.objects.filter(action="rol.revoke", object_id=str(person.pk)).exists()
    assert "Niet voor Cees: Deze gebruiker heeft deze rol met dit kenmerk niet." in response.content.decode()


def test_removing_removes_each_but_never_herself_or_another_beheerder(
    beheer_client, beheerder, people, organisatie
):
    other_beheerder = beheerder_create("vo", organisatie=organisatie, name="Tweede Beheerder")
    response = beheer_client.post(
        URL, {"actie": "verwijderen", "id": _ids([*people, beheerder, other_beheerder])}, follow=True
    )
    for person in people:
        person.refresh_from_db()
        assert person.removed_at is not None
        assert AuditEvent.objects.filter(action="account.remove", object_id=str(person.pk)).exists()
    beheerder.refresh_from_db()
    other_beheerder.refresh_from_db()
    assert beheerder.removed_at is None and other_beheerder.removed_at is None
    html = response.content.decode()
    assert "Niet voor Bea Beheer" in html and "Niet voor Tweede Beheerder" in html


def test_the_letters_action_confirms_then_downloads_through_the_letters_url(beheer_client, people):
    html = beheer_client.get(URL, {"actie": "brieven", "id": _ids(people)}).content.decode()
    assert 'action="/beheer/brieven/"' in html
    assert beheer_client.post(URL, {"actie": "brieven", "id": _ids(people)}).status_code == 405


# --- isolation and bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", ["activatiecodes", "rol_toekennen", "rol_intrekken", "brieven", "verwijderen"]
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_organisations_id_in_the_selection_is_404_audited_and_does_nothing(
    beheer_client, beheerder, people, other_gebruiker, kenmerk, action, method
):
    data = {
        "actie": action,
        "id": [*_ids(people), other_gebruiker.pk],
        "rol": Rol.objects.get(code="osr").pk,
        "kenmerk": kenmerk.pk,
    }
    response = getattr(beheer_client, method)(URL, data)
    assert response.status_code == 404
    event = AuditEvent.objects.get(action="bulk.action", result="refused", actor_id=beheerder.pk)
    assert event.detail["ids"] == str(other_gebruiker.pk)
    other_gebruiker.refresh_from_db()
    assert other_gebruiker.removed_at is None
    assert not EmailOutbox.objects.exists() and not RolToekenning.objects.exists()
    assert Account.objects.filter(removed_at__isnull=False).count() == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_user_without_beheerautorisatie_gets_403(client, organisatie, people, method):
    client.force_login(AccountFactory(organisatie=organisatie))
    response = getattr(client, method)(URL, {"actie": "verwijderen", "id": _ids(people)})
    assert response.status_code == 403
    assert Account.objects.filter(removed_at__isnull=False).count() == 0


@pytest.mark.parametrize(
    "data",
    [
        {"actie": "verwijderen"},
        {"actie": "onbekend", "id": ["1"]},
        {"actie": "verwijderen", "id": ["x"]},
        {"actie": "verwijderen", "id": ["1"] * 101},
    ],
)
def test_a_bad_selection_is_a_dutch_400(beheer_client, data):
    response = beheer_client.get(URL, data)
    assert response.status_code == 400
    assert "Selecteer" in response.content.decode()


def test_a_role_action_posted_without_a_role_does_nothing_and_is_a_400(beheer_client, people, kenmerk):
    response = beheer_client.post(URL, {"actie": "rol_toekennen", "id": _ids(people)})
    assert response.status_code == 400
    assert not RolToekenning.objects.exists()
