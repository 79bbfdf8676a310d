from celery import shared_task


@shared_task(acks_late=True)
def gebruikers_upload_run_task(upload_id: str) -> int:
    """Register the confirmed file ``upload_id`` (beheer.bulk.gebruikers_upload_run), one runner at a time.

    A redelivery while the first run is alive (fresh heartbeat) does nothing. A run whose worker died
    (no heartbeat for settings.GEBRUIKERS_UPLOAD_STALE_SECONDS) is taken over by the next delivery —
    the redelivery, or the one ``gebruikers_uploads_resume_task`` sends — which registers only the
    rows without a result: each chunk's rows and results commit together, so nobody twice.
    """
    from .bulk import gebruikers_upload_run

    upload = gebruikers_upload_run(upload_id=upload_id)
    return upload.processed if upload is not None else 0


@shared_task
def gebruikers_uploads_purge_task() -> int:
    """Delete the expired files of users (personal data nobody will confirm); daily by beat."""
    from .bulk import gebruikers_uploads_purge

    return gebruikers_uploads_purge()


@shared_task
def gebruikers_uploads_resume_task() -> int:
    """Hand every file whose worker stopped mid-run to a worker that continues it; every minute by beat."""
    from .bulk import gebruikers_uploads_resume

    return len(gebruikers_uploads_resume())
