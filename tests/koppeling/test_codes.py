"""Activation codes: format, entropy, hash-only storage, 24 hours, single use, e-mail at send time."""

import io
import json
import logging
import math
import re
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuditEvent, EmailOutbox
from koppeling import codes
from koppeling.models import ActivationCode, KoppelAttemptCounter
from koppeling.services import activation_code_issue, activation_code_send, koppel_attempt
from tests.factories import AccountFactory

from .conftest import identity_for

pytestmark = pytest.mark.django_db

DISPLAY = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def test_code_is_twelve_crockford_characters_in_three_groups():
    for _ in range(200):
        assert DISPLAY.match(codes.code_generate())


def test_code_has_at_least_60_bits_of_entropy():
    assert len(codes.ALPHABET) == 32 and codes.LENGTH * math.log2(len(codes.ALPHABET)) >= 60
    samples = [codes.code_normalise(codes.code_generate()) for _ in range(2000)]
    assert len(set(samples)) == len(samples)
    # every character of the alphabet turns up, none dominates (random, not a counter or a clock)
    counts = Counter("".join(samples))
    assert set(counts) == set(codes.ALPHABET)
    expected = 2000 * 12 / 32
    assert all(0.7 * expected < n < 1.3 * expected for n in counts.values())


@pytest.mark.parametrize(
    "typed",
    [
        "ABCD-EFGH-JKMN",
        "abcd-efgh-jkmn",
        "ABCDEFGHJKMN",
        " abcd efgh jkmn ",
        "ABCD – EFGH – JKMN",
        "abcd.efgh.jkmn",
    ],
)
def test_input_is_forgiving_about_case_spaces_and_dashes(typed):
    assert codes.code_normalise(typed) == "ABCDEFGHJKMN"


def test_lookalike_letters_are_read_as_digits():
    assert codes.code_normalise("IlO0-ABCD-EFGH") == "1100ABCDEFGH"


@pytest.mark.parametrize(
    "typed", ["", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JKMU", "ABCD!EFGH!JKMN", "A" * 100]
)
def test_malformed_codes_are_rejected(typed):
    assert codes.code_normalise(typed) is None


def test_only_a_salted_password_hash_is_stored(real_hashers):
    account = AccountFactory()
    code = activation_code_issue(account=account)
    stored = ActivationCode.objects.get(account=account)
    assert stored.code_hash.startswith("pbkdf2_sha256_code$20000$")
    assert code not in stored.code_hash and codes.code_normalise(code) not in stored.code_hash
    second = AccountFactory()
    activation_code_issue(account=second)
    # salted: the same algorithm never gives two equal hashes
    assert stored.code_hash != ActivationCode.objects.get(account=second).code_hash
    assert codes.code_check(codes.code_normalise(code), stored.code_hash)


def test_code_is_valid_24_hours(account, code):
    stored = ActivationCode.objects.get(account=account)
    assert stored.expires_at - stored.created_at == timedelta(hours=24)


def test_new_code_invalidates_the_previous_one(account):
    first = activation_code_issue(account=account)
    second = activation_code_issue(account=account)
    assert first != second
    assert ActivationCode.objects.filter(account=account, invalidated_at__isnull=True).count() == 1
    identity = identity_for(account)
    assert koppel_attempt(identity=identity, username=account.username, code=first, ip=None).failed
    assert koppel_attempt(identity=identity, username=account.username, code=second, ip=None).koppeling


def test_new_code_does_not_reset_the_failure_count(account):
    identity = identity_for(account)
    activation_code_issue(account=account)
    for _ in range(3):
        assert koppel_attempt(
            identity=identity, username=account.username, code="AAAA-AAAA-AAAA", ip=None
        ).failed
    activation_code_issue(account=account)
    assert KoppelAttemptCounter.objects.get(key=f"u:{account.username}").failures == 3


def test_send_queues_the_mail_without_the_code_and_the_hook_issues_it_at_send_time(
    account, django_capture_on_commit_callbacks
):
    beheerder = AccountFactory(organisatie=account.organisatie)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbox = activation_code_send(account=account, issued_by=beheerder)
    assert outbox.to == account.email and outbox.template == "koppeling/email/activation_code"
    assert "activation_code" not in outbox.context
    assert not ActivationCode.objects.filter(account=account).exists()  # issued when the mail goes out
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    found = DISPLAY.pattern[1:-1]
    code = re.search(found, message.body).group(0)
    assert ActivationCode.objects.get(account=account, invalidated_at__isnull=True).issued_by == beheerder
    assert message.to == [account.email]
    assert message.subject == "Uw activatiecode voor Mijn DUO"
    assert "24 uur geldig" in message.body
    assert "/koppelen/" in message.body
    assert "nooit" in message.body  # never share it
    assert account.username not in message.body  # the username travels on paper, not with the code
    identity = identity_for(account)
    assert koppel_attempt(identity=identity, username=account.username, code=code, ip=None).koppeling


def test_the_plain_code_never_reaches_the_database_audit_trail_or_logs(
    account, caplog, client, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        activation_code_send(account=account, issued_by=None)
    code = re.search(DISPLAY.pattern[1:-1], mail.outbox[0].body).group(0)
    canonical = codes.code_normalise(code)
    identity = identity_for(account)
    # a failed and a successful attempt through the screens (the POST body holds the code)
    from .conftest import identity_put, koppel_post, walk_to_koppel

    identity_put(client, identity)
    walk_to_koppel(client)
    koppel_post(client, account.username, canonical[:11] + ("0" if canonical[-1] != "0" else "1"))
    with django_capture_on_commit_callbacks(execute=True):
        assert koppel_post(client, account.username, code).status_code == 302

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    everything = dump.getvalue()
    everything += json.dumps(list(AuditEvent.objects.values()), default=str)
    everything += json.dumps(list(EmailOutbox.objects.values()), default=str)
    for secret in (code, canonical, code.lower(), canonical.lower()):
        assert secret not in everything
        assert secret not in caplog.text
    assert AuditEvent.objects.filter(action="code.issued").exists()


def test_expired_code_is_refused_after_24_hours_but_not_before(account):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        code = activation_code_issue(account=account)
    identity = identity_for(account)
    with time_machine.travel(start + timedelta(hours=24, minutes=1), tick=False):
        assert koppel_attempt(identity=identity, username=account.username, code=code, ip=None).failed
    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=False):
        assert koppel_attempt(identity=identity, username=account.username, code=code, ip=None).koppeling


def test_codes_use_the_calibrated_hasher_and_passwords_keep_the_default(real_hashers):
    """Activation codes (60 random bits, 24 h) get 20,000 PBKDF2 iterations; human passwords keep Django's."""
    from django.contrib.auth.hashers import make_password

    assert codes.code_hash("ABCDEFGHJKMN").startswith("pbkdf2_sha256_code$20000$")
    assert make_password("a human password").startswith("pbkdf2_sha256$1")
    assert codes.code_check("ABCDEFGHJKMN", codes.code_hash("ABCDEFGHJKMN"))
    assert not codes.code_check("ABCDEFGHJKMP", codes.code_hash("ABCDEFGHJKMN"))
