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
