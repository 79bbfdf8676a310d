"""Organisations, accounts, the catalogue and the audit trail (design.md §2)."""

import secrets

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import validators
from .constants import KENMERK_VALIDATORS, AuditAction, AuditResult, OrganisatieType

# Capital letters and digits that cannot be mistaken for each other when read off a letter:
# no 0/O, 1/I/L, 5/S, 2/Z, 8/B.
USERNAME_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
USERNAME_LENGTH = 8


def generate_username() -> str:
    """Return a random username: never chosen by a person, never derived from a name."""
    return "".join(secrets.choice(USERNAME_ALPHABET) for _ in range(USERNAME_LENGTH))


class Organisatie(models.Model):
    type = models.CharField(_("type of organisation"), max_length=32, choices=OrganisatieType.choices)
    type_anders = models.CharField(_("other type, namely"), max_length=100, blank=True)
    naam = models.CharField(_("name"), max_length=200)
    straat = models.CharField(_("street"), max_length=200, blank=True)
    huisnummer = models.CharField(_("house number"), max_length=20, blank=True)
    postcode = models.CharField(
        _("postcode"), max_length=7, blank=True, validators=[validators.validate_postcode]
    )
    woonplaats = models.CharField(_("town"), max_length=100, blank=True)
    instellingscode = models.CharField(
        _("instellingscode (BRIN)"),
        max_length=4,
        blank=True,
        validators=[validators.validate_instellingscode],
    )
    bestuursnummer = models.CharField(
        _("bestuursnummer"), max_length=5, blank=True, validators=[validators.validate_bestuursnummer]
    )
    gemeentecode = models.CharField(
        _("gemeentecode"), max_length=4, blank=True, validators=[validators.validate_gemeentecode]
    )
    crediteurnummer = models.CharField(
        _("crediteurnummer"), max_length=10, blank=True, validators=[validators.validate_crediteurnummer]
    )
    kvk_nummer = models.CharField(
        _("KvK-nummer"), max_length=8, blank=True, validators=[validators.validate_kvk_nummer]
    )
    rsin = models.CharField(_("RSIN"), max_length=9, blank=True, validators=[validators.validate_rsin])
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["naam"]
        constraints = [
            models.UniqueConstraint(
                fields=["instellingscode"],
                condition=~models.Q(instellingscode=""),
                name="uniq_instellingscode",
            ),
            models.UniqueConstraint(
                fields=["gemeentecode"], condition=~models.Q(gemeentecode=""), name="uniq_gemeentecode"
            ),
            models.UniqueConstraint(
                fields=["crediteurnummer"],
                condition=~models.Q(crediteurnummer=""),
                name="uniq_crediteurnummer",
            ),
        ]

    def __str__(self):
        return self.naam

    @property
    def legal_subject_ids(self) -> set[str]:
        """The numbers under which this organisation's eHerkenning machtigingen may be issued."""
        return {number for number in (self.kvk_nummer, self.rsin) if number}

    def clean(self):
        super().clean()
        errors = {}
        if self.type == OrganisatieType.ONDERWIJSINSTELLING:
            if not self.instellingscode:
                errors["instellingscode"] = _("An onderwijsinstelling needs its instellingscode.")
            if not self.bestuursnummer:
                errors["bestuursnummer"] = _("An onderwijsinstelling needs the bestuursnummer of its board.")
        elif self.type == OrganisatieType.BESTUUR and not self.bestuursnummer:
            errors["bestuursnummer"] = _("A bestuur needs its bestuursnummer.")
        elif self.type == OrganisatieType.GEMEENTE and not self.gemeentecode:
            errors["gemeentecode"] = _("A gemeente needs its gemeentecode.")
        elif self.type == OrganisatieType.DEURWAARDER and not self.crediteurnummer:
            errors["crediteurnummer"] = _("A deurwaarder needs its crediteurnummer.")
        elif self.type == OrganisatieType.ANDERS and not self.type_anders:
            errors["type_anders"] = _("Say what kind of organisation this is.")
        if errors:
            raise ValidationError(errors)


class KenmerkType(models.Model):
    """A kind of selection key: instellingscode, vestigingscode, bestuursnummer, gemeentecode, …"""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    naam = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("kenmerk type")
        verbose_name_plural = _("kenmerk types")
        ordering = ["naam"]

    def __str__(self):
        return self.naam

    def validate_value(self, value: str) -> None:
        validator = KENMERK_VALIDATORS.get(self.code)
        if validator is not None:
            validator(value)


