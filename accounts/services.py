"""Writes for accounts, organisations and beheerautorisaties (rules from seed 003)."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .audit import audit_log
from .constants import AuditAction
from .coverage import rol_toekenningen_withdraw
from .models import Account, Beheerautorisatie, BeheerautorisatieToekenning, Organisatie, Rol, RolToekenning


def beheerautorisaties_validate(
    *, organisatie: Organisatie | None, beheerautorisaties: Iterable[Beheerautorisatie]
) -> None:
    """Check the prerequisites of seed 003 for a complete set of beheerautorisaties.

    RIO Algemeen and RIO Selfservice need a Beheerder PO/VO/BVE/HO beheerautorisatie and a
    bestuursnummer; RIO Opleidingseenheid needs BVE or HO and a bestuursnummer. Raises a
    ValidationError with one Dutch message per unmet prerequisite.
    """
    chosen = list(beheerautorisaties)
    if not chosen:
        return
    if organisatie is None:
        raise ValidationError(_("Only an account of an organisation can be a beheerder."))
    chosen_ids = {item.pk for item in chosen}
    errors = []
    for item in sorted(chosen, key=lambda item: item.volgorde):
        required = list(item.requires_one_of.all())
        if required and not chosen_ids.intersection(r.pk for r in required):
            errors.append(
                _("%(name)s also needs one of: %(required)s.")
                % {
                    "name": item.naam,
                    "required": ", ".join(r.naam for r in sorted(required, key=lambda r: r.volgorde)),
                }
            )
        if item.requires_bestuursnummer and not organisatie.bestuursnummer:
            errors.append(
                _("%(name)s needs a bestuursnummer; the organisation %(organisatie)s has none.")
                % {"name": item.naam, "organisatie": organisatie.naam}
            )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def beheerautorisaties_set(
    *,
    account: Account,
    beheerautorisaties: Iterable[Beheerautorisatie],
    granted_by: Account | None,
    request=None,
) -> None:
    """Make ``account``'s beheerautorisaties exactly the given set (helpdesk only), audited per change."""
    wanted = {item.pk: item for item in beheerautorisaties}
    current = {
        toekenning.beheerautorisatie_id: toekenning
        for toekenning in BeheerautorisatieToekenning.objects.select_for_update()
        .filter(account=account)
        .select_related("beheerautorisatie")
    }
    if set(wanted) == set(current):
        return  # nothing changes (e.g. a helpdesk member saving their own contact details)
    if granted_by is not None and granted_by.pk == account.pk:
        raise ValidationError(_("You cannot change your own beheerautorisaties."))
    beheerautorisaties_validate(organisatie=account.organisatie, beheerautorisaties=wanted.values())
    if granted_by is None:
        beheerautorisaties_revoked_refuse(
            account=account, beheerautorisaties=[wanted[pk] for pk in wanted if pk not in current]
        )
    for pk, toekenning in current.items():
        if pk not in wanted:
            toekenning.delete()
            account.beheerautorisatie_intrekkingen.update_or_create(
                beheerautorisatie_id=pk,
                defaults={"revoked_at": timezone.now(), "revoked_by": granted_by},
            )
            audit_log(
                action=AuditAction.BEHEERAUTORISATIE_REVOKE,
                actor=granted_by,
                obj=account,
                request=request,
                detail={"beheerautorisatie_code": toekenning.beheerautorisatie.code},
            )
    lost = [pk for pk in current if pk not in wanted]
    for pk, item in wanted.items():
        if pk not in current:
            BeheerautorisatieToekenning.objects.create(
                account=account, beheerautorisatie=item, granted_by=granted_by
            )
            # The helpdesk grants it again deliberately: an old form may carry it from now on.
            account.beheerautorisatie_intrekkingen.filter(beheerautorisatie_id=pk).delete()
            audit_log(
                action=AuditAction.BEHEERAUTORISATIE_GRANT,
                actor=granted_by,
                obj=account,
                request=request,
                detail={"beheerautorisatie_code": item.code},
            )
    if lost:
        uncovered_rollen_withdraw(
            organisatie=account.organisatie, beheerautorisatie_ids=lost, actor=granted_by, request=request
        )


