"""Issue 16 item 1: a file of users whose Celery worker died mid-run (OOM, deploy, kill -9) is taken over
and finished — only the rows without a result, nobody twice — or failed with a Dutch explanation; its page
never spins for ever.

The crash is simulated as a killed worker leaves it: an exception inside a chunk after the chunk's
accounts were written (the chunk's transaction rolls back, as PostgreSQL does for a dropped connection),
the file left RUNNING with the heartbeat of its last chunk; then the clock moves past the stale threshold.
"""

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.models import Account, AuditEvent, EmailOutbox, RolToekenning
from beheer import bulk
from beheer.models import GebruikersUpload
from beheer.tasks import gebruikers_upload_run_task, gebruikers_uploads_resume_task
from tests.beheer.test_bulk_register import _csv, _row, _upload, _upload_id
from tests.parallel import run_parallel

pytestmark = pytest.mark.django_db

ROWS = 5
STALE = timedelta(seconds=settings.GEBRUIKERS_UPLOAD_STALE_SECONDS)
UPLOAD_URL = "/beheer/gebruikers/aanmelden/bestand/"


class WorkerKilledError(Exception):
    """Stands in for the process dying: nothing after it runs in this worker."""


def _confirmed_upload(client, kenmerk, monkeypatch) -> str:
    """A confirmed file of ROWS users whose task has not run yet (its message is still in the queue)."""
    monkeypatch.setattr(gebruikers_upload_run_task, "delay", lambda *args: None)
    upload_id = _upload_id(_upload(client, _csv(*(_row(n, kenmerk.waarde) for n in range(1, ROWS + 1)))))
    assert client.post(f"{UPLOAD_URL}{upload_id}/").status_code == 302
    monkeypatch.undo()
    assert GebruikersUpload.objects.get(pk=upload_id).status == "queued"
    return upload_id


def _run_and_kill_in_second_chunk(upload_id, monkeypatch, chunk: int = 2):
    """Run the file in chunks of 2 and kill the worker inside the second (or ``chunk``-th) chunk, after
    its accounts, roles, audit events and mails were written but before its results were recorded."""
    monkeypatch.setattr(bulk, "RUN_CHUNK", 2)
    original = bulk._register_chunk
    calls = []

    def register_then_die(**kwargs):
        results = original(**kwargs)
        calls.append(results)
        if len(calls) == chunk:
            raise WorkerKilledError
        return results

    monkeypatch.setattr(bulk, "_register_chunk", register_then_die)
    with pytest.raises(WorkerKilledError):
        bulk.gebruikers_upload_run(upload_id=upload_id)
    monkeypatch.setattr(bulk, "_register_chunk", original)


def _assert_every_row_registered_once(beheerder):
    emails = [f"collega{n}@school.example" for n in range(1, ROWS + 1)]
    accounts = list(Account.objects.filter(email__in=emails))
    assert sorted(account.email for account in accounts) == emails  # each exactly once
    ids = [str(account.pk) for account in accounts]
    creates = Counter(
        AuditEvent.objects.filter(
            action="account.create", actor_id=beheerder.pk, object_id__in=ids
        ).values_list("object_id", flat=True)
    )
    assert creates == dict.fromkeys(ids, 1)
    grants = Counter(
        AuditEvent.objects.filter(action="rol.grant", result="success", object_id__in=ids).values_list(
            "object_id", flat=True
        )
    )
    assert grants == dict.fromkeys(ids, 2)
    mails = Counter(
        EmailOutbox.objects.filter(account__in=accounts, template="beheer/email/registered").values_list(
            "account_id", flat=True
        )
    )
    assert mails == {account.pk: 1 for account in accounts}
    assert RolToekenning.objects.filter(account__in=accounts).count() == 2 * ROWS
    return accounts


