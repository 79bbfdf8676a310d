"""Writes for Autorisatiebeheer: what a beheerder may do to the users of their own organisation.

Each service checks the rules itself, whatever the form offered: a forged POST must meet the same
refusal as a greyed-out button (design.md §6, "Authorisation"). Refusals are Dutch-readable
``ValidationError``s (business rules) or ``PermissionDenied`` (outside the beheerder's reach).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from accounts.email import email_queue
from accounts.hooks import access_withdrawn_send
from accounts.models import Account, BeheerautorisatieToekenning, EmailOutbox, Kenmerk, Rol, RolToekenning
from accounts.portal import email_changed_notice_queue
from accounts.services import beheerautorisaties_set
from koppeling import services as koppel_services
from koppeling.models import Koppeling, UnlinkReason

from .constants import BEHEERDER_UNLINK_REASONS, REGISTERED_EMAIL_TEMPLATE

EDITABLE_FIELDS = ("name", "job_title", "email", "phone", "language")


def _check_same_organisatie(*, beheerder: Account, account: Account) -> None:
    if beheerder.organisatie_id is None or account.organisatie_id != beheerder.organisatie_id:
        raise PermissionDenied(_("This user does not belong to your organisation."))


def _check_within_reach(*, beheerder: Account, account: Account) -> None:
    """Refuse to act on an account whose access is wider than the beheerder's own.

    Changing a user's e-mail address, sending them a code or undoing their link hands control of
    their account to whoever reads that address or holds that code. Allowed on another beheerder, or on a
    user holding a role the actor's beheerautorisaties do not cover, it would let a beheerder take
    over an account with more rights than their own. Those accounts are the helpdesk's.
    """
    if account.pk == beheerder.pk:
        return
    if BeheerautorisatieToekenning.objects.filter(account=account).exists():
        raise PermissionDenied(_("This user is a beheerder. Only the helpdesk can change a beheer account."))
    uncovered = RolToekenning.objects.filter(account=account).exclude(
        rol__in=Rol.objects.filter(beheerautorisaties__accounts=beheerder)
    )
    if uncovered.exists():
        raise PermissionDenied(
            _("This user holds roles that your beheerautorisaties do not cover. Ask the helpdesk.")
        )


def _check_not_removed(*, account: Account) -> None:
    if account.removed_at is not None:
        raise ValidationError(_("This user has been removed."))


def _check_email_unique(*, organisatie_id: int, email: str, exclude_pk: int | None = None) -> None:
    """One person has one account per organisation (seed 001): refuse a second one by e-mail address."""
    duplicates = Account.objects.filter(
        organisatie_id=organisatie_id, email__iexact=email, removed_at__isnull=True
    ).exclude(pk=exclude_pk)
    if duplicates.exists():
        raise ValidationError(
            {"email": _("Your organisation already has a user with this e-mail address.")}, code="duplicate"
        )


def registered_email_queue(
    *, account: Account, registered_by: Account | None, is_beheerder: bool = False
) -> EmailOutbox:
    """Queue the confirmation e-mail of seed 002 §1.1 step 2.

    It deliberately leaves the username out: the username travels on paper (the letter the
    beheerder hands over) and the activation code by e-mail, so one intercepted channel is not enough.
    """
    return email_queue(
        to=account.email,
        template=REGISTERED_EMAIL_TEMPLATE,
        language=account.language,
        account=account,
        context={
            "name": account.name,
            "organisatie": account.organisatie.naam if account.organisatie else "",
            "beheerder": registered_by.name if registered_by else "",
            "is_beheerder": is_beheerder,
        },
    )


@transaction.atomic
def gebruiker_register(
    *,
    beheerder: Account,
    name: str,
    email: str,
    job_title: str = "",
    phone: str = "",
    language: str = "nl",
    request: HttpRequest | None = None,
) -> Account:
    """Register a user in the beheerder's organisation and send the confirmation e-mail.

    The username is generated (``Account.objects.unused_username``): never chosen, never derived
    from the name, from an alphabet without look-alike characters.
    """
    if beheerder.organisatie_id is None:
        raise PermissionDenied(_("Only a beheerder of an organisation can register users."))
    email = Account.objects.normalize_email(email.strip())
    _check_email_unique(organisatie_id=beheerder.organisatie_id, email=email)
    account = Account.objects.create_user(
        organisatie=beheerder.organisatie,
        name=name.strip(),
        email=email,
        job_title=job_title.strip(),
        phone=phone.strip(),
        language=language,
        created_by=beheerder,
    )
    audit_log(action=AuditAction.ACCOUNT_CREATE, actor=beheerder, obj=account, request=request)
    registered_email_queue(account=account, registered_by=beheerder)
    return account


@transaction.atomic
def gebruiker_update(
    *, beheerder: Account, account: Account, request: HttpRequest | None = None, **fields: str
) -> Account:
    """Change a user's contact details; the audit trail records which fields changed, not their values.

    A new e-mail address takes effect at once (the beheerder vouches for it), and the old address gets
    a notice, so that a changed address never goes unnoticed by its owner.
    """
    _check_same_organisatie(beheerder=beheerder, account=account)
    _check_within_reach(beheerder=beheerder, account=account)
    _check_not_removed(account=account)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    if "email" in fields:
        fields["email"] = Account.objects.normalize_email(fields["email"].strip())
        _check_email_unique(
            organisatie_id=account.organisatie_id, email=fields["email"], exclude_pk=account.pk
        )
    changed = [name for name, value in fields.items() if getattr(account, name) != value]
    if not changed:
        return account
    old_email = account.email
    for name in changed:
        setattr(account, name, fields[name])
    account.save(update_fields=changed)
    if "email" in changed:
        email_changed_notice_queue(account=account, old_email=old_email)
    audit_log(
        action=AuditAction.ACCOUNT_UPDATE,
        actor=beheerder,
        obj=account,
        request=request,
        detail={"fields": ",".join(changed)},
    )
    return account


def rol_assign(
    *, beheerder: Account, account: Account, rol: Rol, kenmerk: Kenmerk, request: HttpRequest | None = None
) -> RolToekenning:
    """Give ``account`` the role ``rol`` scoped by ``kenmerk``.

    Only a role one of the beheerder's beheerautorisaties covers, only with a kenmerk of their own
    organisation, and only a kenmerk of a type the role can be scoped with (seed 003).
    """
    _check_same_organisatie(beheerder=beheerder, account=account)
    _check_not_removed(account=account)
    if not Rol.objects.filter(pk=rol.pk, beheerautorisaties__accounts=beheerder).exists():
        audit_log(
            action=AuditAction.ROL_GRANT,
            result=AuditResult.REFUSED,
            actor=beheerder,
            obj=account,
            request=request,
            detail={"rol_code": rol.code, "error_code": "rol_not_covered"},
        )
        raise PermissionDenied(
            _("Your beheerautorisaties do not cover the role %(rol)s.") % {"rol": rol.naam}
        )
    if kenmerk.organisatie_id != beheerder.organisatie_id:
        audit_log(
            action=AuditAction.ROL_GRANT,
            result=AuditResult.REFUSED,
            actor=beheerder,
            obj=account,
            request=request,
            detail={"rol_code": rol.code, "error_code": "kenmerk_other_organisation"},
        )
        raise PermissionDenied(_("This kenmerk does not belong to your organisation."))
    if not rol.kenmerk_types.filter(pk=kenmerk.type_id).exists():
        raise ValidationError(
            {
                "kenmerk": _("The role %(rol)s cannot be scoped with a kenmerk of type %(type)s.")
                % {"rol": rol.naam, "type": kenmerk.type.naam}
            }
        )
    # The refusals above are audited outside any transaction, so raising does not roll them back.
    try:
        with transaction.atomic():
            toekenning = RolToekenning.objects.create(
                account=account, rol=rol, kenmerk=kenmerk, granted_by=beheerder
            )
            audit_log(
                action=AuditAction.ROL_GRANT,
                actor=beheerder,
                obj=account,
                request=request,
                detail={"rol_code": rol.code, "kenmerk_code": kenmerk.type.code, "kenmerk": kenmerk.waarde},
            )
    except IntegrityError as error:
        raise ValidationError(_("This user already has this role with this kenmerk.")) from error
    return toekenning


def _pk_like(value: str) -> bool:
    """Digits only, ASCII (``"²".isdigit()`` is true, ``int("²")`` fails), and within a bigint."""
    return value.isascii() and value.isdigit() and len(value) <= 18


def rol_assign_forged_refuse(
    *,
    beheerder: Account,
    account: Account,
    rol_value: str,
    kenmerk_value: str,
    request: HttpRequest | None = None,
) -> None:
    """Audit a role POST naming a rol or kenmerk the form never offered her.

    The form refuses such a POST before ``rol_assign`` runs, so without this the attempt would
    leave no trace; every refused authorisation attempt is a security event (design.md §6).
    """
    rol = Rol.objects.filter(pk=int(rol_value)).first() if _pk_like(rol_value) else None
    kenmerk = Kenmerk.objects.filter(pk=int(kenmerk_value)).first() if _pk_like(kenmerk_value) else None
    if rol is not None and not Rol.objects.filter(pk=rol.pk, beheerautorisaties__accounts=beheerder).exists():
        error_code = "rol_not_covered"
    elif kenmerk is not None and kenmerk.organisatie_id != beheerder.organisatie_id:
        error_code = "kenmerk_other_organisation"
    else:
        error_code = "unknown_choice"
    detail = {"error_code": error_code}
    if rol is not None:
        detail["rol_code"] = rol.code
    audit_log(
        action=AuditAction.ROL_GRANT,
        result=AuditResult.REFUSED,
        actor=beheerder,
        obj=account,
        request=request,
        detail=detail,
    )


@transaction.atomic
def rol_revoke(*, beheerder: Account, toekenning: RolToekenning, request: HttpRequest | None = None) -> None:
    """Take a role away; a beheerder can only take away what they could have given."""
    account = toekenning.account
    _check_same_organisatie(beheerder=beheerder, account=account)
    if not Rol.objects.filter(pk=toekenning.rol_id, beheerautorisaties__accounts=beheerder).exists():
        raise PermissionDenied(
            _("Your beheerautorisaties do not cover the role %(rol)s.") % {"rol": toekenning.rol.naam}
        )
    detail = {"rol_code": toekenning.rol.code, "kenmerk": toekenning.kenmerk.waarde}
    toekenning.delete()
    audit_log(action=AuditAction.ROL_REVOKE, actor=beheerder, obj=account, request=request, detail=detail)


def activation_code_request(
    *, beheerder: Account, account: Account, request: HttpRequest | None = None
) -> EmailOutbox:
    """ "Activatiecode versturen": the koppel app issues the code at send time and mails it."""
    _check_same_organisatie(beheerder=beheerder, account=account)
    _check_within_reach(beheerder=beheerder, account=account)
    _check_not_removed(account=account)
    if not account.is_active:
        raise ValidationError(_("This account is not active."))
    if Koppeling.objects.filter(account=account, ended_at__isnull=True).exists():
        raise ValidationError(
            _("This user is already linked to eHerkenning. Undo the link first if the means is lost.")
        )
    return koppel_services.activation_code_send(account=account, issued_by=beheerder, request=request)


def _check_not_self_unlink(*, beheerder: Account, account: Account, request: HttpRequest | None) -> None:
    """Refuse to undo her own link: she would lock herself out of Autorisatiebeheer.

    Without a link she cannot log in, and only a beheerder or the helpdesk can send her a new code;
    a lost means of her own is reported to the helpdesk. Refused and audited, whatever the screen offered.
    """
    if account.pk != beheerder.pk:
        return
    audit_log(
        action=AuditAction.LINK_UNDO,
        result=AuditResult.REFUSED,
        actor=beheerder,
        obj=account,
        request=request,
        detail={"error_code": "own_link"},
    )
    raise ValidationError(
        _(
            "You cannot undo your own link: you would no longer be able to log in. "
            "Has your eHerkenning means been lost or stolen? Contact the helpdesk."
        )
    )


def koppeling_undo(
    *, beheerder: Account, account: Account, reason: str, request: HttpRequest | None = None
) -> Koppeling:
    """ "Koppeling ongedaan maken" (lost, stolen, defect, other): the account and its roles stay."""
    _check_same_organisatie(beheerder=beheerder, account=account)
    _check_not_self_unlink(beheerder=beheerder, account=account, request=request)
    _check_within_reach(beheerder=beheerder, account=account)
    if reason not in BEHEERDER_UNLINK_REASONS:
        raise ValidationError({"reason": _("Choose a reason.")})
    koppeling = Koppeling.objects.filter(account=account, ended_at__isnull=True).first()
    if koppeling is None:
        raise ValidationError(_("This user has no eHerkenning link."))
    koppel_services.link_undo(
        koppeling=koppeling, reason=UnlinkReason(reason), actor=beheerder, request=request
    )
    return koppeling


@transaction.atomic
def gebruiker_remove(*, beheerder: Account, account: Account, request: HttpRequest | None = None) -> None:
    """Remove a user: a status (``removed_at``, ``is_active`` off), never a deletion.

    The account row stays so the audit trail and the letters keep pointing at something. Its roles
    are revoked (each audited), so that reactivation by the helpdesk never silently restores
    access; the audit trail is the history. An active eHerkenning link is undone so the person's
    identity is free for another account. A beheerder cannot remove himself, nor another beheerder:
    beheer accounts are withdrawn by the helpdesk with the registration form (seed 003, "Intrekken").
    """
    _check_same_organisatie(beheerder=beheerder, account=account)
    if account.pk == beheerder.pk:
        raise ValidationError(_("You cannot remove yourself."))
    _check_not_removed(account=account)
    if BeheerautorisatieToekenning.objects.filter(account=account).exists():
        raise ValidationError(_("This user is a beheerder. Only the helpdesk can withdraw a beheer account."))
    _check_within_reach(beheerder=beheerder, account=account)
    account = Account.objects.select_for_update().get(pk=account.pk)
    account_remove(
        account=account,
        actor=beheerder,
        request=request,
        unlink_reason=UnlinkReason.OTHER,
        rol_reason="removed",
    )


def account_remove(
    *,
    account: Account,
    actor: Account,
    request: HttpRequest | None,
    unlink_reason: UnlinkReason,
    rol_reason: str,
    detail: dict | None = None,
) -> None:
    """Remove ``account``: a status, never a deletion (the audit trail keeps pointing at it).

    Everything that gives access goes, each audited, so that a later reactivation never silently
    restores it: the link is undone, the roles and beheerautorisaties revoked, the TOTP devices of a
    token user deleted (its tokengenerator is sent back), and the DUO services told
    (``access_withdrawn``). The one path for a beheerder's and the helpdesk's "remove" and for
    Intrekken beheeraccount without 4.1. Call inside a transaction, with the row locked.
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for koppeling in Koppeling.objects.filter(account=account, ended_at__isnull=True).select_related(
        "account"
    ):
        koppel_services.link_undo(koppeling=koppeling, reason=unlink_reason, actor=actor, request=request)
    for toekenning in RolToekenning.objects.filter(account=account).select_related("rol", "kenmerk"):
        rol_detail = {
            "rol_code": toekenning.rol.code,
            "kenmerk": toekenning.kenmerk.waarde,
            "reason": rol_reason,
        }
        toekenning.delete()
        audit_log(action=AuditAction.ROL_REVOKE, actor=actor, obj=account, request=request, detail=rol_detail)
    if BeheerautorisatieToekenning.objects.filter(account=account).exists():
        beheerautorisaties_set(account=account, beheerautorisaties=[], granted_by=actor, request=request)
    TOTPDevice.objects.filter(user=account).delete()
    account.removed_at = timezone.now()
    account.is_active = False
    account.save(update_fields=["removed_at", "is_active"])
    access_withdrawn_send(account_ids=[account.pk], reason="removed")
    audit_log(
        action=AuditAction.ACCOUNT_REMOVE, actor=actor, obj=account, request=request, detail=detail or {}
    )
