"""Reads for the user's portal: overview screen, Onderwerp pages, token switch dates.

The overview screen is the page every user sees after each login (design.md §7 P2): its query
count must not grow with the number of roles, so each part is one query, whatever the user holds.
"""

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from .models import (
    Account,
    BeheerautorisatieToekenning,
    EmailWijziging,
    Mededeling,
    OnderwerpBezoek,
    Organisatie,
    OverstapPlanning,
    Rol,
    RolToekenning,
)
from .text import text_links_html

SNEL_NAAR_LIMIT = 5
# How long a worker keeps the rol catalogue and the mededelingen before reading them again. A change
# made in this process is seen at once (signals.py); other workers see it within this many seconds.
SNAPSHOT_SECONDS = 30


class Snapshot:
    """A small, read-mostly query result kept per process (like Django's ContentType and Site
    caches), reloaded after ``SNAPSHOT_SECONDS`` and dropped at once by :meth:`clear`.

    The overview screen is the page every user sees after each login (design.md §7 P2). The rol
    catalogue and the published mededelingen are the same for everybody and change a few times a
    year; building their queries on every request cost more than the rest of the page.
    """

    def __init__(self, load, clock=time.monotonic):
        self._load = load
        self._clock = clock
        self._value = None
        self._loaded_at = 0.0

    def get(self):
        now = self._clock()
        value = self._value
        if value is None or now - self._loaded_at > SNAPSHOT_SECONDS:
            value = self._load()
            self._value, self._loaded_at = value, now
        return value

    def clear(self) -> None:
        self._value = None


@dataclass(frozen=True)
class OnderwerpLink:
    """One Onderwerp on the overview: a rol the account holds, with its visit count."""

    code: str
    naam: str
    onderwerp: str
    url: str
    visits: int = 0

    @property
    def naam_note(self) -> str:
        """What the rol's name adds to its Onderwerp, shown after the link: "(OSR)" for the rol
        "Onderwijs Service Register (OSR)" of the Onderwerp "Onderwijs Service Register", never the
        Onderwerp twice; the whole name in brackets when it says something else."""
        if self.naam == self.onderwerp:
            return ""
        if self.naam.startswith(self.onderwerp):
            rest = self.naam[len(self.onderwerp) :].strip()
            return rest if rest.startswith("(") and rest.endswith(")") else f"({rest})"
        return f"({self.naam})"


@dataclass(frozen=True)
class PublishedMededeling:
    """A mededeling with its audience (see ``Mededeling``), matched in Python against one account."""

    title: str
    text: str
    publish_from: datetime
    publish_until: datetime | None
    organisatie_types: frozenset[str]
    beheerautorisatie_ids: frozenset[int]
    rol_ids: frozenset[int]
    # The text as HTML paragraphs with its web addresses as links, made once when the snapshot loads.
    text_html: str = ""

    # Django's date formatting took a third of the overview's rendering (three dates a mededeling
    # each formatted anew on every request); these give the same text from a per-process cache.
    @property
    def publish_from_iso(self) -> str:
        return _moment_format(self.publish_from, "c", timezone.get_current_timezone(), "")

    @property
    def publish_from_label(self) -> str:
        zone, language = timezone.get_current_timezone(), translation.get_language()
        return _moment_format(self.publish_from, "j F Y", zone, language)

    def shown_to(
        self, *, organisatie_type: str, beheerautorisatie_ids: set[int], rol_ids: set[int], now
    ) -> bool:
        if self.publish_from > now or (self.publish_until is not None and self.publish_until <= now):
            return False
        if self.organisatie_types and organisatie_type not in self.organisatie_types:
            return False
        if self.beheerautorisatie_ids and not self.beheerautorisatie_ids & beheerautorisatie_ids:
            return False
        return not self.rol_ids or bool(self.rol_ids & rol_ids)


@functools.lru_cache(maxsize=1024)
def _moment_format(moment: datetime, pattern: str, zone: tzinfo, language: str) -> str:
    """``moment|date:pattern`` as a template shows it (in time zone ``zone`` and ``language``)."""
    local = timezone.localtime(moment, zone)
    if not language:
        return date_format(local, pattern)
    with translation.override(language):
        return date_format(local, pattern)


