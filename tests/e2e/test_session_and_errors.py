"""Issue 17 items 1 and 2 in Chromium: the session timeout dialog (a shortened idle timeout on the live
server) and the error pages, keyboard use and axe-core."""

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.session_timeout import ACTIVE_KEY
from accounts.sessions import SessionStore
from tests.factories import AccountFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def logged_in_page(new_page, base_url: str):
    """A page whose browser holds the session of a freshly logged-in user; and that session's key."""
    client = Client()
    client.force_login(AccountFactory(name="Sam de Vries"))
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page = new_page()
    page.context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": key, "url": base_url}])
    return page, key


def test_the_dialog_warns_before_the_idle_end_and_stay_logged_in_renews_the_session(
    new_page, a11y, settings, e2e_site
):
    # 125 seconds idle: the dialog (two minutes before the end) opens about five seconds after the load.
    settings.SESSION_IDLE_TIMEOUT = 125
    page, key = logged_in_page(new_page, e2e_site.url)
    page.goto("/overzicht/")
    page.get_by_role("link", name="Mijn gegevens").first.focus()
    before = SessionStore(key).load()[ACTIVE_KEY]

    dialog = page.locator("dialog#session-timeout")
    dialog.wait_for(state="visible", timeout=30_000)
    assert page.evaluate("document.getElementById('session-timeout').open")
    assert dialog.get_attribute("role") == "alertdialog"
    # Focus is in the dialog, on "Ingelogd blijven"; the dialog is named and described.
    assert page.evaluate("document.activeElement.textContent.trim()") == "Ingelogd blijven"
    assert page.get_by_role("alertdialog", name="Uw sessie loopt bijna af").is_visible()
    a11y.check(page, "session timeout dialog")

    page.keyboard.press("Enter")
    dialog.wait_for(state="hidden")
    assert page.locator("#session-timeout-status").text_content() == "U blijft ingelogd."
    # Focus returns to where it was; the server renewed the session.
    assert page.evaluate("document.activeElement.textContent.trim()") == "Mijn gegevens"
    assert SessionStore(key).load()[ACTIVE_KEY] > before

    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()


def test_at_the_end_the_page_reloads_and_explains_the_expiry_and_logging_in_returns_there(
    new_page, a11y, settings, e2e_site
):
    settings.SESSION_IDLE_TIMEOUT = 6  # shorter than the warning: the dialog opens at once
    page, _key = logged_in_page(new_page, e2e_site.url)
    page.goto("/mijn-gegevens/")
    page.locator("dialog#session-timeout").wait_for(state="visible")

    heading = page.get_by_role("heading", name="Uw sessie is verlopen")
    heading.wait_for(timeout=30_000)  # the script reloads after the deadline; the server explains
    login = page.get_by_role("link", name="Opnieuw inloggen")
    assert login.get_attribute("href") == "/saml2/login/?next=%2Fmijn-gegevens%2F"
    assert page.locator("dialog#session-timeout").count() == 0
    a11y.check(page, "session expired")

    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()


@pytest.mark.parametrize(
    ("path", "status", "heading"),
    [
        ("/test-bad/", 400, "Uw verzoek kon niet worden verwerkt"),
        ("/test-refuse/", 403, "Geen toegang tot deze pagina"),
        ("/bestaat-niet/", 404, "Pagina niet gevonden"),
        ("/uitloggen/", 405, "Deze pagina kunt u zo niet openen"),
        ("/test-boom/", 500, "Er ging iets mis"),
        ("/saml2/acs/", 400, "Deze pagina rondt alleen een inlog af"),
    ],
)
def test_error_pages_are_dutch_and_accessible(new_page, a11y, settings, e2e_site, path, status, heading):
    settings.ROOT_URLCONF = "tests.accounts.error_urls"
    settings.DEBUG = False
    page = new_page()
    response = page.goto(path)
    assert response.status == status
    assert page.get_by_role("heading", level=1, name=heading).is_visible()
    assert page.get_by_role("link", name="Naar de startpagina").first.is_visible()
    a11y.check(page, f"error {status} {path}")
    a11y.check_reflow(page, f"error {status} {path}")

    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()
