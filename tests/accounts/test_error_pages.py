"""Error pages (issue 17 item 2): 400, 403, 404, 405 and 500 in the portal's layout and the visitor's
language, saying what to do next, rendered without the database (DEBUG off)."""

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Rol
from tests.factories import AccountFactory

pytestmark = [pytest.mark.urls("tests.accounts.error_urls")]


@pytest.fixture(autouse=True)
def debug_off(settings):
    settings.DEBUG = False


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def assert_portal_page(response, status: int, *texts: str, language: str = "nl") -> str:
    assert response.status_code == status
    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    assert 'class="site-header' in page and 'id="main"' in page  # the portal's layout, skip link target
    assert 'href="/"' in page  # a way on
    for text in texts:
        assert text in page, text
    return page


@pytest.mark.django_db
def test_404_is_dutch_with_what_to_do(client):
    page = assert_portal_page(client.get("/bestaat-niet/"), 404, "Pagina niet gevonden", "controleer het dan")
    assert "Not Found" not in page


@pytest.mark.django_db
def test_404_in_english_for_an_english_visitor(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert_portal_page(
        client.get("/bestaat-niet/"),
        404,
        "Page not found",
        "Check the address if you typed it",
        language="en",
    )


@pytest.mark.django_db
def test_404_page_asks_nothing_of_the_database_for_a_logged_in_user(client):
    client.force_login(AccountFactory())
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/bestaat-niet/")
    assert response.status_code == 404
    # Only the session's own SELECT (the middleware reads it); no account, no context processor.
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT"]
    assert "django_session" in queries.captured_queries[0]["sql"]


@pytest.mark.django_db
def test_403_from_permission_denied_is_dutch(client):
    assert_portal_page(
        client.get("/test-refuse/"), 403, "Geen toegang tot deze pagina", "beheerder van uw organisatie"
    )


@pytest.mark.django_db
def test_csrf_failure_gets_the_403_page_not_djangos_technical_one():
    client = Client(enforce_csrf_checks=True)
    page = assert_portal_page(
        client.post("/uitloggen/"), 403, "Geen toegang tot deze pagina", "laad de pagina opnieuw"
    )
    assert "CSRF verification failed" not in page


@pytest.mark.django_db
def test_400_is_dutch(client):
    assert_portal_page(client.get("/test-bad/"), 400, "Uw verzoek kon niet worden verwerkt", "Ga terug")


@pytest.mark.django_db
def test_405_gets_the_page_and_keeps_allow(client):
    response = client.get("/uitloggen/")  # require_POST
    assert_portal_page(response, 405, "Deze pagina kunt u zo niet openen", "Ga terug naar de vorige pagina")
    assert response["Allow"] == "POST"


@pytest.mark.django_db
def test_a_405_with_a_body_of_its_own_is_left_alone(client):
    response = client.get("/test-json-405/")
    assert response.status_code == 405 and response.content == b'{"error": "method"}'
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_500_is_dutch_with_the_request_id(client):
    response = client.get("/test-boom/")
    page = assert_portal_page(response, 500, "Er ging iets mis", "helpdesk van DUO")
    assert response["X-Request-ID"] in page
    assert "Server Error" not in page


def test_500_page_renders_when_the_database_is_down(client, django_db_blocker):
    """No database at all: the session cookie makes the request need it, and the page must not."""
    db = connections["default"]
    with django_db_blocker.unblock():
        db.close()
        saved = dict(db.settings_dict)
        if db.vendor == "sqlite":
            db.settings_dict["NAME"] = "/nonexistent/mijnduo/db.sqlite3"
        else:
            db.settings_dict["PORT"] = "1"  # nothing listens there
        try:
            client.cookies[settings.SESSION_COOKIE_NAME] = "a" * 32
            response = client.get("/overzicht/")
        finally:
            db.close()
            db.settings_dict.clear()
            db.settings_dict.update(saved)
    assert_portal_page(response, 500, "Er ging iets mis", "Probeer het over een paar minuten opnieuw")


@pytest.mark.django_db
def test_unknown_onderwerp_is_404_and_a_rol_not_held_is_403(client):
    account = AccountFactory()
    client.force_login(account)
    assert_portal_page(client.get("/onderwerpen/bestaat-niet/"), 404, "Pagina niet gevonden")
    rol = Rol.objects.first()
    assert client.get(f"/onderwerpen/{rol.code}/").status_code == 403  # exists, not held


@pytest.mark.django_db
def test_acs_get_without_an_artifact_explains_and_links_to_login(client):
    page = assert_portal_page(client.get("/saml2/acs/"), 400, "Deze pagina opent u niet zelf")
    assert 'href="/saml2/login/"' in page
