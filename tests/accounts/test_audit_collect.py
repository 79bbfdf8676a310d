"""audit_collect: the events of a unit of work written with one INSERT, or not at all when it fails."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.audit import audit_collect, audit_log
from accounts.constants import AuditAction
from accounts.models import AuditEvent
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_events_inside_the_block_are_written_with_one_insert_in_call_order():
    account = AccountFactory()
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), audit_collect() as events:
        for field in ("name", "phone", "email"):
            audit_log(action=AuditAction.ACCOUNT_UPDATE, obj=account, detail={"field": field})
        assert AuditEvent.objects.filter(object_id=str(account.pk)).count() == 0  # not yet written
    inserts = [
        q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "accounts_auditevent"')
    ]
    assert len(inserts) == 1
    assert all(event.pk is not None for event in events)
    written = AuditEvent.objects.filter(object_id=str(account.pk)).order_by("pk")
    assert [event.detail["field"] for event in written] == ["name", "phone", "email"]
    assert written[0].created_at <= written[2].created_at


def test_a_failing_block_writes_none_of_its_events_and_audit_log_writes_at_once_outside():
    account = AccountFactory()
    with pytest.raises(RuntimeError), transaction.atomic(), audit_collect():
        audit_log(action=AuditAction.ACCOUNT_UPDATE, obj=account, detail={"field": "name"})
        raise RuntimeError
    assert not AuditEvent.objects.filter(object_id=str(account.pk)).exists()
    event = audit_log(action=AuditAction.ACCOUNT_UPDATE, obj=account, detail={"field": "phone"})
    assert event.pk is not None and AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_secret_key_guard_still_applies_inside_the_block():
    with pytest.raises(ValueError), audit_collect():
        audit_log(action=AuditAction.ACCOUNT_UPDATE, detail={"password": "x"})
