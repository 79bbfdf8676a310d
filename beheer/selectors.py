"""Reads for the Autorisatiebeheer screens.

Every query a beheerder can trigger starts from ``accounts_for_beheerder``: it is scoped to his own
organisation, so another organisation's ids simply do not exist for him (404, never 403 — that
would confirm the id exists).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Greatest, Substr
from django.utils import timezone

from accounts.models import (
    Account,
    BeheerautorisatieToekenning,
    EmailOutbox,
    Kenmerk,
    Progress,
    Rol,
    RolToekenning,
)
from koppeling.models import ActivationCode, KoppelAttemptCounter, Koppeling

from .constants import ACTIVATION_CODE_EMAIL_TEMPLATE, GebruikerStatus


def beheerder_is(*, account: Account) -> bool:
    """True for an active account of an organisation that holds at least one beheerautorisatie.

    Asked on every Autorisatiebeheer page (``beheer.views.beheerder_required``), so the statement is
    written as text (mijnduo/rows.py): the ORM took 0.5 ms to build and run its EXISTS, the same
    statement as text 0.17 ms (bench P3).
    """
    from django.db import connections, router

    if not account.is_authenticated or account.organisatie_id is None:
        return False
    if not account.is_active or account.removed_at is not None:
        return False
    connection = connections[router.db_for_read(BeheerautorisatieToekenning)]
    table = connection.ops.quote_name(BeheerautorisatieToekenning._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE account_id = %s LIMIT 1", [account.pk])  # noqa: S608
        return cursor.fetchone() is not None


def rollen_for_beheerder(*, beheerder: Account) -> QuerySet[Rol]:
    """The roles one of the beheerder's beheerautorisaties covers (seed 003, "Bij 3 Beheerautorisaties")."""
    return (
        Rol.objects.filter(beheerautorisaties__accounts=beheerder)
        .distinct()
        .prefetch_related("kenmerk_types")
        .order_by("naam")
    )


def kenmerken_for_beheerder(*, beheerder: Account) -> QuerySet[Kenmerk]:
    """The kenmerken of the beheerder's own organisation: the only ones he may hand out."""
    return Kenmerk.objects.filter(organisatie_id=beheerder.organisatie_id).select_related("type")


def _accounts_base(*, beheerder: Account, search: str = "") -> QuerySet[Account]:
    queryset = Account.objects.filter(organisatie_id=beheerder.organisatie_id).order_by("name", "pk")
    search = (search or "").strip()
    if search:
        queryset = queryset.filter(
            Q(name__icontains=search) | Q(username__iexact=search) | Q(email__icontains=search)
        )
    return queryset


def _with_status_inputs(queryset: QuerySet[Account]) -> QuerySet[Account]:
    active_link = Koppeling.objects.filter(account=OuterRef("pk"), ended_at__isnull=True)
    ended_links = Koppeling.objects.filter(account=OuterRef("pk"), ended_at__isnull=False).order_by(
        "-ended_at"
    )
    code_mails = EmailOutbox.objects.filter(
        account=OuterRef("pk"), template=ACTIVATION_CODE_EMAIL_TEMPLATE
    ).order_by("-created_at")
    codes = ActivationCode.objects.filter(account=OuterRef("pk")).order_by("-created_at")
    return queryset.annotate(
        is_linked=Exists(active_link),
        link_last_login_at=Subquery(active_link.values("last_login_at")[:1]),
        last_unlinked_at=Subquery(ended_links.values("ended_at")[:1]),
        last_code_mail_at=Subquery(code_mails.values("created_at")[:1]),
        last_code_at=Subquery(codes.values("created_at")[:1]),
    )


def accounts_for_beheerder(*, beheerder: Account, search: str = "") -> QuerySet[Account]:
    """The accounts of the beheerder's organisation, with what the status column needs, in one query.

    The status inputs are correlated subqueries on indexed foreign keys, so a page costs the same
    whatever the size of the organisation or the history of its users.
    """
    return _with_status_inputs(_accounts_base(beheerder=beheerder, search=search))


