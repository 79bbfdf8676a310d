"""Each assertion ID is accepted once, across all workers (design.md §4 "replay").

The unique index on UsedAssertion.assertion_id makes the check atomic: two workers racing with the
same assertion both try the INSERT and exactly one wins. Rows are kept until the assertion could no
longer be accepted anyway (its NotOnOrAfter plus clock skew), then purged.
"""

from datetime import datetime

from django.db import IntegrityError, transaction

from koppeling.models import UsedAssertion

from .checks import SamlRefusedError


def assertion_use(*, assertion_id: str, not_on_or_after: datetime, now: datetime) -> None:
    """Record ``assertion_id`` as used, or raise SamlRefusedError("replay") when it was used before."""
    if not assertion_id or len(assertion_id) > 255:
        raise SamlRefusedError("invalid_assertion_id")
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(
                assertion_id=assertion_id, not_on_or_after=not_on_or_after, created_at=now
            )
    except IntegrityError as error:
        raise SamlRefusedError("replay") from error


def used_assertions_purge(*, now: datetime) -> int:
    """Delete replay records whose assertions have expired; return how many were deleted."""
    deleted, _ = UsedAssertion.objects.filter(not_on_or_after__lt=now).delete()
    return deleted
