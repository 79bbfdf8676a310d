"""Each assertion ID is accepted once, across all workers (design.md §4 "replay").

The unique index on UsedAssertion.assertion_id makes the check atomic: two workers racing with the
same assertion both try the INSERT and exactly one wins. Rows are kept until the assertion could no
longer be accepted anyway (its NotOnOrAfter plus clock skew), then purged.
"""

from datetime import datetime

from django.db import connection

from koppeling.models import UsedAssertion

from .checks import SamlRefusedError


def assertion_use(*, assertion_id: str, not_on_or_after: datetime, now: datetime) -> None:
    """Record ``assertion_id`` as used, or raise SamlRefusedError("replay") when it was used before."""
    if not assertion_id or len(assertion_id) > 255:
        raise SamlRefusedError("invalid_assertion_id")
    if not use_once(key=assertion_id, not_on_or_after=not_on_or_after, now=now):
        raise SamlRefusedError("replay")


def use_once(*, key: str, not_on_or_after: datetime, now: datetime) -> bool:
    """Record ``key`` as used until ``not_on_or_after``; return False when it was recorded before."""
    # One statement (no savepoint round trips): a second INSERT of the same ID waits for the first
    # transaction and then inserts nothing, so RETURNING gives no row. PostgreSQL, SQLite ≥ 3.35.
    table = connection.ops.quote_name(UsedAssertion._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (assertion_id, not_on_or_after, created_at) VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (assertion_id) DO NOTHING RETURNING id",
            [key, adapt(not_on_or_after), adapt(now)],
        )
        return cursor.fetchone() is not None


def used_assertions_purge(*, now: datetime) -> int:
    """Delete replay records whose assertions have expired; return how many were deleted."""
    deleted, _ = UsedAssertion.objects.filter(not_on_or_after__lt=now).delete()
    return deleted
