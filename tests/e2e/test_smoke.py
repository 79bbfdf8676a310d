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