class Kenmerk(models.Model):
    """A selection key value owned by one organisation, e.g. its instellingscode 12AB."""

    organisatie = models.ForeignKey(
        Organisatie, on_delete=models.CASCADE, related_name="kenmerken", verbose_name=_("organisation")
    )
    type = models.ForeignKey(KenmerkType, on_delete=models.PROTECT, related_name="+", verbose_name=_("type"))
    waarde = models.CharField(_("value"), max_length=32)
    omschrijving = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("kenmerk")
        verbose_name_plural = _("kenmerken")
        ordering = ["type__naam", "waarde"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisatie", "type", "waarde"], name="uniq_kenmerk_per_organisatie"
            )
        ]

    def __str__(self):
        return f"{self.type.naam} {self.waarde}"

    def clean(self):
        super().clean()
        if self.type_id and self.waarde:
            try:
                self.type.validate_value(self.waarde)
            except ValidationError as error:
                raise ValidationError({"waarde": error.messages}) from error


class Rol(models.Model):
    """A named authorisation for a DUO service; shown to the user as an Onderwerp."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    naam = models.CharField(_("name"), max_length=200)
    onderwerp = models.CharField(_("Onderwerp (service)"), max_length=200)
    omschrijving = models.TextField(_("description"), blank=True)
    kenmerk_types = models.ManyToManyField(
        KenmerkType, related_name="rollen", verbose_name=_("kenmerk types it can be scoped with")
    )

    class Meta:
        verbose_name = _("rol")
        verbose_name_plural = _("rollen")
        ordering = ["naam"]

    def __str__(self):
        return self.naam


class Beheerautorisatie(models.Model):
    """One of the 14 beheerautorisaties of the registration form (seed 003)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    naam = models.CharField(_("name"), max_length=200)
    volgorde = models.PositiveSmallIntegerField(_("order"), default=0)
    rollen = models.ManyToManyField(
        Rol, related_name="beheerautorisaties", verbose_name=_("rollen it may hand out")
    )
    requires_one_of = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="+",
        verbose_name=_("requires one of these beheerautorisaties"),
    )
    requires_bestuursnummer = models.BooleanField(_("requires a bestuursnummer"), default=False)

    class Meta:
        verbose_name = _("beheerautorisatie")
        verbose_name_plural = _("beheerautorisaties")
        ordering = ["volgorde"]

    def __str__(self):
        return self.naam


class AccountManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, username=None, password=None, **fields):
        account = self.model(username=username or self.unused_username(), **fields)
        if password:
            account.set_password(password)
        else:
            account.set_unusable_password()
        account.save(using=self._db)
        return account

    def create_superuser(self, username=None, password=None, **fields):
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(username=username, password=password, **fields)

    def unused_username(self) -> str:
        # 25**8 ≈ 1.5e11 usernames: a collision is rare, and the unique index is the final guard.
        while True:
            username = generate_username()
            if not self.filter(username=username).exists():
                return username

    def get_by_natural_key(self, username):
        return self.get(username__iexact=username)


class Progress(models.IntegerChoices):
    """The user list's status of an account as it is without an active link and without the block.

    Stored on the account so the list of an organisation of 10,000 users filters and sorts by status
    on the account's own row (design.md §7 P3) instead of reading every account's codes, mails and
    undone links on each page. The database keeps it (triggers, koppeling migration 0007), because
    every write of a link, an undone link, a code, a code mail or a removal must move it, including
    the set-based unlinking (accounts.lifecycle) and rows any other code or the admin writes.

    An active link and the koppel block are read live (beheer.selectors.account_status): an account
    with an active link stores UNLINKED, what it is the moment the link ends, so that undoing a
    link, 100,000 at a time in the 18-month job, writes no account; the block ends by the clock.

    The values are the status's place in the list's status sort (beheer.selectors.STATUS_RANK); 2
    is the active link's, 4 the block's.
    """

    REGISTERED = 0, _("registered")
    CODE_SENT = 1, _("activation code sent")
    UNLINKED = 3, _("unlinked")
    REMOVED = 5, _("removed")


