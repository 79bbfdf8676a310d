from celery import shared_task


@shared_task(acks_late=True)
def gebruikers_upload_run_task(upload_id: str) -> int:
    """Register the confirmed file ``upload_id`` (beheer.bulk.gebruikers_upload_run); runs at most once.

    A redelivery after a crash finds the file no longer queued and does nothing; the rows it had
    registered keep their results, so nothing is registered twice.
    """
    from .bulk import gebruikers_upload_run

    upload = gebruikers_upload_run(upload_id=upload_id)
    return upload.processed if upload is not None else 0


@shared_task
def gebruikers_uploads_purge_task() -> int:
    """Delete the expired files of users (personal data nobody will confirm); daily by beat."""
    from .bulk import gebruikers_uploads_purge

    return gebruikers_uploads_purge()
