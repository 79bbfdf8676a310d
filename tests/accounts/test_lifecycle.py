"""18 months without login: the link is undone, with a warning a month before (seed 002 §1.5)."""

import re
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core import mail
from django.db import connection, connections

from accounts.lifecycle import (
    inactive_links_process,
    inactive_links_unlink,
    inactive_links_warn,
    unlink_date,
)
from accounts.models import AuditEvent, EmailOutbox, RolToekenning
from koppeling.models import Koppeling, UnlinkReason
from tests.factories import AccountFactory, KenmerkFactory, grant_rol

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
LAST_LOGIN = datetime(2025, 3, 10, 9, 30, tzinfo=AMS)


@pytest.fixture(autouse=True, params=["postgresql-statement", "portable-bulk-create"])
def engine(request, monkeypatch):
    """Run every rule on both paths: one SQL statement per batch, and RETURNING + bulk_create."""
    monkeypatch.setattr("accounts.lifecycle.SET_BASED_SQL", request.param == "postgresql-statement")
    return request.param


def make_link(*, last_login_at=LAST_LOGIN, **fields) -> Koppeling:
    account = fields.pop("account", None) or AccountFactory()
    return Koppeling.objects.create(
        account=account,
        acting_subject_id=f"pseudonym-{account.pk}",
        legal_subject_id=account.organisatie.kvk_nummer,
        level="urn:etoegang:core:assurance-class:loa3",
        created_at=last_login_at,
        last_login_at=last_login_at,
        **fields,
    )


def run_job_at(moment: datetime):
    with time_machine.travel(moment, tick=False):
        return inactive_links_process()


def test_18_months_minus_a_day_without_login_leaves_the_link():
    link = make_link()
    run = run_job_at(LAST_LOGIN + relativedelta(months=18) - relativedelta(days=1))
    link.refresh_from_db()
    assert link.ended_at is None
    assert run.unlinked == 0


def test_18_months_without_login_undoes_the_link_but_keeps_account_and_roles():
    account = AccountFactory()
    grant_rol(account, "osr", KenmerkFactory(organisatie=account.organisatie))
    link = make_link(account=account)
    moment = LAST_LOGIN + relativedelta(months=18)
    run = run_job_at(moment)
    link.refresh_from_db()
    account.refresh_from_db()
    assert run.unlinked == 1
    assert link.ended_at == moment
    assert link.ended_reason == UnlinkReason.INACTIVE
    assert account.is_active
    assert RolToekenning.objects.filter(account=account).count() == 1


def test_months_are_calendar_months_counted_back_from_today():
    # On 28 February 2026 "the past 18 months" reach back to 28 August 2024 and include a login on
    # 31 August; on 1 March they reach back to 1 September. 18 × 30 days would be 22 February.
    last_login = datetime(2024, 8, 31, 12, 0, tzinfo=AMS)
    link = make_link(last_login_at=last_login)
    run_job_at(datetime(2026, 2, 28, 12, 0, tzinfo=AMS))
    link.refresh_from_db()
    assert link.ended_at is None
    run_job_at(datetime(2026, 3, 1, 12, 0, tzinfo=AMS))
    link.refresh_from_db()
    assert link.ended_at is not None
    assert unlink_date(last_login_at=last_login).isoformat() == "2026-03-01"


def test_undoing_is_audited_per_link_as_the_system():
    links = [make_link() for _ in range(3)]
    run_job_at(LAST_LOGIN + relativedelta(months=18))
    events = AuditEvent.objects.filter(action="link.undo")
    assert sorted(events.values_list("object_id", flat=True)) == sorted(str(link.pk) for link in links)
    assert {(e.actor_id, e.detail["reason_code"], e.object_type) for e in events} == {
        (None, "inactive", "koppeling.Koppeling")
    }


