"""The browser set-up itself: Chromium reaches the live site, axe-core runs, a screenshot is written."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_home_page_is_dutch_accessible_and_offers_the_eherkenning_login(new_page, a11y, screenshots):
    page = new_page()
    page.goto("/")

    assert page.locator("html").get_attribute("lang") == "nl"
    login = page.get_by_role("link", name="Inloggen met eHerkenning")
    assert login.is_visible()
    a11y.check(page, "home")
    a11y.check_reflow(page, "home")
    shot = screenshots.take(page, "01-home")
    assert shot.stat().st_size > 5_000

    # The skip link is the first thing the keyboard reaches.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"

    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()


def test_axe_check_reports_a_field_without_a_label(new_page, a11y):
    """The accessibility check itself can fail: an unlabelled field on the home page is reported."""
    page = new_page()
    page.goto("/")
    page.evaluate("() => document.querySelector('main').insertAdjacentHTML('beforeend', '<input type=text>')")

    violations = a11y.check(page, "home with an unlabelled field")

    assert "label" in {violation["id"] for violation in violations}
    assert "label" in a11y.report()


def test_reflow_check_reports_a_page_that_scrolls_sideways_at_320px(new_page, a11y):
    page = new_page()
    page.goto("/")
    page.evaluate(
        "() => { const d = document.createElement('div'); d.style.width = '600px';"
        " d.textContent = 'breed'; document.querySelector('main').append(d); }"
    )

    assert not a11y.check_reflow(page, "home with a wide block")
    assert "reflow" in a11y.report()
    assert page.viewport_size == {"width": 1280, "height": 900}  # restored for the rest of the test


@pytest.mark.parametrize(
    "path",
    ["/toegankelijkheid/", "/gebruiksvoorwaarden/", "/token/"],
)
def test_public_pages_are_accessible(new_page, a11y, path):
    page = new_page()
    response = page.goto(path)
    assert response.ok, f"{path}: {response.status}"

    a11y.check(page, path)
    a11y.check_reflow(page, path)

    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()


def test_token_login_errors_are_summarised_and_accessible(new_page, a11y):
    """A failed form shows an error summary whose links lead to the fields; the page stays accessible."""
    page = new_page()
    page.goto("/token/")
    page.locator("main form button[type=submit]").click()

    summary_links = page.locator(".error-summary a[href^='#']")
    assert summary_links.count() >= 1
    for href in summary_links.evaluate_all("links => links.map(link => link.getAttribute('href'))"):
        assert page.locator(href).count() == 1, f"the error summary links to {href}, which is not on the page"
    a11y.check(page, "token login with errors")

    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()


def test_the_language_switch_changes_the_page_language_and_stays_on_the_page(new_page):
    """The header's switch (base.html, ``{% page_chrome %}``) posts to Django's set_language with the
    current page as ``next``; the title keeps its "page — portal" form in both languages."""
    page = new_page()
    page.goto("/toegankelijkheid/")
    assert page.title() == "Toegankelijkheidsverklaring — Mijn DUO Zakelijk"

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.url.endswith("/toegankelijkheid/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.title().endswith(" — Mijn DUO Zakelijk")
    assert page.get_by_role("button", name="Nederlands").is_visible()

    page.get_by_role("button", name="Nederlands").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.title() == "Toegankelijkheidsverklaring — Mijn DUO Zakelijk"