class Account(AbstractBaseUser, PermissionsMixin):
    """A person's account within one organisation (a person with several organisations has several)."""

    username = models.CharField(_("username"), max_length=32, unique=True, editable=False)
    organisatie = models.ForeignKey(
        Organisatie,
        on_delete=models.PROTECT,
        related_name="accounts",
        null=True,
        blank=True,
        verbose_name=_("organisation"),
        help_text=_("Empty only for helpdesk staff."),
    )
    name = models.CharField(_("name"), max_length=200)
    job_title = models.CharField(_("job title"), max_length=200, blank=True)
    phone = models.CharField(_("telephone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail address"))
    language = models.CharField(
        _("language"), max_length=8, default="nl", choices=[("nl", "Nederlands"), ("en", "English")]
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("helpdesk staff"), default=False)
    date_joined = models.DateTimeField(_("registered at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registered by"),
    )
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    progress = models.PositiveSmallIntegerField(
        _("progress"),
        choices=Progress.choices,
        default=Progress.REGISTERED,
        editable=False,
        help_text=_("Kept by the database from the account's links, activation codes and removal."),
    )
    password_change_required = models.BooleanField(
        _("must change the password at the next token login"),
        default=False,
        help_text=_("Set when the helpdesk gave a token user a temporary password."),
    )
    beheerautorisaties = models.ManyToManyField(
        Beheerautorisatie,
        through="BeheerautorisatieToekenning",
        through_fields=("account", "beheerautorisatie"),
        related_name="accounts",
        blank=True,
        verbose_name=_("beheerautorisaties"),
    )

    objects = AccountManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name", "email"]

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["name"]
        indexes = [
            models.Index(fields=["organisatie", "name"]),
            # Sorted by username, a deep page of the list (which leaves the removed out) reads this
            # index alone instead of sorting the organisation's rows (PostgreSQL: index-only scan).
            models.Index(
                fields=["organisatie", "username", "id"],
                name="account_org_username",
                condition=models.Q(removed_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.username})"

    def get_full_name(self):
        return self.name

    def get_short_name(self):
        return self.name


class BeheerautorisatieToekenning(models.Model):
    """A beheerautorisatie granted to an account; only the helpdesk grants them."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="beheerautorisatie_toekenningen"
    )
    beheerautorisatie = models.ForeignKey(
        Beheerautorisatie, on_delete=models.PROTECT, related_name="+", verbose_name=_("beheerautorisatie")
    )
    granted_by = models.ForeignKey(
        Account,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)

    class Meta:
        verbose_name = _("granted beheerautorisatie")
        verbose_name_plural = _("granted beheerautorisaties")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "beheerautorisatie"], name="uniq_beheerautorisatie_per_account"
            )
        ]

    def __str__(self):
        return f"{self.account} — {self.beheerautorisatie}"


class BeheerautorisatieIntrekking(models.Model):
    """A beheerautorisatie the helpdesk revoked from an account, kept until the helpdesk grants it again.

    The import of registration forms is idempotent: re-running an old file must not grant back what
    the helpdesk has revoked since (seed 003, "Intrekken beheeraccount"). Granting it again is a
    deliberate act in the admin, which removes this row.
    """

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="beheerautorisatie_intrekkingen"
    )
    beheerautorisatie = models.ForeignKey(
        Beheerautorisatie, on_delete=models.PROTECT, related_name="+", verbose_name=_("beheerautorisatie")
    )
    revoked_at = models.DateTimeField(_("revoked at"), default=timezone.now)
    revoked_by = models.ForeignKey(
        Account,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class Meta:
        verbose_name = _("revoked beheerautorisatie")
        verbose_name_plural = _("revoked beheerautorisaties")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "beheerautorisatie"], name="uniq_beheerautorisatie_intrekking"
            )
        ]

    def __str__(self):
        return f"{self.account} — {self.beheerautorisatie} ({self.revoked_at:%d-%m-%Y})"


class BeheerderFormulier(models.Model):
    """One processed form "Aanmelding en wijziging Mijn DUO met eHerkenning (beheerder)" (seed 003).

    Records what the form says beyond the account itself: question 2.2 (already an account?),
    question 4.1 of a withdrawal (keep using the account as user?) and who signed for the bevoegd
    gezag (part 5), so that the helpdesk can show on what authority a beheer account was granted.
    """

    class Kind(models.TextChoices):
        AANMELDING = "aanmelding", _("registration or change")
        INTREKKING = "intrekking", _("withdrawal of the beheer account")

    class Source(models.TextChoices):
        ADMIN = "admin", _("helpdesk admin")
        IMPORT = "import", _("import")

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="beheerder_formulieren", verbose_name=_("account")
    )
    kind = models.CharField(_("kind of form"), max_length=16, choices=Kind.choices, default=Kind.AANMELDING)
    has_account = models.BooleanField(_("2.2 Already has a Mijn DUO Zakelijk account"), null=True, blank=True)
    keep_as_user = models.BooleanField(_("4.1 Keeps using the account as user"), null=True, blank=True)
    signatory_name = models.CharField(_("5.1 Name of the signatory"), max_length=200, blank=True)
    signatory_job_title = models.CharField(_("5.1 Job title of the signatory"), max_length=200, blank=True)
    signatory_email = models.EmailField(_("5.1 E-mail address of the signatory"), blank=True)
    signed_place = models.CharField(_("5.1 Place of signing"), max_length=100, blank=True)
    signed_on = models.DateField(_("5.1 Date of signing"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.ADMIN)
    processed_at = models.DateTimeField(_("processed at"), default=timezone.now)
    processed_by = models.ForeignKey(
        Account,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("processed by"),
    )

    class Meta:
        verbose_name = _("beheerder registration form")
        verbose_name_plural = _("beheerder registration forms")
        ordering = ["-processed_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.account} ({self.processed_at:%d-%m-%Y})"


class RolToekenning(models.Model):
    """A role assignment: (account, rol, kenmerk)."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="rol_toekenningen", verbose_name=_("account")
    )
    rol = models.ForeignKey(Rol, on_delete=models.PROTECT, related_name="toekenningen", verbose_name=_("rol"))
    kenmerk = models.ForeignKey(
        Kenmerk,
        on_delete=models.PROTECT,
        related_name="toekenningen",
        verbose_name=_("kenmerk"),
        db_index=False,  # the (kenmerk, rol) index below serves lookups by kenmerk too
    )
    granted_by = models.ForeignKey(
        Account,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(fields=["account", "rol", "kenmerk"], name="uniq_rol_toekenning")
        ]
        # "Which roles are held in this organisation" (the user list's role filter): one probe per
        # role and kenmerk of the organisation (beheer.selectors.rollen_in_organisatie).
        indexes = [models.Index(fields=["kenmerk", "rol"], name="roltoekenning_kenmerk_rol")]

    def __str__(self):
        return f"{self.account} — {self.rol} ({self.kenmerk})"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events cannot be changed.")

    def delete(self):
        raise PermissionError("Audit events cannot be deleted.")

    def bulk_update(self, *args, **kwargs):
        raise PermissionError("Audit events cannot be changed.")


