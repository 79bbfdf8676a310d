"""Issue 16 item 3: the user list filters, sorts, shows roles, hides the removed and keeps its state in the URL."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, EmailOutbox
from koppeling.models import KoppelAttemptCounter
from tests.factories import AccountFactory, KenmerkFactory, KoppelingFactory, grant_rol, kenmerk_type

pytestmark = pytest.mark.django_db

URL = "/beheer/"


def _names(response):
    return re.findall(
        r'<th scope="row"><a class="utrecht-link" href="[^"]+">([^<]+)</a>', response.content.decode()
    )


@pytest.fixture
def people(organisatie, beheerder, kenmerk):
    """One user in each status, with distinct names, logins and roles."""
    now = timezone.now()
    aangemeld = AccountFactory(organisatie=organisatie, name="Anna Aangemeld")
    code = AccountFactory(organisatie=organisatie, name="Cees Code", last_login=now - timedelta(days=3))
    EmailOutbox.objects.create(
        to=code.email, template="koppeling/email/activation_code", account=code, message_id="<c@x>"
    )
    gekoppeld = AccountFactory(
        organisatie=organisatie, name="Greet Gekoppeld", last_login=now - timedelta(days=1)
    )
    KoppelingFactory(account=gekoppeld, last_login_at=now - timedelta(days=2))
    geblokkeerd = AccountFactory(organisatie=organisatie, name="Bart Blok")
    KoppelAttemptCounter.objects.create(
        key=f"u:{geblokkeerd.username}", failures=5, blocked_until=now + timedelta(minutes=15)
    )
    verwijderd = AccountFactory(
        organisatie=organisatie, name="Vera Verwijderd", removed_at=now, is_active=False
    )
    grant_rol(gekoppeld, "osr", kenmerk)
    grant_rol(code, "examensecretaris", kenmerk)
    return {
        "aangemeld": aangemeld,
        "activatiecode_verstuurd": code,
        "gekoppeld": gekoppeld,
        "geblokkeerd": geblokkeerd,
        "verwijderd": verwijderd,
    }


def test_removed_users_are_hidden_and_not_counted(beheer_client, people):
    response = beheer_client.get(URL)
    html = response.content.decode()
    assert "Vera Verwijderd" not in _names(response)
    assert "5 gebruikers" in html  # four people and the beheerder herself


@pytest.mark.parametrize(
    "status", ["aangemeld", "activatiecode_verstuurd", "gekoppeld", "geblokkeerd", "verwijderd"]
)
def test_filter_by_status(beheer_client, people, status):
    names = _names(beheer_client.get(URL, {"status": status}))
    assert people[status].name in names
    others = [p.name for key, p in people.items() if key != status]
    assert not set(others) & set(names)


def test_filter_by_rol_and_kenmerk(beheer_client, people, organisatie, kenmerk):
    from accounts.models import Rol

    osr = Rol.objects.get(code="osr")
    assert _names(beheer_client.get(URL, {"rol": osr.pk})) == ["Greet Gekoppeld"]
    both = _names(beheer_client.get(URL, {"kenmerk": kenmerk.pk}))
    assert sorted(both) == ["Cees Code", "Greet Gekoppeld"]
    other = KenmerkFactory(organisatie=organisatie, type=kenmerk_type("instellingscode"), waarde="99ZZ")
    assert _names(beheer_client.get(URL, {"rol": osr.pk, "kenmerk": other.pk})) == []


def test_a_kenmerk_or_rol_of_another_organisation_or_an_unknown_filter_is_a_dutch_400(
    beheer_client, people, other_kenmerk
):
    for params in [
        {"kenmerk": other_kenmerk.pk},
        {"status": "bestaat-niet"},
        {"sort": "password"},
        {"per_page": 7},
    ]:
        response = beheer_client.get(URL, params)
        assert response.status_code == 400, params
        assert "Verbeter het volgende" in response.content.decode()


def test_sort_by_name_username_status_and_last_login(beheer_client, people, beheerder):
    by_name = _names(beheer_client.get(URL))
    assert by_name == sorted(by_name)
    assert _names(beheer_client.get(URL, {"sort": "-name"})) == sorted(by_name, reverse=True)
    accounts = Account.objects.filter(removed_at__isnull=True, organisatie=beheerder.organisatie)
    by_username = [a.name for a in accounts.order_by("username")]
    assert _names(beheer_client.get(URL, {"sort": "username"})) == by_username
    by_status = _names(beheer_client.get(URL, {"sort": "status"}))
    assert (
        by_status.index("Anna Aangemeld") < by_status.index("Cees Code") < by_status.index("Greet Gekoppeld")
    )
    assert by_status.index("Greet Gekoppeld") < by_status.index("Bart Blok")
    # force_login just set the beheerder's own last login; never logged in: last, either way
    by_login = _names(beheer_client.get(URL, {"sort": "-last_login"}))
    assert by_login[:3] == ["Bea Beheer", "Greet Gekoppeld", "Cees Code"]
    by_login = _names(beheer_client.get(URL, {"sort": "last_login"}))
    assert by_login[:3] == ["Cees Code", "Greet Gekoppeld", "Bea Beheer"]


def test_sorted_header_has_aria_sort_and_links_keep_the_filters(beheer_client, people):
    html = beheer_client.get(URL, {"sort": "-name", "status": "gekoppeld", "q": "Greet"}).content.decode()
    assert 'aria-sort="descending"' in html
    assert html.count("aria-sort=") == 1
    assert "<caption>" in html
    header = re.search(r'<th scope="col" aria-sort="descending"><a class="utrecht-link" href="([^"]+)"', html)
    link = header.group(1).replace("&amp;", "&")
    assert "sort=name" in link and "status=gekoppeld" in link and "q=Greet" in link
    for field in ("id_q", "id_status", "id_rol", "id_kenmerk", "id_per_page"):
        assert f'for="{field}"' in html


def test_roles_column(beheer_client, people, kenmerk):
    html = beheer_client.get(URL, {"q": "Greet"}).content.decode()
    assert f"OSR ({kenmerk.waarde})" in html or f"({kenmerk.waarde})" in html


def test_page_size_and_page_numbers_keep_the_state(beheer_client, organisatie):
    AccountFactory.create_batch(120, organisatie=organisatie, job_title="Docent")
    assert len(_names(beheer_client.get(URL))) == 25
    assert len(_names(beheer_client.get(URL, {"per_page": 50}))) == 50
    response = beheer_client.get(URL, {"per_page": 100, "sort": "-name"})
    assert len(_names(response)) == 100
    html = beheer_client.get(URL, {"per_page": 25, "status": "aangemeld"}).content.decode()
    assert 'aria-current="page"' in html
    pages = re.findall(r'href="\?([^"]*page=(\d+)[^"]*)"', html)
    numbers = {int(number) for _, number in pages}
    assert {1, 2, 3, 5} <= numbers  # 121 users, 25 a page: numbers, not only previous/next
    assert all("status=aangemeld" in query and "per_page=25" in query for query, _ in pages)
    last = _names(beheer_client.get(URL, {"per_page": 25, "page": 5}))
    assert len(last) == 21


def test_query_count_does_not_grow_with_users_and_roles(beheer_client, organisatie, kenmerk):
    def count(params):
        with CaptureQueriesContext(connection) as queries:
            assert beheer_client.get(URL, params).status_code == 200
        return len(queries)

    def users_with_links_and_roles(number):
        for account in AccountFactory.create_batch(number, organisatie=organisatie):
            KoppelingFactory(account=account)
            grant_rol(account, "osr", kenmerk)
            grant_rol(account, "examensecretaris", kenmerk)

    users_with_links_and_roles(2)
    beheer_client.get(URL)
    cases = [
        {},
        {"status": "gekoppeld"},
        {"sort": "-last_login", "per_page": 100},
        {"sort": "status", "kenmerk": kenmerk.pk},
    ]
    few = [count(params) for params in cases]
    users_with_links_and_roles(120)
    many = [count(params) for params in cases]
    assert few == many


def test_other_organisations_users_never_appear(beheer_client, people, other_gebruiker):
    for params in [{}, {"status": "aangemeld"}, {"status": "verwijderd"}, {"sort": "status"}]:
        assert other_gebruiker.name not in beheer_client.get(URL, params).content.decode()


def test_list_needs_a_beheerautorisatie(client, organisatie):
    client.force_login(AccountFactory(organisatie=organisatie))
    assert client.get(URL, {"status": "gekoppeld"}).status_code == 403


def _status_from_history(account, blocked_keys):
    """The status rule as the list documents it, applied to an account's annotated history."""
    from beheer.constants import GebruikerStatus

    if account.removed_at is not None:
        return GebruikerStatus.VERWIJDERD
    if f"u:{account.username}" in blocked_keys:
        return GebruikerStatus.GEBLOKKEERD
    if account.is_linked:
        return GebruikerStatus.GEKOPPELD
    code_at = max(filter(None, [account.last_code_mail_at, account.last_code_at]), default=None)
    if code_at is not None and (account.last_unlinked_at is None or code_at > account.last_unlinked_at):
        return GebruikerStatus.ACTIVATIECODE_VERSTUURD
    if account.last_unlinked_at is not None:
        return GebruikerStatus.ONTKOPPELD
    return GebruikerStatus.AANGEMELD


