from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .idp_metadata import idp_metadata_refresh
from .replay import used_assertions_purge


@shared_task
def purge_used_assertions() -> int:
    """Drop replay records of expired assertions (they can no longer be replayed anyway)."""
    return used_assertions_purge(now=timezone.now())


@shared_task
def refresh_idp_metadata() -> str:
    """Fetch the broker metadata from EHERKENNING_IDP_METADATA_URL; keep the last good copy when the
    new one fails a check (idp_metadata.py). Without the URL there is nothing to do."""
    if not settings.EHERKENNING_IDP_METADATA_URL:
        return "no_url"
    result = idp_metadata_refresh()
    return "stored" if result.changed else ("unchanged" if result.ok else f"refused: {result.reason}")