def test_user_gets_a_dutch_e_mail_when_his_link_is_undone(django_capture_on_commit_callbacks):
    link = make_link(account=AccountFactory(email="piet@school.example"))
    with django_capture_on_commit_callbacks(execute=True):
        run_job_at(LAST_LOGIN + relativedelta(months=18))
    [message] = mail.outbox
    assert message.to == ["piet@school.example"]
    assert message.subject == "De koppeling van uw eHerkenningmiddel aan Mijn DUO is ongedaan gemaakt"
    assert "10 maart 2025" in message.body and "koppelproces opnieuw" in message.body  # dates in words
    assert EmailOutbox.objects.get(account=link.account).sent_at is not None


@pytest.mark.parametrize(
    "language, last_login, undo_on",
    [("nl", "10 maart 2025", "10 september 2026"), ("en", "10 March 2025", "10 September 2026")],
)
def test_the_warning_mail_writes_its_dates_in_words_in_the_mail_language(language, last_login, undo_on):
    from accounts.email import email_render

    make_link(account=AccountFactory(language=language))
    run_job_at(LAST_LOGIN + relativedelta(months=17))
    outbox = EmailOutbox.objects.get(template="accounts/email/link_inactive_warning")
    assert outbox.language == language
    body = email_render(outbox=outbox).body
    assert f"since {last_login}" in body or f"sinds {last_login}" in body
    assert undo_on in body and "10-09-2026" not in body


def test_17_months_without_login_sends_one_warning_only():
    link = make_link()
    moment = LAST_LOGIN + relativedelta(months=17)
    assert run_job_at(moment - relativedelta(days=1)).warned == 0
    run = run_job_at(moment)
    assert run.warned == 1 and run.unlinked == 0
    link.refresh_from_db()
    assert link.inactivity_warned_at == moment and link.ended_at is None
    outbox = EmailOutbox.objects.get(template="accounts/email/link_inactive_warning")
    assert outbox.context["undo_on"] == "10-09-2026"
    assert run_job_at(moment + relativedelta(days=1)).warned == 0  # once
    assert EmailOutbox.objects.filter(template="accounts/email/link_inactive_warning").count() == 1


def test_a_login_after_the_warning_restarts_the_count_and_a_later_period_is_warned_again():
    link = make_link()
    run_job_at(LAST_LOGIN + relativedelta(months=17))
    new_login = LAST_LOGIN + relativedelta(months=17, days=3)
    Koppeling.objects.filter(pk=link.pk).update(last_login_at=new_login)
    assert run_job_at(LAST_LOGIN + relativedelta(months=18)).unlinked == 0
    assert run_job_at(new_login + relativedelta(months=17)).warned == 1


def test_ended_links_are_neither_warned_nor_undone_again():
    make_link(ended_at=LAST_LOGIN, ended_reason=UnlinkReason.LOST)
    run = run_job_at(LAST_LOGIN + relativedelta(months=24))
    assert (run.unlinked, run.warned) == (0, 0)
    assert not AuditEvent.objects.filter(action="link.undo").exists()


def test_a_link_due_for_undoing_gets_no_warning_first():
    make_link()
    run = run_job_at(LAST_LOGIN + relativedelta(months=19))
    assert (run.unlinked, run.warned) == (1, 0)


def test_batches_process_every_due_link():
    links = [make_link() for _ in range(7)]
    fresh = make_link(last_login_at=LAST_LOGIN + relativedelta(months=6))
    with time_machine.travel(LAST_LOGIN + relativedelta(months=18), tick=False):
        assert inactive_links_unlink(batch_size=2, publish=False) == 7
        assert inactive_links_warn(batch_size=2, publish=False) == 0
    assert Koppeling.objects.filter(pk__in=[link.pk for link in links], ended_at__isnull=True).count() == 0
    fresh.refresh_from_db()
    assert fresh.ended_at is None


