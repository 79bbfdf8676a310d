"""The bearer read of userinfo (selectors.access_token_for_bearer with its rollen) and the userinfo
view's own dispatch: the rollen claim read with the token is the claims builder's
(selectors.rollen_claim) for every layout of rollen and kenmerken, on PostgreSQL (one JSON column)
and SQLite (rows); the objects it makes are the ORM's; the view keeps the parent's CSRF exemption
and leaves every other method to the parent."""

import pytest
from django.db.models.signals import post_init
from django.test import Client, RequestFactory
from oauth2_provider.models import AccessToken, Application
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import UserInfoView

from accounts.models import Account, KenmerkType, Organisatie, Rol
from diensten import selectors
from diensten.models import Dienst, Handoff
from diensten.services import dienst_client_save
from diensten.views import DienstUserInfoView
from tests.diensten.test_userinfo import _account, _answer, _token
from tests.factories import AccountFactory, KenmerkFactory, grant_rol

pytestmark = pytest.mark.django_db


@pytest.fixture
def rollen():
    found = list(Rol.objects.order_by("code")[:12])
    assert len(found) == 12
    return found


@pytest.fixture
def dienst(rollen):
    dienst, _secret = dienst_client_save(
        dienst=Dienst(
            code="osr", naam_nl="OSR", naam_en="OSR", launch_url="https://osr.dienst.example/", enabled=True
        ),
        redirect_uris="https://osr.dienst.example/oidc/callback",
        post_logout_redirect_uris="",
    )
    dienst.rollen.set(rollen[:6])
    return dienst


LAYOUTS = [
    "none",
    "other_dienst_only",
    "foreign_kenmerk",
    "several",
    "other_account",
    "no_organisatie",
    "no_handoff",
]


def _layout(layout, dienst, rollen):
    """An account and its toekenningen: ``rollen[:6]`` are the Dienst's, the others not."""
    account = AccountFactory()
    own = account.organisatie
    served, other = rollen[:6], rollen[6:]
    if layout == "other_dienst_only":
        grant_rol(account, other[0].code, KenmerkFactory(organisatie=own))
    elif layout == "foreign_kenmerk":
        grant_rol(account, served[0].code, KenmerkFactory())  # another organisation's kenmerk
        grant_rol(account, served[3].code, KenmerkFactory(organisatie=own, waarde="22CD"))
    elif layout == "several":
        # Several rollen, each with kenmerken of two types and several values, granted out of
        # order; values JSON must escape (a quote, a backslash, non-ASCII) come back unchanged.
        soorten = list(KenmerkType.objects.order_by("-code")[:2])
        kenmerken = [
            KenmerkFactory(organisatie=own, type=soort, waarde=waarde)
            for soort in soorten
            for waarde in ('Zü"\\9', "11AA", "0b")
        ]
        for rol in (served[4], served[1], served[2]):
            for kenmerk in kenmerken[::-1]:
                grant_rol(account, rol.code, kenmerk)
        grant_rol(account, other[1].code, kenmerken[0])
    elif layout == "other_account":
        # Another account of the same organisation holds rollen of the Dienst: not this one's.
        colleague = AccountFactory(organisatie=own)
        grant_rol(colleague, served[0].code, KenmerkFactory(organisatie=own))
        grant_rol(account, served[5].code, KenmerkFactory(organisatie=own, waarde="33EF"))
    elif layout in ("no_organisatie", "no_handoff"):
        grant_rol(account, served[0].code, KenmerkFactory(organisatie=own))
        if layout == "no_organisatie":
            account.organisatie = None
            account.save(update_fields=["organisatie"])
    return account


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_rollen_read_with_the_token_are_the_claims_builders(dienst, rollen, layout):
    account = _layout(layout, dienst, rollen)
    value = _token(
        dienst,
        account,
        login="token" if layout == "no_organisatie" else "eherkenning",
        handoff=layout != "no_handoff",
    )
    found = selectors.access_token_for_bearer(token=value, with_rollen=True)
    assert found is not None
    rollen_read = found[4]
    expected = [] if layout == "no_handoff" else selectors.rollen_claim(account=account, dienst=dienst)
    assert rollen_read == expected
    codes = {
        "none": [],
        "other_dienst_only": [],
        "foreign_kenmerk": [rollen[3].code],
        "several": sorted([rollen[1].code, rollen[2].code, rollen[4].code]),
        "other_account": [rollen[5].code],
        "no_organisatie": [],
        "no_handoff": [],
    }[layout]
    assert [rol["code"] for rol in rollen_read] == codes
    if layout == "several":
        for rol in rollen_read:
            pairs = [(kenmerk["type"], kenmerk["waarde"]) for kenmerk in rol["kenmerken"]]
            assert len(pairs) == 6 and pairs == sorted(pairs)
            assert 'Zü"\\9' in {waarde for _type, waarde in pairs}
    # Without the rollen the read is the same, and says nothing of them.
    assert selectors.access_token_for_bearer(token=value)[4] is None


