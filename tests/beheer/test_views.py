"""The Autorisatiebeheer screens as a beheerder sees them."""

import re
from datetime import timedelta
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import Account, AuditEvent, EmailOutbox, Rol, RolToekenning
from beheer.selectors import accounts_for_beheerder, accounts_with_status
from koppeling.models import ActivationCode, KoppelAttemptCounter, Koppeling
from tests.factories import AccountFactory, KoppelingFactory

pytestmark = pytest.mark.django_db


def _status_of(beheerder, account):
    [row] = accounts_with_status(accounts=accounts_for_beheerder(beheerder=beheerder).filter(pk=account.pk))
    return row.status.value


def test_list_shows_own_users_with_status_and_not_other_organisations(
    beheer_client, gebruiker, other_gebruiker
):
    response = beheer_client.get(reverse("beheer:gebruikers"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Autorisatiebeheer" in html
    assert gebruiker.name in html and gebruiker.username in html
    assert other_gebruiker.name not in html
    assert '<th scope="col">' in html
    assert "aangemeld" in html


def test_list_search_by_name_username_and_email(beheer_client, organisatie, gebruiker):
    AccountFactory(organisatie=organisatie, name="Karel Anders", email="karel@school.example")
    for query in ["gijs", gebruiker.username.lower(), "gijs@school"]:
        html = beheer_client.get(reverse("beheer:gebruikers"), {"q": query}).content.decode()
        assert gebruiker.name in html and "Karel Anders" not in html


def test_list_is_paginated(beheer_client, organisatie):
    AccountFactory.create_batch(30, organisatie=organisatie)
    first = beheer_client.get(reverse("beheer:gebruikers")).content.decode()
    second = beheer_client.get(reverse("beheer:gebruikers"), {"page": 2}).content.decode()
    assert "Pagina 1 van 2" in first and "Pagina 2 van 2" in second
    assert len(re.findall(r'<th scope="row">', first)) == 25
    assert len(re.findall(r'<th scope="row">', second)) == 6  # 30 + the beheerder himself
    assert beheer_client.get(reverse("beheer:gebruikers"), {"page": "x"}).status_code == 200


def test_status_follows_the_users_way_through_the_koppelproces(beheerder, gebruiker):
    assert _status_of(beheerder, gebruiker) == "aangemeld"
    EmailOutbox.objects.create(
        to=gebruiker.email, template="koppeling/email/activation_code", account=gebruiker, message_id="<a@x>"
    )
    assert _status_of(beheerder, gebruiker) == "activatiecode_verstuurd"
    koppeling = KoppelingFactory(account=gebruiker)
    assert _status_of(beheerder, gebruiker) == "gekoppeld"
    Koppeling.objects.filter(pk=koppeling.pk).update(ended_at=timezone.now() + timedelta(seconds=1))
    assert _status_of(beheerder, gebruiker) == "ontkoppeld"
    ActivationCode.objects.create(
        account=gebruiker,
        code_hash="x",
        created_at=timezone.now() + timedelta(seconds=2),
        expires_at=timezone.now(),
    )
    assert _status_of(beheerder, gebruiker) == "activatiecode_verstuurd"
    KoppelAttemptCounter.objects.create(
        key=f"u:{gebruiker.username}", failures=5, blocked_until=timezone.now() + timedelta(minutes=15)
    )
    assert _status_of(beheerder, gebruiker) == "geblokkeerd"
    Account.objects.filter(pk=gebruiker.pk).update(removed_at=timezone.now(), is_active=False)
    assert _status_of(beheerder, gebruiker) == "verwijderd"


def test_register_a_user_through_the_screen(beheer_client, beheerder, django_capture_on_commit_callbacks):
    data = {
        "name": "Nina Nieuw",
        "job_title": "Docent",
        "email": "nina@school.example",
        "phone": "050 1",
        "language": "nl",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = beheer_client.post(reverse("beheer:gebruiker_aanmelden"), data)
    account = Account.objects.get(email="nina@school.example")
    assert response.status_code == 302 and response["Location"] == reverse(
        "beheer:gebruiker", args=[account.pk]
    )
    assert account.organisatie_id == beheerder.organisatie_id
    assert EmailOutbox.objects.get(account=account, template="beheer/email/registered").sent_at is not None
    page = beheer_client.get(response["Location"]).content.decode()
    assert account.username in page and "Brief downloaden" in page and "Activatiecode versturen" in page


def test_register_with_bad_input_shows_a_dutch_error_summary_and_400(beheer_client):
    response = beheer_client.post(
        reverse("beheer:gebruiker_aanmelden"), {"name": "", "email": "geen-adres", "language": "nl"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="error-summary"' in html
    assert 'href="#id_email"' in html and 'href="#id_name"' in html
    assert "Verbeter het volgende" in html
    assert 'aria-invalid="true"' in html
    assert not Account.objects.filter(email="geen-adres").exists()


def test_change_a_user(beheer_client, gebruiker):
    url = reverse("beheer:gebruiker_wijzigen", args=[gebruiker.pk])
    assert beheer_client.get(url).status_code == 200
    data = {
        "name": "Gijs Nieuw",
        "job_title": "Teamleider",
        "email": gebruiker.email,
        "phone": "06",
        "language": "en",
    }
    assert beheer_client.post(url, data).status_code == 302
    gebruiker.refresh_from_db()
    assert (gebruiker.name, gebruiker.job_title, gebruiker.language) == ("Gijs Nieuw", "Teamleider", "en")
    assert AuditEvent.objects.filter(action="account.update", object_id=str(gebruiker.pk)).exists()


def test_role_form_offers_only_covered_roles_and_own_kenmerken(
    beheer_client, gebruiker, kenmerk, other_kenmerk
):
    html = beheer_client.get(reverse("beheer:gebruiker", args=[gebruiker.pk])).content.decode()
    assert "Examensecretaris" in html and "BRON-VO" in html
    assert "RMC" not in html and "CROHO" not in html
    assert f"{kenmerk.waarde}" in html and other_kenmerk.waarde not in html


def test_assign_and_revoke_a_role_through_the_screen(beheer_client, gebruiker, kenmerk):
    rol = Rol.objects.get(code="verzuimmelder")
    url = reverse("beheer:rol_toekennen", args=[gebruiker.pk])
    assert beheer_client.post(url, {"rol": rol.pk, "kenmerk": kenmerk.pk}).status_code == 302
    toekenning = RolToekenning.objects.get(account=gebruiker, rol=rol)
    url = reverse("beheer:rol_intrekken", args=[gebruiker.pk, toekenning.pk])
    assert beheer_client.post(url).status_code == 302
    assert not RolToekenning.objects.filter(pk=toekenning.pk).exists()


def test_forged_post_with_an_uncovered_role_or_foreign_kenmerk_is_refused(
    beheer_client, gebruiker, kenmerk, other_kenmerk
):
    url = reverse("beheer:rol_toekennen", args=[gebruiker.pk])
    rmc = Rol.objects.get(code="rmc")
    response = beheer_client.post(url, {"rol": rmc.pk, "kenmerk": kenmerk.pk})
    assert response.status_code == 400
    response = beheer_client.post(url, {"rol": Rol.objects.get(code="osr").pk, "kenmerk": other_kenmerk.pk})
    assert response.status_code == 400
    assert "Verbeter het volgende" in response.content.decode()
    response = beheer_client.post(url, {"rol": "abc", "kenmerk": ""})
    assert response.status_code == 400
    assert not RolToekenning.objects.filter(account=gebruiker).exists()


def test_send_activation_code_queues_the_mail(beheer_client, gebruiker):
    response = beheer_client.post(reverse("beheer:activatiecode_versturen", args=[gebruiker.pk]))
    assert response.status_code == 302
    assert EmailOutbox.objects.filter(account=gebruiker, template="koppeling/email/activation_code").exists()


def test_send_activation_code_to_a_linked_user_is_a_dutch_409(beheer_client, gebruiker):
    KoppelingFactory(account=gebruiker)
    response = beheer_client.post(reverse("beheer:activatiecode_versturen", args=[gebruiker.pk]))
    assert response.status_code == 409
    assert "al gekoppeld" in response.content.decode()


def test_undo_link_with_a_reason(beheer_client, beheerder, gebruiker):
    koppeling = KoppelingFactory(account=gebruiker)
    url = reverse("beheer:koppeling_ongedaan_maken", args=[gebruiker.pk])
    page = beheer_client.get(url).content.decode()
    assert "Koppeling ongedaan maken" in page and 'type="radio"' in page
    assert beheer_client.post(url, {"reason": "inactive"}).status_code == 400
    assert beheer_client.post(url, {}).status_code == 400
    assert beheer_client.post(url, {"reason": "lost"}).status_code == 302
    koppeling.refresh_from_db()
    assert koppeling.ended_reason == "lost" and koppeling.ended_by_id == beheerder.pk
    assert beheer_client.post(url, {"reason": "lost"}).status_code == 409


def test_remove_a_user_and_not_oneself(beheer_client, beheerder, gebruiker):
    url = reverse("beheer:gebruiker_verwijderen", args=[gebruiker.pk])
    assert beheer_client.get(url).status_code == 200
    assert beheer_client.post(url).status_code == 302
    gebruiker.refresh_from_db()
    assert gebruiker.removed_at is not None and not gebruiker.is_active
    response = beheer_client.post(reverse("beheer:gebruiker_verwijderen", args=[beheerder.pk]))
    assert response.status_code == 409
    assert "uzelf niet verwijderen" in response.content.decode()
    beheerder.refresh_from_db()
    assert beheerder.removed_at is None
    own_page = beheer_client.get(reverse("beheer:gebruiker", args=[beheerder.pk])).content.decode()
    assert reverse("beheer:gebruiker_verwijderen", args=[beheerder.pk]) not in own_page


def test_screens_never_offer_to_edit_beheerautorisaties(beheer_client, beheerder):
    for url in [
        reverse("beheer:gebruiker", args=[beheerder.pk]),
        reverse("beheer:gebruiker_wijzigen", args=[beheerder.pk]),
    ]:
        assert "beheerautorisatie" not in beheer_client.get(url).content.decode().lower()
    response = beheer_client.post(
        reverse("beheer:gebruiker_wijzigen", args=[beheerder.pk]),
        {
            "name": "Bea",
            "job_title": "x",
            "email": beheerder.email,
            "phone": "1",
            "language": "nl",
            "beheerautorisaties": "1",
        },
    )
    assert response.status_code == 302
    assert list(beheerder.beheerautorisaties.values_list("code", flat=True)) == ["vo"]


def test_letter_pdf_has_the_username_and_no_activation_code(beheer_client, beheerder, gebruiker):
    from koppeling.services import activation_code_issue

    code = activation_code_issue(account=gebruiker, issued_by=beheerder)
    response = beheer_client.get(reverse("beheer:brief", args=[gebruiker.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"gebruikersnaam-{gebruiker.username}.pdf" in response["Content-Disposition"]
    reader = PdfReader(BytesIO(response.content))
    assert len(reader.pages) == 1
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(float(width)), round(float(height))) == (595, 842)  # A4
    text = reader.pages[0].extract_text()
    assert gebruiker.username in text
    assert gebruiker.name in text and gebruiker.organisatie.naam in text
    assert "Vraag uw activatiecode aan bij uw beheerder" in text
    normalised = text.replace("-", "").replace(" ", "")
    assert code not in text and code.replace("-", "") not in normalised
    event = AuditEvent.objects.get(action="letter.download", object_id=str(gebruiker.pk))
    assert event.actor_id == beheerder.pk


def test_letter_in_english_for_an_english_user(beheer_client, organisatie):
    account = AccountFactory(organisatie=organisatie, language="en")
    text = (
        PdfReader(BytesIO(beheer_client.get(reverse("beheer:brief", args=[account.pk])).content))
        .pages[0]
        .extract_text()
    )
    assert "Your username" in text and account.username in text


def test_every_change_is_audited_with_the_beheerder_as_actor(beheer_client, beheerder, gebruiker, kenmerk):
    KoppelingFactory(account=gebruiker)
    beheer_client.post(
        reverse("beheer:gebruiker_aanmelden"),
        {"name": "A", "job_title": "B", "email": "a@b.example", "phone": "1", "language": "nl"},
    )
    beheer_client.post(
        reverse("beheer:gebruiker_wijzigen", args=[gebruiker.pk]),
        {"name": "Z", "job_title": "B", "email": gebruiker.email, "phone": "1", "language": "nl"},
    )
    beheer_client.post(
        reverse("beheer:rol_toekennen", args=[gebruiker.pk]),
        {"rol": Rol.objects.get(code="osr").pk, "kenmerk": kenmerk.pk},
    )
    toekenning = RolToekenning.objects.get(account=gebruiker)
    beheer_client.post(reverse("beheer:rol_intrekken", args=[gebruiker.pk, toekenning.pk]))
    beheer_client.post(reverse("beheer:koppeling_ongedaan_maken", args=[gebruiker.pk]), {"reason": "defect"})
    beheer_client.post(reverse("beheer:activatiecode_versturen", args=[gebruiker.pk]))
    beheer_client.get(reverse("beheer:brief", args=[gebruiker.pk]))
    beheer_client.post(reverse("beheer:gebruiker_verwijderen", args=[gebruiker.pk]))
    actions = set(AuditEvent.objects.filter(actor_id=beheerder.pk).values_list("action", flat=True))
    assert {
        "account.create",
        "account.update",
        "rol.grant",
        "rol.revoke",
        "link.undo",
        "email.queued",
        "letter.download",
        "account.remove",
    } <= actions
    assert (
        AuditEvent.objects.filter(actor_id=beheerder.pk).exclude(ip=None).count()
        == AuditEvent.objects.filter(actor_id=beheerder.pk).count()
    )


def test_letter_shows_names_outside_latin_1(beheer_client, organisatie):
    """Şahin, Łukasz and Nguyễn are Dutch users too: the letter must print their names as written."""
    account = AccountFactory(organisatie=organisatie, name="Şahin Łukasz Nguyễn")
    response = beheer_client.get(reverse("beheer:brief", args=[account.pk]))
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(response.content)).pages)
    assert "Şahin Łukasz Nguyễn" in text
    assert account.username in text


def letter_fonts(content: bytes) -> set[str]:
    fonts = set()
    for page in PdfReader(BytesIO(content)).pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    return fonts


def test_letter_embeds_dejavu_for_every_name(beheer_client, organisatie):
    """The letter is PDF/UA (issue 17), which needs embedded fonts: DejaVu, also for a Latin-1 name."""
    latin = AccountFactory(organisatie=organisatie, name="Anaïs van der Weijdé")
    response = beheer_client.get(reverse("beheer:brief", args=[latin.pk]))
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(response.content)).pages)
    assert "Anaïs van der Weijdé" in text
    assert all("DejaVu" in font for font in letter_fonts(response.content))
    other = AccountFactory(organisatie=organisatie, name="Łukasz Şahin")
    response = beheer_client.get(reverse("beheer:brief", args=[other.pk]))
    assert any("DejaVu" in font for font in letter_fonts(response.content))
