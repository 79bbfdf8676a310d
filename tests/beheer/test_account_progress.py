"""``Account.progress``: the stored status the user list filters and sorts by, kept by the database.

Each test walks a history through the real services (or through the raw writes other code does) and
reads the stored value back from the database, on PostgreSQL and on SQLite alike.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.lifecycle import inactive_links_unlink
from accounts.models import Account, Progress
from beheer.services import account_remove
from koppeling.models import ActivationCode, Koppeling, UnlinkReason
from koppeling.services import activation_code_issue, activation_code_send, link_create, link_undo
from tests.factories import AccountFactory, KoppelingFactory
from tests.koppeling.conftest import identity_for

pytestmark = pytest.mark.django_db


def stored(account: Account) -> int:
    return Account.objects.values_list("progress", flat=True).get(pk=account.pk)


def test_progress_follows_the_way_from_registration_to_a_login_and_back(beheerder):
    account = AccountFactory(organisatie=beheerder.organisatie)
    assert stored(account) == Progress.REGISTERED

    activation_code_send(account=account, issued_by=beheerder)
    assert stored(account) == Progress.CODE_SENT

    link = link_create(account=account, identity=identity_for(account), ip="127.0.0.1")
    assert stored(account) == Progress.LINKED

    activation_code_issue(account=account)  # a code for a linked account does not unlink it
    assert stored(account) == Progress.LINKED

    link_undo(koppeling=link, reason=UnlinkReason.LOST, actor=beheerder)
    assert stored(account) == Progress.UNLINKED

    activation_code_issue(account=account, issued_by=beheerder)
    assert stored(account) == Progress.CODE_SENT

    account_remove(
        account=Account.objects.get(pk=account.pk),
        actor=beheerder,
        request=None,
        unlink_reason=UnlinkReason.OTHER,
        rol_reason="test",
    )
    assert stored(account) == Progress.REMOVED


def test_the_set_based_18_month_unlinking_moves_the_progress(organisatie):
    now = timezone.now()
    stale = [AccountFactory(organisatie=organisatie) for _ in range(3)]
    fresh = AccountFactory(organisatie=organisatie)
    for account in stale:
        KoppelingFactory(account=account, last_login_at=now - timedelta(days=600))
    KoppelingFactory(account=fresh, last_login_at=now - timedelta(days=1))
    assert {stored(account) for account in [*stale, fresh]} == {Progress.LINKED}

    assert inactive_links_unlink(now=now, publish=False) == 3

    assert [stored(account) for account in stale] == [Progress.UNLINKED] * 3
    assert stored(fresh) == Progress.LINKED


def test_a_stale_save_of_the_account_cannot_overwrite_the_progress(organisatie):
    """A full ``save()`` of an instance read before the link was made writes ``progress=0``."""
    account = AccountFactory(organisatie=organisatie)
    instance = Account.objects.get(pk=account.pk)
    KoppelingFactory(account=account)
    assert stored(account) == Progress.LINKED

    instance.name = "Nieuwe Naam"
    instance.save()

    assert stored(account) == Progress.LINKED
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
    assert (stored(first), stored(second)) == (Progress.REGISTERED, Progress.LINKED)

    Koppeling.objects.filter(pk=link.pk).delete()
    assert stored(second) == Progress.REGISTERED


def test_a_login_that_only_touches_the_link_changes_nothing(organisatie):
    account = AccountFactory(organisatie=organisatie)
    link = KoppelingFactory(account=account)
    Koppeling.objects.filter(pk=link.pk).update(last_login_at=timezone.now())
    assert stored(account) == Progress.LINKED
