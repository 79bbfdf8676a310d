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


class GebruikersUploadFailure(models.TextChoices):
    UPLOADER_NOT_BEHEERDER = "uploader_not_beheerder", _("the uploader is no longer a beheerder")
    EXPIRED = "expired", _("stopped, and the file expired before it could continue")
    STOPPED_REPEATEDLY = "stopped_repeatedly", _("stopped too many times")


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
    # The run's lease (see beheer.bulk.gebruikers_upload_run): the runner that holds it writes
    # ``heartbeat_at`` with every chunk; a queued or running file whose heartbeat is older than
    # settings.GEBRUIKERS_UPLOAD_STALE_SECONDS has lost its worker and may be taken over, once.
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    runner = models.UUIDField(null=True, blank=True, editable=False)
    runs = models.PositiveSmallIntegerField(default=0)
    # Why a file is FAILED (GebruikersUploadFailure); blank on files failed before it existed.
    failure_code = models.CharField(max_length=32, blank=True, choices=GebruikersUploadFailure.choices)

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


# --- Access review (issue 16 item 5; BIO 9.2.5, the AVG's accountability) ------------------------


class AccessReview(models.Model):
    """One review cycle of one organisation: open until every role of its users has a decision.

    The reminder columns make each reminder stage happen once per cycle: the beat task sets them with
    a conditional UPDATE in the transaction that queues the mails, so a rerun or a second beat never
    mails twice.
    """

    organisatie = models.ForeignKey(
        "accounts.Organisatie",
        on_delete=models.CASCADE,
        related_name="access_reviews",
        verbose_name=_("organisation"),
    )
    started_at = models.DateTimeField(_("started at"))
    due_at = models.DateTimeField(_("due at"), db_index=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completed_by = models.ForeignKey(
        "accounts.Account",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("completed by"),
    )
    reminder_due_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    reminder_overdue_sent_at = models.DateTimeField(_("overdue reminder sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("access review")
        verbose_name_plural = _("access reviews")
        ordering = ["due_at", "pk"]
        permissions = [("decide_accessreview", _("Can keep the undecided roles of an overdue access review"))]
        constraints = [
            models.UniqueConstraint(
                fields=["organisatie"],
                condition=models.Q(completed_at__isnull=True),
                name="uniq_open_access_review",
            )
        ]

    def __str__(self):
        return f"{self.organisatie} {self.due_at:%Y-%m-%d}"


class AccessReviewDecision(models.Model):
    """A beheerder's decision on one role assignment within one review cycle: keep or revoke.

    The assignment is named by its id and by (account, rol, kenmerk) with copies of their names: a
    revoked assignment's row is deleted, and the decision must still say what was revoked.
    """

    class Decision(models.TextChoices):
        KEEP = "keep", _("kept")
        REVOKE = "revoke", _("revoked")

    review = models.ForeignKey(AccessReview, on_delete=models.CASCADE, related_name="decisions")
    toekenning_id = models.BigIntegerField(_("role assignment"))
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    rol = models.ForeignKey(
        "accounts.Rol", on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("rol")
    )
    kenmerk = models.ForeignKey(
        "accounts.Kenmerk", on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("kenmerk")
    )
    # Copies, so that the record still reads after the helpdesk retires a rol or kenmerk.
    rol_naam = models.CharField(_("rol"), max_length=200)
    kenmerk_waarde = models.CharField(_("kenmerk"), max_length=200)
    decision = models.CharField(_("decision"), max_length=8, choices=Decision.choices)
    decided_by = models.ForeignKey(
        "accounts.Account",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"))

    class Meta:
        verbose_name = _("access review decision")
        verbose_name_plural = _("access review decisions")
        ordering = ["decided_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["review", "toekenning_id"], name="uniq_access_review_decision")
        ]
        indexes = [models.Index(fields=["toekenning_id"], name="access_review_toekenning")]

    def __str__(self):
        return f"{self.review_id}/{self.toekenning_id}: {self.decision}"
