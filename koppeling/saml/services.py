"""What happens after a verified eHerkenning response: find the link, log in, record it."""

from datetime import datetime

from django.db import connection

from accounts.models import Account
from koppeling.identity import EHerkenningIdentity
from koppeling.models import Koppeling


def koppeling_for_identity(*, identity: EHerkenningIdentity) -> Koppeling | None:
    """The active link for this (ActingSubjectID, LegalSubjectID) pair, with its account.

    There is at most one (unique index uniq_active_identity), so no ORDER BY as ``first()`` adds.
    """
    found = Koppeling.objects.select_related("account").filter(
        acting_subject_id=identity.acting_subject_id,
        legal_subject_id=identity.legal_subject_id,
        ended_at__isnull=True,
    )[:1]
    return found[0] if found else None


def account_may_log_in(*, account) -> bool:
    """An inactive or removed account stays closed even when its link still exists."""
    return bool(account.is_active and account.removed_at is None)


def login_record(*, koppeling: Koppeling, now: datetime) -> None:
    """Remember an eHerkenning login on the link (the 18-month unlinking counts from here) and on the
    account (``last_login``), in one statement.

    For logins with our EHerkenningBackend, Django's update_last_login does not run (signals.py).
    """
    link_table = connection.ops.quote_name(Koppeling._meta.db_table)
    account_table = connection.ops.quote_name(Account._meta.db_table)
    moment = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH link AS (UPDATE {link_table} SET last_login_at = %s WHERE id = %s RETURNING account_id) "  # noqa: S608
            f"UPDATE {account_table} SET last_login = %s WHERE id IN (SELECT account_id FROM link)",
            [moment, koppeling.pk, moment],
        )
    koppeling.last_login_at = now
    koppeling.account.last_login = now
