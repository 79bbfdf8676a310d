import logging
from smtplib import SMTPException

from celery import shared_task

from .email import email_send, pending_outbox_ids

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    autoretry_for=(SMTPException, OSError, TimeoutError),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def send_email(self, outbox_id: int) -> bool:
    """Send one outbox mail; SMTP and network errors are retried with exponential backoff."""
    return email_send(outbox_id=outbox_id)


@shared_task(acks_late=True)
def flush_email_outbox() -> int:
    """Send mails whose publication was lost (broker down) or whose retries ran out of the queue.

    Runs in the worker, sending directly, so it needs nothing from the broker beyond its own
    delivery. A mail sent meanwhile by a retry is skipped by ``email_send``'s row lock.
    """
    sent = 0
    for outbox_id in pending_outbox_ids():
        try:
            sent += bool(email_send(outbox_id=outbox_id))
        except Exception:  # noqa: BLE001  (recorded on the row and in the audit trail)
            logger.warning("Outbox mail %s failed again; will retry on the next sweep", outbox_id)
    return sent


@shared_task(acks_late=True)
def send_email_batch(outbox_ids: list[int]) -> int:
    """Send a chunk of outbox mails in one task (bulk jobs publish chunks, not one task per mail).

    A mail that fails stays unsent with its error recorded; the outbox sweep retries it.
    """
    sent = 0
    for outbox_id in outbox_ids:
        try:
            sent += bool(email_send(outbox_id=outbox_id))
        except Exception:  # noqa: BLE001  (recorded on the row and in the audit trail)
            logger.warning("Outbox mail %s failed; the outbox sweep will retry it", outbox_id)
    return sent


@shared_task(acks_late=True)
def unlink_inactive_links() -> dict:
    """Daily: undo links unused for 18 months and warn those at 17 months (seed 002 §1.5)."""
    from .lifecycle import inactive_links_process

    run = inactive_links_process()
    return {"unlinked": run.unlinked, "warned": run.warned}


@shared_task(acks_late=True)
def end_expired_sessions() -> dict:
    """Every minute: sessions that expired while their user was away are audited and reported to the
    DUO services (accounts/session_timeout.py)."""
    from .session_timeout import sessions_expired_sweep

    return sessions_expired_sweep()
