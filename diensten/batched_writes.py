"""The writes of an authorization request and of a token request, each in one statement (PostgreSQL).

An authorization request that issues a code writes three rows: the grant (django-oauth-toolkit's
record of the code), the hand-off (what the portal knows of the login behind it) and the audit
event. A token request that spends the code writes five: the ID token, the access token (which
points at the ID token), the hand-off's link to the access token, the audit event, and the spent
grant (deleted). Through the ORM each is a statement and a round trip of its own, on the bench
machine 0.2-0.45 ms each (P9). Here each request's writes are one data-modifying ``WITH``
statement, prepared once per connection. The INSERTs are compiled by Django's own insert compiler
(once per database), and their values are taken as that compiler takes them (each field's
``pre_save`` for a new row — the ``auto_now`` times, the token's checksum — then
``get_db_prep_save``), so the rows are exactly the ones ``Model.save()`` writes; the UPDATE and the
DELETE are the single-row statements the ORM's ``update()`` and
validators.invalidate_authorization_code send.

Only where nothing else changes: PostgreSQL (SQLite has no data-modifying ``WITH``), inside the
view's transaction (one commit for the request already, views.py), all on one database, and with
nobody listening to the signals ``Model.save()`` and ``delete()`` would send for these models
(these statements send none). Elsewhere the ORM's way, as before (``token_batch_possible``,
``code_batch_possible``).
"""

from dataclasses import dataclass

from django.db import connections, router
from django.db.models import signals
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery
from oauth2_provider.models import AccessToken, IDToken, get_grant_model

from accounts.models import AuditEvent

from .models import Handoff
from .selectors import execute


def _connection():
    return connections[router.db_for_write(AccessToken)]


def _batch_possible(*, saved: tuple, deleted: tuple = ()) -> bool:
    """Whether writes that save new rows of ``saved`` (and delete rows of ``deleted``) can go as one
    statement (see the module)."""
    connection = _connection()
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return False
    models = (*saved, *deleted, Handoff)
    if any(router.db_for_write(model) != connection.alias for model in models):
        return False
    return not (
        any(
            signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model) for model in saved
        )
        or any(
            signals.pre_delete.has_listeners(model) or signals.post_delete.has_listeners(model)
            for model in deleted
        )
    )


def token_batch_possible() -> bool:
    """Whether a token request's writes can go as one statement (``issue_and_spend``)."""
    return _batch_possible(saved=(IDToken, AccessToken, AuditEvent), deleted=(get_grant_model(),))


def code_batch_possible() -> bool:
    """Whether an authorization request's writes can go as one statement (``record_code``)."""
    return _batch_possible(saved=(get_grant_model(), Handoff, AuditEvent))


@dataclass(frozen=True)
class _Insert:
    """An INSERT as ``Model.save()`` sends it for a new row, ``RETURNING`` its primary key: the SQL
    compiled once by Django's insert compiler, the fields whose values are its parameters."""

    sql: str
    fields: tuple

    @classmethod
    def compile(cls, connection, model, expressions: dict[str, str]) -> "_Insert":
        """``expressions``: attnames whose value is that SQL expression (as the ORM allows, e.g. a
        subquery) instead of a parameter."""
        meta = model._meta
        fields = [
            field
            for field in meta.local_concrete_fields
            if field is not meta.auto_field and not field.generated
        ]
        # A field with a placeholder of its own (e.g. a geometry) would need its value to compile.
        assert not any(hasattr(field, "get_placeholder") for field in fields), model
        template = model()
        for name, expression in expressions.items():
            template.__dict__[name] = RawSQL(expression, [])  # noqa: S611  (the caller's SQL, no input)
        query = InsertQuery(model)
        query.insert_values(fields, [template])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [meta.pk]
        [(sql, params)] = compiler.as_sql()
        fields = tuple(field for field in fields if field.attname not in expressions)
        assert len(params) == len(fields), (model, sql)
        return cls(sql=sql, fields=fields)

    def params(self, connection, instance) -> list:
        """The parameters for ``instance``, as the compiler makes them (``pre_save`` for a new row,
        then ``get_db_prep_save``)."""
        return [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in self.fields]


_STATEMENTS: dict[tuple, tuple] = {}  # per database alias and statement: its SQL and its INSERTs


