"""Expired files of users are deleted by a daily beat task, not only when someone uploads the next file
(security review: personal data nobody will confirm)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from beheer.models import GebruikersUpload
from beheer.tasks import gebruikers_uploads_purge_task
from tests.beheer.test_bulk_register import _csv, _row, _upload, _upload_id

pytestmark = pytest.mark.django_db


def test_the_beat_task_deletes_expired_uploads_and_keeps_valid_ones(beheer_client, kenmerk):
    old_id = _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde))))
    fresh_id = _upload_id(_upload(beheer_client, _csv(_row(2, kenmerk.waarde))))
    GebruikersUpload.objects.filter(pk=old_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert gebruikers_uploads_purge_task.apply().get() >= 1
    assert not GebruikersUpload.objects.filter(pk=old_id).exists()
    assert GebruikersUpload.objects.filter(pk=fresh_id).exists()


def test_the_purge_is_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-gebruikers-uploads"]
    assert entry["task"] == gebruikers_uploads_purge_task.name