# The status in SQL, for filtering and sorting the whole list; ``account_status`` is the same rule in
# Python for the rows of one page. Ranked in the order of the way from registration to a login.
# The stored ``Account.progress`` has the same values; the active link (2) and the block (4) are
# read live.
STATUS_RANK = {
    GebruikerStatus.AANGEMELD: Progress.REGISTERED,
    GebruikerStatus.ACTIVATIECODE_VERSTUURD: Progress.CODE_SENT,
    GebruikerStatus.GEKOPPELD: 2,
    GebruikerStatus.ONTKOPPELD: Progress.UNLINKED,
    GebruikerStatus.GEBLOKKEERD: 4,
    GebruikerStatus.VERWIJDERD: Progress.REMOVED,
}

PROGRESS_STATUS = {rank: status for status, rank in STATUS_RANK.items()}

SORTS = {
    "name": ("name", "pk"),
    "username": ("username",),
    "status": ("status_rank", "name", "pk"),
    "last_login": ("last_seen", "name", "pk"),
}


def _blocked(*, now: datetime) -> Q:
    """The accounts the koppel lockout blocks right now: few, so an uncorrelated ``username IN (…)``.

    The lockout counts typed usernames as ``u:<USERNAME>``; generated usernames already have that
    normalised form.
    """
    return Q(
        username__in=KoppelAttemptCounter.objects.filter(key__startswith="u:", blocked_until__gt=now)
        .annotate(username=Substr("key", 3))
        .values("username")
    )


def _with_active_link(queryset: QuerySet[Account]) -> QuerySet[Account]:
    """Join the account's active link (at most one: ``uniq_active_account``) as ``active_link``.

    A join the database does for the whole organisation at once; a correlated subquery inside the
    status sort's CASE ran once per account.
    """
    if "active_link" in queryset.query._filtered_relations:
        return queryset
    return queryset.annotate(
        active_link=FilteredRelation("koppelingen", condition=Q(koppelingen__ended_at__isnull=True))
    )


def _status_filter(*, status: GebruikerStatus, now: datetime) -> Q:
    """The accounts in ``status`` (on a queryset ``_with_active_link``): the stored progress
    (``Account.progress``), the active link and the block.

    The progress is kept by the database for every write of the history it follows from, so the
    filter is a comparison on the account's own row and the active link; only the block, which ends
    by the clock, is looked up in the counters. (No index on the progress: an update of an indexed
    column cannot be heap-only; see accounts migration 0012.)
    """
    if status == GebruikerStatus.VERWIJDERD:
        return Q(removed_at__isnull=False)
    if status == GebruikerStatus.GEBLOKKEERD:
        return Q(removed_at__isnull=True) & _blocked(now=now)
    if status == GebruikerStatus.GEKOPPELD:
        return Q(removed_at__isnull=True, active_link__isnull=False) & ~_blocked(now=now)
    return Q(progress=STATUS_RANK[status], active_link__isnull=True) & ~_blocked(now=now)


def _with_status_rank(queryset: QuerySet[Account], *, now: datetime) -> QuerySet[Account]:
    """Annotate ``status_rank``, the status's place on the way from registration to a login."""
    return _with_active_link(queryset).annotate(
        status_rank=Case(
            When(Q(removed_at__isnull=False), then=Value(STATUS_RANK[GebruikerStatus.VERWIJDERD])),
            When(_blocked(now=now), then=Value(STATUS_RANK[GebruikerStatus.GEBLOKKEERD])),
            When(Q(active_link__isnull=False), then=Value(STATUS_RANK[GebruikerStatus.GEKOPPELD])),
            default=F("progress"),
            output_field=IntegerField(),
        )
    )


def _with_last_seen(queryset: QuerySet[Account]) -> QuerySet[Account]:
    # A join with the active link (at most one per account: ``uniq_active_account``), which the
    # database can do for the whole organisation at once; a correlated subquery ran once per account.
    queryset = _with_active_link(queryset)
    link_login = F("active_link__last_login_at")
    return queryset.annotate(
        last_seen=Greatest(Coalesce("last_login", link_login), Coalesce(link_login, "last_login")),
    )


@dataclass(frozen=True)
class ListFilter:
    """What the user list shows: the GET form's cleaned data (beheer.forms.GebruikersFilterForm)."""

    search: str = ""
    status: str = ""
    rol: Rol | None = None
    kenmerk: Kenmerk | None = None
    sort: str = "name"
    descending: bool = False


