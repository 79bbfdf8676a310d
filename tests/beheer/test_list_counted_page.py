"""The user list's shortcuts (bench P3) give the page the plain way gives, for every page a URL can ask:
a filtered list counts its matches in the page's own query (the same page, count and page choice as
Django's Paginator counting separately), and a page sorted by status that lies within the first status
is read without ranking every user.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Rol
from beheer import selectors
from beheer.constants import GebruikerStatus
from beheer.selectors import ListFilter, accounts_list_page_for_beheerder
from koppeling.models import KoppelAttemptCounter
from tests.factories import AccountFactory, KenmerkFactory, KoppelingFactory, beheerder_create, grant_rol

pytestmark = pytest.mark.django_db

PAGES = [None, "1", "2", "3", "4", "99", "0", "-1", "abc", "2.0", "", 2, 2.5]


@pytest.fixture
def organisation_of_23():
    beheerder = beheerder_create("vo")
    organisatie = beheerder.organisatie
    rol = Rol.objects.order_by("code").first()
    kenmerk = KenmerkFactory(organisatie=organisatie)
    accounts = [AccountFactory(organisatie=organisatie, name=f"Gebruiker {i:02d}") for i in range(23)]
    for account in accounts[::2]:
        grant_rol(account, rol.code, kenmerk)
    for account in accounts[::3]:
        KoppelingFactory(account=account)
    for account in accounts[5:21:3]:  # six blocked, some linked, some with the rol
        KoppelAttemptCounter.objects.create(
            key=f"u:{account.username}", blocked_until="2999-01-01T00:00:00Z", failures=5
        )
    return beheerder, rol, kenmerk


def counted_separately(monkeypatch, **kwargs):
    with monkeypatch.context() as patched:
        patched.setattr(selectors, "_filters_every_row", lambda filters: False)
        return accounts_list_page_for_beheerder(**kwargs)


@pytest.mark.parametrize("sort", ["name", "status", "last_login", "username"])
def test_a_filtered_page_is_the_page_the_separate_count_gives(organisation_of_23, monkeypatch, sort):
    beheerder, rol, kenmerk = organisation_of_23
    for filters in [
        ListFilter(status=GebruikerStatus.AANGEMELD, sort=sort),
        ListFilter(status=GebruikerStatus.GEKOPPELD, sort=sort, descending=True),
        ListFilter(rol=rol, sort=sort),
        ListFilter(rol=rol, kenmerk=kenmerk, status=GebruikerStatus.AANGEMELD, sort=sort),
        ListFilter(kenmerk=kenmerk, search="Gebruiker 1", sort=sort),
        ListFilter(status=GebruikerStatus.VERWIJDERD, sort=sort),  # none: an empty list
    ]:
        for page_number in PAGES:
            kwargs = {"beheerder": beheerder, "filters": filters, "page_number": page_number, "per_page": 4}
            page, rows = accounts_list_page_for_beheerder(**kwargs)
            expected_page, expected_rows = counted_separately(monkeypatch, **kwargs)
            assert (page.number, page.paginator.count, page.paginator.num_pages) == (
                expected_page.number,
                expected_page.paginator.count,
                expected_page.paginator.num_pages,
            ), (filters, page_number)
            assert [row.pk for row in rows] == [row.pk for row in expected_rows], (filters, page_number)
            assert [row.status for row in rows] == [row.status for row in expected_rows]


def test_a_filtered_page_within_the_list_is_one_statement_less(organisation_of_23, monkeypatch):
    beheerder, rol, kenmerk = organisation_of_23
    kwargs = {"beheerder": beheerder, "filters": ListFilter(rol=rol, sort="last_login"), "page_number": "2"}
    with CaptureQueriesContext(connection) as counted:
        accounts_list_page_for_beheerder(per_page=4, **kwargs)
    with CaptureQueriesContext(connection) as separate:
        counted_separately(monkeypatch, per_page=4, **kwargs)
    assert len(counted) == len(separate) - 1
    assert not any("COUNT(*) AS" in query["sql"] for query in counted.captured_queries)


def ranked_whole(monkeypatch, **kwargs):
    with monkeypatch.context() as patched:
        patched.setattr(selectors, "_status_sort_first_bucket", lambda *args, **kwargs: None)
        return accounts_list_page_for_beheerder(**kwargs)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("per_page", [2, 4, 25])
def test_a_status_sorted_page_is_the_page_the_ranked_list_gives(
    organisation_of_23, monkeypatch, descending, per_page
):
    beheerder, rol, kenmerk = organisation_of_23
    for filters in [
        ListFilter(sort="status", descending=descending),
        ListFilter(rol=rol, sort="status", descending=descending),
        ListFilter(rol=rol, kenmerk=kenmerk, sort="status", descending=descending),
        ListFilter(search="Gebruiker 1", sort="status", descending=descending),
        ListFilter(search="niemand", sort="status", descending=descending),
    ]:
        for page_number in PAGES:
            kwargs = {"beheerder": beheerder, "filters": filters, "page_number": page_number}
            page, rows = accounts_list_page_for_beheerder(per_page=per_page, **kwargs)
            expected_page, expected_rows = ranked_whole(monkeypatch, per_page=per_page, **kwargs)
            assert (page.number, page.paginator.count) == (
                expected_page.number,
                expected_page.paginator.count,
            ), (filters, page_number)
            assert [(row.pk, row.status) for row in rows] == [
                (row.pk, row.status) for row in expected_rows
            ], (filters, page_number)


@pytest.mark.parametrize("descending", [False, True])
def test_the_first_page_by_status_is_read_without_ranking_every_user(
    organisation_of_23, monkeypatch, descending
):
    beheerder, rol, _kenmerk = organisation_of_23
    kwargs = {"beheerder": beheerder, "filters": ListFilter(sort="status", descending=descending)}
    with CaptureQueriesContext(connection) as shortcut:
        _page, rows = accounts_list_page_for_beheerder(per_page=4, **kwargs)
    expected = GebruikerStatus.GEBLOKKEERD if descending else GebruikerStatus.AANGEMELD
    assert [row.status for row in rows] == [expected] * 4
    assert not any("CASE WHEN" in query["sql"] for query in shortcut.captured_queries)
    with CaptureQueriesContext(connection) as ranked:
        ranked_whole(monkeypatch, per_page=4, **kwargs)
    assert any("CASE WHEN" in query["sql"] for query in ranked.captured_queries)


@pytest.mark.parametrize(
    "query",
    ["?status=geblokkeerd", "?status=verwijderd&sort=status", "?q=niemand", "?q=niemand&sort=-status"],
)
def test_a_list_without_matches_says_so(beheer_client, query):
    """An empty page is falsy in a template: the count and "no users found" were both left out, so a
    filter without matches showed an empty area and said nothing (found walking make run)."""
    response = beheer_client.get("/beheer/" + query, HTTP_ACCEPT_LANGUAGE="nl")
    assert response.status_code == 200
    text = response.content.decode()
    assert re.search(r'role="status">\s*0 gebruikers\s*</p>', text), query
    assert "Geen gebruikers gevonden." in text
