"""Every beheer URL: anonymous → login, no beheerautorisatie → 403, another organisation's ids → 404."""

import pytest
from django.urls import reverse

from tests.factories import AccountFactory, KoppelingFactory, grant_rol

# (url name, needs a user id, needs a role assignment id, methods to try)
URLS = [
    ("beheer:gebruikers", False, False, ["get"]),
    ("beheer:gebruiker_aanmelden", False, False, ["get", "post"]),
    ("beheer:gebruiker", True, False, ["get"]),
    ("beheer:gebruiker_wijzigen", True, False, ["get", "post"]),
    ("beheer:rol_toekennen", True, False, ["post"]),
    ("beheer:rol_intrekken", True, True, ["get", "post"]),
    ("beheer:activatiecode_versturen", True, False, ["post"]),
    ("beheer:brief", True, False, ["get"]),
    ("beheer:koppeling_ongedaan_maken", True, False, ["get", "post"]),
    ("beheer:gebruiker_verwijderen", True, False, ["get", "post"]),
]
CASES = [(name, pk, tk, method) for name, pk, tk, methods in URLS for method in methods]


def _url(name, account, toekenning, needs_pk, needs_tk):
    kwargs = {}
    if needs_pk:
        kwargs["pk"] = account.pk
    if needs_tk:
        kwargs["toekenning_pk"] = toekenning.pk
    return reverse(name, kwargs=kwargs)


@pytest.fixture
def target(gebruiker, kenmerk):
    KoppelingFactory(account=gebruiker)
    return gebruiker, grant_rol(gebruiker, "osr", kenmerk)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "needs_pk", "needs_tk", "method"), CASES)
def test_anonymous_visitor_is_sent_to_login(client, target, name, needs_pk, needs_tk, method):
    account, toekenning = target
    response = getattr(client, method)(_url(name, account, toekenning, needs_pk, needs_tk))
    assert response.status_code == 302
    assert response["Location"].startswith("/saml2/login/")


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "needs_pk", "needs_tk", "method"), CASES)
def test_user_without_beheerautorisatie_gets_403(
    client, target, organisatie, name, needs_pk, needs_tk, method
):
    account, toekenning = target
    client.force_login(AccountFactory(organisatie=organisatie))
    response = getattr(client, method)(_url(name, account, toekenning, needs_pk, needs_tk))
    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "needs_pk", "needs_tk", "method"), [c for c in CASES if c[1]])
def test_other_organisations_ids_give_404(
    beheer_client, other_gebruiker, other_kenmerk, name, needs_pk, needs_tk, method
):
    KoppelingFactory(account=other_gebruiker)
    toekenning = grant_rol(other_gebruiker, "osr", other_kenmerk)
    before = (
        other_gebruiker.rol_toekenningen.count(),
        other_gebruiker.koppelingen.filter(ended_at=None).count(),
    )
    data = {
        "reason": "lost",
        "name": "X",
        "job_title": "Y",
        "email": "x@y.example",
        "phone": "1",
        "language": "nl",
    }
    kwargs = {"data": data} if method == "post" else {}
    response = getattr(beheer_client, method)(
        _url(name, other_gebruiker, toekenning, needs_pk, needs_tk), **kwargs
    )
    assert response.status_code == 404
    other_gebruiker.refresh_from_db()
    assert other_gebruiker.removed_at is None and other_gebruiker.name == "Olga Ander"
    after = (
        other_gebruiker.rol_toekenningen.count(),
        other_gebruiker.koppelingen.filter(ended_at=None).count(),
    )
    assert after == before


@pytest.mark.django_db
def test_role_assignment_of_another_account_in_the_url_gives_404(
    beheer_client, gebruiker, other_gebruiker, other_kenmerk
):
    """A toekenning id of another organisation, under one of my own users' URLs."""
    toekenning = grant_rol(other_gebruiker, "osr", other_kenmerk)
    url = reverse("beheer:rol_intrekken", kwargs={"pk": gebruiker.pk, "toekenning_pk": toekenning.pk})
    assert beheer_client.post(url).status_code == 404
    assert other_gebruiker.rol_toekenningen.count() == 1


@pytest.mark.django_db
def test_helpdesk_staff_without_organisation_gets_403(client):
    from tests.factories import StaffFactory

    client.force_login(StaffFactory())
    assert client.get(reverse("beheer:gebruikers")).status_code == 403


@pytest.mark.django_db
def test_removed_beheerder_gets_403(client, beheerder):
    from django.utils import timezone

    beheerder.removed_at = timezone.now()
    beheerder.save()
    client.force_login(beheerder)
    assert client.get(reverse("beheer:gebruikers")).status_code == 403


@pytest.mark.django_db
def test_state_changing_urls_refuse_get(beheer_client, gebruiker):
    for name in ["beheer:rol_toekennen", "beheer:activatiecode_versturen"]:
        assert beheer_client.get(reverse(name, kwargs={"pk": gebruiker.pk})).status_code == 405
