"""The provider's hand-written reads (diensten/selectors.py) give what the ORM's ``select_related``
gives: the same rows, the same field values (converted as the ORM converts them, on PostgreSQL and
SQLite), the relations cached, and nothing for what does not exist."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import Application, Grant

from accounts.models import Rol
from diensten import selectors
from diensten.models import Dienst, Handoff
from diensten.services import dienst_client_save
from tests.factories import AccountFactory, KenmerkFactory, grant_rol

pytestmark = pytest.mark.django_db


def _dienst() -> Dienst:
    dienst, _secret = dienst_client_save(
        dienst=Dienst(
            code="osr", naam_nl="OSR", naam_en="OSR", launch_url="https://osr.dienst.example/", enabled=True
        ),
        redirect_uris="https://osr.dienst.example/cb",
        post_logout_redirect_uris="",
    )
    return dienst


def _values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_client_is_read_with_its_dienst_as_the_orm_reads_it():
    dienst = _dienst()
    client_id = dienst.application.client_id
    expected = Application.objects.select_related("dienst").get(client_id=client_id)
    application = selectors.application_with_dienst(client_id=client_id)
    assert _values(application) == _values(expected)
    assert _values(application.dienst) == _values(expected.dienst)
    assert application.dienst.application is application
    assert application._state.adding is False


def test_a_client_without_dienst_has_none_and_an_unknown_client_is_none():
    application = Application.objects.create(
        name="x",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://x.example/cb",
    )
    found = selectors.application_with_dienst(client_id=application.client_id)
    assert found.pk == application.pk
    assert selectors.dienst_for_client(client=found) is None
    assert selectors.application_with_dienst(client_id="no-such-client") is None


@pytest.mark.parametrize("with_organisatie", [True, False])
@pytest.mark.parametrize("lock", [True, False])
def test_the_grant_is_read_with_its_user_and_organisation(with_organisatie, lock):
    dienst = _dienst()
    account = AccountFactory() if with_organisatie else AccountFactory(organisatie=None)
    Grant.objects.create(
        user=account,
        code="the-code",
        application=dienst.application,
        expires=timezone.now() + timedelta(seconds=60),
        redirect_uri="https://osr.dienst.example/cb",
        scope="openid duo",
        code_challenge="c" * 43,
        code_challenge_method="S256",
        nonce="n",
    )
    expected = Grant.objects.select_related("user__organisatie").get(code="the-code")
    read = selectors.code_read(code="the-code", lock=lock)
    grant = read.grant
    assert read.handoff is None and read.rollen is None  # no hand-off for this code
    assert _values(grant) == _values(expected)
    assert _values(grant.user) == _values(expected.user)
    if with_organisatie:
        assert _values(grant.user.organisatie) == _values(expected.user.organisatie)
    else:
        assert grant.user.organisatie is None
    assert not grant.is_expired()
    assert selectors.code_read(code="another-code", lock=lock) is None


def test_the_hand_off_of_a_code_hash_and_the_rol_check():
    dienst = _dienst()
    rollen = list(Rol.objects.order_by("code")[:2])
    dienst.rollen.set(rollen[:1])
    account = AccountFactory()
    handoff = Handoff.objects.create(
        dienst=dienst,
        account=account,
        code_hash="a" * 64,
        acr="urn:x",
        amr=["eherkenning"],
        auth_time=timezone.now(),
        intermediair={"kvk_nummer": "12345678"},
    )
    found = selectors.handoff_for_code_hash(code_hash="a" * 64)
    assert _values(found) == _values(Handoff.objects.get(pk=handoff.pk))
    assert found.amr == ["eherkenning"] and found.intermediair == {"kvk_nummer": "12345678"}
    assert selectors.handoff_for_code_hash(code_hash="b" * 64) is None

    # the rol check: only a rol the Dienst serves, only with a kenmerk of the account's organisation
    other = KenmerkFactory()  # another organisation's kenmerk
    grant_rol(account, rollen[0].code, other)
    assert not selectors.account_holds_dienst_rol(account=account, dienst=dienst)
    own = KenmerkFactory(organisatie=account.organisatie)
    grant_rol(account, rollen[1].code, own)  # a rol of another Dienst
    assert not selectors.account_holds_dienst_rol(account=account, dienst=dienst)
    grant_rol(account, rollen[0].code, own)
    assert selectors.account_holds_dienst_rol(account=account, dienst=dienst)


@pytest.mark.parametrize("lock", [True, False])
def test_a_code_is_read_with_its_hand_off_and_the_rollen_claim_of_its_dienst(lock):
    """selectors.code_read: the hand-off of the code's hash, and (PostgreSQL) the grant's user's
    rollen claim for the hand-off's Dienst, as rollen_claim gives it: only rollen the Dienst serves,
    only kenmerken of the user's own organisation."""
    from django.db import connection

    dienst = _dienst()
    rollen = list(Rol.objects.order_by("code")[:3])
    dienst.rollen.set(rollen[:2])
    account = AccountFactory()
    kenmerken = [KenmerkFactory(organisatie=account.organisatie, waarde=f"0{n}XY") for n in range(2)]
    for rol in rollen:  # the third is not the Dienst's
        grant_rol(account, rol.code, kenmerken[0])
    grant_rol(account, rollen[0].code, kenmerken[1])
    grant_rol(account, rollen[1].code, KenmerkFactory())  # another organisation's kenmerk
    handoff = Handoff.objects.create(
        dienst=dienst,
        account=account,
        code_hash=hashlib.sha256(b"the-code").hexdigest(),
        acr="urn:x",
        amr=["eherkenning"],
        auth_time=timezone.now(),
    )
    Grant.objects.create(
        user=account,
        code="the-code",
        application=dienst.application,
        expires=timezone.now() + timedelta(seconds=60),
        redirect_uri="https://osr.dienst.example/cb",
        scope="openid duo",
    )
    read = selectors.code_read(code="the-code", lock=lock)
    assert _values(read.handoff) == _values(Handoff.objects.get(pk=handoff.pk))
    expected = selectors.rollen_claim(account=account, dienst=dienst)
    assert [rol["code"] for rol in expected] == [rol.code for rol in rollen[:2]]
    assert sum(len(rol["kenmerken"]) for rol in expected) == 3
    if connection.vendor == "postgresql":
        assert read.rollen == expected
    else:
        assert read.rollen is None  # read by rollen_claim when the claims are made
