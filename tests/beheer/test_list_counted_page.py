"""A filtered user list counts its matches in the page's own query (bench P3): the same page, the same
count and the same page choice as Django's Paginator counting separately, for every page a URL can ask.
"""

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
    KoppelAttemptCounter.objects.create(
        key=f"u:{accounts[5].username}", blocked_until="2999-01-01T00:00:00Z", failures=5
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
    kwargs = {"beheerder": beheerder, "filters": ListFilter(rol=rol, sort="status"), "page_number": "2"}
    with CaptureQueriesContext(connection) as counted:
        accounts_list_page_for_beheerder(per_page=4, **kwargs)
    with CaptureQueriesContext(connection) as separate:
        counted_separately(monkeypatch, per_page=4, **kwargs)
    assert len(counted) == len(separate) - 1
    assert not any("COUNT(*) AS" in query["sql"] for query in counted.captured_queries)
