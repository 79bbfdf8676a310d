"""P4 (design.md §7): the 18-month unlinking over 1,000,000 links, 10% stale, on PostgreSQL.

Usage (PostgreSQL on 127.0.0.1, user postgres; a scratch database is created and dropped):

    .venv/bin/python bench/p4_unlink.py                   # 100k and 1M links, per-row loop on 2,000
    .venv/bin/python bench/p4_unlink.py --sizes 1000000 --loop 5000 --keep

For each size it fills accounts and links with ``generate_series`` (every 10th link last used
19 months ago, the rest within the last 500 days), runs ``VACUUM ANALYZE`` and ``CHECKPOINT`` and
times ``accounts.lifecycle.inactive_links_unlink`` (batches of UPDATE … RETURNING, bulk audit and
outbox rows; publishing to the broker switched off, as it happens after commit in chunks of 500).
The time of each batch statement is printed too: a batch slower than the one before it means the
job's cost grows with what it has already done.
The baseline is the obvious per-row loop (save, ``audit_log``, ``email_queue`` for each link, one
transaction each) over ``--loop`` stale links in the same database, extrapolated to the same number
of stale links. Both write the same rows; neither talks to a broker.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "mijnduo_bench_p4"
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def scratch_database(*, drop_only: bool = False) -> None:
    import psycopg2

    connection = psycopg2.connect(ADMIN_URL.replace("postgres://", "postgresql://"))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        if not drop_only:
            cursor.execute(f'CREATE DATABASE "{DB_NAME}"')
    connection.close()


def django_setup() -> None:
    os.environ["DJANGO_ENV"] = "test"
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mijnduo.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(*, links: int, first: int = 1, stale_every: int = 10, all_stale: bool = False) -> None:
    """Accounts first..first+links-1, each with one active link; every ``stale_every``-th is stale."""
    from django.db import connection

    last = first + links - 1
    stale = "TRUE" if all_stale else f"i % {stale_every} = 0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO accounts_account (id, password, is_superuser, username, name, job_title, phone,
                email, language, is_active, is_staff, date_joined, password_change_required, progress)
            SELECT i, '!', FALSE, 'B' || lpad(i::text, 10, '0'), 'Gebruiker ' || i, '', '',
                'gebruiker' || i || '@school.example', 'nl', TRUE, FALSE, now() - interval '3 years',
                FALSE, 0
            FROM generate_series({first}, {last}) AS i;
            INSERT INTO koppeling_koppeling (account_id, acting_subject_id, legal_subject_id,
                intermediate_entity_id, level, created_at, last_login_at, ended_reason, terms_version)
            SELECT i, 'pseudonym-' || i, '41012345', '', 'urn:etoegang:core:assurance-class:loa3',
                now() - interval '3 years',
                CASE WHEN {stale} THEN now() - interval '19 months'
                     ELSE now() - (i % 500) * interval '1 day' END,
                '', ''
            FROM generate_series({first}, {last}) AS i;
            SELECT setval(pg_get_serial_sequence('accounts_account', 'id'), {last});
            """
        )
    vacuum()


def vacuum() -> None:
    """Analyse the filled tables and start every timed run from the same server state.

    The CHECKPOINT writes out the fill's dirty pages and moves the WAL redo point past it, so the
    timed run pays the full-page images of the pages it changes, whatever the size. Without it this
    depended on the fill: 1,000,000 links write enough WAL to start a checkpoint (max_wal_size), so
    that job ran with full-page writes and beside a checkpoint flushing the fill, while the
    100,000-link job often had neither (22 MB of WAL instead of 54), which flattered the small
    size in the linearity figure.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_account, koppeling_koppeling, accounts_auditevent")
        cursor.execute("CHECKPOINT")


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE koppeling_koppeling, accounts_auditevent, accounts_emailoutbox, "
            "accounts_account RESTART IDENTITY CASCADE"
        )


def time_bulk(*, links: int, batches: list[float] | None = None) -> tuple[float, int]:
    """Seconds and links undone for the job over ``links`` links; ``batches`` gets each statement's time."""
    from django.db import connection

    from accounts.lifecycle import inactive_links_unlink

    reset()
    started = time.perf_counter()
    fill(links=links)
    print(f"  filled {links:,} links in {time.perf_counter() - started:.1f} s", flush=True)
    statements = []

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(time.perf_counter() - began)

    with connection.execute_wrapper(timed):
        started = time.perf_counter()
        undone = inactive_links_unlink(publish=False)
        seconds = time.perf_counter() - started
    print(f"  {links:,} links, batch statements: {' '.join(f'{s:.2f}' for s in statements)} s", flush=True)
    if batches is not None:
        batches.extend(statements)
    return seconds, undone


