"""Links between eHerkenning identities and accounts, activation codes, lockout, SAML replay store."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UnlinkReason(models.TextChoices):
    LOST = "lost", _("Means lost")
    STOLEN = "stolen", _("Means stolen")
    DEFECT = "defect", _("Means broken")
    OTHER = "other", _("Other")
    INACTIVE = "inactive", _("18 months without login")
    HELPDESK = "helpdesk", _("Undone by the helpdesk")


class Koppeling(models.Model):
    """Binds one eHerkenning identity (ActingSubjectID, LegalSubjectID) to one account.

    At most one active link per identity and per account; an undone link stays as history.
    """

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="koppelingen",
        verbose_name=_("account"),
    )
    acting_subject_id = models.CharField(_("ActingSubjectID (pseudonym)"), max_length=255)
    legal_subject_id = models.CharField(_("LegalSubjectID (KvK-nummer or RSIN)"), max_length=9)
    intermediate_entity_id = models.CharField(_("intermediate entity (KvK-nummer)"), max_length=9, blank=True)
    level = models.CharField(_("assurance level at linking"), max_length=100)
    created_at = models.DateTimeField(_("linked at"), default=timezone.now)
    created_ip = models.GenericIPAddressField(_("linked from"), null=True, blank=True)
    # Indexed only for active links (active_link_last_login below), the rows the 18-month job reads.
    last_login_at = models.DateTimeField(_("last eHerkenning login"), default=timezone.now)
    inactivity_warned_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    ended_reason = models.CharField(
        _("reason undone"), max_length=16, choices=UnlinkReason.choices, blank=True
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("undone by"),
    )
    # The koppel wizard makes the user accept the gebruiksvoorwaarden (seed 002, step 4): which
    # version and when, so that a later version can be asked for again.
    terms_version = models.CharField(_("accepted terms of use version"), max_length=32, blank=True)
    terms_accepted_at = models.DateTimeField(_("terms of use accepted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("koppeling")
        verbose_name_plural = _("koppelingen")
        constraints = [
            models.UniqueConstraint(
                fields=["acting_subject_id", "legal_subject_id"],
                condition=Q(ended_at__isnull=True),
                name="uniq_active_identity",
            ),
            models.UniqueConstraint(
                fields=["account"], condition=Q(ended_at__isnull=True), name="uniq_active_account"
            ),
        ]
        indexes = [
            models.Index(
                fields=["last_login_at"], condition=Q(ended_at__isnull=True), name="active_link_last_login"
            )
        ]

    def __str__(self):
        return f"{self.account} ↔ {self.legal_subject_id}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class ActivationCode(models.Model):
    """A one-time koppel secret: only its salted hash is stored (design.md §6)."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="activation_codes"
    )
    code_hash = models.CharField(max_length=255)
    created_at = models.DateTimeField(_("issued at"), default=timezone.now)
    expires_at = models.DateTimeField(_("valid until"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    invalidated_at = models.DateTimeField(_("invalidated at"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )

    class Meta:
        verbose_name = _("activation code")
        verbose_name_plural = _("activation codes")
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(used_at__isnull=True, invalidated_at__isnull=True),
                name="uniq_open_activation_code",
            )
        ]

    def __str__(self):
        return f"{self.account} {self.created_at:%Y-%m-%d %H:%M}"


class KoppelAttemptCounter(models.Model):
    """Koppel attempts for one key: a typed username (``u:…``) or an eHerkenning identity (``i:…``).

    Every attempt is reserved here before its code is checked and counts as a failure until it
    succeeds (a success resets the row). Written only with a single atomic
    ``INSERT … ON CONFLICT … DO UPDATE … RETURNING`` (koppeling/lockout.py), never read-modify-write.
    """

    key = models.CharField(_("username or identity"), max_length=300, unique=True)
    failures = models.PositiveIntegerField(_("failed attempts"), default=0)
    window_started_at = models.DateTimeField(_("counting since"), default=timezone.now)
    blocked_until = models.DateTimeField(_("blocked until"), null=True, blank=True)
    updated_at = models.DateTimeField(_("last updated"), default=timezone.now)

    class Meta:
        verbose_name = _("koppel attempt counter")
        verbose_name_plural = _("koppel attempt counters")

    def __str__(self):
        return self.key


class UsedAssertion(models.Model):
    """Every accepted SAML assertion ID, kept until its NotOnOrAfter, so that none is accepted twice."""

    assertion_id = models.CharField(max_length=255, unique=True)
    not_on_or_after = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("used SAML assertion")
        verbose_name_plural = _("used SAML assertions")

    def __str__(self):
        return self.assertion_id


class IdpMetadata(models.Model):
    """The last good copy of the broker's metadata fetched from EHERKENNING_IDP_METADATA_URL.

    Written only by the scheduled refresh (koppeling/saml/idp_metadata.py) after the document
    passed every check; logins read it and never fetch. A failed refresh leaves ``xml`` alone and
    records the failure, which /healthz and the audit trail show.
    """

    url = models.CharField(_("metadata URL"), max_length=2000, unique=True)
    xml = models.TextField(_("metadata document"), blank=True)
    digest = models.CharField(_("SHA-256 of the document"), max_length=64, blank=True)
    entity_id = models.CharField(_("broker entity id"), max_length=1024, blank=True)
    stored_at = models.DateTimeField(_("good copy stored at"), null=True, blank=True)
    checked_at = models.DateTimeField(_("last refresh at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("last refresh failed at"), null=True, blank=True)
    failure = models.CharField(_("reason of the last failed refresh"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("broker metadata")
        verbose_name_plural = _("broker metadata")

    def __str__(self):
        return self.url
