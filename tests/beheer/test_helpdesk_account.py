"""The helpdesk's account screen (issue 15 item 1): what it shows, its actions, their confirmations."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.helpdesk import helpdesk_group_sync
from accounts.models import Account, AuditEvent, BeheerautorisatieToekenning, EmailOutbox, RolToekenning
from koppeling.lockout import LIMIT
from koppeling.models import KoppelAttemptCounter, Koppeling
from koppeling.services import activation_code_issue, koppel_attempt
from tests.accounts.test_admin import admin_login, current_code, helpdesk  # noqa: F401 (fixture)
from tests.factories import (
    AccountFactory,
    KenmerkFactory,
    KoppelingFactory,
    StaffFactory,
    grant_beheerautorisatie,
    grant_rol,
)
from tests.koppeling.conftest import FAST_HASHERS, identity_for, identity_put, koppel_post, walk_to_koppel

pytestmark = pytest.mark.django_db

WRONG = "AAAA-AAAA-AAAA"


@pytest.fixture(autouse=True)
def fast_hashers(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def admin_client(client, helpdesk):  # noqa: F811
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    assert admin_login(client, helpdesk, token=current_code(device)).status_code == 302
    return client


def screen(account) -> str:
    return reverse("admin:accounts_account_helpdesk", args=[account.pk])


def url(name: str, account, *args) -> str:
    return reverse(f"admin:accounts_account_helpdesk_{name}", args=[account.pk, *args])


def helpdesk_changes(account, action: str):
    return AuditEvent.objects.filter(
        action="admin.change", object_id=str(account.pk), detail__change=f"action:{action}"
    )


# --- the lift that lifts --------------------------------------------------------------------


def test_lift_clears_username_and_identity_blocks_and_the_right_code_links_right_after(
    admin_client,
    helpdesk,  # noqa: F811
    gebruiker,
):
    code = activation_code_issue(account=gebruiker)
    identity = identity_for(gebruiker, pseudonym="beller-pseudoniem-123456")
    caller = Client()
    identity_put(caller, identity)
    walk_to_koppel(caller)
    for _attempt in range(LIMIT):
        assert koppel_post(caller, gebruiker.username, WRONG).status_code == 400
    assert KoppelAttemptCounter.objects.get(key=f"i:{identity.key}").blocked_until > timezone.now()
    # Blocked: even the right code is refused, and that refusal names the account it tried.
    assert koppel_post(caller, gebruiker.username, code).status_code == 400
    refused = AuditEvent.objects.filter(action="koppel.attempt", result="refused").latest("id")
    assert refused.object_id == str(gebruiker.pk) and refused.object_type == "accounts.Account"

    page = admin_client.get(screen(gebruiker)).content.decode()
    assert "beller" in page and "Geblokkeerd" in page

    response = admin_client.post(url("lift", gebruiker))
    assert response.status_code == 302

    assert koppel_post(caller, gebruiker.username, code).status_code == 302
    assert Koppeling.objects.filter(
        account=gebruiker, ended_at=None, acting_subject_id=identity.acting_subject_id
    )
    lift = AuditEvent.objects.get(action="koppel.unblock")
    assert lift.actor_id == helpdesk.pk and lift.object_id == str(gebruiker.pk)
    assert identity.key in lift.detail["identities_blocked"] and lift.detail["was_blocked"] is True
    assert helpdesk_changes(gebruiker, "lift_block").exists()


def test_bulk_lift_also_lifts_the_identities_that_tried_the_username(admin_client, gebruiker):
    code = activation_code_issue(account=gebruiker)
    identity = identity_for(gebruiker, pseudonym="bulk-beller")
    for _attempt in range(LIMIT):
        koppel_attempt(identity=identity, username=gebruiker.username, code=WRONG, ip="192.0.2.1")
    changelist = reverse("admin:accounts_account_changelist")
    data = {"action": "lift_block", "_selected_action": [gebruiker.pk]}
    admin_client.post(changelist, {**data, "confirmed": "yes", "reason": "Beller 12:03, ticket 881"})
    assert koppel_attempt(identity=identity, username=gebruiker.username, code=code, ip="192.0.2.1").koppeling


# --- the screen -----------------------------------------------------------------------------


def test_screen_answers_the_call(admin_client, helpdesk, gebruiker):  # noqa: F811
    KoppelingFactory(
        account=gebruiker,
        acting_subject_id="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        intermediate_entity_id="87654321",
        ended_at=timezone.now() - timedelta(days=3),
        ended_reason="lost",
    )
    code = activation_code_issue(account=gebruiker, issued_by=helpdesk)
    EmailOutbox.objects.create(
        to=gebruiker.email, template="koppeling/email/activation_code", account=gebruiker, message_id="m1"
    )
    koppel_attempt(
        identity=identity_for(gebruiker, pseudonym="p-probeer"),
        username=gebruiker.username,
        code=WRONG,
        ip=None,
    )

    response = admin_client.get(screen(gebruiker))
    assert response.status_code == 200
    page = response.content.decode()
    assert gebruiker.organisatie.naam in page and gebruiker.username in page
    assert "Activatiecode verstuurd" in page  # the status, in Dutch
    assert "ABCDEF…6789" in page and "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" not in page  # shortened
    assert "87654321" in page  # the intermediary
    assert helpdesk.name in page  # who issued the open code
    assert code not in page and code.replace("-", "") not in page  # never the code itself
    assert "nog niet verstuurd" in page or "wacht op verzending" in page  # outbox status
    assert "koppelpoging" in page and "koppel.attempt" not in page  # events as Dutch labels
    trail = reverse("admin:accounts_auditevent_changelist") + f"?account_id={gebruiker.pk}"
    assert trail in page


def test_the_account_list_opens_the_screen(admin_client, gebruiker):
    page = admin_client.get(reverse("admin:accounts_account_changelist")).content.decode()
    assert screen(gebruiker) in page


def test_unknown_account_is_404(admin_client):
    assert admin_client.get(reverse("admin:accounts_account_helpdesk", args=[999999])).status_code == 404


def _fill(account, n):
    organisatie = account.organisatie
    kenmerk = organisatie.kenmerken.first() or KenmerkFactory(
        organisatie=organisatie, waarde=organisatie.instellingscode
    )
    for i in range(n):
        KoppelingFactory(account=account, ended_at=timezone.now(), ended_reason="lost")
        EmailOutbox.objects.create(
            to=account.email, template="x", account=account, message_id=f"{account.pk}-{i}"
        )
        koppel_attempt(
            identity=identity_for(account, pseudonym=f"p-{account.pk}-{i}"),
            username=account.username,
            code=WRONG,
            ip=None,
        )
    KoppelingFactory(account=account)
    grant_beheerautorisatie(account, *["po", "vo", "bve"][:n])
    for _rol in range(n > 1):
        grant_rol(account, "osr", kenmerk)


def test_screen_query_count_does_not_grow_with_history(
    admin_client, organisatie, django_assert_max_num_queries
):
    small, large = AccountFactory(organisatie=organisatie), AccountFactory(organisatie=organisatie)
    _fill(small, 1)
    _fill(large, 3)
    counts = []
    for account in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(screen(account)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(20):
        admin_client.get(screen(large))


# --- actions with a confirmation ------------------------------------------------------------


REASON = "Middel gestolen, gebeld op 29-11, ticket 4711"


def test_undo_link_needs_the_confirmation_page_and_a_reason(admin_client, helpdesk, gebruiker):  # noqa: F811
    koppeling = KoppelingFactory(account=gebruiker)
    page = admin_client.get(url("unlink", gebruiker))
    assert page.status_code == 200 and koppeling.legal_subject_id in page.content.decode()
    assert 'for="id_reason"' in page.content.decode()
    # A POST without the page's confirmation, or without a reason, changes nothing.
    assert admin_client.post(url("unlink", gebruiker), {"reason": REASON}).status_code == 200
    assert (
        admin_client.post(url("unlink", gebruiker), {"confirmed": "yes", "reason": "  "}).status_code == 400
    )
    koppeling.refresh_from_db()
    assert koppeling.ended_at is None
    assert not AuditEvent.objects.filter(action="link.undo").exists()

    response = admin_client.post(url("unlink", gebruiker), {"confirmed": "yes", "reason": REASON})
    assert response.status_code == 302
    koppeling.refresh_from_db()
    assert koppeling.ended_at is not None and koppeling.ended_reason == "helpdesk"
    assert helpdesk_changes(gebruiker, "undo_link").get().detail["reason"] == REASON


def test_remove_needs_the_confirmation_page_and_a_reason(admin_client, gebruiker, kenmerk):
    koppeling = KoppelingFactory(account=gebruiker)
    grant_rol(gebruiker, "osr", kenmerk)
    assert admin_client.get(url("remove", gebruiker)).status_code == 200
    assert admin_client.post(url("remove", gebruiker), {"reason": REASON}).status_code == 200
    gebruiker.refresh_from_db()
    assert gebruiker.removed_at is None and gebruiker.is_active

    assert (
        admin_client.post(url("remove", gebruiker), {"confirmed": "yes", "reason": REASON}).status_code == 302
    )
    gebruiker.refresh_from_db()
    koppeling.refresh_from_db()
    assert gebruiker.removed_at is not None and not gebruiker.is_active
    assert koppeling.ended_at is not None and not RolToekenning.objects.filter(account=gebruiker).exists()
    assert (
        AuditEvent.objects.get(action="account.remove", object_id=str(gebruiker.pk)).detail["reason"]
        == REASON
    )
    assert helpdesk_changes(gebruiker, "remove").get().detail["reason"] == REASON


def test_removing_a_token_user_deletes_the_token_devices_so_reactivation_restores_nothing(
    admin_client, gebruiker
):
    TOTPDevice.objects.create(user=gebruiker, name="tokengenerator", confirmed=True)
    grant_beheerautorisatie(gebruiker, "vo")
    response = admin_client.post(url("remove", gebruiker), {"confirmed": "yes", "reason": REASON})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=gebruiker).exists()
    assert not BeheerautorisatieToekenning.objects.filter(account=gebruiker).exists()


def test_staff_cannot_be_removed_from_the_screen(admin_client, helpdesk):  # noqa: F811
    other = StaffFactory()
    admin_client.post(url("remove", other), {"confirmed": "yes", "reason": REASON})
    other.refresh_from_db()
    assert other.removed_at is None


def test_revoke_one_beheerautorisatie_needs_the_confirmation_page_and_a_reason(admin_client, beheerder):
    toekenning = BeheerautorisatieToekenning.objects.get(account=beheerder)
    revoke = url("revoke", beheerder, toekenning.pk)
    page = admin_client.get(revoke).content.decode()
    assert toekenning.beheerautorisatie.naam in page
    assert admin_client.post(revoke, {"reason": REASON}).status_code == 200
    assert BeheerautorisatieToekenning.objects.filter(pk=toekenning.pk).exists()

    assert admin_client.post(revoke, {"confirmed": "yes", "reason": REASON}).status_code == 302
    assert not BeheerautorisatieToekenning.objects.filter(pk=toekenning.pk).exists()
    assert AuditEvent.objects.filter(action="beheerautorisatie.revoke", object_id=str(beheerder.pk)).exists()
    event = helpdesk_changes(beheerder, "revoke_beheerautorisatie").get()
    assert event.detail["reason"] == REASON and event.detail["beheerautorisatie_code"] == "vo"


def test_revoke_of_another_accounts_beheerautorisatie_is_404(admin_client, beheerder, gebruiker):
    toekenning = BeheerautorisatieToekenning.objects.get(account=beheerder)
    response = admin_client.post(
        url("revoke", gebruiker, toekenning.pk), {"confirmed": "yes", "reason": REASON}
    )
    assert response.status_code == 404
    assert BeheerautorisatieToekenning.objects.filter(pk=toekenning.pk).exists()


def test_send_a_new_code_from_the_screen(admin_client, helpdesk, gebruiker):  # noqa: F811
    assert admin_client.post(url("code", gebruiker)).status_code == 302
    assert EmailOutbox.objects.filter(account=gebruiker, template="koppeling/email/activation_code").exists()
    assert helpdesk_changes(gebruiker, "send_activation_code").exists()


def test_no_new_code_for_a_linked_account(admin_client, gebruiker):
    KoppelingFactory(account=gebruiker)
    response = admin_client.post(url("code", gebruiker), follow=True)
    assert "al gekoppeld" in response.content.decode()
    assert not EmailOutbox.objects.filter(
        account=gebruiker, template="koppeling/email/activation_code"
    ).exists()


def test_actions_refuse_get(admin_client, gebruiker):
    assert admin_client.get(url("lift", gebruiker)).status_code == 404
    assert admin_client.get(url("code", gebruiker)).status_code == 404


# --- bulk actions: every one through a confirmation page --------------------------------------


def _bulk(client, changelist, action, pks, **extra):
    return client.post(reverse(changelist), {"action": action, "_selected_action": pks, **extra})


def _state(account):
    return (
        Koppeling.objects.filter(account=account, ended_at=None).count(),
        EmailOutbox.objects.filter(account=account).count(),
        BeheerautorisatieToekenning.objects.filter(account=account).count(),
        KoppelAttemptCounter.objects.filter(blocked_until__gt=timezone.now()).count(),
        AuditEvent.objects.filter(action__in=["admin.change", "link.undo", "koppel.unblock"]).count(),
    )


@pytest.mark.parametrize(
    "changelist, action, target",
    [
        ("admin:accounts_account_changelist", "send_activation_code", "account"),
        ("admin:accounts_account_changelist", "undo_link", "account"),
        ("admin:accounts_account_changelist", "lift_block", "account"),
        ("admin:accounts_account_changelist", "revoke_beheerautorisaties", "account"),
        ("admin:koppeling_koppeling_changelist", "undo_links", "koppeling"),
        ("admin:koppeling_koppelattemptcounter_changelist", "lift_blocks", "counter"),
    ],
)
def test_every_bulk_action_changes_nothing_without_its_confirmation(admin_client, changelist, action, target):
    account = beheerder = AccountFactory()
    grant_beheerautorisatie(beheerder, "vo")
    koppeling = KoppelingFactory(account=account)
    counter = KoppelAttemptCounter.objects.create(
        key=f"u:{account.username}", failures=LIMIT, blocked_until=timezone.now() + timedelta(minutes=15)
    )
    if action == "send_activation_code":
        koppeling.delete()
    pk = {"account": account.pk, "koppeling": koppeling.pk, "counter": counter.pk}[target]
    before = _state(account)

    page = _bulk(admin_client, changelist, action, [pk])
    assert page.status_code == 200
    html = page.content.decode()
    assert str(account) in html or account.username in html  # lists what will change
    assert 'name="reason"' in html and 'for="id_reason"' in html
    assert _state(account) == before
    assert _bulk(admin_client, changelist, action, [pk], confirmed="yes", reason="").status_code == 400
    assert _state(account) == before

    response = _bulk(admin_client, changelist, action, [pk], confirmed="yes", reason=REASON)
    assert response.status_code == 302
    assert _state(account) != before
    assert AuditEvent.objects.filter(detail__reason=REASON).exists()


# --- permissions --------------------------------------------------------------------------------


@pytest.fixture
def other_staff_client(client):
    staff = StaffFactory()
    staff.set_password("correct horse battery staple")
    staff.save()
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    assert admin_login(client, staff, token=current_code(device)).status_code == 302
    return client


def test_staff_without_the_helpdesk_permissions_gets_403(other_staff_client, beheerder):
    KoppelingFactory(account=beheerder)
    toekenning = BeheerautorisatieToekenning.objects.get(account=beheerder)
    for target in (
        screen(beheerder),
        url("unlink", beheerder),
        url("remove", beheerder),
        url("revoke", beheerder, toekenning.pk),
    ):
        assert other_staff_client.get(target).status_code == 403, target
    for target in (
        url("lift", beheerder),
        url("code", beheerder),
        url("unlink", beheerder),
        url("remove", beheerder),
    ):
        assert other_staff_client.post(target, {"confirmed": "yes", "reason": REASON}).status_code == 403, (
            target
        )
    assert Koppeling.objects.filter(account=beheerder, ended_at=None).exists()
    assert Account.objects.get(pk=beheerder.pk).removed_at is None


def test_helpdesk_group_has_what_the_screen_needs(helpdesk):  # noqa: F811
    helpdesk_group_sync()
    assert helpdesk.has_perm("accounts.change_account") and helpdesk.has_perm("accounts.view_auditevent")
