"""Journey texts and wording (issue 17 items 3 and 4): logout confirmation, why a link was undone, the
username kept after a failed koppel attempt, the token's last day, links in mededelingen, one service
name, no repeated role name, dates in words."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.constants import EHERKENNING_SERVICE_NAME
from accounts.models import OverstapPlanning, Rol
from accounts.text import text_links_html
from koppeling.models import Koppeling, UnlinkReason
from koppeling.services import activation_code_issue, link_undo
from tests.factories import (
    AccountFactory,
    KenmerkFactory,
    KoppelingFactory,
    MededelingFactory,
    beheerder_create,
    grant_rol,
    token_user_create,
    totp_code,
)
from tests.koppeling.conftest import identity_for, identity_put, koppel_post, walk_to_koppel

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")


def body(response) -> str:
    return response.content.decode()


# --- logout ----------------------------------------------------------------------------------------


def test_logout_ends_on_a_page_that_says_you_are_logged_out(client):
    account = AccountFactory()
    client.force_login(account)
    response = client.post("/uitloggen/")
    assert response.status_code == 302 and response["Location"] == "/uitgelogd/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert '<h1 class="utrecht-heading-1">U bent uitgelogd</h1>' in body(page)
    assert "_auth_user_id" not in client.session


# --- the wizard after an undone link ----------------------------------------------------------------


def start_page_after_undo(reason, *, by_beheerder: bool):
    account = AccountFactory()
    identity = identity_for(account, pseudonym="pseudonym-undone")
    koppeling = KoppelingFactory(
        account=account,
        acting_subject_id=identity.acting_subject_id,
        legal_subject_id=identity.legal_subject_id,
    )
    actor = beheerder_create("vo", organisatie=account.organisatie) if by_beheerder else None
    with time_machine.travel(datetime.datetime(2026, 11, 28, 10, 0, tzinfo=AMS), tick=False):
        link_undo(koppeling=koppeling, reason=reason, actor=actor)
    client = Client()
    identity_put(client, identity)
    return body(client.get(reverse("koppeling:start")))


def test_a_user_unlinked_after_18_months_is_told_why_and_what_to_do():
    page = start_page_after_undo(UnlinkReason.INACTIVE, by_beheerder=False)
    assert "op 28 november 2026 ongedaan gemaakt, omdat u 18 maanden niet had ingelogd" in page
    assert "Vraag uw beheerder om een nieuwe activatiecode" in page


def test_a_user_unlinked_by_the_beheerder_sees_the_reason_category():
    page = start_page_after_undo(UnlinkReason.STOLEN, by_beheerder=True)
    assert "ongedaan gemaakt door de beheerder van uw organisatie. Reden: Middel gestolen." in page
    assert "Vraag uw beheerder om een nieuwe activatiecode" in page


def test_a_user_unlinked_by_the_helpdesk_is_told_so():
    page = start_page_after_undo(UnlinkReason.HELPDESK, by_beheerder=False)
    assert "ongedaan gemaakt door de helpdesk van DUO" in page


def test_a_new_identity_sees_no_word_about_an_undone_link(client):
    identity_put(client, identity_for(pseudonym="pseudonym-fresh"))
    page = body(client.get(reverse("koppeling:start")))
    assert "ongedaan gemaakt" not in page and 'id="link-undone"' not in page


def test_another_persons_undone_link_is_not_shown(client):
    """Only the identity's own links count: another pseudonym of the same organisation learns nothing."""
    page = start_page_after_undo(UnlinkReason.LOST, by_beheerder=True)
    assert "Reden: Middel zoek" in page
    account = Koppeling.objects.get().account
    identity_put(client, identity_for(account, pseudonym="someone-else"))
    assert "ongedaan gemaakt" not in body(client.get(reverse("koppeling:start")))


# --- a failed koppel attempt keeps the username ------------------------------------------------------


