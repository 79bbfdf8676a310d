"""The one way to write the audit trail (design.md §6)."""

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import timezone

from mijnduo.middleware import client_ip, current_request_id

from .constants import AuditAction, AuditResult
from .models import AuditEvent

# Keys that must never reach the audit trail, whatever the caller passes.
_SECRET_KEY = re.compile(r"pass|secret|token|code|otp|key|saml_?response|assertion$", re.IGNORECASE)
_ALLOWED_KEYS = {
    "reason_code",
    "kenmerk_code",
    "rol_code",
    "beheerautorisatie_code",
    "status_code",
    "error_code",
}


def _clean_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    if not detail:
        return {}
    for key in detail:
        if _SECRET_KEY.search(key) and key not in _ALLOWED_KEYS:
            raise ValueError(f"Refusing to write {key!r} to the audit trail: it may hold a secret.")
    return {
        key: value if isinstance(value, str | int | float | bool | None) else str(value)
        for key, value in detail.items()
    }


def audit_log(
    *,
    action: AuditAction | str,
    result: AuditResult | str = AuditResult.SUCCESS,
    actor=None,
    obj: models.Model | None = None,
    request=None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit trail.

    ``actor`` is the account that acted (None for the system or an anonymous visitor); the
    request, when given, supplies the client IP, the request id and — if no actor is given — the
    logged-in user. ``detail`` must not hold secrets: keys that look like one are refused.
    """
    event = audit_event(
        action=action, result=result, actor=actor, obj=obj, request=request, ip=ip, detail=detail
    )
    collected = _collected.get()
    if collected is not None:
        collected.append(event)
    else:
        event.save(force_insert=True)
    return event


def audit_event(
    *,
    action: AuditAction | str,
    result: AuditResult | str = AuditResult.SUCCESS,
    actor=None,
    obj: models.Model | None = None,
    request=None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """The event ``audit_log`` appends, with the same rules, not yet written: for a caller that
    writes it in a statement of its own together with the change it records (the token request,
    diensten/batched_writes.py), in the same transaction."""
    action = AuditAction(action)
    result = AuditResult(result)
    if request is not None:
        ip = ip or client_ip(request)
        if actor is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
            actor = request.user
    return AuditEvent(
        action=action.value,
        result=result.value,
        actor_id=getattr(actor, "pk", None),
        actor_repr=str(actor)[:255] if actor is not None else "",
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        ip=ip,
        request_id=getattr(request, "request_id", None) or current_request_id(),
        detail=_clean_detail(detail),
    )


# Events of ``audit_log`` calls inside ``audit_collect``, written when the block ends.
_collected: ContextVar[list[AuditEvent] | None] = ContextVar("audit_collected", default=None)


@contextmanager
def audit_collect() -> Iterator[list[AuditEvent]]:
    """Write the events of the ``audit_log`` calls made inside the block with one INSERT at its end.

    For batch jobs that log several events per unit of work in one transaction (``import_beheerders``
    writes six per row, design.md §7 P7): one statement instead of one per event. Use it inside the
    transaction (``with transaction.atomic(), audit_collect():``), so the events commit or roll back
    with the changes they record; when the block raises, nothing is written. Each event keeps the
    time of its ``audit_log`` call, and its primary key is set only at the end of the block.
    """
    events: list[AuditEvent] = []
    token = _collected.set(events)
    try:
        yield events
    finally:
        _collected.reset(token)
    if events:
        AuditEvent.objects.bulk_create(events)


@dataclass(frozen=True)
class AuditObject:
    """The object of one event in ``audit_log_bulk``, given as plain values (no model instance needed)."""

    type: str
    id: str
    repr: str = ""
    detail: dict[str, Any] | None = None  # merged over the shared detail (e.g. the rol of each event)


def audit_log_bulk(
    *,
    action: AuditAction | str,
    objects: Iterable[AuditObject],
    result: AuditResult | str = AuditResult.SUCCESS,
    actor=None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
    batch_size: int = 5000,
) -> int:
    """Append one event per object with a single multi-row INSERT per batch; return how many.

    For jobs that act on many rows at once (the 18-month unlinking): one ``audit_log`` call per
    row would cost a round trip each. The rules stay those of ``audit_log``: the same secret-key
    guard on ``detail`` (shared by all events), UTC time, the system as actor when none is given.
    """
    action = AuditAction(action)
    result = AuditResult(result)
    clean_detail = _clean_detail(detail)
    now = timezone.now()
    actor_id = getattr(actor, "pk", None)
    actor_repr = str(actor)[:255] if actor is not None else ""
    request_id = current_request_id()
    events = [
        AuditEvent(
            created_at=now,
            action=action.value,
            result=result.value,
            actor_id=actor_id,
            actor_repr=actor_repr,
            object_type=obj.type[:64],
            object_id=str(obj.id)[:64],
            object_repr=obj.repr[:255],
            ip=ip,
            request_id=request_id,
            detail={**clean_detail, **_clean_detail(obj.detail)} if obj.detail else clean_detail,
        )
        for obj in objects
    ]
    AuditEvent.objects.bulk_create(events, batch_size=batch_size)
    return len(events)


def audit_insert_select_sql(
    *,
    action: AuditAction | str,
    source: str,
    object_type: str,
    object_id_sql: str,
    object_repr_sql: str = "''",
    result: AuditResult | str = AuditResult.SUCCESS,
    actor=None,
    detail: dict[str, Any] | None = None,
    created_at=None,
) -> tuple[str, list]:
    """Return ``(sql, params)`` of an ``INSERT … SELECT`` writing one event per row of ``source``.

    For set-based jobs on PostgreSQL that produce their objects inside one SQL statement (e.g.
    an ``UPDATE … RETURNING`` in a CTE named by ``source``): the events are written by the server
    without a round trip through Python. ``object_id_sql`` / ``object_repr_sql`` are SQL
    expressions over ``source`` written by the caller (never user input). The rules stay those of
    ``audit_log``: the same secret-key guard on ``detail``, the system as actor when none is given.
    """
    action = AuditAction(action)
    result = AuditResult(result)
    table = AuditEvent._meta.db_table
    sql = (
        f"INSERT INTO {table} (created_at, action, result, actor_id, actor_repr, object_type, "  # noqa: S608
        "object_id, object_repr, ip, request_id, detail) "
        f"SELECT %s, %s, %s, %s, %s, %s, ({object_id_sql})::text, ({object_repr_sql})::text, NULL, %s, "
        f"%s::jsonb FROM {source}"
    )
    params = [
        created_at or timezone.now(),
        action.value,
        result.value,
        getattr(actor, "pk", None),
        str(actor)[:255] if actor is not None else "",
        object_type[:64],
        current_request_id(),
        json.dumps(_clean_detail(detail)),
    ]
    return sql, params
