"""The lockout and the single-use code under real parallelism on PostgreSQL.

Fifty threads, each with its own database connection, start together (a barrier) and run the same
service the koppel screen runs. Only the atomic counter reservation stands between them and the
code check, so the number of *evaluated* tries (password-hash checks) is the bound under test.
"""

import threading

import pytest

from koppeling import codes
from koppeling.identity import EHerkenningIdentity
from koppeling.lockout import LIMIT, lockout
from koppeling.models import ActivationCode, KoppelAttemptCounter, Koppeling
from koppeling.services import activation_code_issue, koppel_attempt
from tests import parallel
from tests.factories import AccountFactory

THREADS = 50
WRONG = "AAAA-AAAA-AAAA"

# Row locks under real concurrency: what design.md §6 promises of PostgreSQL (SQLite serialises
# writers with "database is locked" instead).
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.postgresql]


def run_parallel(work, n=THREADS):
    return parallel.run_parallel(work, n)


@pytest.fixture
def counted_checks(monkeypatch):
    """Count the code checks (the evaluated tries) across threads."""
    lock = threading.Lock()
    calls = []
    original = codes.code_check

    def counting(canonical, encoded):
        with lock:
            calls.append(encoded)
        return original(canonical, encoded)

    monkeypatch.setattr(codes, "code_check", counting)
    return calls


@pytest.fixture(autouse=True)
def _real_hashers(real_hashers):
    """Real PBKDF2: the hash check is slow, which widens any race window the counter might have."""


def test_50_parallel_reservations_allow_exactly_5():
    reservations = run_parallel(lambda i: lockout.reserve("u:RACE0001"))
    allowed = sorted(r.count for r in reservations if r.allowed)
    assert allowed == [1, 2, 3, 4, 5]
    assert sorted(r.count for r in reservations) == list(range(1, THREADS + 1))
    counter = KoppelAttemptCounter.objects.get(key="u:RACE0001")
    assert counter.failures == THREADS and counter.blocked_until is not None


def test_50_parallel_wrong_attempts_on_one_username_evaluate_at_most_5(counted_checks):
    account = AccountFactory()
    code = activation_code_issue(account=account)
    legal = account.organisatie.kvk_nummer

    def wrong(i):
        identity = EHerkenningIdentity(f"attacker-{i}", legal, "urn:etoegang:core:assurance-class:loa3")
        return koppel_attempt(identity=identity, username=account.username, code=WRONG, ip="192.0.2.7")

    results = run_parallel(wrong)
    assert all(result.failed for result in results)
    assert len(counted_checks) <= LIMIT
    assert len(counted_checks) == LIMIT  # and the counter did not refuse more than it had to
    counter = KoppelAttemptCounter.objects.get(key=f"u:{account.username}")
    assert counter.failures == THREADS
    assert counter.blocked_until is not None
    # the block holds against the right code too
    owner = EHerkenningIdentity("owner", legal, "urn:etoegang:core:assurance-class:loa3")
    assert koppel_attempt(identity=owner, username=account.username, code=code, ip=None).failed


def test_50_parallel_attempts_from_one_identity_evaluate_at_most_5(counted_checks):
    identity = EHerkenningIdentity("sprayer", "99999999", "urn:etoegang:core:assurance-class:loa3")

    def spray(i):
        return koppel_attempt(identity=identity, username=f"SPRAY{i:03d}", code=WRONG, ip=None)

    run_parallel(spray)
    assert len(counted_checks) <= LIMIT
    counter = KoppelAttemptCounter.objects.get(key=f"i:{identity.key}")
    assert counter.failures == THREADS and counter.blocked_until is not None


def test_a_code_is_used_once_even_by_parallel_right_attempts():
    account = AccountFactory()
    account.organisatie.kvk_nummer = ""
    account.organisatie.save()
    code = activation_code_issue(account=account)

    def right(i):
        identity = EHerkenningIdentity(
            f"twin-{i}", f"{10000000 + i}", "urn:etoegang:core:assurance-class:loa3"
        )
        return koppel_attempt(identity=identity, username=account.username, code=code, ip=None)

    results = run_parallel(right, n=LIMIT)
    linked = [result for result in results if result.koppeling is not None]
    assert len(linked) == 1
    assert Koppeling.objects.filter(account=account).count() == 1
    assert ActivationCode.objects.get(account=account).used_at is not None
