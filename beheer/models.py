"""State that Autorisatiebeheer keeps between two requests of a beheerder."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class GebruikersUploadStatus(models.TextChoices):
    PREVIEW = "preview", _("checked, waiting for confirmation")
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("being registered")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class GebruikersUpload(models.Model):
    """A file of users to register (issue 16 item 1), kept between the preview and the confirmation.

    The parsed rows live here, not in the session cookie: they hold personal data, may run to a
    thousand rows, and must survive into the Celery task that registers them. The row is owned by
    the beheerder who uploaded it and her organisation (nobody else sees it, not even another
    beheerder of the organisation), and expires: after ``expires_at`` it is refused and purged.
    The primary key is random, so an id in a URL reveals nothing about other uploads.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    beheerder = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    organisatie = models.ForeignKey("accounts.Organisatie", on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    status = models.CharField(
        max_length=16, choices=GebruikersUploadStatus.choices, default=GebruikersUploadStatus.PREVIEW
    )
    # [{"line": 2, "name": …, "job_title": …, "email": …, "phone": …, "language": …,
    #   "roles": [[rol text, kenmerk text], …], "role_ids": [[rol pk, kenmerk pk], …], "errors": […]}, …]
    rows = models.JSONField(default=list)
    send_codes = models.BooleanField(default=False)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    # {"<line>": {"account_id": …, "username": …} or {"errors": […]}}
    results = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("user file")
        verbose_name_plural = _("user files")

    def __str__(self):
        return f"{self.filename or self.pk}"

    @property
    def valid_rows(self) -> list[dict]:
        return [row for row in self.rows if not row.get("errors")]

    @property
    def invalid_rows(self) -> list[dict]:
        return [row for row in self.rows if row.get("errors")]
