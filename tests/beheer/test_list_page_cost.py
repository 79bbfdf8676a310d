"""The user list's own work per page (bench P3): its filter options read once, the same page as before."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Rol
from tests.factories import AccountFactory, beheerder_create, grant_rol

pytestmark = pytest.mark.django_db

URL = "/beheer/"


def _options(html: str, name: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select class="utrecht-select" name="{name}".*?</select>', html, re.S).group(0)
    return [
        (value, unescape(label))
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
    ]


def test_the_role_and_kenmerk_filters_are_checked_against_the_options_read_once(
    beheer_client, organisatie, kenmerk, other_kenmerk
):
    """One read of the roles and one of the kenmerken per page, whatever the filter: the form checks
    the chosen role and kenmerk against the options the page shows instead of asking again."""
    grant_rol(AccountFactory(organisatie=organisatie), "osr", kenmerk)
    osr = Rol.objects.get(code="osr")
    for params, status in [
        ({}, 200),
        ({"rol": osr.pk, "kenmerk": kenmerk.pk}, 200),
        ({"kenmerk": other_kenmerk.pk}, 400),
    ]:
        with CaptureQueriesContext(connection) as queries:
            assert beheer_client.get(URL, params).status_code == status, params
        statements = [query["sql"] for query in queries]
        assert sum('FROM "accounts_rol"' in sql for sql in statements) == 1, params
        assert sum('FROM "accounts_kenmerk"' in sql for sql in statements) == 1, params


def test_the_filters_offer_the_roles_held_or_handed_out_and_the_own_kenmerken(
    beheer_client, organisatie, beheerder, kenmerk, other_kenmerk
):
    other_holder = AccountFactory(organisatie=other_kenmerk.organisatie)
    grant_rol(other_holder, "croho", other_kenmerk)  # held elsewhere only: not offered
    html = beheer_client.get(URL).content.decode()
    roles = _options(html, "rol")
    assert roles[0] == ("", "Alle rollen")
    # a Beheerder VO hands out these five (tests/beheer/conftest.py); nobody holds one yet
    assert [label for _value, label in roles[1:]] == list(
        Rol.objects.filter(beheerautorisaties__accounts=beheerder)
        .order_by("naam")
        .values_list("naam", flat=True)
    )
    assert Rol.objects.get(code="croho").naam not in [label for _value, label in roles]
    kenmerken = _options(html, "kenmerk")
    assert kenmerken == [("", "Alle kenmerken"), (str(kenmerk.pk), f"{kenmerk.type.naam} {kenmerk.waarde}")]


def test_an_organisation_without_kenmerken_still_lists_the_roles_she_may_hand_out(beheer_client, beheerder):
    response = beheer_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        len(_options(html, "rol")) == 1 + Rol.objects.filter(beheerautorisaties__accounts=beheerder).count()
    )
    assert _options(html, "kenmerk") == [("", "Alle kenmerken")]


def test_a_role_filter_is_read_as_before(beheer_client, organisatie, beheerder, kenmerk):
    """The value as ModelChoiceField read it: a primary key (surrounding blanks, leading zeros allowed);
    anything else, or a role neither held nor handed out in her organisation, is the Dutch 400."""
    holder = AccountFactory(organisatie=organisatie, name="Hanna Houder")
    grant_rol(holder, "osr", kenmerk)
    osr = Rol.objects.get(code="osr")
    for value in (str(osr.pk), f" {osr.pk} ", f"0{osr.pk}"):
        response = beheer_client.get(URL, {"rol": value})
        assert response.status_code == 200, value
        assert "Hanna Houder" in response.content.decode()
    not_offered = Rol.objects.get(code="croho")  # neither held in her organisation nor handed out by her
    assert not Rol.objects.filter(pk=not_offered.pk, beheerautorisaties__accounts=beheerder).exists()
    for value in (str(not_offered.pk), "abc", "1.5", "99999999999999999999", "\x00"):
        response = beheer_client.get(URL, {"rol": value})
        assert response.status_code == 400, value
        html = response.content.decode()
        assert "Verbeter het volgende" in html
        assert 'id="id_rol" aria-invalid="true" aria-describedby="rol-error"' in html


def test_sort_headers_say_their_state_and_sort_from_the_first_page(beheer_client, organisatie):
    """Each sortable header: aria-sort on the sorted one, a link with the other sort (or its own) that
    keeps the filters and drops the page number, and a hidden text saying which."""
    AccountFactory.create_batch(30, organisatie=organisatie, name="Jan & Piet")
    html = beheer_client.get(URL, {"q": "n & P", "sort": "-name", "page": 2, "per_page": 25}).content.decode()
    headers = re.findall(
        r'<th scope="col"( aria-sort="[a-z]+")?><a class="utrecht-link" href="([^"]+)">([^<]+)'
        r'<span class="visually-hidden"> \(([^)]+)\)</span></a></th>',
        html,
    )
    assert headers == [
        (
            ' aria-sort="descending"',
            "?q=n+%26+P&amp;sort=name&amp;per_page=25",
            "Naam",
            "aflopend gesorteerd; oplopend sorteren",
        ),
        ("", "?q=n+%26+P&amp;sort=username&amp;per_page=25", "Gebruikersnaam", "sorteren"),
        ("", "?q=n+%26+P&amp;sort=status&amp;per_page=25", "Status", "sorteren"),
        ("", "?q=n+%26+P&amp;sort=last_login&amp;per_page=25", "Laatst ingelogd", "sorteren"),
    ]
    html = beheer_client.get(URL, {"sort": "status"}).content.decode()
    assert '<th scope="col" aria-sort="ascending"><a class="utrecht-link" href="?sort=-status">Status' in html
    assert "(oplopend gesorteerd; aflopend sorteren)" in html


def test_filter_options_are_escaped_and_the_chosen_one_selected(beheer_client, organisatie, kenmerk):
    from accounts.models import Kenmerk

    Kenmerk.objects.filter(pk=kenmerk.pk).update(waarde='<b>"x"</b>')
    html = beheer_client.get(URL, {"kenmerk": kenmerk.pk, "per_page": 50}).content.decode()
    assert (
        f'<option value="{kenmerk.pk}" selected>{kenmerk.type.naam} &lt;b&gt;&quot;x&quot;&lt;/b&gt;</option>'
        in html
    )
    assert '<option value="50" selected>50</option>' in html
    assert '<option value="" selected>Alle rollen</option>' in html


@pytest.mark.parametrize("language", ["nl", "en"])
def test_last_logins_are_written_as_date_format_writes_them(language):
    """The rows' date writer gives Django's text for every month, day, hour and minute width, with the
    portal's formats and with Django's own (which, in English, it leaves to date_format)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.test import override_settings
    from django.utils import translation
    from django.utils.formats import date_format, reset_format_cache

    from beheer.templatetags.beheer_list import _datetime_writer

    amsterdam = ZoneInfo("Europe/Amsterdam")
    moments = [
        datetime(2026, month, 1 + month * 2, month, month * 4, tzinfo=amsterdam) for month in range(1, 13)
    ]
    moments += [datetime(999, 3, 9, 0, 0, tzinfo=amsterdam), datetime(2026, 10, 25, 2, 30)]

    def written():
        with translation.override(language):
            write = _datetime_writer()
            texts = [write(moment) for moment in moments]
            assert texts == [date_format(moment, "DATETIME_FORMAT") for moment in moments]
            return texts

    portal = written()
    try:
        with override_settings(FORMAT_MODULE_PATH=None):  # Django's: nl "j F Y H:i", en "N j, Y, P"
            reset_format_cache()
            assert written() != portal
    finally:
        reset_format_cache()