def test_batches_take_every_due_link_once_across_equal_and_distinct_last_logins():
    # Batches of 2 resume at the newest last login of the previous batch: links sharing that
    # timestamp must still all be taken, and none twice.
    logins = [LAST_LOGIN - relativedelta(days=days) for days in (9, 5, 5, 5, 3, 0, 0)]
    links = [make_link(last_login_at=login) for login in logins]
    with time_machine.travel(LAST_LOGIN + relativedelta(months=18), tick=False):
        assert inactive_links_unlink(batch_size=2, publish=False) == 7
    assert not Koppeling.objects.filter(ended_at__isnull=True).exists()
    events = AuditEvent.objects.filter(action="link.undo")
    assert sorted(events.values_list("object_id", flat=True)) == sorted(str(link.pk) for link in links)
    assert EmailOutbox.objects.filter(template="accounts/email/link_inactive_undone").count() == 7


def test_batches_warn_every_link_in_the_17th_month_once():
    logins = [LAST_LOGIN - relativedelta(days=days) for days in (20, 10, 10, 10, 0)]
    for login in logins:
        make_link(last_login_at=login)
    make_link(last_login_at=LAST_LOGIN + relativedelta(days=1))  # not yet 17 months
    with time_machine.travel(LAST_LOGIN + relativedelta(months=17), tick=False):
        assert inactive_links_warn(batch_size=2, publish=False) == 5
        assert inactive_links_warn(batch_size=2, publish=False) == 0
    message_ids = list(
        EmailOutbox.objects.filter(template="accounts/email/link_inactive_warning").values_list(
            "message_id", flat=True
        )
    )
    assert len(set(message_ids)) == 5
    domain = re.escape(urlsplit(settings.SITE_URL).hostname)
    assert all(re.fullmatch(rf"<\d+\.\d+\.\w+@{domain}>", m) for m in message_ids), message_ids


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_link_whose_owner_is_logging_in_is_skipped_without_waiting_and_stays():
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    oldest, logging_in, other = (
        make_link(last_login_at=LAST_LOGIN - relativedelta(days=days)) for days in (2, 1, 0)
    )
    login = connections.create_connection("default")
    try:
        login.set_autocommit(False)
        with login.cursor() as cursor:  # the login's UPDATE holds the row lock until it commits
            cursor.execute(
                "UPDATE koppeling_koppeling SET last_login_at = now() WHERE id = %s", [logging_in.pk]
            )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # waiting for the lock would fail, not hang
        try:
            with time_machine.travel(LAST_LOGIN + relativedelta(months=18), tick=False):
                assert inactive_links_unlink(batch_size=2, publish=False) == 2
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        login.commit()
    finally:
        login.close()
    assert set(Koppeling.objects.filter(ended_at__isnull=False).values_list("pk", flat=True)) == {
        oldest.pk,
        other.pk,
    }
    assert not AuditEvent.objects.filter(action="link.undo", object_id=str(logging_in.pk)).exists()
    assert not EmailOutbox.objects.filter(account=logging_in.account).exists()


def test_the_daily_task_is_scheduled_in_celery_beat():
    entries = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "accounts.tasks.unlink_inactive_links" in entries


def test_mails_are_published_in_chunks_not_one_broker_call_per_mail():
    from accounts.lifecycle import email_publish_many

    calls = []
    email_publish_many(outbox_ids=list(range(1, 1202)), chunk=500, publish=calls.append)
    assert [len(chunk) for chunk in calls] == [500, 500, 201]


def test_warning_names_the_day_the_job_will_undo_the_link_even_at_a_clipped_month_end():
    make_link(last_login_at=datetime(2024, 8, 31, 12, 0, tzinfo=AMS))
    run_job_at(datetime(2026, 1, 31, 12, 0, tzinfo=AMS))
    outbox = EmailOutbox.objects.get(template="accounts/email/link_inactive_warning")
    assert outbox.context["undo_on"] == "01-03-2026"
    assert outbox.message_id.startswith("<") and outbox.message_id.endswith(">")
