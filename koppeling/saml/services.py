"""What happens after a verified eHerkenning response: find the link, log in, record it."""

from datetime import datetime

from django.db import connection, transaction

from accounts.models import Account
from koppeling.identity import EHerkenningIdentity
from koppeling.models import Koppeling
from mijnduo import rows


def koppeling_for_identity(*, identity: EHerkenningIdentity) -> Koppeling | None:
    """The active link for this (ActingSubjectID, LegalSubjectID) pair, with its account.

    There is at most one per number (unique index uniq_active_identity), and a link is made under the
    one number of the organisation that matched, so no ORDER BY as ``first()`` adds.
    The ORM's ``select_related("account").filter(…)[:1]``, with the statement written once instead
    of compiled on every login (mijnduo/rows.py; it was 7 % of the ACS, design.md §7 P1).
    """
    quote = connection.ops.quote_name
    link, account = Koppeling._meta, Account._meta

    def link_column(name: str) -> str:
        return "k." + quote(link.get_field(name).column)

    # The KvK-nummer and/or the RSIN: a link made under either number is this identity's.
    legal_ids = identity.legal_subject_ids
    numbers = ", ".join(["%s"] * len(legal_ids))

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {rows.columns(Koppeling, 'k', connection)}, {rows.columns(Account, 'a', connection)} "  # noqa: S608
            f"FROM {quote(link.db_table)} k JOIN {quote(account.db_table)} a "
            f"ON a.{quote(account.pk.column)} = {link_column('account')} "
            f"WHERE {link_column('acting_subject_id')} = %s "
            f"AND {link_column('legal_subject_id')} IN ({numbers}) "
            f"AND {link_column('ended_at')} IS NULL LIMIT 1",
            [identity.acting_subject_id, *legal_ids],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    split = rows.width(Koppeling)
    found = rows.instance(Koppeling, row[:split], connection)
    found.account = rows.instance(Account, row[split:], connection)
    return found


def account_may_log_in(*, account) -> bool:
    """An inactive or removed account stays closed even when its link still exists."""
    return bool(account.is_active and account.removed_at is None)


def login_record(*, koppeling: Koppeling, now: datetime) -> None:
    """Remember an eHerkenning login on the link (the 18-month unlinking counts from here) and on the
    account (``last_login``).

    On PostgreSQL in one statement (a data-modifying CTE: one round trip on every login, design.md
    §7 P1); other databases (SQLite in ``make run``) have no UPDATE inside WITH, and take the ORM's
    two UPDATEs. For logins with our EHerkenningBackend, Django's update_last_login does not run
    (signals.py).
    """
    if connection.vendor == "postgresql":
        link_table = connection.ops.quote_name(Koppeling._meta.db_table)
        account_table = connection.ops.quote_name(Account._meta.db_table)
        moment = connection.ops.adapt_datetimefield_value(now)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH link AS (UPDATE {link_table} SET last_login_at = %s WHERE id = %s "  # noqa: S608
                f"RETURNING account_id) UPDATE {account_table} SET last_login = %s "
                "WHERE id IN (SELECT account_id FROM link)",
                [moment, koppeling.pk, moment],
            )
    else:
        with transaction.atomic():
            if Koppeling.objects.filter(pk=koppeling.pk).update(last_login_at=now):
                Account.objects.filter(pk=koppeling.account_id).update(last_login=now)
    koppeling.last_login_at = now
    koppeling.account.last_login = now
