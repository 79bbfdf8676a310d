"""Celery tasks of the access review (imported by ``BeheerConfig.ready`` so the worker knows them)."""

from celery import shared_task


@shared_task(acks_late=True)
def access_review_reminders() -> dict:
    """Daily: start review cycles and send the due and overdue reminders (each once per cycle)."""
    from .review import access_review_reminders_send

    run = access_review_reminders_send()
    return {"started": run.started, "due": run.due, "overdue": run.overdue, "completed": run.completed_empty}