def per_row_loop(*, now, cutoff) -> int:
    """The naive implementation the set-based job replaces (one query round trip set per link)."""
    from django.db import transaction

    from accounts.audit import audit_log
    from accounts.constants import AuditAction
    from accounts.email import email_queue
    from koppeling.models import Koppeling, UnlinkReason

    count = 0
    for link in Koppeling.objects.filter(ended_at__isnull=True, last_login_at__lte=cutoff).select_related(
        "account"
    ):
        with transaction.atomic():
            link.ended_at = now
            link.ended_reason = UnlinkReason.INACTIVE
            link.save(update_fields=["ended_at", "ended_reason"])
            audit_log(action=AuditAction.LINK_UNDO, obj=link, detail={"reason_code": "inactive"})
            email_queue(
                to=link.account.email,
                template="accounts/email/link_inactive_undone",
                context={"name": link.account.name, "last_login": f"{link.last_login_at:%d-%m-%Y}"},
                account=link.account,
            )
        count += 1
    return count


def time_loop(*, stale: int) -> float:
    """Seconds per link for the per-row loop, over ``stale`` stale links among 10× as many."""
    from django.utils import timezone

    import accounts.email
    from accounts.lifecycle import inactivity_cutoffs

    accounts.email.publish_send = lambda outbox_id: None  # no broker: compare database work only
    reset()
    fill(links=stale * 10)
    now = timezone.now()
    cutoff, _warning = inactivity_cutoffs(now=now)
    started = time.perf_counter()
    done = per_row_loop(now=now, cutoff=cutoff)
    elapsed = time.perf_counter() - started
    assert done == stale, (done, stale)
    return elapsed / done


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated numbers of links")
    parser.add_argument("--loop", type=int, default=2000, help="stale links for the per-row baseline")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    scratch_database()
    try:
        django_setup()
        from django.db import connection

        print(f"P4 on {connection.cursor().connection.server_version} (PostgreSQL), database {DB_NAME}")
        per_link = time_loop(stale=args.loop)
        print(f"per-row loop: {args.loop:,} stale links, {per_link * 1000:.2f} ms per link")
        results = []
        for size in sizes:
            seconds, undone = time_bulk(links=size)
            loop_seconds = per_link * undone
            results.append((size, undone, seconds, loop_seconds))
            print(
                f"set-based: {size:>9,} links, {undone:>7,} undone in {seconds:6.2f} s "
                f"({undone / seconds:,.0f} links/s); per-row loop for the same: ~{loop_seconds:,.0f} s "
                f"→ {loop_seconds / seconds:,.0f}× faster",
                flush=True,
            )
        if len(results) > 1:
            (small, _u1, t1, _l1), (large, _u2, t2, _l2) = results[0], results[-1]
            print(f"linearity: {large / small:.0f}× the links took {t2 / t1:.1f}× the time")
        target = [r for r in results if r[0] >= 1_000_000]
        if target:
            size, undone, seconds, loop_seconds = target[-1]
            verdict = "PASS" if seconds <= 10 and loop_seconds / seconds >= 50 else "FAIL"
            print(f"P4 target (≤ 10 s, ≥ 50× the per-row loop): {verdict}")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            scratch_database(drop_only=True)


if __name__ == "__main__":
    main()