def test_status_filter_and_sort_agree_with_the_status_column_for_every_history(organisatie, beheerder):
    """The SQL rule (filter, sort) and the Python rule (the column) give every account the same status.

    Every combination of removed, blocked, active link, an earlier link that ended, and code mails and
    codes before or after that end.
    """
    from itertools import product

    from beheer.constants import ACTIVATION_CODE_EMAIL_TEMPLATE
    from beheer.selectors import (
        STATUS_RANK,
        ListFilter,
        accounts_for_beheerder,
        accounts_list_page_for_beheerder,
        accounts_with_status,
    )
    from koppeling.models import ActivationCode
    from tests.factories import OrganisatieFactory

    now = timezone.now()
    ended_at = now - timedelta(days=5)
    moments = [None, now - timedelta(days=10), now - timedelta(days=1)]
    other = OrganisatieFactory()
    for number, (removed, blocked, linked, unlinked, mail_at, code_at) in enumerate(
        product([False, True], [False, True], [False, True], [False, True], moments, moments)
    ):
        for owner in (organisatie, other):
            account = AccountFactory(
                organisatie=owner,
                name=f"Combinatie {number:03d}",
                removed_at=now if removed else None,
                is_active=not removed,
            )
            if owner == other:
                continue
            if blocked:
                KoppelAttemptCounter.objects.create(
                    key=f"u:{account.username}", failures=5, blocked_until=now + timedelta(minutes=15)
                )
            if unlinked:
                KoppelingFactory(account=account, ended_at=ended_at)
            if linked:
                KoppelingFactory(account=account)
            if mail_at:
                EmailOutbox.objects.create(
                    to=account.email,
                    template=ACTIVATION_CODE_EMAIL_TEMPLATE,
                    account=account,
                    message_id=f"<combi-{number}@x>",
                    created_at=mail_at,
                )
            if code_at:
                ActivationCode.objects.create(
                    account=account, code_hash="x", created_at=code_at, expires_at=code_at + timedelta(days=1)
                )
    # another organisation's users, all linked: never in this list, whatever the filter
    for account in Account.objects.filter(organisatie=other):
        KoppelingFactory(account=account)

    def listed(**filters):
        page, rows = accounts_list_page_for_beheerder(
            beheerder=beheerder, filters=ListFilter(**filters), per_page=1000, now=now
        )
        return rows

    everyone = listed(status="verwijderd") + listed()
    by_status = {}
    for account in accounts_with_status(accounts=everyone):
        by_status.setdefault(account.status, set()).add(account.pk)
    assert len(by_status) == 6, sorted(by_status)
    # The column reads the stored progress the database keeps; it must be the rule applied to the
    # history itself (the annotations of accounts_for_beheerder: links, codes, code mails).
    blocked = set(KoppelAttemptCounter.objects.filter(blocked_until__gt=now).values_list("key", flat=True))
    history = accounts_for_beheerder(beheerder=beheerder).in_bulk([account.pk for account in everyone])
    for account in everyone:
        assert account.status == _status_from_history(history[account.pk], blocked), account.name
    for status, pks in by_status.items():
        assert {account.pk for account in listed(status=status)} == pks, status

    ranks = [STATUS_RANK[account.status] for account in listed(sort="status")]
    assert ranks == sorted(ranks) and len(ranks) == len(everyone) - len(by_status["verwijderd"])
    ranks = [STATUS_RANK[account.status] for account in listed(sort="status", descending=True)]
    assert ranks == sorted(ranks, reverse=True)


def test_every_value_in_the_rows_is_escaped(beheer_client, organisatie, beheerder, kenmerk):
    """Names, e-mail addresses and role texts come from beheerders and the catalogue: never markup."""
    from accounts.models import Rol

    hostile = '<img src=x onerror="alert(1)">'
    account = AccountFactory(organisatie=organisatie, name=f"Piet {hostile} & 't Hart", email='a"b@x.example')
    rol = Rol.objects.get(code="osr")
    Rol.objects.filter(pk=rol.pk).update(naam=f"Rol {hostile}")
    grant_rol(account, "osr", kenmerk)
    KoppelingFactory(account=account)

    for query in ({}, {"sort": "status"}, {"per_page": 100}):
        page = beheer_client.get(URL, query).content.decode()
        assert hostile not in page
        assert "Piet &lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#x27;t Hart" in page
        assert "a&quot;b@x.example" in page
        assert "Rol &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
        assert f'<a class="utrecht-link" href="/beheer/gebruikers/{account.pk}/">Piet &lt;img' in page
