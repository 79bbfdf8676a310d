"""P5 (design.md §7): the koppel attempt — latency p50/p95, and known vs unknown username timing.

Each attempt is a POST of username + a wrong activation code to the koppel step, through Django's
test client (the whole middleware stack; PostgreSQL; the production password hasher, PBKDF2). A
known username has a live code, so the check hashes against its stored hash; an unknown username
is checked against a dummy hash (koppeling/codes.py) so that both cost the same. Known and unknown
attempts alternate; every session and every username stays below the lockout limit (5), so each
attempt is evaluated. The figure compared is the p50 of each kind per round.

    .venv/bin/python -m bench.p5_koppel [--rounds 3] [--attempts 20]
"""

import argparse
import time

from bench.common import django_setup, percentile, scratch_database, summary, write_result

DB_NAME = "mijnduo_bench_p5"
PER_SESSION = 4  # the identity lockout allows 5 wrong attempts


def _known_accounts(count: int) -> list[str]:
    from django.utils import timezone

    from koppeling.models import ActivationCode
    from koppeling.services import CODE_VALIDITY, activation_code_issue
    from tests.factories import AccountFactory

    accounts = [AccountFactory() for _ in range(count)]
    activation_code_issue(account=accounts[0])  # one real PBKDF2 hash, copied to the others
    code_hash = ActivationCode.objects.get(account=accounts[0]).code_hash
    now = timezone.now()
    ActivationCode.objects.bulk_create(
        [
            ActivationCode(account=a, code_hash=code_hash, created_at=now, expires_at=now + CODE_VALIDITY)
            for a in accounts[1:]
        ]
    )
    return [a.username for a in accounts]


def _client(number: int):
    from django.test import Client

    from tests.koppeling.conftest import identity_for, identity_put, walk_to_koppel

    client = Client()
    identity_put(client, identity_for(pseudonym=f"bench-p5-{number}", legal_subject_id="41012345"))
    walk_to_koppel(client)
    return client


def one_round(*, number: int, attempts: int) -> dict[str, list[float]]:
    from django.urls import reverse

    known = _known_accounts(attempts)
    url = reverse("koppeling:koppel")
    samples = {"known": [], "unknown": []}
    clients = [_client(number * 1000 + i) for i in range((2 * attempts + PER_SESSION - 1) // PER_SESSION)]
    for index in range(2 * attempts):
        kind = ("known", "unknown")[(index + number) % 2]
        username = known[index // 2] if kind == "known" else f"ONBEKEND{number}X{index:04d}"
        client = clients[index // PER_SESSION]
        started = time.perf_counter()
        response = client.post(url, {"username": username, "activation_code": "ABCD-EFGH-JKMN"})
        samples[kind].append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 400), response.status_code
    return samples


def run(*, rounds: int, attempts: int) -> dict:
    scratch_database(DB_NAME)
    try:
        django_setup(DB_NAME)

        hasher = "ActivationCodeHasher (PBKDF2-SHA256, 20,000 iterations)"
        one_round(number=99, attempts=2)  # warm up
        per_round = []
        for number in range(rounds):
            samples = one_round(number=number, attempts=attempts)
            figures = {
                kind: {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95)}
                for kind, values in samples.items()
            }
            figures["difference"] = (
                abs(figures["known"]["p50"] - figures["unknown"]["p50"]) / figures["known"]["p50"]
            )
            per_round.append(figures)
            print(
                f"P5 round {number + 1}: known p50 {figures['known']['p50']:.0f} ms, unknown p50 "
                f"{figures['unknown']['p50']:.0f} ms, difference {figures['difference']:.1%}",
                flush=True,
            )
        return {
            "hasher": hasher,
            "attempts_per_kind_per_round": attempts,
            "known_p50_ms": summary([r["known"]["p50"] for r in per_round]),
            "known_p95_ms": summary([r["known"]["p95"] for r in per_round]),
            "unknown_p50_ms": summary([r["unknown"]["p50"] for r in per_round]),
            "unknown_p95_ms": summary([r["unknown"]["p95"] for r in per_round]),
            "difference": summary([r["difference"] for r in per_round]),
            "pass": sorted(r["difference"] for r in per_round)[len(per_round) // 2] <= 0.05,
        }
    finally:
        from django.db import connections

        connections.close_all()
        scratch_database(DB_NAME, drop_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--attempts", type=int, default=20, help="attempts per kind per round")
    parser.add_argument("--json")
    args = parser.parse_args()
    write_result(args.json, run(rounds=args.rounds, attempts=args.attempts))


if __name__ == "__main__":
    main()
