"""eHerkenning logins carry their own authentication backend (koppeling.backends.EHerkenningBackend).

It authenticates nothing; it only marks the session, so that the password-login machinery leaves
eHerkenning logins alone: Django's update_last_login (login_record writes last_login together with
the link's last_login_at) and django-axes' success bookkeeping (koppeling.axes_handler). Password
logins (token, helpdesk admin) must keep both.
"""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth import BACKEND_SESSION_KEY, authenticate
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.helpdesk import helpdesk_group_sync
from accounts.models import Account, OverstapPlanning
from koppeling.backends import EHERKENNING_BACKEND, EHerkenningBackend
from koppeling.dev_broker.testing import LOA3, acs_post, mint_response, saml_login, saml_start
from koppeling.models import Koppeling
from tests.factories import AccountFactory, StaffFactory, token_user_create, totp_code

from .conftest import identity_put, koppel_post, walk_to_koppel

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
PASSWORD = "geheim-token-wachtwoord-1"
PSEUDONYM = "pseudo-backend"
LONG_AGO = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
# The token login works until the sector's switch date; travel to just before it.
SWITCH = datetime.date(2030, 3, 1)
BEFORE_SWITCH = datetime.datetime(2030, 2, 28, 10, 0, tzinfo=AMS)
LAST_LOGIN_WRITE = re.compile(r'UPDATE "accounts_account" SET "?last_login"?', re.IGNORECASE)


@pytest.fixture
def linked():
    """An account with a password (a legacy token user once) and an active eHerkenning link."""
    account = AccountFactory()
    account.set_password(PASSWORD)
    account.save(update_fields=["password"])
    return Koppeling.objects.create(
        account=account,
        acting_subject_id=PSEUDONYM,
        legal_subject_id=account.organisatie.kvk_nummer,
        level=LOA3,
        last_login_at=LONG_AGO,
    )


def eherkenning_login(client, koppeling):
    response = saml_login(client, koppeling.acting_subject_id, koppeling.legal_subject_id)
    assert response.status_code == 302 and response["Location"] == "/overzicht/"
    return response


# --- the backend authenticates nothing -------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [
        lambda k: {},
        lambda k: {"username": k.account.username, "password": PASSWORD},
        lambda k: {"username": k.account.username},
        lambda k: {"acting_subject_id": k.acting_subject_id, "legal_subject_id": k.legal_subject_id},
        lambda k: {"user_id": k.account.pk},
    ],
    ids=["no-credentials", "right-username-and-password", "username-only", "linked-identity", "user-id"],
)
@pytest.mark.parametrize("with_request", [False, True], ids=["request-none", "with-request"])
def test_authenticate_never_returns_a_user_through_the_eherkenning_backend(
    settings, rf, linked, credentials, with_request
):
    """With only our backend configured, no credentials whatever give a user."""
    settings.AUTHENTICATION_BACKENDS = [EHERKENNING_BACKEND]
    request = rf.post("/token/") if with_request else None
    assert authenticate(request, **credentials(linked)) is None
    assert EHerkenningBackend().authenticate(request, **credentials(linked)) is None


def test_get_user_loads_active_accounts_only(linked):
    backend = EHerkenningBackend()
    assert backend.get_user(linked.account.pk) == linked.account
    Account.objects.filter(pk=linked.account.pk).update(is_active=False)
    assert backend.get_user(linked.account.pk) is None
    assert backend.get_user(0) is None


# --- the session remembers the backend -------------------------------------------------------


def test_acs_login_records_the_backend_and_later_requests_stay_logged_in(client, linked):
    eherkenning_login(client, linked)
    assert client.session[BACKEND_SESSION_KEY] == EHERKENNING_BACKEND
    later = client.get("/overzicht/")
    assert later.status_code == 200
    assert later.wsgi_request.user == linked.account


def test_session_of_an_account_made_inactive_is_not_accepted(client, linked):
    eherkenning_login(client, linked)
    Account.objects.filter(pk=linked.account.pk).update(is_active=False)
    later = client.get("/overzicht/")
    assert not later.wsgi_request.user.is_authenticated
    assert later.status_code == 302


def test_koppel_wizard_login_records_the_backend(client, account, code, identity):
    identity_put(client, identity)
    walk_to_koppel(client)
    assert koppel_post(client, account.username, code)["Location"] == reverse("koppeling:gelukt")
    assert client.session[BACKEND_SESSION_KEY] == EHERKENNING_BACKEND
    assert client.get("/overzicht/").wsgi_request.user == account


# --- last_login --------------------------------------------------------------------------------


def test_acs_login_sets_account_last_login_and_link_last_login_at_together(client, linked):
    """login_record() writes both with one moment, in one statement."""
    assert linked.account.last_login is None
    before = timezone.now()
    eherkenning_login(client, linked)
    linked.refresh_from_db()
    linked.account.refresh_from_db()
    assert before <= linked.account.last_login <= timezone.now()
    assert linked.last_login_at == linked.account.last_login


