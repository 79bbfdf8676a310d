"""Issue 17 item 5 in Chromium: every portal page — the user's and Autorisatiebeheer's — reflows at
320 CSS pixels without sideways scrolling (WCAG 1.4.10; tables stack), stays axe-clean, and focus
moves to the error summary after a failed submit (WCAG 2.4.3, 3.3.1)."""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from tests.factories import (
    AccountFactory,
    KenmerkFactory,
    KoppelingFactory,
    MededelingFactory,
    beheerder_create,
    grant_rol,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def logged_in_page(new_page, base_url: str, account):
    client = Client()
    client.force_login(account)
    page = new_page()
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": base_url,
            }
        ]
    )
    return page


@pytest.fixture
def organisation():
    """A beheerder and a user with long names, e-mail addresses and roles: what makes tables wide."""
    beheerder = beheerder_create("vo", name="Bea Beheer-van den Heuvel-Oosterhout")
    organisatie = beheerder.organisatie
    kenmerk = KenmerkFactory(organisatie=organisatie, waarde=organisatie.instellingscode)
    grant_rol(beheerder, "osr", kenmerk)
    gebruiker = AccountFactory(
        organisatie=organisatie,
        name="Gijs Gebruiker-Langenaam",
        email="gijs.gebruiker-met-een-heel-lang-adres@vlinderschool-voortgezet-onderwijs.example",
    )
    grant_rol(gebruiker, "osr", kenmerk)
    grant_rol(gebruiker, "examensecretaris", kenmerk)
    KoppelingFactory(account=gebruiker)
    MededelingFactory(
        title="Onderhoud",
        text="Lees meer op https://www.duo.example/zakelijk/onderhoud/planning-van-het-onderhoud",
    )
    return beheerder, gebruiker


def test_every_portal_page_reflows_at_320_pixels_and_is_axe_clean(new_page, a11y, e2e_site, organisation):
    beheerder, gebruiker = organisation
    page = logged_in_page(new_page, e2e_site.url, beheerder)
    pages = {
        "overview": "/overzicht/",
        "onderwerp": "/onderwerpen/osr/",
        "mijn gegevens": "/mijn-gegevens/",
        "Autorisatiebeheer list": reverse("beheer:gebruikers"),
        "Autorisatiebeheer user page": reverse("beheer:gebruiker", args=[gebruiker.pk]),
        "register a user": reverse("beheer:gebruiker_aanmelden"),
        "change a user": reverse("beheer:gebruiker_wijzigen", args=[gebruiker.pk]),
        "undo a link": reverse("beheer:koppeling_ongedaan_maken", args=[gebruiker.pk]),
        "remove a user": reverse("beheer:gebruiker_verwijderen", args=[gebruiker.pk]),
        "accessibility statement": "/toegankelijkheid/",
        "terms of use": "/gebruiksvoorwaarden/",
    }
    for name, path in pages.items():
        response = page.goto(path)
        assert response.ok, f"{name}: {response.status}"
        a11y.check(page, name)
        a11y.check_reflow(page, name)
    page.goto(reverse("beheer:gebruiker_aanmelden"))
    page.locator("main form button[type=submit]").first.click()
    a11y.check(page, "register a user with errors")
    a11y.check_reflow(page, "register a user with errors")

    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()


def test_the_logout_page_reflows_and_is_axe_clean(new_page, a11y, e2e_site):
    page = new_page()
    page.goto("/uitgelogd/")
    assert page.locator("h1").inner_text() == "U bent uitgelogd"
    a11y.check(page, "logged out")
    a11y.check_reflow(page, "logged out")
    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()


def focused(page) -> str:
    return page.evaluate(
        "() => { const el = document.activeElement; return el.id || el.className || el.tagName; }"
    )


def test_focus_moves_to_the_error_summary_after_a_failed_submit(new_page, a11y, e2e_site, organisation):
    beheerder, _gebruiker = organisation
    page = logged_in_page(new_page, e2e_site.url, beheerder)

    page.goto("/mijn-gegevens/")
    page.locator("#id_email").fill("geen-adres")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state("load")
    assert "error-summary" in focused(page)
    # The summary's link takes focus to the field, whose description names its help text and error.
    page.locator(".error-summary a[href='#id_email']").click()
    assert focused(page) == "id_email"
    described = page.locator("#id_email").get_attribute("aria-describedby").split()
    assert described == ["id_email_helptext", "id_email_error"]
    for target in described:
        assert page.locator(f"#{target}").count() == 1

    page.goto(reverse("beheer:gebruiker_aanmelden"))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state("load")
    assert "error-summary" in focused(page)
    a11y.check(page, "register a user with errors, focus on the summary")

    # The keyboard goes on from the summary: the next Tab reaches its first link.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.error-summary') !== null")

    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()


def test_a_page_without_errors_keeps_focus_where_it_was(new_page, e2e_site, organisation):
    beheerder, _gebruiker = organisation
    page = logged_in_page(new_page, e2e_site.url, beheerder)
    page.goto("/mijn-gegevens/")
    page.wait_for_load_state("load")
    assert page.evaluate("document.activeElement === document.body")
