"""An authorization request's and a token request's writes, each as one statement
(diensten/batched_writes.py, PostgreSQL): the same rows as the ORM's way (and django-oauth-toolkit's)
writes them one by one, and the ORM's way wherever a signal receiver would miss them."""

import base64
import hashlib
import json
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.db.models import signals
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, IDToken

from accounts.constants import AuditAction, AuditResult
from accounts.models import AuditEvent
from diensten import batched_writes
from diensten.models import Handoff
from tests.diensten.test_token_transaction import _code, _dienst_for_a_logged_in_user, _token_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow():
    """A Dienst, its secret, and a logged-in browser of a user holding its rol."""
    return _dienst_for_a_logged_in_user()


def _tokens(dienst, secret, browser) -> dict:
    code, verifier = _code(dienst, browser)
    response = _token_request(dienst, secret, code, verifier)
    assert response.status_code == 200, response.content
    assert not Grant.objects.filter(code=code).exists()  # the code is spent
    return {**response.json(), "code": code}


def _jti(id_token: str) -> str:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


def _written(tokens: dict) -> dict:
    """What the token request wrote, without what differs between two requests by design (primary
    keys, token values, times), each relation checked and replaced by what it points at."""
    handoff = Handoff.objects.get(code_hash=hashlib.sha256(tokens["code"].encode()).hexdigest())
    access_token = AccessToken.objects.get(
        token_checksum=hashlib.sha256(tokens["access_token"].encode()).hexdigest()
    )
    id_token = IDToken.objects.get(jti=_jti(tokens["id_token"]))
    event = AuditEvent.objects.get(
        action=AuditAction.DIENST_TOKEN, result=AuditResult.SUCCESS, detail__handoff_id=handoff.pk
    )
    assert handoff.access_token_id == access_token.pk
    assert access_token.id_token_id == id_token.pk
    now = timezone.now()
    for row in (access_token, id_token):
        assert now - timedelta(seconds=30) < row.created <= row.updated < now
    return {
        "access_token": {
            "token": access_token.token == tokens["access_token"],  # stored as django-oauth-toolkit stores it
            "lifetime": round((access_token.expires - access_token.created).total_seconds()),
            **{
                name: getattr(access_token, name)
                for name in ("user_id", "application_id", "scope", "resource", "source_refresh_token_id")
            },
        },
        "id_token": {
            "lifetime": round((id_token.expires - id_token.created).total_seconds()),
            **{name: getattr(id_token, name) for name in ("user_id", "application_id", "scope")},
        },
        "event": {
            "detail": {**event.detail, "handoff_id": "the hand-off"},
            "request_id": bool(event.request_id),
            **{
                name: getattr(event, name)
                for name in ("actor_id", "actor_repr", "object_type", "object_id", "object_repr", "ip")
            },
        },
    }


@pytest.mark.postgresql  # the one statement is PostgreSQL's; SQLite writes the rows one by one
def test_the_one_statement_writes_the_rows_the_orm_writes(flow, django_assert_num_queries):
    one_statement = _written(_tokens(*flow))
    with mock.patch("diensten.batched_writes.token_batch_possible", return_value=False):
        one_by_one = _written(_tokens(*flow))
    assert one_statement == one_by_one
    assert one_statement["access_token"]["lifetime"] == 300  # OIDC_TOKEN_SECONDS
    assert one_statement["event"]["actor_id"] is not None


def _recorded(code: str) -> dict:
    """What the authorization request wrote for ``code``, as ``_written`` for the token request."""
    grant = Grant.objects.get(code=code)
    handoff = Handoff.objects.get(code_hash=hashlib.sha256(code.encode()).hexdigest())
    event = AuditEvent.objects.filter(action=AuditAction.DIENST_AUTHORIZE).latest("pk")
    now = timezone.now()
    assert now - timedelta(seconds=30) < grant.created <= grant.updated < now
    assert now - timedelta(seconds=30) < handoff.created_at < now
    skip = {"id", "code", "code_challenge", "expires", "created", "updated", "code_hash", "created_at"}
    return {
        "grant": {
            "lifetime": round((grant.expires - grant.created).total_seconds()),
            **{
                f.attname: getattr(grant, f.attname)
                for f in Grant._meta.concrete_fields
                if f.attname not in skip
            },
        },
        "handoff": {
            f.attname: getattr(handoff, f.attname)
            for f in Handoff._meta.concrete_fields
            if f.attname not in skip
        },
        "event": {
            "request_id": bool(event.request_id),
            **{
                name: getattr(event, name)
                for name in ("action", "result", "actor_id", "object_type", "object_id", "ip", "detail")
            },
        },
    }


@pytest.mark.postgresql
def test_the_authorization_request_s_one_statement_writes_the_rows_the_orm_writes(flow):
    dienst, _secret, browser = flow
    one_statement = _recorded(_code(dienst, browser)[0])
    with mock.patch("diensten.batched_writes.code_batch_possible", return_value=False):
        one_by_one = _recorded(_code(dienst, browser)[0])  # django-oauth-toolkit's own grant
    assert one_statement == one_by_one
    assert one_statement["grant"]["lifetime"] == 60  # AUTHORIZATION_CODE_EXPIRE_SECONDS
    assert one_statement["grant"]["code_challenge_method"] == "S256"
    assert one_statement["handoff"]["sid"] and one_statement["event"]["actor_id"] is not None


@pytest.mark.postgresql
def test_the_compiled_inserts_take_their_values_as_django_s_compiler_does():
    """``_Insert`` compiles the SQL once and computes the values itself: both as the insert compiler
    makes them for the instance being written (the checksum, the auto_now times included)."""
    now = timezone.now()
    access_token = AccessToken(scope="openid duo", expires=now + timedelta(minutes=5), resource=["x"])
    access_token.token = "t" * 40
    id_attname = AccessToken._meta.get_field("id_token").attname
    expression = '(SELECT "id" FROM i)'
    insert = batched_writes._Insert.compile(connection, AccessToken, {id_attname: expression})
    with mock.patch("django.utils.timezone.now", return_value=now):
        params = insert.params(connection, access_token)
        access_token.__dict__[id_attname] = RawSQL(expression, [])
        query = InsertQuery(AccessToken)
        fields = [field for field in AccessToken._meta.local_concrete_fields if not field.primary_key]
        query.insert_values(fields, [access_token])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [AccessToken._meta.pk]
        [(sql, expected)] = compiler.as_sql()
    assert insert.sql == sql
    assert [getattr(value, "adapted", value) for value in params] == [
        getattr(value, "adapted", value) for value in expected
    ]
    assert hashlib.sha256(b"t" * 40).hexdigest() in params


def test_a_receiver_of_the_models_signals_gets_them_as_before(flow):
    """Nobody listening is the condition for the one statement: a receiver of an access token's
    post_save (a project's own, or a library's) sees the token saved, on every database."""
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    signals.post_save.connect(receiver, sender=AccessToken)
    try:
        assert not batched_writes.token_batch_possible()
        tokens = _tokens(*flow)
    finally:
        signals.post_save.disconnect(receiver, sender=AccessToken)
    access_token = AccessToken.objects.get(
        token_checksum=hashlib.sha256(tokens["access_token"].encode()).hexdigest()
    )
    assert seen == [(access_token.pk, True)]
