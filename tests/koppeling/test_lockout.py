"""The koppel lockout: 5 wrong combinations → 15 minutes, no extension, unknown usernames alike,
a counter per eHerkenning identity, and the helpdesk lifting a block."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from koppeling import codes
from koppeling.lockout import LIMIT, Lockout, lockout, username_key
from koppeling.models import KoppelAttemptCounter
from koppeling.selectors import blocked_usernames
from koppeling.services import activation_code_issue, koppel_attempt, koppel_block_lift
from tests.factories import AccountFactory, StaffFactory

from .conftest import identity_for

pytestmark = pytest.mark.django_db

WRONG = "AAAA-AAAA-AAAA"


def attempt(account_or_username, code, *, identity=None):
    username = getattr(account_or_username, "username", account_or_username)
    identity = identity or identity_for(
        pseudonym=f"p-{timezone.now().timestamp()}", legal_subject_id="99999999"
    )
    return koppel_attempt(identity=identity, username=username, code=code, ip="192.0.2.1")


def fresh_identity(n, account=None):
    return identity_for(account, pseudonym=f"attacker-{n}")


class FixedClock(Lockout):
    def __init__(self, now):
        self.now = now

    def _now(self):
        return self.now


def test_lockout_clock_is_injectable():
    start = timezone.now()
    clock = FixedClock(start)
    for n in range(1, LIMIT + 1):
        reservation = clock.reserve("u:CLOCKED")
        assert reservation.count == n and reservation.allowed
    assert reservation.blocked_until == start + timedelta(minutes=15)
    assert not clock.reserve("u:CLOCKED").allowed
    clock.now = start + timedelta(minutes=15)
    assert clock.reserve("u:CLOCKED").count == 1


def test_fifth_failure_blocks_the_username_even_for_the_right_code(account, code):
    for n in range(LIMIT):
        assert attempt(account, WRONG, identity=fresh_identity(n, account)).failed
    assert blocked_usernames(usernames=[account.username]) == {account.username}
    assert attempt(account, code, identity=fresh_identity(99, account)).failed
    assert AuditEvent.objects.filter(action="koppel.blocked").count() == 1


def test_right_code_at_the_fifth_try_still_links(account, code):
    for n in range(LIMIT - 1):
        assert attempt(account, WRONG, identity=fresh_identity(n, account)).failed
    result = attempt(account, code, identity=fresh_identity(9, account))
    assert result.koppeling is not None
    assert KoppelAttemptCounter.objects.get(key=f"u:{account.username}").failures == 0


def test_block_lasts_15_minutes_and_attempts_during_it_do_not_extend_it(account, code):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(LIMIT):
            attempt(account, WRONG, identity=fresh_identity(n, account))
    counter = KoppelAttemptCounter.objects.get(key=f"u:{account.username}")
    assert counter.blocked_until == start + timedelta(minutes=15)
    for minutes in (1, 7, 14):
        with time_machine.travel(start + timedelta(minutes=minutes, seconds=59), tick=False):
            assert attempt(account, code, identity=fresh_identity(100 + minutes, account)).failed
    counter.refresh_from_db()
    assert counter.blocked_until == start + timedelta(minutes=15)  # not extended
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert attempt(account, code, identity=fresh_identity(200, account)).koppeling is not None


def test_sixth_attempt_within_15_minutes_is_not_evaluated(account, code, monkeypatch):
    for n in range(LIMIT):
        attempt(account, WRONG, identity=fresh_identity(n, account))
    checked = []
    original = codes.code_check
    monkeypatch.setattr(codes, "code_check", lambda *a, **k: checked.append(1) or original(*a, **k))
    assert attempt(account, code, identity=fresh_identity(7, account)).failed
    assert checked == []


def test_unknown_usernames_are_counted_and_blocked_exactly_like_real_ones(db):
    for n in range(LIMIT):
        assert attempt("QQQQQQQQ", WRONG, identity=fresh_identity(n)).failed
    counter = KoppelAttemptCounter.objects.get(key="u:QQQQQQQQ")
    assert counter.failures == LIMIT and counter.blocked_until is not None
    assert blocked_usernames(usernames=["QQQQQQQQ", "qqqq qqqq", "RRRRRRRR"]) == {"QQQQQQQQ", "qqqq qqqq"}


def test_typed_usernames_are_counted_in_normalised_form(account, code):
    typed = [account.username.lower(), f" {account.username[:4]} {account.username[4:]} ", account.username]
    for n, username in enumerate(typed + [account.username.lower()] * 2):
        attempt(username, WRONG, identity=fresh_identity(n, account))
    assert blocked_usernames(usernames=[account.username]) == {account.username}


def test_one_identity_cannot_spray_many_usernames(account, code):
    spray = identity_for(account, pseudonym="sprayer")
    for n in range(LIMIT):
        assert attempt(f"ZZZZZZ{n}A", WRONG, identity=spray).failed
    # the sixth try, even with a right username and code, is refused for this identity …
    assert attempt(account, code, identity=spray).failed
    assert KoppelAttemptCounter.objects.get(key=f"i:{spray.key}").blocked_until is not None
    # … without counting against the username it tried
    assert not KoppelAttemptCounter.objects.filter(key=f"u:{account.username}").exists()
    # another identity is not affected
    assert attempt(account, code, identity=identity_for(account, pseudonym="owner")).koppeling is not None


def test_failures_older_than_a_day_are_forgotten(account, code):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(LIMIT - 1):
            attempt(account, WRONG, identity=fresh_identity(n, account))
    with time_machine.travel(start + timedelta(hours=24, minutes=1), tick=False):
        attempt(account, WRONG, identity=fresh_identity(50, account))
        assert KoppelAttemptCounter.objects.get(key=f"u:{account.username}").failures == 1


def test_helpdesk_lifts_a_block_and_it_is_audited(account, code):
    for n in range(LIMIT):
        attempt(account, WRONG, identity=fresh_identity(n, account))
    staff = StaffFactory()
    assert koppel_block_lift(username=account.username.lower(), actor=staff) is True
    assert blocked_usernames(usernames=[account.username]) == set()
    event = AuditEvent.objects.get(action="koppel.unblock")
    assert event.actor_id == staff.pk and event.detail["username"] == account.username
    assert attempt(account, code, identity=fresh_identity(9, account)).koppeling is not None
    assert koppel_block_lift(username="NOBLOCK1", actor=staff) is False


def test_helpdesk_admin_action_lifts_a_block(client, account, code):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for n in range(LIMIT):
        attempt(account, WRONG, identity=fresh_identity(n, account))
    staff = StaffFactory(is_superuser=True)
    device = TOTPDevice.objects.create(user=staff, name="t", confirmed=True)
    client.force_login(staff)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    counter = KoppelAttemptCounter.objects.get(key=f"u:{account.username}")
    changelist = reverse("admin:koppeling_koppelattemptcounter_changelist")
    selection = {"action": "lift_blocks", "_selected_action": [counter.pk]}
    assert client.post(changelist, selection).status_code == 200  # the confirmation page first
    assert blocked_usernames(usernames=[account.username]) == {account.username}
    response = client.post(changelist, {**selection, "confirmed": "yes", "reason": "Gebeld, ticket 12"})
    assert response.status_code == 302
    assert blocked_usernames(usernames=[account.username]) == set()
    assert AuditEvent.objects.filter(action="koppel.unblock", actor_id=staff.pk).exists()
    page = client.get(changelist)
    assert "Blokkade opheffen" in page.content.decode()


def test_blocked_usernames_selector_uses_one_query(django_assert_num_queries):
    for n in range(LIMIT):
        lockout.reserve(username_key(f"BLOCKED{n % 1}"))
    with django_assert_num_queries(1):
        assert blocked_usernames(usernames=[f"USER{n}" for n in range(50)] + ["BLOCKED0"]) == {"BLOCKED0"}


def test_a_code_issue_does_not_lift_a_block(account, code):
    for n in range(LIMIT):
        attempt(account, WRONG, identity=fresh_identity(n, account))
    new_code = activation_code_issue(account=account)
    assert attempt(account, new_code, identity=fresh_identity(9, account)).failed


def test_another_account_is_not_affected(account, code):
    other = AccountFactory()
    other_code = activation_code_issue(account=other)
    for n in range(LIMIT):
        attempt(account, WRONG, identity=fresh_identity(n, account))
    assert attempt(other, other_code, identity=fresh_identity(9, other)).koppeling is not None


@pytest.mark.parametrize("blocked", ["username", "identity"])
def test_a_blocked_attempt_does_the_same_hash_work_as_an_evaluated_one(monkeypatch, blocked):
    """Timing must not tell a blocked key from a live one: every attempt runs exactly one hash check."""
    account = AccountFactory()
    identity = fresh_identity(0, account)
    for n in range(LIMIT):
        if blocked == "username":
            attempt(account, WRONG, identity=fresh_identity(n + 1, account))
        else:
            attempt(f"UNKNOWN{n}", WRONG, identity=identity)
    checks = []
    real_check = codes.check_password
    monkeypatch.setattr(codes, "check_password", lambda *a, **k: checks.append(1) or real_check(*a, **k))
    result = attempt(
        account, WRONG, identity=identity if blocked == "identity" else fresh_identity(99, account)
    )
    assert result.failed
    assert len(checks) == 1


def test_a_code_typed_into_the_username_field_is_never_stored_in_plain_text(account, code):
    """People swap the two fields; the counter key and the audit trail must not keep the live code."""
    canonical = codes.code_normalise(code)
    attempt(canonical, code, identity=fresh_identity(1, account))
    attempt(code, code, identity=fresh_identity(2, account))
    stored = repr(list(KoppelAttemptCounter.objects.values_list("key", flat=True)))
    stored += repr(list(AuditEvent.objects.values_list("detail", "object_repr")))
    assert canonical not in stored and code not in stored
    # the hashed key still counts: five of them block that text like any username
    for n in range(3, 3 + LIMIT):
        attempt(canonical, WRONG, identity=fresh_identity(n, account))
    assert blocked_usernames(usernames=[canonical]) == {canonical}
