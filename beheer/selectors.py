"""Reads for the Autorisatiebeheer screens.

Every query a beheerder can trigger starts from ``accounts_for_beheerder``: it is scoped to his own
organisation, so another organisation's ids simply do not exist for him (404, never 403 — that
would confirm the id exists).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import (
    Account,
    BeheerautorisatieToekenning,
    EmailOutbox,
    Kenmerk,
    Rol,
    RolToekenning,
)
from koppeling.models import ActivationCode, KoppelAttemptCounter, Koppeling

from .constants import ACTIVATION_CODE_EMAIL_TEMPLATE, GebruikerStatus


def beheerder_is(*, account: Account) -> bool:
    """True for an active account of an organisation that holds at least one beheerautorisatie."""
    if not account.is_authenticated or account.organisatie_id is None:
        return False
    if not account.is_active or account.removed_at is not None:
        return False
    return BeheerautorisatieToekenning.objects.filter(account=account).exists()


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


def accounts_page_for_beheerder(
    *, beheerder: Account, search: str = "", page_number=None, per_page: int = 25
) -> tuple[Page, list[Account]]:
    """One page of the user list: the page's ids first, then only those rows with their status.

    Two steps because PostgreSQL evaluates the status subqueries for every row an OFFSET skips:
    page 200 of 10,000 users would otherwise run them 5,000 times.
    """
    ids = _accounts_base(beheerder=beheerder, search=search).values_list("pk", flat=True)
    page = Paginator(ids, per_page).get_page(page_number)
    page_ids = list(page.object_list)
    rows = accounts_for_beheerder(beheerder=beheerder).filter(pk__in=page_ids) if page_ids else []
    return page, accounts_with_status(accounts=rows)


def accounts_for_beheerder(*, beheerder: Account, search: str = "") -> QuerySet[Account]:
    """The accounts of the beheerder's organisation, with what the status column needs, in one query.

    The status inputs are correlated subqueries on indexed foreign keys, so a page costs the same
    whatever the size of the organisation or the history of its users.
    """
    active_link = Koppeling.objects.filter(account=OuterRef("pk"), ended_at__isnull=True)
    ended_links = Koppeling.objects.filter(account=OuterRef("pk"), ended_at__isnull=False).order_by(
        "-ended_at"
    )
    code_mails = EmailOutbox.objects.filter(
        account=OuterRef("pk"), template=ACTIVATION_CODE_EMAIL_TEMPLATE
    ).order_by("-created_at")
    codes = ActivationCode.objects.filter(account=OuterRef("pk")).order_by("-created_at")
    return _accounts_base(beheerder=beheerder, search=search).annotate(
        is_linked=Exists(active_link),
        link_last_login_at=Subquery(active_link.values("last_login_at")[:1]),
        last_unlinked_at=Subquery(ended_links.values("ended_at")[:1]),
        last_code_mail_at=Subquery(code_mails.values("created_at")[:1]),
        last_code_at=Subquery(codes.values("created_at")[:1]),
    )


def account_for_beheerder_get(*, beheerder: Account, pk: int) -> Account:
    """One account of the beheerder's organisation with its roles; DoesNotExist for anyone else's."""
    return (
        accounts_for_beheerder(beheerder=beheerder)
        .prefetch_related(
            Prefetch(
                "rol_toekenningen",
                queryset=RolToekenning.objects.select_related("rol", "kenmerk__type").order_by(
                    "rol__naam", "kenmerk__waarde"
                ),
            )
        )
        .get(pk=pk)
    )


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
    """Derive one status from the annotations of ``accounts_for_beheerder``.

    Order matters: a removed account is removed whatever else is true; a block is what the user
    runs into first; a code sent after the last unlink means the user is on his way back.
    """
    if account.removed_at is not None:
        return GebruikerStatus.VERWIJDERD
    if account.username in blocked:
        return GebruikerStatus.GEBLOKKEERD
    if account.is_linked:
        return GebruikerStatus.GEKOPPELD
    code_at = max(filter(None, [account.last_code_mail_at, account.last_code_at]), default=None)
    if code_at is not None and (account.last_unlinked_at is None or code_at > account.last_unlinked_at):
        return GebruikerStatus.ACTIVATIECODE_VERSTUURD
    if account.last_unlinked_at is not None:
        return GebruikerStatus.ONTKOPPELD
    return GebruikerStatus.AANGEMELD


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