def accounts_list_page_for_beheerder(
    *,
    beheerder: Account,
    filters: ListFilter,
    page_number=None,
    per_page: int = 25,
    now: datetime | None = None,
) -> tuple[Page, list[Account]]:
    """One page of the filtered, sorted user list, each row with its status and roles.

    Removed users are left out unless the status filter asks for them. The status is computed in SQL
    only when the filter or the sort needs it; the plain list sorted by name never pays for it. A
    page costs a fixed number of queries whatever the size of the organisation.
    """
    now = now or timezone.now()
    queryset = _accounts_base(beheerder=beheerder, search=filters.search)
    if filters.status:
        queryset = _with_active_link(queryset).filter(
            _status_filter(status=GebruikerStatus(filters.status), now=now)
        )
    else:
        queryset = queryset.filter(removed_at__isnull=True)
    if filters.rol is not None or filters.kenmerk is not None:
        toekenningen = RolToekenning.objects.filter(account=OuterRef("pk"))
        if filters.rol is not None:
            toekenningen = toekenningen.filter(rol=filters.rol)
        if filters.kenmerk is not None:
            toekenningen = toekenningen.filter(kenmerk=filters.kenmerk)
        queryset = queryset.filter(Exists(toekenningen))
    # Counted before the sort's annotations: the last-login sort's join with the links would be in
    # the COUNT too.
    paginator = Paginator(queryset.values_list("pk", flat=True), per_page)
    first_bucket_ids = None
    if filters.sort == "status" and not filters.status:
        first_bucket_ids = _status_sort_first_bucket(
            queryset, descending=filters.descending, now=now, page=paginator.get_page(page_number)
        )
    if filters.sort == "status":
        queryset = _with_status_rank(queryset, now=now)
    if filters.sort == "last_login":
        queryset = _with_last_seen(queryset)
    fields = SORTS.get(filters.sort, SORTS["name"])
    if filters.descending:
        ordering = [F(fields[0]).desc(nulls_last=True), *(F(field).desc() for field in fields[1:])]
    else:
        ordering = [F(fields[0]).asc(nulls_last=True), *fields[1:]]
    ordered = queryset.order_by(*ordering)
    if first_bucket_ids is None and "active_link" in ordered.query._filtered_relations:
        # The filter or the sort joins the active link already: the page's rows come from the same
        # query, and with a filter its count too.
        rows = None
        if _filters_every_row(filters) and "count" not in paginator.__dict__:
            rows = _page_counted(_page_rows_query(ordered), paginator, page_number)
        page = paginator.get_page(page_number)
        if rows is None:
            rows = (
                list(_page_rows_query(ordered)[page.start_index() - 1 : page.end_index()])
                if paginator.count
                else []
            )
        page.object_list = page_ids = [account.pk for account in rows]
        accounts = accounts_with_status(accounts=rows)
    else:
        # The ids first, then only the page's rows with their link: PostgreSQL would evaluate a
        # row's subqueries for every row an OFFSET skips.
        ids = ordered.values_list("pk", flat=True)
        page_ids = first_bucket_ids
        if page_ids is None and _filters_every_row(filters):
            rows = _page_counted(ordered.values("pk"), paginator, page_number)
            page_ids = None if rows is None else [row["pk"] for row in rows]
        page = paginator.get_page(page_number)
        if page_ids is None:
            page_ids = list(ids[page.start_index() - 1 : page.end_index()]) if paginator.count else []
        page.object_list = page_ids
        active_link = Koppeling.objects.filter(account=OuterRef("pk"), ended_at__isnull=True)
        by_pk = {
            account.pk: account
            for account in Account.objects.filter(organisatie_id=beheerder.organisatie_id, pk__in=page_ids)
            .only(*ROW_FIELDS)
            .annotate(
                is_linked=Exists(active_link),
                link_last_login_at=Subquery(active_link.values("last_login_at")[:1]),
            )
        }
        accounts = accounts_with_status(accounts=[by_pk[pk] for pk in page_ids if pk in by_pk])
    if not page_ids:
        return page, []
    # The roles column needs two texts per role: read as values, not as four model instances each
    # (a page of 100 users holds hundreds of roles).
    labels: dict[int, list[tuple[str, str]]] = {pk: [] for pk in page_ids}
    for account_id, rol_naam, waarde in (
        RolToekenning.objects.filter(account_id__in=page_ids)
        .order_by("rol__naam", "kenmerk__waarde")
        .values_list("account_id", "rol__naam", "kenmerk__waarde")
    ):
        labels[account_id].append((rol_naam, waarde))
    for account in accounts:
        account.rol_labels = labels[account.pk]
    return page, accounts


