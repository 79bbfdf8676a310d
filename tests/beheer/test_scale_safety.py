"""Issue 16 item 6: revoking asks first, no self-lockout, the code's history on the detail page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, RolToekenning
from beheer import services
from koppeling.models import ActivationCode, Koppeling
from tests.factories import AccountFactory, KoppelingFactory, grant_rol

pytestmark = pytest.mark.django_db


def test_revoking_a_role_shows_what_will_be_revoked_before_doing_it(beheer_client, gebruiker, kenmerk):
    toekenning = grant_rol(gebruiker, "osr", kenmerk)
    detail = beheer_client.get(reverse("beheer:gebruiker", args=[gebruiker.pk])).content.decode()
    url = reverse("beheer:rol_intrekken", args=[gebruiker.pk, toekenning.pk])
    assert f'href="{url}"' in detail  # a link to the confirmation page, not a one-click form
    page = beheer_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "intrekken?" in html and gebruiker.name in html and toekenning.rol.naam in html
    assert kenmerk.waarde in html and 'method="post"' in html
    assert RolToekenning.objects.filter(pk=toekenning.pk).exists()
    assert beheer_client.post(url).status_code == 302
    assert not RolToekenning.objects.filter(pk=toekenning.pk).exists()
    assert AuditEvent.objects.filter(action="rol.revoke", object_id=str(gebruiker.pk)).exists()


def test_revoke_confirmation_of_another_organisations_role_is_404(
    beheer_client, gebruiker, other_gebruiker, other_kenmerk
):
    toekenning = grant_rol(other_gebruiker, "osr", other_kenmerk)
    for pk in (gebruiker.pk, other_gebruiker.pk):
        url = reverse("beheer:rol_intrekken", args=[pk, toekenning.pk])
        assert beheer_client.get(url).status_code == 404


def test_revoke_confirmation_needs_a_beheerautorisatie(client, organisatie, gebruiker, kenmerk):
    toekenning = grant_rol(gebruiker, "osr", kenmerk)
    client.force_login(AccountFactory(organisatie=organisatie))
    assert client.get(reverse("beheer:rol_intrekken", args=[gebruiker.pk, toekenning.pk])).status_code == 403


def test_own_account_offers_no_undo_link(beheer_client, beheerder, gebruiker):
    KoppelingFactory(account=beheerder)
    KoppelingFactory(account=gebruiker)
    url = reverse("beheer:koppeling_ongedaan_maken", args=[beheerder.pk])
    own = beheer_client.get(reverse("beheer:gebruiker", args=[beheerder.pk])).content.decode()
    assert url not in own
    other = beheer_client.get(reverse("beheer:gebruiker", args=[gebruiker.pk])).content.decode()
    assert reverse("beheer:koppeling_ongedaan_maken", args=[gebruiker.pk]) in other


def test_undoing_her_own_link_is_refused_with_a_dutch_message_and_audited(beheer_client, beheerder):
    koppeling = KoppelingFactory(account=beheerder)
    url = reverse("beheer:koppeling_ongedaan_maken", args=[beheerder.pk])
    response = beheer_client.post(url, {"reason": "lost"})
    assert response.status_code == 409
    assert "eigen koppeling" in response.content.decode()
    koppeling.refresh_from_db()
    assert koppeling.ended_at is None
    assert (
        AuditEvent.objects.filter(
            action="koppeling.undo", result="refused", object_id=str(beheerder.pk)
        ).exists()
        or AuditEvent.objects.filter(result="refused", actor_id=beheerder.pk).exists()
    )
    assert beheer_client.get(url).status_code == 409


def test_service_refuses_undoing_her_own_link(beheerder):
    from django.core.exceptions import ValidationError

    KoppelingFactory(account=beheerder)
    with pytest.raises(ValidationError):
        services.koppeling_undo(beheerder=beheerder, account=beheerder, reason="lost")
    assert Koppeling.objects.filter(account=beheerder, ended_at__isnull=True).exists()


def test_detail_page_shows_when_the_last_code_was_sent_by_whom_and_until_when(
    beheer_client, beheerder, gebruiker
):
    sent = timezone.now() - timedelta(hours=2)
    ActivationCode.objects.create(
        account=gebruiker,
        code_hash="geheim-hash",
        created_at=sent,
        expires_at=sent + timedelta(hours=24),
        issued_by=beheerder,
    )
    html = beheer_client.get(reverse("beheer:gebruiker", args=[gebruiker.pk])).content.decode()
    assert "Laatste activatiecode" in html
    assert beheerder.name in html
    local = timezone.localtime(sent + timedelta(hours=24))
    assert f"{local:%H:%M}" in html
    assert "geldig tot" in html.lower()
    assert "geheim-hash" not in html


def test_detail_page_says_a_used_or_replaced_code_no_longer_works(beheer_client, beheerder, gebruiker):
    now = timezone.now()
    ActivationCode.objects.create(
        account=gebruiker,
        code_hash="x",
        created_at=now,
        expires_at=now + timedelta(hours=24),
        issued_by=beheerder,
        invalidated_at=now,
    )
    html = beheer_client.get(reverse("beheer:gebruiker", args=[gebruiker.pk])).content.decode()
    assert "vervangen" in html.lower()


def test_success_message_says_an_earlier_code_no_longer_works(beheer_client, gebruiker):
    url = reverse("beheer:activatiecode_versturen", args=[gebruiker.pk])
    response = beheer_client.post(url, follow=True)
    assert "eerder verstuurde code werkt niet meer" in response.content.decode()
