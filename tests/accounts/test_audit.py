"""The audit trail is append-only and never holds a secret (design.md §6)."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from accounts.models import AuditEvent
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_event_records_utc_time_actor_object_result_ip_and_request_id():
    actor = AccountFactory()
    target = AccountFactory(organisatie=actor.organisatie)
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.7")
    request.user = actor
    request.request_id = "abcdef0123456789"
    event = audit_log(
        action=AuditAction.ACCOUNT_UPDATE, obj=target, request=request, detail={"field": "phone"}
    )
    event.refresh_from_db()
    assert event.created_at.utcoffset().total_seconds() == 0
    assert (event.actor_id, event.object_id, event.ip, event.request_id) == (
        actor.pk,
        str(target.pk),
        "192.0.2.7",
        "abcdef0123456789",
    )
    assert event.result == AuditResult.SUCCESS


@pytest.mark.parametrize("key", ["password", "activation_code", "otp_token", "SAMLResponse", "secret"])
def test_detail_that_may_hold_a_secret_is_refused(key):
    with pytest.raises(ValueError, match="secret"):
        audit_log(action=AuditAction.KOPPEL_ATTEMPT, detail={key: "x"})
    assert not AuditEvent.objects.exists()


def test_orm_cannot_change_or_delete_events():
    event = audit_log(action=AuditAction.LOGOUT)
    event.action = "something.else"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(result="failure")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.LOGOUT


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "sql", ["UPDATE accounts_auditevent SET result = 'failure'", "DELETE FROM accounts_auditevent"]
)
def test_postgresql_trigger_refuses_update_and_delete_in_raw_sql(sql):
    assert connection.vendor == "postgresql"
    audit_log(action=AuditAction.LOGOUT)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEvent.objects.filter(result="success").count() == 1