def _status_sort_first_bucket(filtered: QuerySet[Account], *, descending: bool, now: datetime, page: Page):
    """The page's ids of a list sorted by status (no status filter), when the page lies within the
    first status in that order: every registered user (rank 0) comes first, by name; sorted the
    other way, every blocked user (rank 4: removed users are not listed). The users of that one
    status are found by the account's own columns and a probe or two per account, walking the name
    index until the page is full, instead of ranking and sorting every user of the organisation
    (bench P3: 11-16 ms at 10,000 users, with a rol filter too). None when the page reaches past
    that status: then the whole list is ranked (``_with_status_rank``)."""
    if not page.paginator.count:
        return []
    if descending:
        bucket = filtered.filter(_blocked(now=now)).order_by("-name", "-pk")
    else:
        active_link = Koppeling.objects.filter(account=OuterRef("pk"), ended_at__isnull=True)
        bucket = (
            filtered.filter(progress=STATUS_RANK[GebruikerStatus.AANGEMELD])
            .filter(~Exists(active_link) & ~_blocked(now=now))
            .order_by("name", "pk")
        )
    start, stop = page.start_index() - 1, page.end_index()
    ids = list(bucket.values_list("pk", flat=True)[start:stop])
    return ids if len(ids) == stop - start else None


# Only what a row of the list shows: the status comes from the stored progress, so the page does not
# read the history (links, codes, mails) that the detail page and the export show.
ROW_FIELDS = ("pk", "name", "username", "email", "removed_at", "progress", "last_login")


def _page_rows_query(ordered: QuerySet[Account]) -> QuerySet[Account]:
    """The rows of a list that joins the active link (``_with_active_link``), with what they show."""
    return ordered.only(*ROW_FIELDS).annotate(
        is_linked=ExpressionWrapper(Q(active_link__isnull=False), output_field=BooleanField()),
        link_last_login_at=F("active_link__last_login_at"),
    )


def _page_counted(query: QuerySet, paginator: Paginator, page_number) -> list | None:
    """The page of ``query`` with the count of all its rows from the same statement, set on
    ``paginator``: for a list that reads every match anyway (``_filters_every_row``), where a
    separate COUNT reads them all once more (bench P3: 5-8 ms at 10,000 users with a status or a
    rol filter). None when the page is not a plain number within the list: then
    ``Paginator.get_page`` picks it, and counts."""
    number = _page_number(page_number)
    if number is None:
        return None
    start = (number - 1) * paginator.per_page
    rows = list(query.annotate(matches=Window(Count("pk")))[start : start + paginator.per_page])
    if not rows:
        return None
    first = rows[0]
    # Paginator.count is a cached_property: once set, it is not asked again.
    paginator.count = first["matches"] if isinstance(first, dict) else first.matches
    return rows


def _page_number(page_number) -> int | None:
    """The page asked for, read as ``Paginator.validate_number`` reads it but without its check
    against the count: 1 for what is not a whole number; None below 1 (Paginator: the last page)."""
    try:
        if isinstance(page_number, float) and not page_number.is_integer():
            raise ValueError
        number = int(page_number) if page_number is not None else 1
    except (TypeError, ValueError):
        number = 1
    return number if number >= 1 else None


def _filters_every_row(filters: ListFilter) -> bool:
    """Whether the page's query reads every match anyway: a status, rol or kenmerk filter joins or
    probes per account. (A search is served by its trigram indexes and the name index, and a bare
    sort ends in a top-N sort, which a count in the same query would turn into a full one: both
    measured slower with the count inside, bench P3.)"""
    return bool(filters.status or filters.rol or filters.kenmerk)


def _roles_prefetch() -> Prefetch:
    return Prefetch(
        "rol_toekenningen",
        queryset=RolToekenning.objects.select_related("rol", "kenmerk__type").order_by(
            "rol__naam", "kenmerk__waarde"
        ),
    )


