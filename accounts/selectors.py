"""Reads for the user's portal: overview screen, Onderwerp pages, token switch dates.

The overview screen is the page every user sees after each login (design.md §7 P2): its query
count must not grow with the number of roles, so each part is one query, whatever he holds.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import (
    Account,
    BeheerautorisatieToekenning,
    EmailWijziging,
    Mededeling,
    OnderwerpBezoek,
    OverstapPlanning,
    Rol,
    RolToekenning,
)

SNEL_NAAR_LIMIT = 5


@dataclass
class Overview:
    onderwerpen: list[Rol]
    snel_naar: list[Rol]
    mededelingen: list[Mededeling]
    is_beheerder: bool
    organisatie_naam: str = ""
    organisatie_type: str = ""


def onderwerpen_for_account(*, account: Account) -> list[Rol]:
    """The rollen the account holds, once each, annotated with his visit count (one query)."""
    visits = OnderwerpBezoek.objects.filter(account=account, rol=OuterRef("pk")).values("count")[:1]
    return list(
        Rol.objects.filter(Exists(RolToekenning.objects.filter(account=account, rol=OuterRef("pk"))))
        .annotate(visits=Coalesce(Subquery(visits, output_field=IntegerField()), Value(0)))
        .only("code", "naam", "onderwerp")
        .order_by("onderwerp", "naam")
    )


def mededelingen_for_account(*, account: Account, organisatie_type: str, now: datetime) -> list[Mededeling]:
    """Published mededelingen that target the account (see ``Mededeling`` for the rule); one query.

    Beheerautorisatie and rol targets are matched in SQL; the organisation-type list is a small
    JSON list on a handful of published rows, matched here (portable to SQLite as well).
    """
    through_ba = Mededeling.beheerautorisaties.through.objects
    through_rol = Mededeling.rollen.through.objects
    own_ba = BeheerautorisatieToekenning.objects.filter(account=account).values("beheerautorisatie_id")
    own_rol = RolToekenning.objects.filter(account=account).values("rol_id")
    candidates = (
        Mededeling.objects.published(now=now)
        .filter(
            ~Exists(through_ba.filter(mededeling_id=OuterRef("pk")))
            | Exists(through_ba.filter(mededeling_id=OuterRef("pk"), beheerautorisatie_id__in=own_ba))
        )
        .filter(
            ~Exists(through_rol.filter(mededeling_id=OuterRef("pk")))
            | Exists(through_rol.filter(mededeling_id=OuterRef("pk"), rol_id__in=own_rol))
        )
        .only("title", "text", "publish_from", "organisatie_types")
    )
    return [
        item
        for item in candidates
        if not item.organisatie_types or organisatie_type in item.organisatie_types
    ]


def overview_for_account(*, account: Account, now: datetime) -> Overview:
    """Everything the overview screen shows, in three queries whatever the number of roles."""
    info = (
        Account.objects.filter(pk=account.pk)
        .annotate(is_beheerder=Exists(BeheerautorisatieToekenning.objects.filter(account=OuterRef("pk"))))
        .values("organisatie__naam", "organisatie__type", "is_beheerder")
        .first()
    ) or {"organisatie__naam": "", "organisatie__type": "", "is_beheerder": False}
    onderwerpen = onderwerpen_for_account(account=account)
    snel_naar = sorted(
        (rol for rol in onderwerpen if rol.visits), key=lambda rol: (-rol.visits, rol.onderwerp)
    )[:SNEL_NAAR_LIMIT]
    mededelingen = mededelingen_for_account(
        account=account, organisatie_type=info["organisatie__type"] or "", now=now
    )
    return Overview(
        onderwerpen=onderwerpen,
        snel_naar=snel_naar,
        mededelingen=mededelingen,
        is_beheerder=bool(info["is_beheerder"]),
        organisatie_naam=info["organisatie__naam"] or "",
        organisatie_type=info["organisatie__type"] or "",
    )


def rol_toekenningen_for_onderwerp(*, account: Account, rol_code: str) -> list[RolToekenning]:
    """The account's assignments of one rol, with their kenmerken (empty: he does not hold it)."""
    return list(
        RolToekenning.objects.filter(account=account, rol__code=rol_code)
        .select_related("rol", "kenmerk__type")
        .order_by("kenmerk__type__naam", "kenmerk__waarde")
    )


def switch_date_for(*, organisatie_type: str | None) -> date | None:
    """The date from which the organisation type must use eHerkenning (None: not planned)."""
    if not organisatie_type:
        return None
    return (
        OverstapPlanning.objects.filter(organisatie_type=organisatie_type)
        .values_list("switch_date", flat=True)
        .first()
    )


def account_ever_linked(*, account: Account) -> bool:
    """Whether the account was ever linked to eHerkenning (an active or an undone link)."""
    from koppeling.models import Koppeling

    return Koppeling.objects.filter(account=account).exists()


def email_change_pending(*, account: Account, now: datetime | None = None) -> EmailWijziging | None:
    """The open, unexpired e-mail change of the account, shown on Mijn gegevens."""
    now = now or timezone.now()
    return (
        EmailWijziging.objects.filter(
            account=account, confirmed_at__isnull=True, invalidated_at__isnull=True, expires_at__gt=now
        )
        .order_by("-created_at")
        .first()
    )


def email_change_recent_count(*, account: Account, now: datetime | None = None) -> int:
    """How many e-mail changes the account asked for in the last 24 hours (each sends a mail)."""
    now = now or timezone.now()
    return EmailWijziging.objects.filter(account=account, created_at__gt=now - timedelta(hours=24)).count()
