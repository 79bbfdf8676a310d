"""Database sessions with one statement per read or write (accounts/sessions.py, SESSION_ENGINE)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import sessions
from accounts.sessions import SessionStore
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def session_sql(queries) -> list[str]:
    return [q["sql"] for q in queries if "django_session" in q["sql"]]


def test_engine_is_ours():
    assert settings.SESSION_ENGINE == "accounts.sessions"


def test_new_session_is_one_insert_with_its_data():
    store = SessionStore()
    store["colour"] = "oranje"
    with CaptureQueriesContext(connection) as queries:
        store.save()
    statements = [q["sql"] for q in queries]
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO")
    row = Session.objects.get(session_key=store.session_key)
    assert SessionStore(store.session_key).load() == {"colour": "oranje"}
    assert row.expire_date > timezone.now()


def test_create_writes_nothing_until_saved():
    store = SessionStore()
    with CaptureQueriesContext(connection) as queries:
        store.create()
        store["step"] = 2
    assert queries.captured_queries == []
    assert not Session.objects.filter(session_key=store.session_key).exists()
    store.save()
    assert SessionStore(store.session_key)["step"] == 2


def test_update_is_one_statement_and_keeps_the_key():
    store = SessionStore()
    store["n"] = 1
    store.save()
    again = SessionStore(store.session_key)
    again["n"] = 2
    with CaptureQueriesContext(connection) as queries:
        again.save()
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["UPDATE"]
    assert SessionStore(store.session_key)["n"] == 2


def test_update_of_a_deleted_session_is_refused_as_django_does():
    store = SessionStore()
    store["n"] = 1
    store.save()
    again = SessionStore(store.session_key)
    again["n"] = 2
    Session.objects.filter(session_key=store.session_key).delete()  # logged out elsewhere
    with pytest.raises(UpdateError):
        again.save()
    assert not Session.objects.exists()


def test_expired_or_unknown_session_loads_empty_and_drops_the_key():
    store = SessionStore()
    store["n"] = 1
    store.set_expiry(-60)
    store.save()
    expired = SessionStore(store.session_key)
    assert expired.load() == {}
    assert expired.session_key is None
    assert SessionStore("x" * 32).load() == {}


def test_tampered_session_data_loads_empty():
    store = SessionStore()
    store["_auth_user_id"] = "1"
    store.save()
    Session.objects.filter(session_key=store.session_key).update(
        session_data="eyJfYXV0aF91c2VyX2lkIjoiMiJ9:forged"
    )
    assert SessionStore(store.session_key).load() == {}


def test_cycle_key_moves_the_data_and_deletes_the_old_row():
    store = SessionStore()
    store["n"] = 1
    store.save()
    old = store.session_key
    store.cycle_key()
    store.save()
    assert store.session_key != old
    assert not Session.objects.filter(session_key=old).exists()
    assert SessionStore(store.session_key)["n"] == 1


def test_flush_of_an_unsaved_session_touches_nothing():
    store = SessionStore()
    store.create()
    with CaptureQueriesContext(connection) as queries:
        store.flush()
    assert queries.captured_queries == []
    assert store.session_key is None


def test_flush_of_a_saved_session_deletes_its_row():
    store = SessionStore()
    store["n"] = 1
    store.save()
    key = store.session_key
    store.flush()
    assert not Session.objects.filter(session_key=key).exists()


def test_a_taken_key_is_never_overwritten_a_new_one_is_drawn(monkeypatch):
    victim = SessionStore()
    victim["_auth_user_id"] = "victim"
    victim.save()
    keys = iter([victim.session_key, "k" * 32])
    monkeypatch.setattr(sessions, "_new_key", lambda: next(keys))
    store = SessionStore()
    store["_auth_user_id"] = "other"
    store.save()
    assert store.session_key == "k" * 32
    assert SessionStore(victim.session_key)["_auth_user_id"] == "victim"
    assert SessionStore("k" * 32)["_auth_user_id"] == "other"


def test_must_create_with_a_taken_key_raises_create_error():
    first = SessionStore()
    first.save()
    second = SessionStore(first.session_key)
    with pytest.raises(CreateError):
        second.save(must_create=True)


def test_clearsessions_removes_expired_rows():
    live, dead = SessionStore(), SessionStore()
    live["n"], dead["n"] = 1, 2
    live.save()
    dead.save()
    Session.objects.filter(session_key=dead.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    call_command("clearsessions")
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_login_and_logout_through_the_middleware(client):
    account = AccountFactory()
    client.force_login(account)
    response = client.get("/mijn-gegevens/")
    assert response.status_code == 200
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert Session.objects.filter(session_key=key).exists()
    client.logout()
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get("/mijn-gegevens/").status_code == 302