def rollen_in_organisatie(*, beheerder: Account, kenmerk_ids: list[int] | None = None) -> list[Rol]:
    """The roles someone in her organisation holds, or she may hand out: the list's role filter.

    A role is held when a toekenning pairs it with one of the organisation's kenmerken (a
    toekenning's kenmerk is always of the account's organisation). Asked per role with the kenmerken
    as values, PostgreSQL probes the (kenmerk, rol) index a few times per role; any form that joins
    the kenmerken or accounts instead read all the organisation's toekenningen (20,000 at 10,000
    users: 10 ms on every page of the list, bench P3). ``kenmerk_ids``: the organisation's kenmerken
    when the caller has read them already (the list shows them too); else they are read here.

    One statement: the held roles are an ``IN`` of their own semi-join (the index probes). The same
    ``EXISTS`` directly inside the ``OR`` with the covered roles made PostgreSQL scan all the
    toekenningen once per role instead (47 ms at 20,000 toekenningen). It is written as text, as
    mijnduo/rows.py explains: the ORM took 2-3 ms on every page to compile its two subqueries, the
    database 1 ms to run them (plain SQL that SQLite runs too).
    """
    from django.db import connections, router

    from mijnduo import rows

    if kenmerk_ids is None:
        kenmerk_ids = list(
            Kenmerk.objects.filter(organisatie_id=beheerder.organisatie_id)
            .order_by()
            .values_list("pk", flat=True)
        )
    connection = connections[router.db_for_read(Rol)]
    quote = connection.ops.quote_name
    held = ""
    if kenmerk_ids:
        held = (
            f"r.id IN (SELECT v.id FROM {quote(Rol._meta.db_table)} v WHERE EXISTS ("  # noqa: S608
            f"SELECT 1 FROM {quote(RolToekenning._meta.db_table)} t WHERE t.kenmerk_id IN "
            f"({', '.join(['%s'] * len(kenmerk_ids))}) AND t.rol_id = v.id LIMIT 1)) OR "
        )
    covered = (
        f"r.id IN (SELECT c.rol_id FROM {quote(Rol.beheerautorisaties.through._meta.db_table)} c "  # noqa: S608
        f"JOIN {quote(BeheerautorisatieToekenning._meta.db_table)} g "
        "ON g.beheerautorisatie_id = c.beheerautorisatie_id WHERE g.account_id = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {rows.columns(Rol, 'r', connection)} FROM {quote(Rol._meta.db_table)} r "  # noqa: S608  (names and placeholders only)
            f"WHERE {held}{covered} ORDER BY r.naam",
            [*kenmerk_ids, beheerder.pk],
        )
        return [rows.instance(Rol, row, connection) for row in cursor.fetchall()]


def account_for_beheerder_get(*, beheerder: Account, pk: int) -> Account:
    """One account of the beheerder's organisation with its roles; DoesNotExist for anyone else's."""
    return accounts_for_beheerder(beheerder=beheerder).prefetch_related(_roles_prefetch()).get(pk=pk)


def blocked_usernames(*, usernames: Iterable[str]) -> set[str]:
    """The usernames among ``usernames`` that the koppel lockout blocks right now.

    Prefer the koppel app's own selector (it knows its counter keys); fall back to reading the
    counters with the key format documented on ``KoppelAttemptCounter`` (``u:<username>``).
    """
    usernames = list(usernames)
    if not usernames:
        return set()
    try:
        from koppeling.selectors import blocked_usernames as koppel_blocked_usernames
    except ImportError:
        koppel_blocked_usernames = None
    if koppel_blocked_usernames is not None:
        return set(koppel_blocked_usernames(usernames=usernames))
    keys = {f"u:{username}": username for username in usernames}
    keys.update({f"u:{username.lower()}": username for username in usernames})
    blocked = KoppelAttemptCounter.objects.filter(key__in=list(keys), blocked_until__gt=timezone.now())
    return {keys[key] for key in blocked.values_list("key", flat=True)}


def account_status(*, account: Account, blocked: set[str]) -> GebruikerStatus:
    """The account's status (``account`` annotated with ``is_linked``).

    Order matters: a removed account is removed whatever else is true; a block is what the user
    runs into first; then an active link. The stored progress (``Account.progress``) holds the rest
    of the rule: a code sent after the last unlink (the user on the way back); else unlinked; else
    registered.
    """
    if account.removed_at is not None:
        return GebruikerStatus.VERWIJDERD
    if account.username in blocked:
        return GebruikerStatus.GEBLOKKEERD
    if account.is_linked:
        return GebruikerStatus.GEKOPPELD
    return PROGRESS_STATUS[account.progress]


