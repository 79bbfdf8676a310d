from celery import shared_task
from django.utils import timezone

from .replay import used_assertions_purge


@shared_task
def purge_used_assertions() -> int:
    """Drop replay records of expired assertions (they can no longer be replayed anyway)."""
    return used_assertions_purge(now=timezone.now())