class AuditEvent(models.Model):
    """One security event. Append-only: written by ``accounts.audit.audit_log`` and never changed.

    The actor is stored as its id and a text (not a foreign key) so that no later deletion can
    rewrite history; on PostgreSQL a trigger refuses UPDATE and DELETE (migration 0003).
    """

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True, editable=False)
    action = models.CharField(_("action"), max_length=64, editable=False)
    result = models.CharField(_("result"), max_length=16, editable=False)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True, db_index=True, editable=False)
    actor_repr = models.CharField(_("actor"), max_length=255, blank=True, editable=False)
    object_type = models.CharField(_("object type"), max_length=64, blank=True, editable=False)
    object_id = models.CharField(_("object id"), max_length=64, blank=True, editable=False)
    object_repr = models.CharField(_("object"), max_length=255, blank=True, editable=False)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True, editable=False)
    request_id = models.CharField(_("request id"), max_length=64, blank=True, editable=False)
    detail = models.JSONField(_("detail"), default=dict, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit trail")
        ordering = ["-created_at", "-id"]
        default_permissions = ("add", "view")
        # Plain b-tree indexes: ``db_index=True`` on a CharField adds, on PostgreSQL, a second
        # varchar_pattern_ops index for LIKE 'x%' that no query here uses, and every audit row (the
        # 18-month job writes 100,000 at a time, design.md §7 P4) paid for it.
        indexes = [
            models.Index(fields=["action"], name="audit_action"),
            models.Index(fields=["object_id"], name="audit_object_id"),
        ]

    def __str__(self):
        # What a person reads (the admin's title and breadcrumbs): the labels, not the codes.
        labels = [self.action, self.result]
        for index, (choices, code) in enumerate(((AuditAction, self.action), (AuditResult, self.result))):
            if code in choices.values:
                labels[index] = choices(code).label
        return f"{timezone.localtime(self.created_at):%d-%m-%Y %H:%M:%S} {labels[0]} ({labels[1]})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events cannot be deleted.")