def test_koppel_wizard_sets_account_last_login_and_link_last_login_at_together(
    client, account, code, identity
):
    """link_create() stamps the new link with its own moment; the login after it writes both again."""
    identity_put(client, identity)
    walk_to_koppel(client)
    before = timezone.now()
    assert koppel_post(client, account.username, code)["Location"] == reverse("koppeling:gelukt")
    koppeling = Koppeling.objects.get(account=account, ended_at__isnull=True)
    account.refresh_from_db()
    assert before <= account.last_login <= timezone.now()
    assert koppeling.last_login_at == account.last_login
    assert koppeling.last_login_at > koppeling.created_at


def test_acs_login_runs_no_axes_query_and_no_separate_last_login_update(client, linked):
    request_id = saml_start(client)
    saml_response = mint_response(
        in_response_to=request_id, acting_subject_id=PSEUDONYM, legal_subject_id=linked.legal_subject_id
    )
    with CaptureQueriesContext(connection) as queries:
        response = acs_post(client, saml_response)
    assert response.status_code == 302 and response["Location"] == "/overzicht/"
    statements = [query["sql"] for query in queries.captured_queries]
    assert [sql for sql in statements if "axes_" in sql] == []
    last_login_writes = [sql for sql in statements if LAST_LOGIN_WRITE.search(sql)]
    assert len(last_login_writes) == 1
    if connection.vendor == "postgresql":  # link and account in one statement
        assert last_login_writes[0].startswith("WITH link AS (UPDATE")
    else:  # SQLite (make run) has no UPDATE in WITH: the link's own UPDATE comes first
        link_writes = [sql for sql in statements if re.search(r'UPDATE "koppeling_koppeling" SET', sql)]
        assert len(link_writes) == 1
        assert statements.index(link_writes[0]) < statements.index(last_login_writes[0])


@pytest.fixture
def planning():
    OverstapPlanning.objects.update_or_create(
        organisatie_type="onderwijsinstelling", defaults={"switch_date": SWITCH}
    )


def token_post(client, account, device, *, password=PASSWORD):
    return client.post(
        "/token/", {"username": account.username, "password": password, "otp_token": totp_code(device)}
    )


def test_token_login_sets_last_login_once(client, planning):
    """signals.py replaces Django's receiver: a password login still gets last_login, written once
    (twice would mean Django's update_last_login is connected as well)."""
    account, device = token_user_create(password=PASSWORD)
    with time_machine.travel(BEFORE_SWITCH), CaptureQueriesContext(connection) as queries:
        response = token_post(client, account, device)
    assert response.status_code == 302 and response["Location"] == "/overzicht/"
    assert client.session[BACKEND_SESSION_KEY] != EHERKENNING_BACKEND
    account.refresh_from_db()
    assert BEFORE_SWITCH <= account.last_login < BEFORE_SWITCH + datetime.timedelta(minutes=1)
    assert len([q for q in queries.captured_queries if LAST_LOGIN_WRITE.search(q["sql"])]) == 1


def test_helpdesk_admin_login_sets_last_login(client):
    staff = StaffFactory()
    staff.set_password(PASSWORD)
    staff.save()
    staff.groups.add(helpdesk_group_sync())
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    before = timezone.now()
    response = client.post(
        reverse("admin:login"),
        {
            "username": staff.username,
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": totp_code(device),
        },
    )
    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.last_login is not None and before <= staff.last_login <= timezone.now()


# --- django-axes ---------------------------------------------------------------------------------


def failures_recorded(username: str) -> int:
    total = AccessAttempt.objects.filter(username=username).aggregate(total=Sum("failures_since_start"))
    return total["total"] or 0


def test_failed_token_attempts_survive_an_eherkenning_login(client, planning):
    """No password was proven, so the token-login failure counter is not reset."""
    account, device = token_user_create(password=PASSWORD)
    with time_machine.travel(BEFORE_SWITCH):
        for _ in range(2):
            assert token_post(client, account, device, password="fout-wachtwoord").status_code == 400
        assert failures_recorded(account.username) == 2
        koppeling = Koppeling.objects.create(
            account=account,
            acting_subject_id=PSEUDONYM,
            legal_subject_id=account.organisatie.kvk_nummer,
            level=LOA3,
        )
        eherkenning_login(client, koppeling)
    assert failures_recorded(account.username) == 2


def test_successful_token_login_still_resets_failed_attempts(client, planning):
    """The handler still does axes' work for password logins (AXES_RESET_ON_SUCCESS)."""
    account, device = token_user_create(password=PASSWORD)
    with time_machine.travel(BEFORE_SWITCH):
        for _ in range(2):
            assert token_post(client, account, device, password="fout-wachtwoord").status_code == 400
        assert failures_recorded(account.username) == 2
        assert token_post(client, account, device).status_code == 302
    assert failures_recorded(account.username) == 0