def _token_statement(connection, grant_model) -> tuple:
    known = _STATEMENTS.get((connection.alias, "issue_and_spend", grant_model))
    if known is not None:
        return known
    quote = connection.ops.quote_name
    i_pk, a_pk, e_pk, h_pk, g_pk = (
        quote(model._meta.pk.column) for model in (IDToken, AccessToken, AuditEvent, Handoff, grant_model)
    )
    id_insert = _Insert.compile(connection, IDToken, {})
    access_insert = _Insert.compile(
        connection,
        AccessToken,
        {AccessToken._meta.get_field("id_token").attname: f"(SELECT {i_pk} FROM i)"},  # noqa: S608
    )
    event_insert = _Insert.compile(connection, AuditEvent, {})
    handoff_table, grant_table = quote(Handoff._meta.db_table), quote(grant_model._meta.db_table)
    link = quote(Handoff._meta.get_field("access_token").column)
    # Names from _meta and Django's compiled INSERTs; every value is a parameter.
    sql = (
        f"WITH i AS ({id_insert.sql}), a AS ({access_insert.sql}), "  # noqa: S608
        f"h AS (UPDATE {handoff_table} SET {link} = (SELECT {a_pk} FROM a) WHERE {h_pk} = %s RETURNING 1), "
        f"e AS ({event_insert.sql}), "
        f"g AS (DELETE FROM {grant_table} WHERE {g_pk} = %s RETURNING 1) "
        f"SELECT (SELECT {i_pk} FROM i), (SELECT {a_pk} FROM a), (SELECT {e_pk} FROM e), "
        "(SELECT count(*) FROM h), (SELECT count(*) FROM g)"
    )
    known = _STATEMENTS[(connection.alias, "issue_and_spend", grant_model)] = (
        sql,
        id_insert,
        access_insert,
        event_insert,
    )
    return known


def issue_and_spend(
    *, id_token: IDToken, access_token: AccessToken, handoff: Handoff, event: AuditEvent, grant
) -> bool:
    """Write the unsaved ``id_token``, ``access_token`` (for that ID token) and audit ``event``, link
    ``handoff`` to the access token and delete ``grant``, in one statement; the instances then are
    as ``save()`` leaves them (primary key set, no longer adding). Return whether the grant was
    still there to delete (the token view's lock on it makes that certain; else the request must be
    refused: the caller raises, the view rolls everything back)."""
    connection = _connection()
    sql, id_insert, access_insert, event_insert = _token_statement(connection, type(grant))
    params = [
        *id_insert.params(connection, id_token),
        *access_insert.params(connection, access_token),
        handoff.pk,
        *event_insert.params(connection, event),
        grant.pk,
    ]
    with connection.cursor() as cursor:
        execute(
            connection,
            cursor,
            sql,
            params,
            prepared_as="diensten_issue_and_spend",
        )
        id_token_pk, access_token_pk, event_pk, linked, spent = cursor.fetchone()
    _saved(connection, ((id_token, id_token_pk), (access_token, access_token_pk), (event, event_pk)))
    access_token.id_token = id_token
    if linked:
        handoff.access_token = access_token
    return bool(spent)


def _code_statement(connection, grant_model) -> tuple:
    known = _STATEMENTS.get((connection.alias, "record_code", grant_model))
    if known is not None:
        return known
    quote = connection.ops.quote_name
    g_pk, h_pk, e_pk = (quote(model._meta.pk.column) for model in (grant_model, Handoff, AuditEvent))
    inserts = [_Insert.compile(connection, model, {}) for model in (grant_model, Handoff, AuditEvent)]
    # Django's compiled INSERTs; every value is a parameter.
    sql = (
        f"WITH g AS ({inserts[0].sql}), h AS ({inserts[1].sql}), e AS ({inserts[2].sql}) "  # noqa: S608
        f"SELECT (SELECT {g_pk} FROM g), (SELECT {h_pk} FROM h), (SELECT {e_pk} FROM e)"
    )
    known = _STATEMENTS[(connection.alias, "record_code", grant_model)] = (sql, inserts)
    return known


def record_code(*, grant, handoff: Handoff, event: AuditEvent) -> None:
    """Write the unsaved ``grant``, ``handoff`` and audit ``event`` of an authorization request in one
    statement; the instances then are as ``save()`` leaves them."""
    connection = _connection()
    sql, inserts = _code_statement(connection, type(grant))
    instances = (grant, handoff, event)
    params = [
        value
        for insert, instance in zip(inserts, instances, strict=True)
        for value in insert.params(connection, instance)
    ]
    with connection.cursor() as cursor:
        execute(connection, cursor, sql, params, prepared_as="diensten_record_code")
        pks = cursor.fetchone()
    _saved(connection, zip(instances, pks, strict=True))


def _saved(connection, instances_and_pks) -> None:
    for instance, pk in instances_and_pks:
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = connection.alias