def test_a_run_killed_mid_chunk_is_taken_over_by_the_redelivery_and_registers_exactly_the_rest(
    beheer_client, beheerder, kenmerk, monkeypatch
):
    upload_id = _confirmed_upload(beheer_client, kenmerk, monkeypatch)
    _run_and_kill_in_second_chunk(upload_id, monkeypatch)
    upload = GebruikersUpload.objects.get(pk=upload_id)
    # What the killed worker left: the first chunk registered and recorded, the second rolled back.
    assert upload.status == "running"
    assert upload.processed == 2
    assert Account.objects.filter(email__endswith="@school.example", created_by=beheerder).count() == 2
    # While the heartbeat is fresh, a redelivery leaves the (possibly live) run alone.
    assert gebruikers_upload_run_task.apply(args=[upload_id]).get() == 0
    with time_machine.travel(timezone.now() + STALE + timedelta(minutes=1)):
        # acks_late: the broker hands the message to another worker, which takes the file over.
        assert gebruikers_upload_run_task.apply(args=[upload_id]).get() == ROWS
    upload.refresh_from_db()
    assert upload.status == "done"
    assert upload.processed == ROWS
    accounts = _assert_every_row_registered_once(beheerder)
    assert {result["account_id"] for result in upload.results.values()} == {a.pk for a in accounts}
    resumed = AuditEvent.objects.filter(action="bulk.register", object_id=upload_id, detail__step="resumed")
    assert resumed.count() == 1
    done = AuditEvent.objects.get(action="bulk.register", object_id=upload_id, detail__step="done")
    assert done.detail["registered"] == ROWS
    html = beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
    assert f"{ROWS} gebruikers zijn aangemeld" in html


def test_the_progress_page_says_a_stopped_run_stopped_and_shows_progress_again_after_the_takeover(
    beheer_client, beheerder, kenmerk, monkeypatch
):
    upload_id = _confirmed_upload(beheer_client, kenmerk, monkeypatch)
    _run_and_kill_in_second_chunk(upload_id, monkeypatch)
    page = beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
    assert "Bezig met aanmelden: 2 van 5 klaar." in page
    assert "Het aanmelden is gestopt" not in page
    later = timezone.now() + STALE + timedelta(minutes=1)
    with time_machine.travel(later):
        page = beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
        assert "Het aanmelden is gestopt: er is al meer dan 5 minuten niets gebeurd (2 van 5 klaar)" in page
        assert "niemand wordt twee keer aangemeld" in page
        assert "Bezig met aanmelden" not in page
        # A takeover that is under way again: a fresh heartbeat, the page counts on.
        GebruikersUpload.objects.filter(pk=upload_id).update(heartbeat_at=timezone.now())
        page = beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
        assert "Bezig met aanmelden: 2 van 5 klaar." in page
        assert "Het aanmelden is gestopt" not in page


def test_the_beat_sweep_hands_a_stopped_run_to_a_worker_that_finishes_it(
    beheer_client, beheerder, kenmerk, monkeypatch
):
    upload_id = _confirmed_upload(beheer_client, kenmerk, monkeypatch)
    _run_and_kill_in_second_chunk(upload_id, monkeypatch)
    assert gebruikers_uploads_resume_task.apply().get() == 0  # not stale yet
    with time_machine.travel(timezone.now() + STALE + timedelta(minutes=1)):
        # Celery is eager in tests: the run the sweep schedules runs here.
        assert gebruikers_uploads_resume_task.apply().get() == 1
        assert gebruikers_uploads_resume_task.apply().get() == 0  # done: nothing left to resume
    assert GebruikersUpload.objects.get(pk=upload_id).status == "done"
    _assert_every_row_registered_once(beheerder)
    entry = settings.CELERY_BEAT_SCHEDULE["resume-stalled-gebruikers-uploads"]
    assert entry["task"] == gebruikers_uploads_resume_task.name


def test_a_confirmed_file_whose_task_never_arrived_is_run_by_the_sweep(
    beheer_client, beheerder, kenmerk, monkeypatch
):
    upload_id = _confirmed_upload(beheer_client, kenmerk, monkeypatch)
    with time_machine.travel(timezone.now() + STALE + timedelta(minutes=1)):
        assert gebruikers_uploads_resume_task.apply().get() == 1
    assert GebruikersUpload.objects.get(pk=upload_id).status == "done"
    _assert_every_row_registered_once(beheerder)