def uncovered_rol_ids(*, organisatie: Organisatie, beheerautorisatie_ids, losing_ids=()) -> set[int]:
    """The rollen the beheerautorisaties ``beheerautorisatie_ids`` cover that no beheerautorisatie
    the organisation's accounts hold covers — leaving out the BeheerautorisatieToekenningen
    ``losing_ids`` (about to go: a confirmation page asks before anything changes)."""
    still_held = (
        BeheerautorisatieToekenning.objects.filter(account__organisatie=organisatie)
        .exclude(pk__in=list(losing_ids))
        .values("beheerautorisatie_id")
    )
    return set(
        Rol.objects.filter(beheerautorisaties__in=list(beheerautorisatie_ids))
        .exclude(beheerautorisaties__in=still_held)
        .values_list("pk", flat=True)
    )


def uncovered_rollen_preview(*, losing: Iterable[BeheerautorisatieToekenning]) -> list[str]:
    """For the helpdesk's confirmation page: which rollen of how many users go when the
    BeheerautorisatieToekenningen ``losing`` are revoked (per organisation, rollen by name)."""
    by_organisatie: dict[int, list[BeheerautorisatieToekenning]] = {}
    for toekenning in losing:
        organisatie_id = toekenning.account.organisatie_id
        if organisatie_id is not None:
            by_organisatie.setdefault(organisatie_id, []).append(toekenning)
    lines = []
    for items in by_organisatie.values():
        organisatie = items[0].account.organisatie
        rol_ids = uncovered_rol_ids(
            organisatie=organisatie,
            beheerautorisatie_ids={item.beheerautorisatie_id for item in items},
            losing_ids=[item.pk for item in items],
        )
        if not rol_ids:
            continue
        rows = (
            RolToekenning.objects.filter(account__organisatie=organisatie, rol_id__in=rol_ids)
            .values("rol__naam")
            .annotate(users=Count("account", distinct=True))
            .order_by("rol__naam")
        )
        for row in rows:
            count = row["users"]
            lines.append(
                ngettext(
                    "The role %(rol)s is revoked from %(count)s user of %(organisatie)s: "
                    "no beheerautorisatie of the organisation covers it any more.",
                    "The role %(rol)s is revoked from %(count)s users of %(organisatie)s: "
                    "no beheerautorisatie of the organisation covers it any more.",
                    count,
                )
                % {"rol": row["rol__naam"], "count": count, "organisatie": organisatie.naam}
            )
    return lines


def uncovered_rollen_withdraw(
    *, organisatie: Organisatie | None, beheerautorisatie_ids, actor: Account | None = None, request=None
) -> None:
    """The organisation lost the beheerautorisaties ``beheerautorisatie_ids`` (of one of its accounts):
    the rollen they covered that no beheerautorisatie of the organisation covers any more are
    revoked from its users, whoever assigned them — each assignment audited like any revoke — and
    withdrawn at the DUO services (accounts/hooks.py). Runs in the caller's transaction, so the
    beheerautorisatie and the rollen it carried go together or not at all."""
    if organisatie is None:
        return
    rol_ids = uncovered_rol_ids(organisatie=organisatie, beheerautorisatie_ids=beheerautorisatie_ids)
    if not rol_ids:
        return
    # The same set-based withdrawal as a change of the catalogue's coverage (accounts/coverage.py):
    # audited per assignment, the services told once per account, with the rollen it lost.
    rol_toekenningen_withdraw(
        toekenningen=RolToekenning.objects.filter(account__organisatie=organisatie, rol_id__in=rol_ids),
        reason_code="beheerautorisatie_revoked",
        actor=actor,
        request=request,
    )


def beheerautorisatie_revoked_message(*, intrekking) -> str:
    return _("%(name)s: revoked on %(date)s by the helpdesk; grant it again in the admin.") % {
        "name": intrekking.beheerautorisatie.naam,
        "date": date_format(timezone.localtime(intrekking.revoked_at), "d-m-Y"),
    }


def beheerautorisaties_revoked_refuse(
    *, account: Account, beheerautorisaties: Iterable[Beheerautorisatie]
) -> None:
    """Refuse to grant back, without the helpdesk, a beheerautorisatie the helpdesk revoked.

    An old registration form (a re-run import file) is no authority for a right the helpdesk took
    away since; only a new grant in the admin is. Raises a ValidationError with one message each.
    """
    wanted = [item.pk for item in beheerautorisaties]
    if not wanted or account.pk is None:
        return
    intrekkingen = account.beheerautorisatie_intrekkingen.filter(
        beheerautorisatie_id__in=wanted
    ).select_related("beheerautorisatie")
    messages = [beheerautorisatie_revoked_message(intrekking=item) for item in intrekkingen]
    if messages:
        raise ValidationError(messages, code="revoked")