# An app that hands the user on from an Onderwerp (diensten: the launch URL of the Dienst that serves
# the rol) registers a function returning a query expression on Rol: the URL the Onderwerp opens, or
# NULL/empty for the Onderwerp page. An expression rather than a second query, so the catalogue stays
# one query; a hook rather than an import, because accounts does not depend on the apps built on it.
_onderwerp_url_expressions: list[Callable[[], Any]] = []


def onderwerp_url_register(expression: Callable[[], Any]) -> None:
    """Let an Onderwerp open another URL than its page (see ``_onderwerp_url_expressions``)."""
    if expression not in _onderwerp_url_expressions:
        _onderwerp_url_expressions.append(expression)
    rollen_snapshot.clear()


def _rollen_load() -> dict[int, tuple[str, str, str, str]]:
    """The rol catalogue: code, naam, Onderwerp and the URL it opens (the Onderwerp page, reversed
    once, unless a registered app gives another)."""
    rollen = Rol.objects.all()
    for index, expression in enumerate(_onderwerp_url_expressions):
        rollen = rollen.annotate(**{f"_url_{index}": expression()})
    url_fields = [f"_url_{index}" for index in range(len(_onderwerp_url_expressions))]
    catalogue = {}
    rows = rollen.values_list("pk", "code", "naam", "onderwerp", *url_fields)
    for pk, code, naam, onderwerp, *urls in rows:
        url = next((url for url in urls if url), None) or reverse("onderwerp", args=[code])
        catalogue[pk] = (code, naam, onderwerp, url)
    return catalogue


def _mededelingen_load() -> list[PublishedMededeling]:
    """Mededelingen that are or will be published (the window is checked per request)."""
    now = timezone.now()
    rows = list(
        Mededeling.objects.filter(Q(publish_until__isnull=True) | Q(publish_until__gt=now)).values_list(
            "pk", "title", "text", "publish_from", "publish_until", "organisatie_types"
        )
    )
    ids = [row[0] for row in rows]
    targets_ba: dict[int, set[int]] = {}
    for mededeling_id, target in Mededeling.beheerautorisaties.through.objects.filter(
        mededeling_id__in=ids
    ).values_list("mededeling_id", "beheerautorisatie_id"):
        targets_ba.setdefault(mededeling_id, set()).add(target)
    targets_rol: dict[int, set[int]] = {}
    for mededeling_id, target in Mededeling.rollen.through.objects.filter(mededeling_id__in=ids).values_list(
        "mededeling_id", "rol_id"
    ):
        targets_rol.setdefault(mededeling_id, set()).add(target)
    return [
        PublishedMededeling(
            title=title,
            text=text,
            publish_from=publish_from,
            publish_until=publish_until,
            organisatie_types=frozenset(types or ()),
            beheerautorisatie_ids=frozenset(targets_ba.get(pk, ())),
            rol_ids=frozenset(targets_rol.get(pk, ())),
            text_html=text_links_html(text),
        )
        # Newest first, as Mededeling.Meta.ordering.
        for pk, title, text, publish_from, publish_until, types in sorted(
            rows, key=lambda row: (row[3], row[0]), reverse=True
        )
    ]


rollen_snapshot = Snapshot(_rollen_load)
mededelingen_snapshot = Snapshot(_mededelingen_load)


@dataclass(frozen=True)
class Holdings:
    """What one account holds, for the overview: its organisation, rollen, visit counts and
    beheerautorisaties."""

    rol_ids: set[int]
    visits: dict[int, int]
    beheerautorisatie_ids: set[int]
    organisatie_naam: str = ""
    organisatie_type: str = ""