def test_the_last_login_column_shows_the_local_time(beheer_client, organisatie):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    utc = ZoneInfo("UTC")
    AccountFactory(organisatie=organisatie, name="Winter", last_login=datetime(2026, 1, 5, 23, 7, tzinfo=utc))
    AccountFactory(
        organisatie=organisatie, name="Zomer", last_login=datetime(2026, 7, 31, 22, 59, tzinfo=utc)
    )
    html = beheer_client.get(URL).content.decode()
    assert '<td data-label="Laatst ingelogd">6 januari 2026, 00:07</td>' in html
    assert '<td data-label="Laatst ingelogd">1 augustus 2026, 00:59</td>' in html


def test_beheerder_is_one_statement_per_account(beheerder, organisatie, other_organisatie):
    """The check every Autorisatiebeheer page starts with: a beheerautorisatie of this account."""
    from accounts.models import BeheerautorisatieToekenning
    from beheer.selectors import beheerder_is

    colleague = AccountFactory(organisatie=organisatie)
    elsewhere = beheerder_create("vo", organisatie=other_organisatie)
    with CaptureQueriesContext(connection) as queries:
        assert beheerder_is(account=beheerder)
        assert not beheerder_is(account=colleague)
        assert beheerder_is(account=elsewhere)
    assert len(queries) == 3
    BeheerautorisatieToekenning.objects.filter(account=beheerder).delete()
    assert not beheerder_is(account=beheerder)
    elsewhere.removed_at, elsewhere.is_active = elsewhere.date_joined, False
    with CaptureQueriesContext(connection) as queries:
        assert not beheerder_is(account=elsewhere)
    assert len(queries) == 0
