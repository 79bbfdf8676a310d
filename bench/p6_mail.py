"""P6 (design.md §7): "Activatiecode versturen" while the SMTP server takes 2 s, and mail throughput.

Real pieces on loopback: Redis (broker, port 6395), an aiosmtpd server that waits ``--delay``
seconds before accepting each message, and one Celery worker (``celery -A mijnduo worker``, the
default prefork pool, one process per core). The request (POST /beheer/gebruikers/<pk>/activatiecode/
by a beheerder, through Django's test client) is timed with the mail asynchronous (published to
Redis on commit) and, as the baseline, with Celery eager (the mail sent inside the request).

Throughput: ``--mails`` activation-code mails are queued at once and timed until the SMTP server
has them all, with an instant SMTP server (what one worker's CPU allows: each mail issues a code,
hashed with the production PBKDF2 hasher) and with the 2 s server (``--slow-mails``), then
extrapolated to 1,000. Bounded: each wait stops after ``--timeout`` seconds.

    .venv/bin/python -m bench.p6_mail [--rounds 3] [--requests 15] [--mails 60] [--slow-mails 12]
"""

import argparse
import asyncio
import subprocess
import threading
import time

from bench.common import (
    PYTHON,
    ROOT,
    bench_env,
    django_setup,
    percentile,
    process_stop,
    redis_server,
    scratch_database,
    summary,
    write_result,
)

DB_NAME = "mijnduo_bench_p6"
SMTP_PORT = 18025


class SlowSmtp:
    """aiosmtpd handler: wait ``delay`` seconds, then accept; count what arrived."""

    def __init__(self):
        self.delay = 2.0
        self.received = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        await asyncio.sleep(self.delay)
        with self.lock:
            self.received += 1
        return "250 OK"


def _worker(env: dict) -> subprocess.Popen:
    command = [
        PYTHON,
        "-m",
        "celery",
        "-A",
        "mijnduo",
        "worker",
        "--loglevel=WARNING",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
    ]
    log = open("/tmp/mijnduo-bench-p6-worker.log", "w")  # noqa: SIM115  (closed with the process)
    return subprocess.Popen(command, env={**env, "C_FORCE_ROOT": "1"}, cwd=ROOT, stdout=log, stderr=log)


def _wait(handler: SlowSmtp, target: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if handler.received >= target:
            return True
        time.sleep(0.05)
    return False


def run(*, rounds: int, requests: int, mails: int, slow_mails: int, timeout: float) -> dict:
    from aiosmtpd.controller import Controller

    scratch_database(DB_NAME)
    handler = SlowSmtp()
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    worker = None
    try:
        with redis_server() as redis_url:
            extra = {
                "CELERY_BROKER_URL": f"{redis_url}/0",
                "REDIS_URL": f"{redis_url}/1",
                "CELERY_TASK_ALWAYS_EAGER": "0",
                "EMAIL_URL": f"smtp://127.0.0.1:{SMTP_PORT}",
            }
            django_setup(DB_NAME, **extra)
            from django.test import Client
            from django.urls import reverse

            from koppeling.services import activation_code_send
            from mijnduo.celery import app
            from tests.factories import AccountFactory, OrganisatieFactory, beheerder_create

            organisatie = OrganisatieFactory()
            beheerder = beheerder_create("vo", organisatie=organisatie, name="Bea Beheer")
            users = [AccountFactory(organisatie=organisatie) for _ in range(max(requests, mails, slow_mails))]
            client = Client()
            client.force_login(beheerder)
            worker = _worker(bench_env(DB_NAME, **extra))

            def post(account) -> float:
                url = reverse("beheer:activatiecode_versturen", args=[account.pk])
                started = time.perf_counter()
                response = client.post(url)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 302, response.status_code
                return elapsed

            post(users[0])  # warm up (publish pool, templates)
            handler.delay = 2.0
            per_round = []
            for number in range(rounds):
                app.conf.task_always_eager = False
                asynchronous = [post(users[i]) for i in range(requests)]
                app.conf.task_always_eager = True
                eager = [post(users[i]) for i in range(2)]
                app.conf.task_always_eager = False
                per_round.append(
                    {
                        "async_p50": percentile(asynchronous, 0.5),
                        "async_p95": percentile(asynchronous, 0.95),
                        "eager_p50": percentile(eager, 0.5),
                    }
                )
                print(
                    f"P6 round {number + 1}: request with asynchronous mail p50 {per_round[-1]['async_p50']:.1f} ms, "
                    f"with the mail sent in the request {per_round[-1]['eager_p50']:.0f} ms",
                    flush=True,
                )
            # Let the worker finish the mails queued above before timing throughput.
            _wait(handler, rounds * requests + 1, timeout=timeout)
            time.sleep(3)

            throughput = {}
            for label, delay, count in (("instant_smtp", 0.0, mails), ("smtp_2s", 2.0, slow_mails)):
                handler.delay = delay
                start_count = handler.received
                started = time.perf_counter()
                for account in users[:count]:
                    activation_code_send(account=account, issued_by=beheerder)
                done = _wait(handler, start_count + count, timeout=timeout)
                elapsed = time.perf_counter() - started
                delivered = handler.received - start_count
                rate = delivered / elapsed
                throughput[label] = {
                    "mails": count,
                    "delivered": delivered,
                    "seconds": elapsed,
                    "mails_per_second": rate,
                    "projected_seconds_for_1000": 1000 / rate if rate else None,
                    "complete": done,
                }
                print(
                    f"P6 throughput ({label}): {delivered}/{count} mails in {elapsed:.1f} s, "
                    f"{rate:.2f} mails/s → 1,000 in ~{1000 / rate:.0f} s",
                    flush=True,
                )

            process_stop(worker)
            worker = None
            return {
                "smtp_delay_s": 2.0,
                "requests_per_round": requests,
                "async_request_p50_ms": summary([r["async_p50"] for r in per_round]),
                "async_request_p95_ms": summary([r["async_p95"] for r in per_round]),
                "eager_request_p50_ms": summary([r["eager_p50"] for r in per_round]),
                "ratio": summary([r["eager_p50"] / r["async_p50"] for r in per_round]),
                "throughput": throughput,
                "worker": "celery prefork, concurrency = cores",
                "hasher": "ActivationCodeHasher (PBKDF2-SHA256, 20,000 iterations)",
                "pass_request": sorted(r["async_p50"] for r in per_round)[rounds // 2] <= 50,
                "pass_throughput": throughput["instant_smtp"]["projected_seconds_for_1000"] <= 60,
            }
    finally:
        if worker is not None:
            process_stop(worker)
        controller.stop()
        from django.db import connections

        connections.close_all()
        scratch_database(DB_NAME, drop_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--mails", type=int, default=60)
    parser.add_argument("--slow-mails", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--json")
    args = parser.parse_args()
    result = run(
        rounds=args.rounds,
        requests=args.requests,
        mails=args.mails,
        slow_mails=args.slow_mails,
        timeout=args.timeout,
    )
    write_result(args.json, result)


if __name__ == "__main__":
    main()