def holdings_for_account(*, account: Account) -> Holdings:
    """The account's organisation (name, type), rollen, Onderwerp visit counts and
    beheerautorisaties, in one query.

    Four indexed lookups glued with UNION ALL: as SQL text, without the ORM's query compilation,
    which cost more than the database's work here (design.md §7 P2).
    """
    quote = connection.ops.quote_name
    organisatie = Organisatie._meta
    selects = [
        # First, so that the two text columns take their type from it.
        f"SELECT 0, {quote(organisatie.pk.column)}, 0, {quote(organisatie.get_field('naam').column)}, "  # noqa: S608
        f"{quote(organisatie.get_field('type').column)} FROM {quote(organisatie.db_table)} "
        f"WHERE {quote(organisatie.pk.column)} = %s"
    ]
    parts = [
        (1, RolToekenning, "rol", None),
        (2, OnderwerpBezoek, "rol", "count"),
        (3, BeheerautorisatieToekenning, "beheerautorisatie", None),
    ]
    for kind, model, target, number in parts:
        table = quote(model._meta.db_table)
        column = quote(model._meta.get_field(target).column)
        account_column = quote(model._meta.get_field("account").column)
        amount = quote(number) if number else "0"
        selects.append(
            f"SELECT {kind}, {column}, {amount}, NULL, NULL FROM {table} WHERE {account_column} = %s"  # noqa: S608
        )
    rol_ids, visits, beheerautorisatie_ids = set(), {}, set()
    naam = organisatie_type = ""
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), [account.organisatie_id, *[account.pk] * len(parts)])
        for kind, target_id, amount, text_1, text_2 in cursor.fetchall():
            if kind == 0:
                naam, organisatie_type = text_1 or "", text_2 or ""
            elif kind == 1:
                rol_ids.add(target_id)
            elif kind == 2:
                visits[target_id] = amount
            else:
                beheerautorisatie_ids.add(target_id)
    return Holdings(
        rol_ids=rol_ids,
        visits=visits,
        beheerautorisatie_ids=beheerautorisatie_ids,
        organisatie_naam=naam,
        organisatie_type=organisatie_type,
    )


def onderwerpen_for_account(*, holdings: Holdings) -> list[OnderwerpLink]:
    """The rollen the account holds, once each, with their visit counts, by Onderwerp."""
    catalogue = rollen_snapshot.get()
    links = [
        OnderwerpLink(code=code, naam=naam, onderwerp=onderwerp, url=url, visits=holdings.visits.get(pk, 0))
        for pk, (code, naam, onderwerp, url) in catalogue.items()
        if pk in holdings.rol_ids
    ]
    return sorted(links, key=lambda link: (link.onderwerp, link.naam))


def mededelingen_for_account(
    *, holdings: Holdings, organisatie_type: str, now: datetime
) -> list[PublishedMededeling]:
    """Published mededelingen that target the account (see ``Mededeling`` for the rule)."""
    return [
        item
        for item in mededelingen_snapshot.get()
        if item.shown_to(
            organisatie_type=organisatie_type,
            beheerautorisatie_ids=holdings.beheerautorisatie_ids,
            rol_ids=holdings.rol_ids,
            now=now,
        )
    ]


@dataclass
class Overview:
    onderwerpen: list[OnderwerpLink]
    snel_naar: list[OnderwerpLink]
    mededelingen: list[PublishedMededeling]
    is_beheerder: bool
    organisatie_naam: str = ""
    organisatie_type: str = ""


def overview_for_account(*, account: Account, now: datetime) -> Overview:
    """Everything the overview screen shows, in one query whatever the number of roles."""
    holdings = holdings_for_account(account=account)
    naam, organisatie_type = holdings.organisatie_naam, holdings.organisatie_type
    onderwerpen = onderwerpen_for_account(holdings=holdings)
    snel_naar = sorted(
        (link for link in onderwerpen if link.visits), key=lambda link: (-link.visits, link.onderwerp)
    )[:SNEL_NAAR_LIMIT]
    return Overview(
        onderwerpen=onderwerpen,
        snel_naar=snel_naar,
        mededelingen=mededelingen_for_account(holdings=holdings, organisatie_type=organisatie_type, now=now),
        is_beheerder=bool(holdings.beheerautorisatie_ids),
        organisatie_naam=naam or "",
        organisatie_type=organisatie_type or "",
    )


def rol_toekenningen_for_onderwerp(*, account: Account, rol_code: str) -> list[RolToekenning]:
    """The account's assignments of one rol, with their kenmerken (empty: the account does not hold it)."""
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
