"""What every page shows around its content (base.html with ``{% page_chrome %}``), the overview's
mededelingen formatted once per process, and the account loaded only when something needs it."""

import datetime
import re

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import get_script_prefix, reverse, set_script_prefix

from accounts.templatetags.chrome import chrome_for
from koppeling.backends import EHERKENNING_BACKEND
from tests.factories import AccountFactory, MededelingFactory

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return response.content.decode()


def test_the_title_names_the_page_and_the_portal(client):
    client.force_login(AccountFactory())
    html = text_of(client.get("/overzicht/"))
    assert "<title>Overzicht — Mijn DUO Zakelijk</title>" in html
    assert "<title>Toegankelijkheidsverklaring — Mijn DUO Zakelijk</title>" in text_of(
        client.get("/toegankelijkheid/")
    )


@pytest.mark.parametrize(
    ("language", "other_code", "other_name"), [("nl", "en", "English"), ("en", "nl", "Nederlands")]
)
def test_the_language_switch_offers_the_other_language_in_its_own_name(
    client, language, other_code, other_name
):
    html = text_of(client.get("/toegankelijkheid/", HTTP_ACCEPT_LANGUAGE=language))
    assert f'<html lang="{language}">' in html
    buttons = re.findall(r'<button[^>]*name="language" value="(\w+)" lang="\w+">([^<]*)</button>', html)
    assert buttons == [(other_code, other_name)]
    assert f'action="{reverse("set_language")}"' in html


def test_header_and_footer_links(client):
    html = text_of(client.get("/toegankelijkheid/"))
    for name in ("home", "toegankelijkheid", "gebruiksvoorwaarden"):
        assert f'href="{reverse(name)}"' in html


def test_chrome_follows_the_script_prefix_and_needs_no_request():
    """Behind a path prefix the links carry it (the cache is per prefix); a page rendered without a
    request (no context processors, as Django's error pages) still has them."""
    previous = get_script_prefix()
    try:
        set_script_prefix("/portaal/")
        html = render_to_string("base.html")
    finally:
        set_script_prefix(previous)
    assert 'href="/portaal/gebruiksvoorwaarden/"' in html
    assert 'action="/portaal/i18n/setlang/"' in html
    assert chrome_for("/", "nl").gebruiksvoorwaarden_url == "/gebruiksvoorwaarden/"


def test_mededeling_dates_in_the_page_language_and_text_escaped(client):
    moment = datetime.datetime(2026, 3, 1, 23, 30, tzinfo=datetime.UTC)  # 2 maart in Amsterdam
    MededelingFactory(
        title="Onderhoud",
        text="Regel één <script>alert(1)</script>\nRegel twee\n\nTweede alinea & meer",
        publish_from=moment,
    )
    client.force_login(AccountFactory())
    dutch = text_of(client.get("/overzicht/", HTTP_ACCEPT_LANGUAGE="nl"))
    english = text_of(client.get("/overzicht/", HTTP_ACCEPT_LANGUAGE="en"))
    assert '<time datetime="2026-03-02T00:30:00+01:00">2 maart 2026</time>' in dutch
    assert '<time datetime="2026-03-02T00:30:00+01:00">2 March 2026</time>' in english
    assert (
        "<p>Regel één &lt;script&gt;alert(1)&lt;/script&gt;<br>Regel twee</p>\n\n<p>Tweede alinea &amp; meer</p>"
        in dutch
    )
    assert "<script>alert" not in dutch


def account_loaded(queries) -> bool:
    return any('FROM "accounts_account"' in query["sql"] for query in queries.captured_queries)


def test_a_request_that_needs_no_user_does_not_load_the_account(client):
    """A logged-in browser's request answered without the user (here a 405) reads the session to
    see whether it is a token session, but not the account."""
    client.force_login(AccountFactory(), backend=EHERKENNING_BACKEND)
    with CaptureQueriesContext(connection) as queries:
        response = client.put("/overzicht/")
    assert response.status_code == 405
    assert not account_loaded(queries)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/overzicht/").status_code == 200
    assert account_loaded(queries)
