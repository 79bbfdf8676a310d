"""``Account.progress``: the stored part of the user list's status, kept by the database.

Each test walks a history through the real services (or through the raw writes other code does) and
reads back what the list shows (the stored value with the live active link and block), and the
stored value itself, on PostgreSQL and on SQLite alike.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.lifecycle import inactive_links_unlink
from accounts.models import Account, Progress
from beheer.constants import GebruikerStatus
from beheer.selectors import ListFilter, accounts_list_page_for_beheerder
from beheer.services import account_remove
from koppeling.models import ActivationCode, Koppeling, UnlinkReason
from koppeling.services import activation_code_issue, activation_code_send, link_create, link_undo
from tests.factories import AccountFactory, KoppelingFactory, beheerder_create
from tests.koppeling.conftest import identity_for

pytestmark = pytest.mark.django_db


def stored(account: Account) -> int:
    return Account.objects.values_list("progress", flat=True).get(pk=account.pk)


def listed(account: Account) -> GebruikerStatus:
    """The account's status in its organisation's user list, and the same by the status filter."""
    beheerder = beheerder_create(organisatie=account.organisatie)
    statuses = {
        row.status
        for row in accounts_list_page_for_beheerder(
            beheerder=beheerder, filters=ListFilter(search=account.username, status=""), per_page=100
        )[1]
        + accounts_list_page_for_beheerder(
            beheerder=beheerder,
            filters=ListFilter(search=account.username, status="verwijderd"),
            per_page=100,
        )[1]
        if row.pk == account.pk
    }
    (status,) = statuses
    by_filter = accounts_list_page_for_beheerder(
        beheerder=beheerder, filters=ListFilter(search=account.username, status=status), per_page=100
    )[1]
    assert [row.pk for row in by_filter] == [account.pk], status
    return status


def test_progress_follows_the_way_from_registration_to_a_login_and_back(beheerder):
    account = AccountFactory(organisatie=beheerder.organisatie)
    assert (stored(account), listed(account)) == (Progress.REGISTERED, GebruikerStatus.AANGEMELD)

    activation_code_send(account=account, issued_by=beheerder)
    assert (stored(account), listed(account)) == (Progress.CODE_SENT, GebruikerStatus.ACTIVATIECODE_VERSTUURD)

    link = link_create(account=account, identity=identity_for(account), ip="127.0.0.1")
    # while linked it stores what it is once the link ends
    assert (stored(account), listed(account)) == (Progress.UNLINKED, GebruikerStatus.GEKOPPELD)

    activation_code_issue(account=account)  # a code for a linked account does not unlink it
    assert listed(account) == GebruikerStatus.GEKOPPELD

    link_undo(koppeling=link, reason=UnlinkReason.LOST, actor=beheerder)
    assert (stored(account), listed(account)) == (Progress.UNLINKED, GebruikerStatus.ONTKOPPELD)

    activation_code_issue(account=account, issued_by=beheerder)
    assert (stored(account), listed(account)) == (Progress.CODE_SENT, GebruikerStatus.ACTIVATIECODE_VERSTUURD)

    account_remove(
        account=Account.objects.get(pk=account.pk),
        actor=beheerder,
        request=None,
        unlink_reason=UnlinkReason.OTHER,
        rol_reason="test",
    )
    assert (stored(account), listed(account)) == (Progress.REMOVED, GebruikerStatus.VERWIJDERD)


def test_the_set_based_18_month_unlinking_moves_the_progress(organisatie):
    now = timezone.now()
    stale = [AccountFactory(organisatie=organisatie) for _ in range(3)]
    fresh = AccountFactory(organisatie=organisatie)
    for account in stale:
        KoppelingFactory(account=account, last_login_at=now - timedelta(days=600))
    KoppelingFactory(account=fresh, last_login_at=now - timedelta(days=1))
    assert {listed(account) for account in [*stale, fresh]} == {GebruikerStatus.GEKOPPELD}

    assert inactive_links_unlink(now=now, publish=False) == 3

    assert [listed(account) for account in stale] == [GebruikerStatus.ONTKOPPELD] * 3
    assert listed(fresh) == GebruikerStatus.GEKOPPELD


def test_a_code_newer_than_the_end_of_a_link_makes_it_code_sent_when_the_link_ends(organisatie):
    """Ending a link normally writes no account; it does when a code is newer than the end."""
    now = timezone.now()
    account = AccountFactory(organisatie=organisatie)
    link = KoppelingFactory(account=account)
    ActivationCode.objects.create(account=account, code_hash="x", created_at=now, expires_at=now)
    assert listed(account) == GebruikerStatus.GEKOPPELD

    Koppeling.objects.filter(pk=link.pk).update(ended_at=now - timedelta(hours=1))
    assert listed(account) == GebruikerStatus.ACTIVATIECODE_VERSTUURD

    Koppeling.objects.filter(pk=link.pk).update(ended_at=now + timedelta(hours=1))  # an ended link edited
    assert listed(account) == GebruikerStatus.ONTKOPPELD


def test_a_stale_save_of_the_account_cannot_overwrite_the_progress(organisatie):
    """A full ``save()`` of an instance read before the link was made writes ``progress=0``."""
    account = AccountFactory(organisatie=organisatie)
    instance = Account.objects.get(pk=account.pk)
    ActivationCode.objects.create(account=account, code_hash="x", expires_at=timezone.now())
    assert stored(account) == Progress.CODE_SENT

    instance.name = "Nieuwe Naam"
    instance.save()

    assert stored(account) == Progress.CODE_SENT
    assert Account.objects.get(pk=account.pk).name == "Nieuwe Naam"


def test_a_code_older_than_the_last_unlink_does_not_count_and_a_newer_one_does(organisatie):
    now = timezone.now()
    account = AccountFactory(organisatie=organisatie)
    KoppelingFactory(account=account, ended_at=now - timedelta(days=5))
    assert stored(account) == Progress.UNLINKED
    ActivationCode.objects.create(
        account=account, code_hash="x", created_at=now - timedelta(days=6), expires_at=now
    )
    assert stored(account) == Progress.UNLINKED
    ActivationCode.objects.create(
        account=account,
        code_hash="y",
        created_at=now - timedelta(days=1),
        expires_at=now,
        invalidated_at=now,  # only one open code per account
    )
    assert stored(account) == Progress.CODE_SENT


def test_progress_is_recomputed_when_a_link_is_deleted_or_moved(organisatie):
    first, second = AccountFactory(organisatie=organisatie), AccountFactory(organisatie=organisatie)
    link = KoppelingFactory(account=first)
    Koppeling.objects.filter(pk=link.pk).update(account=second)
    assert (listed(first), listed(second)) == (GebruikerStatus.AANGEMELD, GebruikerStatus.GEKOPPELD)
    assert (stored(first), stored(second)) == (Progress.REGISTERED, Progress.UNLINKED)

    Koppeling.objects.filter(pk=link.pk).update(ended_at=timezone.now())
    Koppeling.objects.filter(pk=link.pk).update(account=first)
    assert (listed(first), listed(second)) == (GebruikerStatus.ONTKOPPELD, GebruikerStatus.AANGEMELD)

    Koppeling.objects.filter(pk=link.pk).delete()
    assert listed(first) == GebruikerStatus.AANGEMELD


def test_a_login_that_only_touches_the_link_changes_nothing(organisatie):
    account = AccountFactory(organisatie=organisatie)
    link = KoppelingFactory(account=account)
    Koppeling.objects.filter(pk=link.pk).update(last_login_at=timezone.now())
    assert (stored(account), listed(account)) == (Progress.UNLINKED, GebruikerStatus.GEKOPPELD)