def test_after_a_wrong_code_the_username_stays_and_the_code_is_emptied(client):
    account = AccountFactory()
    activation_code_issue(account=account)
    identity_put(client, identity_for(account))
    walk_to_koppel(client)
    response = koppel_post(client, account.username, "AAAA-BBBB-CCCC")
    assert response.status_code == 400
    page = body(response)
    assert f'name="username" id="id_username" value="{account.username}"' in page
    assert 'name="activation_code" id="id_activation_code" value=""' in page
    assert "AAAA-BBBB-CCCC" not in page


# --- the token user's switch date -------------------------------------------------------------------


def test_a_token_user_sees_until_when_the_token_works(client):
    OverstapPlanning.objects.update_or_create(
        organisatie_type="onderwijsinstelling", defaults={"switch_date": datetime.date(2030, 3, 1)}
    )
    account, device = token_user_create(password="geheim-token-wachtwoord-1")
    with time_machine.travel(datetime.datetime(2030, 2, 20, 10, 0, tzinfo=AMS)):
        response = client.post(
            "/token/",
            {
                "username": account.username,
                "password": "geheim-token-wachtwoord-1",
                "otp_token": totp_code(device),
            },
        )
        assert response.status_code == 302
        page = body(client.get("/overzicht/"))
    assert "Uw token werkt tot en met 28 februari 2030" in page
    assert "Vanaf 1 maart 2030 logt u alleen nog in met eHerkenning" in page


def test_an_eherkenning_user_sees_no_token_notice(client):
    account = AccountFactory()
    client.force_login(account)
    assert 'id="token-switch"' not in body(client.get("/overzicht/"))


# --- links in mededelingen -------------------------------------------------------------------------


def test_web_addresses_in_a_mededeling_become_links_and_nothing_else_becomes_html(client):
    MededelingFactory(
        title="Onderhoud",
        text=(
            "Zie https://www.duo.example/onderhoud?a=1&b=2. <script>alert(1)</script>\n"
            '<a href="javascript:alert(2)">klik</a> javascript:alert(3) (https://x.example/pad)\n\n'
            'Tweede alinea: http://y.example/"onmouseover=alert(4)'
        ),
    )
    account = AccountFactory()
    client.force_login(account)
    page = body(client.get("/overzicht/"))
    assert (
        '<a class="utrecht-link" href="https://www.duo.example/onderhoud?a=1&amp;b=2" rel="noopener">'
        "https://www.duo.example/onderhoud?a=1&amp;b=2</a>." in page
    )
    assert (
        '<a class="utrecht-link" href="https://x.example/pad" rel="noopener">https://x.example/pad</a>)'
        in page
    )
    assert (
        '<a class="utrecht-link" href="http://y.example/" rel="noopener">http://y.example/</a>&quot;onmouseover'
        in page
    )
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript' not in page and "&lt;a href=&quot;javascript:alert(2)&quot;&gt;" in page
    assert 'onmouseover=alert(4)"' not in page


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("geen link", "<p>geen link</p>"),
        ("https://", "<p>https://</p>"),
        ("FTP://a.example en data:text/html,x", "<p>FTP://a.example en data:text/html,x</p>"),
        ("a\nb", "<p>a<br>b</p>"),
        (
            "'https://q.example/'",
            '<p>&#x27;<a class="utrecht-link" href="https://q.example/" rel="noopener">https://q.example/</a>&#x27;</p>',
        ),
    ],
)
def test_text_links_html_escapes_first_and_links_only_http_addresses(text, html):
    assert text_links_html(text) == html


# --- wording ---------------------------------------------------------------------------------------


def test_the_overview_does_not_repeat_the_role_name(client):
    account = AccountFactory()
    grant_rol(account, "osr", KenmerkFactory(organisatie=account.organisatie))
    rol = Rol.objects.get(code="osr")
    client.force_login(account)
    page = body(client.get("/overzicht/"))
    assert rol.onderwerp in page
    assert f"({rol.naam})" not in page
    assert page.count(rol.onderwerp) >= 1 and f"{rol.onderwerp} ({rol.onderwerp}" not in page


