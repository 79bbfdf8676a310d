"""The registration form in the helpdesk admin (issue 15 item 4): 2.2 and part 5 on the account form,
and "Intrekken beheeraccount" (part 4) as one audited action behind a confirmation page."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.constants import AuditAction
from accounts.models import (
    Account,
    AuditEvent,
    BeheerautorisatieIntrekking,
    BeheerderFormulier,
    RolToekenning,
)
from koppeling.models import Koppeling
from tests.accounts.test_admin import account_form
from tests.factories import (
    KenmerkFactory,
    KoppelingFactory,
    OrganisatieFactory,
    beheerder_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def beheerder():
    account = beheerder_create("vo", "rio_algemeen", name="Bea Beheer")
    kenmerk = KenmerkFactory(organisatie=account.organisatie)
    KoppelingFactory(account=account)
    TOTPDevice.objects.create(user=account, name="token", confirmed=True)
    RolToekenning.objects.create(
        account=account, rol=account.beheerautorisaties.first().rollen.first(), kenmerk=kenmerk
    )
    return account


SIGNATURE = {
    "formulier_signatory_name": "Mr. P. Bestuur",
    "formulier_signatory_job_title": "Voorzitter college van bestuur",
    "formulier_signatory_email": "bestuur@school.example",
    "formulier_signed_place": "Groningen",
    "formulier_signed_on": "02-11-2026",
}


def withdraw_url(account):
    return reverse("admin:accounts_account_withdraw", args=[account.pk])


def test_the_withdraw_page_lists_the_changes_and_labels_every_field(helpdesk_client, beheerder):
    response = helpdesk_client.get(withdraw_url(beheerder))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Beheeraccount van" in text and "intrekken?" in text
    assert "Beheerder VO (Voortgezet Onderwijs)" in text
    assert "4.1 Wil de beheerder het account blijven gebruiken als gebruiker?" in text
    for name in [
        "reason",
        "formulier_signatory_name",
        "formulier_signed_on",
        "keep_as_user_0",
        "keep_as_user_1",
    ]:
        assert f'for="id_{name}"' in text


def test_a_post_without_the_confirmation_changes_nothing(helpdesk_client, beheerder):
    response = helpdesk_client.post(withdraw_url(beheerder), {"keep_as_user": "nee", "reason": "Formulier"})
    assert response.status_code == 200
    response = helpdesk_client.post(withdraw_url(beheerder), {"confirmed": "yes", "keep_as_user": "nee"})
    assert response.status_code == 400
    assert "Geef de reden op." in response.content.decode()
    response = helpdesk_client.post(withdraw_url(beheerder), {"confirmed": "yes", "reason": "Formulier"})
    assert response.status_code == 400
    assert "Beantwoord vraag 4.1 van het formulier." in response.content.decode()
    beheerder.refresh_from_db()
    assert beheerder.beheerautorisaties.count() == 2 and beheerder.removed_at is None
    assert not AuditEvent.objects.filter(action=AuditAction.BEHEERACCOUNT_WITHDRAW).exists()


def test_withdraw_with_keep_as_user_removes_only_the_beheerder_role(helpdesk_client, beheerder, helpdesk):
    # Another Beheerder VO of the school still covers her rol, so she keeps it as a user
    # (a rol no beheerautorisatie of the organisation covers any more goes: tests/diensten/test_rol_coverage.py).
    beheerder_create("vo", organisatie=beheerder.organisatie)
    response = helpdesk_client.post(
        withdraw_url(beheerder),
        {"confirmed": "yes", "keep_as_user": "ja", "reason": "Intrekkingsformulier 12-11", **SIGNATURE},
    )
    assert response.status_code == 302
    beheerder.refresh_from_db()
    assert not beheerder.beheerautorisaties.exists()
    assert beheerder.is_active and beheerder.removed_at is None
    assert Koppeling.objects.filter(account=beheerder, ended_at__isnull=True).exists()
    assert RolToekenning.objects.filter(account=beheerder).exists()
    assert set(
        BeheerautorisatieIntrekking.objects.filter(account=beheerder).values_list(
            "beheerautorisatie__code", flat=True
        )
    ) == {"vo", "rio_algemeen"}
    formulier = BeheerderFormulier.objects.get(account=beheerder)
    assert formulier.kind == "intrekking" and formulier.keep_as_user is True
    assert formulier.signatory_name == "Mr. P. Bestuur" and formulier.processed_by == helpdesk
    event = AuditEvent.objects.get(action=AuditAction.BEHEERACCOUNT_WITHDRAW)
    assert event.object_id == str(beheerder.pk) and event.actor_id == helpdesk.pk
    assert event.detail["reason"] == "Intrekkingsformulier 12-11" and event.detail["keep_as_user"] is True
    from django.utils import translation

    from accounts.admin_audit import action_label, detail_items

    with translation.override("nl"):
        assert action_label(event.action) == "beheeraccount ingetrokken"
        items = dict(detail_items(event.detail))
    assert items["4.1 houdt het account als gebruiker"] == "ja"
    assert items["reden"] == "Intrekkingsformulier 12-11"
    page = helpdesk_client.get(reverse("admin:accounts_account_change", args=[beheerder.pk])).content.decode()
    assert "Ingetrokken beheerautorisaties" in page and "Beheerder RIO Algemeen —" in page
    assert "Intrekkingsformulier 12-11" in page  # the processed form, with its reason


def test_withdraw_without_keep_as_user_removes_the_whole_account(helpdesk_client, beheerder):
    response = helpdesk_client.post(
        withdraw_url(beheerder), {"confirmed": "yes", "keep_as_user": "nee", "reason": "Vertrokken"}
    )
    assert response.status_code == 302
    beheerder.refresh_from_db()
    assert beheerder.removed_at is not None and not beheerder.is_active
    assert not beheerder.beheerautorisaties.exists()
    assert not Koppeling.objects.filter(account=beheerder, ended_at__isnull=True).exists()
    assert not RolToekenning.objects.filter(account=beheerder).exists()
    assert not TOTPDevice.objects.filter(user=beheerder).exists()
    assert AuditEvent.objects.filter(action=AuditAction.BEHEERACCOUNT_WITHDRAW).count() == 1


def test_withdraw_page_unknown_account_404_and_view_only_staff_403(helpdesk_client, helpdesk, beheerder):
    assert helpdesk_client.get(reverse("admin:accounts_account_withdraw", args=[987654])).status_code == 404
    helpdesk.groups.clear()
    helpdesk.user_permissions.add(Permission.objects.get(codename="view_account"))
    assert helpdesk_client.get(withdraw_url(beheerder)).status_code == 403
    response = helpdesk_client.post(
        withdraw_url(beheerder), {"confirmed": "yes", "keep_as_user": "nee", "reason": "x"}
    )
    assert response.status_code == 403
    assert Account.objects.get(pk=beheerder.pk).removed_at is None


def test_account_form_records_question_2_2_and_the_signature(helpdesk_client):
    organisatie = OrganisatieFactory(bestuursnummer="30303")
    response = helpdesk_client.post(
        reverse("admin:accounts_account_add"),
        {**account_form(organisatie, "po"), "formulier_has_account": "nee", **SIGNATURE},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    account = Account.objects.get(email="bea@school.example")
    formulier = BeheerderFormulier.objects.get(account=account)
    assert formulier.kind == "aanmelding" and formulier.has_account is False
    assert formulier.signatory_job_title == "Voorzitter college van bestuur"
    assert str(formulier.signed_on) == "2026-11-02"
    page = helpdesk_client.get(reverse("admin:accounts_account_change", args=[account.pk])).content.decode()
    assert "Verwerkte aanmeldformulieren" in page and "Mr. P. Bestuur" in page
    assert 'for="id_formulier_signatory_name"' in page


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"formulier_has_account": "ja"}, "Volgens het formulier heeft de beheerder al een account"),
        (
            {"formulier_signatory_name": "P. Bestuur"},
            "Vul dit in van het ondertekende formulier (onderdeel 5).",
        ),
        (
            {**SIGNATURE, "formulier_signed_on": "01-01-2999"},
            "Het formulier kan niet in de toekomst zijn ondertekend.",
        ),
    ],
)
def test_inconsistent_form_answers_are_refused_in_dutch(helpdesk_client, extra, message):
    organisatie = OrganisatieFactory(bestuursnummer="30303")
    response = helpdesk_client.post(
        reverse("admin:accounts_account_add"), {**account_form(organisatie, "po"), **extra}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Account.objects.filter(email="bea@school.example").exists()


def test_the_account_screen_offers_withdrawal_to_a_beheerder_and_token_registration_to_an_unlinked_user(
    helpdesk_client, beheerder
):
    from tests.factories import AccountFactory

    page = helpdesk_client.get(
        reverse("admin:accounts_account_helpdesk", args=[beheerder.pk])
    ).content.decode()
    assert withdraw_url(beheerder) in page and "Beheeraccount intrekken (formulier deel 4)" in page
    assert reverse("admin:accounts_account_token_user", args=[beheerder.pk]) not in page  # linked
    user = AccountFactory()
    page = helpdesk_client.get(reverse("admin:accounts_account_helpdesk", args=[user.pk])).content.decode()
    assert reverse("admin:accounts_account_token_user", args=[user.pk]) in page
    assert withdraw_url(user) not in page