def accounts_with_status(*, accounts: Iterable[Account]) -> list[Account]:
    """Set ``status`` and ``last_seen_at`` on each account of a page (one extra query for blocks)."""
    accounts = list(accounts)
    blocked = blocked_usernames(usernames=[account.username for account in accounts])
    for account in accounts:
        account.status = account_status(account=account, blocked=blocked)
        account.last_seen_at = max(
            filter(None, [account.last_login, account.link_last_login_at]), default=None
        )
    return accounts


@dataclass(frozen=True)
class ActivationCodeInfo:
    """What the detail page tells about the last activation code: never the code or its hash."""

    state: str  # "pending", "valid", "used", "replaced", "expired"
    queued_at: datetime | None
    sent_at: datetime | None
    valid_until: datetime | None
    issued_by_name: str


def activation_code_last(*, account: Account, now: datetime | None = None) -> ActivationCodeInfo | None:
    """The last activation code of ``account``: when it was sent, by whom, until when it is valid.

    The code is issued when its mail is sent (``koppeling.services.activation_code_email_context``),
    so a queued mail newer than the last code means a new code is on its way (and the old one
    stops working when it arrives).
    """
    now = now or timezone.now()
    code = (
        ActivationCode.objects.filter(account=account)
        .select_related("issued_by")
        .only("created_at", "expires_at", "used_at", "invalidated_at", "issued_by__name")
        .order_by("-created_at", "-pk")
        .first()
    )
    mail = (
        EmailOutbox.objects.filter(account=account, template=ACTIVATION_CODE_EMAIL_TEMPLATE)
        .only("created_at", "sent_at", "context")
        .order_by("-created_at", "-pk")
        .first()
    )
    if mail is not None and mail.sent_at is None and (code is None or mail.created_at >= code.created_at):
        issued_by_id = (mail.context or {}).get("issued_by_id")
        issuer = Account.objects.filter(pk=issued_by_id).values_list("name", flat=True).first() or ""
        return ActivationCodeInfo(
            state="pending", queued_at=mail.created_at, sent_at=None, valid_until=None, issued_by_name=issuer
        )
    if code is None:
        return None
    if code.used_at is not None:
        state = "used"
    elif code.invalidated_at is not None:
        state = "replaced"
    elif code.expires_at <= now:
        state = "expired"
    else:
        state = "valid"
    return ActivationCodeInfo(
        state=state,
        queued_at=None,
        sent_at=code.created_at,
        valid_until=code.expires_at,
        issued_by_name=code.issued_by.name if code.issued_by else "",
    )


def accounts_for_export(*, organisatie_id: int) -> QuerySet[Account]:
    """The gebruikersbestand's rows: the organisation's users that are not removed, by name.

    Everything a row needs comes in the one SELECT (status inputs, link date, code state, token) and
    one prefetch of the roles per chunk, so the export's cost grows with the rows only.
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    active_link = Koppeling.objects.filter(account=OuterRef("pk"), ended_at__isnull=True)
    codes = ActivationCode.objects.filter(account=OuterRef("pk")).order_by("-created_at", "-pk")
    code_mails = EmailOutbox.objects.filter(
        account=OuterRef("pk"), template=ACTIVATION_CODE_EMAIL_TEMPLATE
    ).order_by("-created_at", "-pk")
    accounts = Account.objects.filter(organisatie_id=organisatie_id).order_by("name", "pk")
    return (
        _with_status_inputs(accounts)
        .filter(removed_at__isnull=True)
        .annotate(
            linked_at=Subquery(active_link.values("created_at")[:1]),
            has_token=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            code_expires_at=Subquery(codes.values("expires_at")[:1]),
            code_used_at=Subquery(codes.values("used_at")[:1]),
            code_invalidated_at=Subquery(codes.values("invalidated_at")[:1]),
            code_mail_sent_at=Subquery(code_mails.values("sent_at")[:1]),
        )
        .prefetch_related(_roles_prefetch())
    )


def accounts_for_letters(*, beheerder: Account, ids: list[int]) -> list[Account]:
    """The selected users of her organisation, in the order of ``ids``; DoesNotExist if one is not hers.

    Removed users get no letter: their account no longer works.
    """
    accounts = Account.objects.filter(
        organisatie_id=beheerder.organisatie_id, removed_at__isnull=True, pk__in=ids
    ).select_related("organisatie")
    by_pk = {account.pk: account for account in accounts}
    if set(ids) - set(by_pk):
        raise Account.DoesNotExist
    return [by_pk[pk] for pk in dict.fromkeys(ids)]