def test_one_eherkenning_service_name_on_the_home_page(client):
    page = body(client.get("/"))
    assert page.count(f"'{EHERKENNING_SERVICE_NAME}'") == 2
    assert f'<h1 class="utrecht-heading-1">{EHERKENNING_SERVICE_NAME}</h1>' in page
    assert "zakelijke gebruikers" not in page and "dienst 'Mijn DUO'" not in page


def test_one_eherkenning_service_name_in_the_letter_and_the_registration_email():
    from beheer.letters import letter_pdf

    account = AccountFactory()
    pdf = letter_pdf(account=account)
    from io import BytesIO

    from pypdf import PdfReader

    text = " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())
    assert f"dienst '{EHERKENNING_SERVICE_NAME}'" in text
    from django.template.loader import render_to_string

    with translation.override("nl"):
        mail = render_to_string(
            "beheer/email/registered.txt",
            {"name": "Gijs", "organisatie": "School", "beheerder": "Bea", "SITE_URL": "https://x.example"},
        )
    assert f"dienst '{EHERKENNING_SERVICE_NAME}'" in " ".join(mail.split())


def test_beheer_dates_are_written_out_in_dutch_and_in_english(client):
    beheerder = beheerder_create("vo", name="Bea Beheer")
    gebruiker = AccountFactory(organisatie=beheerder.organisatie)
    type(gebruiker).objects.filter(pk=gebruiker.pk).update(
        date_joined=datetime.datetime(2026, 11, 28, 12, 0, tzinfo=AMS)
    )
    client.force_login(beheerder)
    page = body(client.get(reverse("beheer:gebruiker", args=[gebruiker.pk])))
    assert "28 november 2026" in page and "28 Nov 2026" not in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = body(client.get(reverse("beheer:gebruiker", args=[gebruiker.pk])))
    assert "28 November 2026" in page
    assert "Authorisation management" in page and "Autorisatiebeheer" not in page


def test_the_accessibility_statement_follows_the_government_model(client, settings):
    settings.ACCESSIBILITY_CONTACT_EMAIL = "toegankelijkheid@school.example"
    page = body(client.get("/toegankelijkheid/"))
    for words in (
        "Nalevingsstatus",
        "B — voldoet gedeeltelijk",
        '<time datetime="2026-11-29">29 november 2026</time>',
        "Hoe wij het portaal hebben onderzocht",
        "axe-core",
        "bij 400% zoom",
        "Bekende problemen en wat wij eraan doen",
        "Gepland: sorteerknoppen boven de tabel, eerste kwartaal van 2027",
        "of die van meerdere gebruikers in één bestand, zijn getagde pdf's (PDF/UA)",
        '<a class="utrecht-link" href="mailto:toegankelijkheid@school.example">',
    ):
        assert words in page, words
    assert "nog niet getagd" not in page  # the PDF with several users' letters is tagged now


def test_stacked_table_cells_carry_their_column_names(client):
    beheerder = beheerder_create("vo", name="Bea Beheer")
    gebruiker = AccountFactory(organisatie=beheerder.organisatie, email="gijs@school.example")
    grant_rol(gebruiker, "osr", KenmerkFactory(organisatie=beheerder.organisatie))
    client.force_login(beheerder)
    page = body(client.get(reverse("beheer:gebruikers")))
    assert '<td data-label="E-mailadres">gijs@school.example</td>' in page
    page = body(client.get(reverse("beheer:gebruiker", args=[gebruiker.pk])))
    assert '<td data-label="Kenmerk">' in page


def test_the_unlink_reason_reads_well_in_english_and_in_dutch():
    with translation.override("en"):
        assert str(UnlinkReason.DEFECT.label) == "Means broken"
    with translation.override("nl"):
        assert str(UnlinkReason.DEFECT.label) == "Middel defect"
