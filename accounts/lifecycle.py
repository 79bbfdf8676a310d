"""Account lifecycle: undo links after 18 months without login (seed 002 §1.5), warn a month before.

Both jobs are set-based so that they stay fast at national scale (design.md §7 P4: 1,000,000
links in seconds, linear in the number of links): each batch is one ``UPDATE … RETURNING`` of the
next n due links (see ``_batch_update``), one multi-row INSERT of audit events and one of outbox
mails, in one transaction. No Python loop issues a query per link. The mails are published in
chunks after commit (one broker round trip per chunk, not per mail); a lost publication is picked
up by the outbox sweep.

Every date rule takes ``now`` so that tests (and a catch-up run) can pass the clock in.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import make_msgid
from urllib.parse import urlsplit

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from koppeling.models import Koppeling, UnlinkReason

from .audit import AuditObject, audit_insert_select_sql, audit_log_bulk
from .constants import AuditAction
from .hooks import access_withdrawn_send
from .models import Account, EmailOutbox

# Seed 002 §1.5: "Als u de afgelopen 18 maanden niet hebt ingelogd, is de koppeling … ongedaan gemaakt."
INACTIVITY_MONTHS = 18
# One e-mail a month ahead (issue 6: "30 days before, i.e. at 17 months").
WARNING_MONTHS = 17
BATCH_SIZE = 20_000
PUBLISH_CHUNK = 500
# PostgreSQL: one statement per batch (see _run_batches); False forces the portable path (tests).
SET_BASED_SQL = True

UNDONE_TEMPLATE = "accounts/email/link_inactive_undone"
WARNING_TEMPLATE = "accounts/email/link_inactive_warning"


@dataclass(frozen=True)
class InactivityRun:
    warned: int
    unlinked: int


def inactivity_cutoffs(*, now: datetime) -> tuple[datetime, datetime]:
    """Return (unlink cutoff, warning cutoff): last logins at or before these are due.

    Calendar months on the Dutch wall clock, counted back from today as the seed words it ("de
    afgelopen 18 maanden"): on 28 February 2026 the past 18 months reach back to 28 August 2024,
    so a link last used on 31 August 2024 stays until 1 March 2026 — not 18 × 30 days.
    """
    local_now = timezone.localtime(now)
    return local_now - relativedelta(months=INACTIVITY_MONTHS), local_now - relativedelta(
        months=WARNING_MONTHS
    )


def unlink_date(*, last_login_at: datetime) -> date:
    """The first day on which the unlink job undoes a link last used at ``last_login_at``."""
    day = timezone.localtime(last_login_at) + relativedelta(months=INACTIVITY_MONTHS)
    while day - relativedelta(months=INACTIVITY_MONTHS) < last_login_at:  # clipped month ends
        day += timedelta(days=1)
    return day.date()


def inactive_links_process(
    *, now: datetime | None = None, batch_size: int = BATCH_SIZE, publish: bool = True
) -> InactivityRun:
    """The daily job: first undo what is due, then warn who will be due in a month."""
    now = now or timezone.now()
    unlinked = inactive_links_unlink(now=now, batch_size=batch_size, publish=publish)
    warned = inactive_links_warn(now=now, batch_size=batch_size, publish=publish)
    return InactivityRun(warned=warned, unlinked=unlinked)


def inactive_links_unlink(
    *, now: datetime | None = None, batch_size: int = BATCH_SIZE, publish: bool = True
) -> int:
    """Undo every active link whose last eHerkenning login is 18 calendar months old or more.

    The account and its roles stay: the user redoes the koppelproces. Each undone link gets an
    audit event (link.undo, reason ``inactive``, actor: the system) and the user an e-mail.
    The outer WHERE repeats the conditions, so a link whose owner logs in while the job runs
    (PostgreSQL re-checks an updated row) or that someone else undid is left alone.
    """
    now = now or timezone.now()
    cutoff, _warning_cutoff = inactivity_cutoffs(now=now)
    return _run_batches(
        assignments="ended_at = %s, ended_reason = %s",
        assignment_params=[_db_datetime(now), UnlinkReason.INACTIVE.value],
        condition="ended_at IS NULL AND last_login_at <= %s",
        condition_params=[_db_datetime(cutoff)],
        now=now,
        batch_size=batch_size,
        publish=publish,
        kind="undone",
    )


def inactive_links_warn(
    *, now: datetime | None = None, batch_size: int = BATCH_SIZE, publish: bool = True
) -> int:
    """E-mail once, at 17 months without login, that the link will be undone a month later.

    "Once" per period of inactivity: a link warned before its last login is warned again.
    Links already due for undoing are left to ``inactive_links_unlink``.
    """
    now = now or timezone.now()
    cutoff, warning_cutoff = inactivity_cutoffs(now=now)
    return _run_batches(
        assignments="inactivity_warned_at = %s",
        assignment_params=[_db_datetime(now)],
        condition=(
            "ended_at IS NULL AND last_login_at <= %s AND last_login_at > %s "
            "AND (inactivity_warned_at IS NULL OR inactivity_warned_at < last_login_at)"
        ),
        condition_params=[_db_datetime(warning_cutoff), _db_datetime(cutoff)],
        now=now,
        batch_size=batch_size,
        publish=publish,
        kind="warning",
    )


def _db_datetime(value: datetime):
    # Raw SQL bypasses the field: adapt like Django does (SQLite stores naive UTC text).
    return connection.ops.adapt_datetimefield_value(value)


def _aware(value) -> datetime:
    """A datetime read back by raw SQL: PostgreSQL gives an aware one, SQLite naive UTC text."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _skip_locked() -> str:
    # Rows locked by a concurrent unlink or login are skipped, not waited for (PostgreSQL only).
    return " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""


def _batch_update(
    *,
    assignments: str,
    assignment_params: list,
    condition: str,
    condition_params: list,
    batch_size: int,
    after: datetime | None,
) -> tuple[str, list]:
    """``UPDATE … RETURNING`` of the next batch: the ``batch_size`` due links unused the longest.

    Built so that a batch costs what its own links cost, not what is left of the run (with the
    former ``id IN (SELECT … LIMIT n)``, the 5th batch of 1,000,000 links cost twice the 1st):

    - ``ORDER BY last_login_at`` walks the partial index ``active_link_last_login`` and stops after
      ``n`` links. Unordered, PostgreSQL took a bitmap scan in table order, which read every page
      holding an earlier batch's (now ended) rows again before it reached new ones.
    - ``last_login_at >= after`` (the newest login of the previous batch) starts where that batch
      stopped, so links already done are not walked again: undone ones remain as dead index
      entries until VACUUM, warned ones stay in the index. Only equal timestamps at the boundary
      are walked twice. A link skipped as locked belongs to a concurrent login or run.
    - ``id = ANY(ARRAY(…))`` runs the subquery once and updates through the primary key; with
      ``id IN (…)`` the planner hash-joined the ids against a scan of *all* due links.
    """
    table = Koppeling._meta.db_table
    keyset = "" if after is None else " AND last_login_at >= %s"
    select = (
        f"SELECT id FROM {table} WHERE {condition}{keyset} "  # noqa: S608  (table name from _meta)
        f"ORDER BY last_login_at LIMIT %s{_skip_locked()}"
    )
    ids = f"id = ANY(ARRAY({select}))" if connection.vendor == "postgresql" else f"id IN ({select})"
    sql = (
        f"UPDATE {table} SET {assignments} WHERE {ids} AND {condition} "  # noqa: S608
        "RETURNING id, account_id, last_login_at"
    )
    keyset_params = [] if after is None else [_db_datetime(after)]
    return sql, [*assignment_params, *condition_params, *keyset_params, batch_size, *condition_params]


def _run_batches(
    *,
    assignments: str,
    assignment_params: list,
    condition: str,
    condition_params: list,
    now: datetime,
    batch_size: int,
    publish: bool,
    kind: str,
) -> int:
    """Update due links batch by batch, one transaction each, until fewer than ``batch_size`` come back.

    On PostgreSQL each batch is a single statement: the UPDATE … RETURNING feeds, in CTEs, the
    INSERT of the audit events and of the outbox mails, so no row travels through Python. Other
    databases (SQLite in development) take the portable path: RETURNING, then two bulk INSERTs.
    """
    set_based_sql = connection.vendor == "postgresql" and SET_BASED_SQL
    total = 0
    after = None
    while True:
        update_sql, update_params = _batch_update(
            assignments=assignments,
            assignment_params=assignment_params,
            condition=condition,
            condition_params=condition_params,
            batch_size=batch_size,
            after=after,
        )
        with transaction.atomic():
            with connection.cursor() as cursor:
                if set_based_sql:
                    statement = _batch_statement(
                        update_sql=update_sql, update_params=update_params, now=now, kind=kind
                    )
                    cursor.execute(*statement)
                    count, outbox_ids, newest, account_ids = cursor.fetchone()
                else:
                    cursor.execute(update_sql, update_params)
                    rows = cursor.fetchall()
                    count = len(rows)
                    outbox_ids = _record(rows=rows, now=now, kind=kind) if rows else []
                    newest = max((_aware(row[2]) for row in rows), default=None)
                    account_ids = [row[1] for row in rows]
            if kind == "undone" and account_ids:
                # The DUO services these users were handed to log them out (accounts/hooks.py).
                access_withdrawn_send(account_ids=account_ids, reason=UnlinkReason.INACTIVE.value)
            if publish and outbox_ids:
                transaction.on_commit(lambda ids=outbox_ids: email_publish_many(outbox_ids=ids))
        total += count
        if count < batch_size:
            return total
        after = newest


# make_msgid()'s shape, <centiseconds.pid.random@domain>, with a UUID as the random part. The
# clock comes first so that the unique index on message_id is filled at its right-hand end, as
# for the mails queued from Python: a purely random id put each of a batch's 20,000 rows on a
# random leaf page of both message_id indexes (~40% of the outbox INSERT's time at 100,000 rows,
# and growing with the outbox).
_MESSAGE_ID_SQL = (
    "'<' || floor(extract(epoch FROM clock_timestamp()) * 100)::bigint || '.' || pg_backend_pid() "
    "|| '.' || replace(gen_random_uuid()::text, '-', '') || '@' || %s || '>'"
)


def _batch_statement(*, update_sql: str, update_params: list, now: datetime, kind: str) -> tuple[str, list]:
    """One batch as one PostgreSQL statement: unlink (or mark warned), audit, queue the mails."""
    months = f"interval '{int(INACTIVITY_MONTHS)} months'"
    ctes = [f"ended AS ({update_sql})"]
    params = list(update_params)
    ctes.append(
        "src AS (SELECT e.id, e.account_id, a.email, a.name, a.language, "  # noqa: S608  (names from _meta)
        f"(e.last_login_at AT TIME ZONE %s) AS local_login FROM ended e JOIN {Account._meta.db_table} a "
        "ON a.id = e.account_id)"
    )
    params.append(settings.TIME_ZONE)
    if kind == "undone":
        audit_sql, audit_params = audit_insert_select_sql(
            action=AuditAction.LINK_UNDO,
            source="ended",
            object_type=Koppeling._meta.label,
            object_id_sql="ended.id",
            object_repr_sql="'account ' || ended.account_id",
            detail={"reason_code": UnlinkReason.INACTIVE.value},
            created_at=now,
        )
        ctes.append(f"audited AS ({audit_sql})")
        params += audit_params
        context = "jsonb_build_object('name', src.name, 'last_login', to_char(src.local_login, 'DD-MM-YYYY'))"
        template = UNDONE_TEMPLATE
    else:
        # Same day as unlink_date(): a clipped month end (31 Aug + 18 months) moves to the 1st.
        context = (
            "jsonb_build_object('name', src.name, 'last_login', to_char(src.local_login, 'DD-MM-YYYY'), "
            f"'undo_on', to_char(CASE WHEN extract(day FROM src.local_login + {months}) "
            f"< extract(day FROM src.local_login) THEN date_trunc('month', src.local_login + {months}) "
            f"+ interval '1 month' ELSE src.local_login + {months} END, 'DD-MM-YYYY'))"
        )
        template = WARNING_TEMPLATE
    ctes.append(
        f'mailed AS (INSERT INTO {EmailOutbox._meta.db_table} (created_at, "to", template, context, '  # noqa: S608
        "language, account_id, message_id, subject, attempts, last_error) "
        f"SELECT %s, src.email, %s, {context}, src.language, src.account_id, "
        f"{_MESSAGE_ID_SQL}, '', 0, '' FROM src WHERE src.email <> '' "
        "RETURNING id)"
    )
    params += [now, template, urlsplit(settings.SITE_URL).hostname or "localhost"]
    sql = (
        "WITH " + ", ".join(ctes) + " SELECT (SELECT count(*) FROM ended), ARRAY(SELECT id FROM mailed), "  # noqa: S608
        "(SELECT max(last_login_at) FROM ended), ARRAY(SELECT account_id FROM ended)"
    )
    return sql, params


def _record(*, rows: Sequence[tuple], now: datetime, kind: str) -> list[int]:
    """Write the audit events and queue the e-mails for one batch of (link id, account id, last login)."""
    accounts = {
        pk: (email, name, language)
        for pk, email, name, language in Account.objects.filter(pk__in={row[1] for row in rows}).values_list(
            "pk", "email", "name", "language"
        )
    }
    if kind == "undone":
        audit_log_bulk(
            action=AuditAction.LINK_UNDO,
            objects=(
                AuditObject(type=Koppeling._meta.label, id=str(link_id), repr=f"account {account_id}")
                for link_id, account_id, _last in rows
            ),
            detail={"reason_code": UnlinkReason.INACTIVE.value},
        )
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    template = UNDONE_TEMPLATE if kind == "undone" else WARNING_TEMPLATE
    mails = []
    for _link_id, account_id, raw_last_login in rows:
        last_login_at = _aware(raw_last_login)
        email, name, language = accounts.get(account_id, ("", "", "nl"))
        if not email:
            continue
        context = {"name": name, "last_login": f"{timezone.localdate(last_login_at):%d-%m-%Y}"}
        if kind == "warning":
            context["undo_on"] = f"{unlink_date(last_login_at=last_login_at):%d-%m-%Y}"
        mails.append(
            EmailOutbox(
                created_at=now,
                to=email,
                template=template,
                context=context,
                language=language,
                account_id=account_id,
                message_id=make_msgid(domain=domain),
            )
        )
    created = EmailOutbox.objects.bulk_create(mails, batch_size=5000)
    return [mail.pk for mail in created if mail.pk is not None]


def email_publish_many(
    *, outbox_ids: Sequence[int], chunk: int = PUBLISH_CHUNK, publish: Callable | None = None
) -> None:
    """Hand queued mails to the workers in chunks: one broker round trip per ``chunk`` mails.

    When the broker is down the rows simply stay unsent and the outbox sweep sends them later.
    """
    from celery.exceptions import Retry
    from kombu.exceptions import OperationalError as KombuOperationalError

    from .tasks import send_email_batch

    publish = publish or send_email_batch.delay
    for start in range(0, len(outbox_ids), chunk):
        try:
            publish(list(outbox_ids[start : start + chunk]))
        except (OSError, KombuOperationalError, Retry):
            return