class EmailOutbox(models.Model):
    """An e-mail to send, written in the same transaction as the change that causes it.

    A request made while the Celery broker is down still commits its row here; the beat task
    ``flush_email_outbox`` picks up whatever was not sent. ``sent_at`` is set under a row lock
    right after the SMTP server accepted the message, so a retry never sends it twice.

    The row holds a template name and a non-secret context only. A mail that carries a secret
    (the activation code) gets it at send time from a hook (``accounts.email.SECRET_HOOKS``), so
    the secret exists in plain text only in the worker's memory and in the message itself.
    """

    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    to = models.EmailField(_("to"))
    template = models.CharField(_("template"), max_length=100)
    context = models.JSONField(_("context"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=8, default="nl")
    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("account")
    )
    message_id = models.CharField(_("message id"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("e-mail")
        verbose_name_plural = _("e-mail outbox")
        ordering = ["-created_at"]
        # A constraint, not ``unique=True``: the same unique index without the LIKE index that
        # ``unique=True`` adds on PostgreSQL, which nothing uses (see AuditEvent.Meta.indexes).
        constraints = [models.UniqueConstraint(fields=["message_id"], name="uniq_outbox_message_id")]

    def __str__(self):
        return f"{self.template} → {self.to}"


# --- Portal: mededelingen, Snel naar, Mijn gegevens, token planning (issue 6) ------------------


class MededelingQuerySet(models.QuerySet):
    def published(self, *, now):
        return self.filter(publish_from__lte=now).filter(
            models.Q(publish_until__isnull=True) | models.Q(publish_until__gt=now)
        )


class Mededeling(models.Model):
    """An announcement the helpdesk publishes on the overview screen (seed 002 §1.6, tile Mijn DUO).

    Each target list narrows the audience; an empty list does not narrow it. A user sees the
    mededeling when they match every non-empty list (one item of a list is enough): "PO schools'
    beheerders" is organisation type onderwijsinstelling *and* beheerautorisatie Beheerder PO.
    """

    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"))
    publish_from = models.DateTimeField(_("publish from"), default=timezone.now, db_index=True)
    publish_until = models.DateTimeField(
        _("publish until"), null=True, blank=True, help_text=_("Empty: until further notice.")
    )
    organisatie_types = models.JSONField(
        _("for organisation types"),
        default=list,
        blank=True,
        help_text=_("Empty: every organisation type."),
    )
    beheerautorisaties = models.ManyToManyField(
        Beheerautorisatie,
        blank=True,
        related_name="+",
        verbose_name=_("for holders of these beheerautorisaties"),
        help_text=_("Empty: everyone, beheerder or not."),
    )
    rollen = models.ManyToManyField(
        Rol,
        blank=True,
        related_name="+",
        verbose_name=_("for users with these rollen"),
        help_text=_("Empty: everyone, whatever their rollen."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    objects = MededelingQuerySet.as_manager()

    class Meta:
        verbose_name = _("mededeling")
        verbose_name_plural = _("mededelingen")
        ordering = ["-publish_from", "-id"]

    def __str__(self):
        return self.title

    def clean(self):
        super().clean()
        if self.publish_until and self.publish_from and self.publish_until <= self.publish_from:
            raise ValidationError({"publish_until": _("The end of publication must lie after its start.")})
        unknown = set(self.organisatie_types or []) - set(OrganisatieType.values)
        if unknown:
            raise ValidationError({"organisatie_types": _("Unknown organisation type.")})


class OnderwerpBezoek(models.Model):
    """How often an account opened an Onderwerp: feeds "Snel naar" (the account's most used services).

    One row per (account, rol), incremented with a single ``UPDATE … SET count = count + 1``.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    rol = models.ForeignKey(Rol, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(default=0)
    last_visited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("onderwerp visit count")
        verbose_name_plural = _("onderwerp visit counts")
        constraints = [models.UniqueConstraint(fields=["account", "rol"], name="uniq_onderwerp_bezoek")]

    def __str__(self):
        return f"{self.account_id}/{self.rol_id}: {self.count}"


class EmailWijziging(models.Model):
    """A requested change of e-mail address, effective only once the new address confirmed it.

    The confirmation token is random (256 bits) and only its SHA-256 is stored; it is single use
    (consumed with one conditional UPDATE) and expires. It is created at send time by an e-mail
    secret hook, so it never sits in the outbox in plain text.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="email_wijzigingen")
    new_email = models.EmailField(_("new e-mail address"))
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("e-mail address change")
        verbose_name_plural = _("e-mail address changes")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.account_id} {self.created_at:%Y-%m-%d %H:%M}"


class OverstapPlanning(models.Model):
    """Seed 001's planning table: from which date an organisation type must use eHerkenning.

    Before this date, existing users of that type may still log in with their token
    (username + password + TOTP); from this date on the token login refuses them.
    """

    organisatie_type = models.CharField(
        _("type of organisation"), max_length=32, choices=OrganisatieType.choices, unique=True
    )
    switch_date = models.DateField(
        _("switch date"), help_text=_("From this date on, the token login is refused for this sector.")
    )
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("switch planning")
        verbose_name_plural = _("switch planning per sector")
        ordering = ["switch_date", "organisatie_type"]

    def __str__(self):
        return f"{self.get_organisatie_type_display()}: {self.switch_date:%d-%m-%Y}"
