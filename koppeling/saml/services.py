"""What happens after a verified eHerkenning response: find the link, log in, record it."""

from datetime import datetime

from koppeling.identity import EHerkenningIdentity
from koppeling.models import Koppeling


def koppeling_for_identity(*, identity: EHerkenningIdentity) -> Koppeling | None:
    """The active link for this (ActingSubjectID, LegalSubjectID) pair, with its account."""
    return (
        Koppeling.objects.select_related("account")
        .filter(
            acting_subject_id=identity.acting_subject_id,
            legal_subject_id=identity.legal_subject_id,
            ended_at__isnull=True,
        )
        .first()
    )


def account_may_log_in(*, account) -> bool:
    """An inactive or removed account stays closed even when its link still exists."""
    return bool(account.is_active and account.removed_at is None)


def login_record(*, koppeling: Koppeling, now: datetime) -> None:
    """Remember the login on the link: the 18-month unlinking counts from here.

    ``Account.last_login`` is set by Django's own ``user_logged_in`` handler (update_last_login).
    """
    Koppeling.objects.filter(pk=koppeling.pk).update(last_login_at=now)
    koppeling.last_login_at = now