def _state_free(instance) -> dict:
    return {name: value for name, value in instance.__dict__.items() if name != "_state"}


def test_the_bearer_reads_objects_are_the_orms(dienst, rollen):
    """The read's objects hold what ``.only()`` of the same fields gives (the others deferred:
    read when first used), as saved rows of the same database."""
    account = _account(rollen)
    value = _token(dienst, account)
    access_token, found_account, handoff, link_in_place, _rollen = selectors.access_token_for_bearer(
        token=value, with_rollen=True
    )
    assert link_in_place
    models = {
        "token": (access_token, AccessToken),
        "account": (found_account, Account),
        "organisatie": (found_account.organisatie, Organisatie),
        "handoff": (handoff, Handoff),
        "dienst": (handoff.dienst, Dienst),
    }
    for name, (instance, model) in models.items():
        expected = model.objects.only(*selectors._BEARER_FIELDS[name]).get(pk=instance.pk)
        assert type(instance) is model
        assert _state_free(instance) == _state_free(expected), name
        assert instance.get_deferred_fields() == expected.get_deferred_fields(), name
        assert (instance._state.adding, instance._state.db) == (False, "default")
    assert access_token.user is found_account and handoff.access_token is access_token
    # A deferred field is read when first used, as with .only().
    assert found_account.date_joined == Account.objects.get(pk=account.pk).date_joined


def test_the_client_read_is_the_orms_too():
    """The other reads made the same way (every field read): the client with its Dienst."""
    from tests.diensten.test_selector_reads import _dienst

    client_id = _dienst().application.client_id
    application = selectors.application_with_dienst(client_id=client_id)
    expected = Application.objects.get(client_id=client_id)
    assert _state_free(application) == _state_free(expected)
    assert _state_free(application.dienst) == _state_free(Dienst.objects.get(pk=application.dienst.pk))
    assert application.get_deferred_fields() == set()


def test_a_model_with_an_init_signal_receiver_is_made_through_its_init(dienst, rollen):
    """Objects are made without Model.__init__ only while nothing receives its signals: a receiver
    connected for a model sees every object of it the read makes."""
    account = _account(rollen)
    value = _token(dienst, account)
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Account)
    try:
        _token_, found_account, handoff, *_ = selectors.access_token_for_bearer(token=value, with_rollen=True)
    finally:
        post_init.disconnect(receiver, sender=Account)
    assert seen == [found_account] and seen[0] is found_account
    assert _state_free(found_account) == _state_free(
        Account.objects.only(*selectors._BEARER_FIELDS["account"]).get(pk=account.pk)
    )
    assert handoff.dienst.pk == dienst.pk


def test_a_model_with_a_from_db_of_its_own_is_made_by_it(dienst, rollen, monkeypatch):
    """Nor is a model with its own ``from_db`` (or ``__init__``) made around it."""
    account = _account(rollen)
    value = _token(dienst, account)
    made = []
    django_s = Account.from_db.__func__

    def from_db(cls, db, field_names, values):
        made.append(cls)
        return django_s(cls, db, field_names, values)

    monkeypatch.setattr(Account, "from_db", classmethod(from_db))
    _token_, found_account, *_ = selectors.access_token_for_bearer(token=value, with_rollen=True)
    assert made == [Account] and found_account.pk == account.pk


def test_a_post_with_a_bearer_token_needs_no_csrf_token(dienst, rollen):
    """The userinfo view keeps django-oauth-toolkit's CSRF exemption (its own dispatch)."""
    value = _token(dienst, _account(rollen))
    response = Client(enforce_csrf_checks=True).post("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {value}")
    assert response.status_code == 200
    assert response.json()["rollen"]


@pytest.mark.parametrize("method", ["head", "options", "put", "delete"])
def test_other_methods_are_answered_as_django_oauth_toolkit_answers_them(dienst, rollen, method):
    """Only GET and POST take the view's own way; the others the parent's dispatch (HEAD as GET)."""
    value = _token(dienst, _account(rollen))

    def request():
        return getattr(RequestFactory(), method)("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {value}")

    ours = DienstUserInfoView.as_view()(request())
    theirs = UserInfoView.as_view()(request())
    assert _answer(ours) == _answer(theirs)
    assert ours.get("Allow") == theirs.get("Allow")
    assert ours.status_code == (200 if method in ("head", "options") else 405)


def test_with_oidc_switched_off_userinfo_is_not_found(dienst, rollen, monkeypatch):
    value = _token(dienst, _account(rollen))
    monkeypatch.setattr(oauth2_settings, "OIDC_ENABLED", False)
    response = Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {value}")
    assert response.status_code == 404
