import logging

from celery import shared_task

from . import client_auth
from .logout import DeliveryError, backchannel_logout_deliver, pending_backchannel_logout_ids

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    autoretry_for=(DeliveryError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def deliver_backchannel_logout(self, delivery_id: int) -> bool:
    """Deliver one logout token; a Dienst that is down is retried with exponential backoff."""
    return backchannel_logout_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True)
def flush_backchannel_logouts() -> int:
    """Deliver logout tokens whose publication was lost or whose retries ran out (beat, every minute);
    forget the jti of expired private_key_jwt assertions."""
    client_auth.used_client_assertions_purge()  # the same minute's sweep forgets expired jtis
    delivered = 0
    for delivery_id in pending_backchannel_logout_ids():
        try:
            delivered += bool(backchannel_logout_deliver(delivery_id=delivery_id))
        except DeliveryError:
            logger.warning("Back-channel logout %s failed again; will retry on the next sweep", delivery_id)
    return delivered