def test_a_stopped_run_whose_file_expired_fails_with_a_dutch_explanation_listing_the_registered_rows(
    beheer_client, beheerder, kenmerk, monkeypatch
):
    upload_id = _confirmed_upload(beheer_client, kenmerk, monkeypatch)
    _run_and_kill_in_second_chunk(upload_id, monkeypatch)
    registered = list(Account.objects.filter(created_by=beheerder, email__startswith="collega"))
    assert len(registered) == 2
    with time_machine.travel(timezone.now() + bulk.UPLOAD_VALIDITY + timedelta(minutes=1)):
        # The daily purge leaves a running file alone; the sweep's takeover fails it.
        assert bulk.gebruikers_uploads_purge() == 0
        assert gebruikers_uploads_resume_task.apply().get() == 1
        upload = GebruikersUpload.objects.get(pk=upload_id)
        assert upload.status == "failed"
        assert upload.failure_code == "expired"
        beheer_client.force_login(beheerder)  # a day later: her session of yesterday has ended
        response = beheer_client.get(f"{UPLOAD_URL}{upload_id}/")
        html = response.content.decode()
        assert response.status_code == 200
        assert "het bestand is inmiddels verlopen" in html
        assert "2 gebruikers zijn aangemeld: hun gebruikersnamen staan in de tabel hieronder." in html
        assert "3 rijen met „niet aangemeld” zijn niet aangemeld" in html
        for account in registered:
            assert account.username in html
        assert html.count("niet aangemeld") == 2 + 3  # the explanation, and each row not registered
        # Their letters are still there to hand out.
        assert beheer_client.get(f"{UPLOAD_URL}{upload_id}/brieven/").status_code == 200
    assert Account.objects.filter(created_by=beheerder, email__startswith="collega").count() == 2
    event = AuditEvent.objects.get(action="bulk.register", result="failure", detail__reason_code="expired")
    assert event.object_id == upload_id
    assert event.detail["registered"] == 2
    assert event.detail["not_registered"] == 3


def test_a_file_that_keeps_killing_its_worker_is_failed_not_retried_for_ever(
    beheer_client, beheerder, kenmerk, monkeypatch
):
    upload_id = _confirmed_upload(beheer_client, kenmerk, monkeypatch)
    moment = timezone.now()
    for _run in range(bulk.MAX_RUNS):
        with time_machine.travel(moment):
            # The first chunk kills the worker every time (a row that runs it out of memory, say).
            _run_and_kill_in_second_chunk(upload_id, monkeypatch, chunk=1)
            assert GebruikersUpload.objects.get(pk=upload_id).status == "running"
        moment += STALE + timedelta(minutes=1)
    with time_machine.travel(moment):
        assert gebruikers_upload_run_task.apply(args=[upload_id]).get() == 0
        upload = GebruikersUpload.objects.get(pk=upload_id)
        assert upload.status == "failed"
        assert upload.failure_code == "stopped_repeatedly"
        beheer_client.force_login(beheerder)  # her session ended while the file kept stopping
        html = beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
        assert "Het aanmelden is 3 keer gestopt" in html
        assert "neem dan contact op met de DUO-helpdesk" in html
    assert AuditEvent.objects.filter(
        action="bulk.register", result="failure", detail__reason_code="stopped_repeatedly"
    ).exists()
    # Each killed chunk rolled back whole: nobody half registered.
    assert not Account.objects.filter(created_by=beheerder, email__startswith="collega").exists()


def test_a_slow_old_worker_whose_run_was_taken_over_stops_at_its_next_chunk(
    beheer_client, beheerder, kenmerk, monkeypatch, after_each_chunk
):
    upload_id = _confirmed_upload(beheer_client, kenmerk, monkeypatch)

    def lose_the_lease(_number):
        # Meanwhile another worker took the file over (it waits for this chunk's lock, then owns it).
        GebruikersUpload.objects.filter(pk=upload_id).update(runner="00000000-0000-4000-8000-000000000000")

    after_each_chunk(lose_the_lease, size=2)
    assert bulk.gebruikers_upload_run(upload_id=upload_id) is None
    assert Account.objects.filter(created_by=beheerder, email__startswith="collega").count() == 2
    upload = GebruikersUpload.objects.get(pk=upload_id)
    assert upload.status == "running"  # its successor's, not marked done by the old worker
    assert upload.processed == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.postgresql  # row locks and parallel writers
def test_two_workers_taking_over_one_stopped_run_at_once_register_the_rest_once(
    beheer_client, beheerder, kenmerk, monkeypatch
):
    upload_id = _confirmed_upload(beheer_client, kenmerk, monkeypatch)
    _run_and_kill_in_second_chunk(upload_id, monkeypatch)
    with time_machine.travel(timezone.now() + STALE + timedelta(minutes=1)):
        outcomes = run_parallel(lambda _i: bulk.gebruikers_upload_run(upload_id=upload_id), 2)
    winners = [outcome for outcome in outcomes if outcome is not None]
    assert len(winners) == 1
    upload = GebruikersUpload.objects.get(pk=upload_id)
    assert upload.status == "done"
    assert upload.runs == 2  # the first run and one takeover
    _assert_every_row_registered_once(beheerder)
    assert AuditEvent.objects.filter(action="bulk.register", detail__step="resumed").count() == 1
