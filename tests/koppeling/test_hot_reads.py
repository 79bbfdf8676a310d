"""The two reads written as SQL text (mijnduo/rows.py): the account of every eHerkenning session
(EHerkenningBackend.get_user) and the link of every eHerkenning login (koppeling_for_identity).

They must give exactly what the ORM gives: the same instance, field by field and type by type, and
nothing for what the ORM would not find.
"""

import datetime

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from koppeling.backends import EHerkenningBackend
from koppeling.dev_broker.testing import LOA3
from koppeling.identity import EHerkenningIdentity
from koppeling.models import Koppeling
from koppeling.saml.services import koppeling_for_identity
from mijnduo import rows
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def same_fields(loaded, expected) -> None:
    """Every concrete field equal, of the same type (an aware datetime stays aware)."""
    assert type(loaded) is type(expected)
    for field in type(expected)._meta.concrete_fields:
        got, want = getattr(loaded, field.attname), getattr(expected, field.attname)
        assert got == want, field.name
        assert type(got) is type(want), field.name
    assert loaded._state.adding is False
    assert loaded._state.db == "default"


@pytest.fixture
def link():
    account = AccountFactory(last_login=timezone.now() - datetime.timedelta(days=3))
    return Koppeling.objects.create(
        account=account,
        acting_subject_id="pseudo-hot",
        legal_subject_id=account.organisatie.kvk_nummer,
        intermediate_entity_id="87654321",
        level=LOA3,
        last_login_at=timezone.now() - datetime.timedelta(days=1),
    )


def identity_of(link, **changes) -> EHerkenningIdentity:
    values = {
        "acting_subject_id": link.acting_subject_id,
        "legal_subject_id": link.legal_subject_id,
        "intermediate_entity_id": link.intermediate_entity_id,
        "level": LOA3,
    }
    values.update(changes)
    return EHerkenningIdentity(**values)


def test_the_link_and_its_account_are_the_orms_in_one_query(link):
    orm = Koppeling.objects.select_related("account").get(pk=link.pk)
    with CaptureQueriesContext(connection) as queries:
        found = koppeling_for_identity(identity=identity_of(link))
        same_fields(found, orm)
        same_fields(found.account, orm.account)
        assert found.account_id == orm.account_id
    assert len(queries) == 1


def test_an_ended_link_or_another_identity_is_not_found(link):
    assert koppeling_for_identity(identity=identity_of(link, acting_subject_id="someone-else")) is None
    assert koppeling_for_identity(identity=identity_of(link, legal_subject_id="99999999")) is None
    Koppeling.objects.filter(pk=link.pk).update(ended_at=timezone.now())
    assert koppeling_for_identity(identity=identity_of(link)) is None


def test_the_found_link_saves_like_an_orm_instance(link):
    found = koppeling_for_identity(identity=identity_of(link))
    found.terms_version = "2026-11"
    found.save(update_fields=["terms_version"])
    assert Koppeling.objects.get(pk=link.pk).terms_version == "2026-11"
    assert Koppeling.objects.count() == 1


def test_get_user_gives_what_modelbackend_gives(link):
    account = link.account
    same_fields(EHerkenningBackend().get_user(account.pk), ModelBackend().get_user(account.pk))
    # The session stores the primary key as text; both accept it. Text that is no key finds nobody.
    assert EHerkenningBackend().get_user(str(account.pk)) == account
    assert EHerkenningBackend().get_user("12abc") is None


@pytest.mark.parametrize("change", [{"is_active": False}, "deleted"])
def test_get_user_refuses_what_modelbackend_refuses(link, change):
    account = link.account
    if change == "deleted":
        Koppeling.objects.filter(pk=link.pk).delete()
        Account.objects.filter(pk=account.pk).delete()
    else:
        Account.objects.filter(pk=account.pk).update(**change)
    assert ModelBackend().get_user(account.pk) is None
    assert EHerkenningBackend().get_user(account.pk) is None


def unbound(functions) -> tuple:
    """The converter functions themselves: backend converters are methods of one connection's
    ``ops``, and rows.py keeps those of the first connection of a vendor (they only read settings)."""
    return tuple(getattr(function, "__func__", function) for function in functions)


def orm_converters(model, on) -> dict:
    compiler = model.objects.all().query.get_compiler(connection=on)
    compiler.setup_query()
    selected = [column for column, _sql, _alias in compiler.select]
    return {
        index: unbound(functions) for index, (functions, _col) in compiler.get_converters(selected).items()
    }


def sqlite_wrapper():
    """A SQLite backend (never connected): its converters are what the dev default needs."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    return DatabaseWrapper(
        {**connection.settings_dict, "ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        alias="default",
    )


@pytest.mark.parametrize("backend", ["this database", "sqlite"])
def test_converters_are_the_orms_for_every_field(backend):
    on = connection if backend == "this database" else sqlite_wrapper()
    for model in (Account, Koppeling):
        found = {index: unbound(functions) for index, _column, functions in rows._converters(model, on)}
        assert found == orm_converters(model, on), model
    if backend == "sqlite":  # datetimes and booleans come back as text and integers there
        assert orm_converters(Koppeling, on) and orm_converters(Account, on)


def test_a_sqlite_row_becomes_the_orms_instance(link):
    """Values as SQLite returns them (text datetimes, integer booleans) become the ORM's types."""
    sqlite = sqlite_wrapper()
    account = Account.objects.get(pk=link.account.pk)
    raw = []
    for field in Account._meta.concrete_fields:
        value = getattr(account, field.attname)
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, datetime.datetime):
            value = value.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(" ")
        raw.append(value)
    loaded = rows.instance(Account, raw, sqlite)
    same_fields(loaded, account)
