"""E-mail reliability for real: a Redis broker, a Celery worker process and an SMTP server that fails.

Nothing is mocked: the web request runs in this process with CELERY_TASK_ALWAYS_EAGER off and publishes
to our own redis-server; a ``celery worker`` subprocess sends through an aiosmtpd server that refuses
the first N messages with a temporary error. Rows are committed (transaction=True) so the worker,
connected to the same test database, sees them; serialized_rollback restores the catalogue (migration
data) that the flush after a transactional test removes.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, AuditEvent, EmailOutbox
from mijnduo.celery import app as celery_app

pytestmark = [
    pytest.mark.slow,
    # A real Celery worker process on the test database: PostgreSQL, as in production.
    pytest.mark.postgresql,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

ROOT = Path(__file__).resolve().parents[2]
REGISTER = {"name": "Rita Retry", "job_title": "Docent", "phone": "050 1", "language": "nl"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


class RedisServer:
    """Our own redis-server on a spare port, stopped and started by process id (never by name)."""

    def __init__(self):
        self.port = _free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert _wait(self._ping, 10), "redis-server did not start"

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
        assert _wait(lambda: not self._ping(), 5)

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class FlakySmtpHandler:
    """Accepts mail, except that it answers the next ``fail_next`` messages with 451 (try again later)."""

    def __init__(self):
        self.fail_next = 0
        self.refused = 0
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return "451 4.3.0 Temporary failure, try again later"
        self.messages.append(envelope.original_content or envelope.content)
        return "250 2.0.0 OK"

    def reset(self):
        self.fail_next, self.refused, self.messages = 0, 0, []

    def delivered_to(self, address: str) -> list[bytes]:
        return [m for m in self.messages if f"To: {address}".encode() in m]


@pytest.fixture(scope="module")
def smtp():
    handler = FlakySmtpHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture(scope="module")
def redis_broker():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, redis_broker, smtp, tmp_path_factory):
    """A real ``celery -A mijnduo worker`` on our broker, our SMTP server and the test database."""
    controller, _handler = smtp
    with django_db_blocker.unblock():
        db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "mijnduo.settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db.get('HOST') or '127.0.0.1'}:"
            f"{db.get('PORT') or 5432}/{db['NAME']}"
        ),
        "DATABASE_CONN_MAX_AGE": "0",  # no idle connection may outlive the test database
        "CELERY_BROKER_URL": redis_broker.url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
        "EMAIL_TIMEOUT": "5",
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mijnduo",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    assert _wait(lambda: b"ready." in log.read_bytes() or process.poll() is not None, 30), log.read_text()
    assert process.poll() is None, log.read_text()
    yield process, log
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture
def live_celery(worker, redis_broker, smtp, settings):
    """Make this process publish to our broker instead of running tasks eagerly."""
    _controller, handler = smtp
    handler.reset()
    # Before the settings change: the Celery app reads its configuration through Django's settings, so
    # saving afterwards "restored" eager off for every later test in the process (their tasks went to
    # Redis and nobody ran them).
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url")}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = redis_broker.url
    _reset_producer_pool()
    yield handler
    celery_app.conf.update(saved)
    _reset_producer_pool()
    _drain(redis_broker)


def _drain(redis_broker, timeout: float = 15) -> None:
    """Let the worker finish what is queued before the test database is flushed.

    A task still running during the teardown's TRUNCATE deadlocks with it (the worker's inserts need
    locks the TRUNCATE already holds, and the reverse).
    """
    import redis

    client = redis.Redis.from_url(redis_broker.url, socket_timeout=2)
    _wait(lambda: client.llen("celery") == 0, timeout, 0.1)
    time.sleep(1.0)  # the task the worker took last (solo pool: one at a time)


def _reset_producer_pool():
    """Drop cached broker connections so the next publish connects with the current settings."""
    from kombu import pools

    celery_app.amqp._producer_pool = None
    celery_app._pool = None
    pools.reset()  # closes and forgets kombu's global connection and producer pools


def _register(client, email: str):
    client.get(reverse("beheer:gebruiker_aanmelden"))  # warm up: the first request imports a lot
    started = time.monotonic()
    response = client.post(reverse("beheer:gebruiker_aanmelden"), {**REGISTER, "email": email})
    elapsed = time.monotonic() - started
    assert response.status_code == 302, response.content.decode()[:2000]
    return Account.objects.get(email=email), elapsed


def _outbox(account) -> EmailOutbox:
    return EmailOutbox.objects.get(account=account, template="beheer/email/registered")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_smtp_failures_are_retried_with_backoff_and_the_mail_is_delivered_once(
    beheer_client, live_celery, worker
):
    live_celery.fail_next = 2
    account, elapsed = _register(beheer_client, "rita@school.example")
    assert elapsed < 2, "the request must not wait for SMTP"
    delivered = _wait(lambda: live_celery.delivered_to("rita@school.example"), 30, 0.2)
    assert delivered, worker[1].read_text()[-3000:]
    time.sleep(1.0)  # a late duplicate would show up here
    assert len(live_celery.delivered_to("rita@school.example")) == 1
    assert live_celery.refused == 2
    outbox = _wait(
        lambda: EmailOutbox.objects.filter(pk=_outbox(account).pk, sent_at__isnull=False).first(), 5
    )
    assert outbox.attempts == 3 and outbox.last_error == ""
    assert b"U bent aangemeld" in delivered[0] or "U bent aangemeld" in outbox.subject
    assert AuditEvent.objects.filter(action="email.failed", detail__outbox_id=outbox.pk).count() == 2
    assert AuditEvent.objects.filter(action="email.sent", object_id=str(outbox.pk)).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_request_while_the_broker_is_down_is_kept_and_sent_once_by_the_sweep(
    beheer_client, live_celery, redis_broker, worker
):
    from accounts.tasks import flush_email_outbox

    redis_broker.stop()
    try:
        account, elapsed = _register(beheer_client, "bram@school.example")
        assert elapsed < 5, f"publishing to a dead broker must fail fast, took {elapsed:.1f}s"
        outbox = _outbox(account)
        assert outbox.sent_at is None
    finally:
        redis_broker.start()
    time.sleep(0.5)
    assert live_celery.delivered_to("bram@school.example") == []
    # The beat runs the sweep every minute; it takes rows older than a minute: this one now is.
    EmailOutbox.objects.filter(pk=outbox.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    _reset_producer_pool()
    flush_email_outbox.delay()
    assert _wait(lambda: live_celery.delivered_to("bram@school.example"), 30, 0.2), worker[1].read_text()[
        -3000:
    ]
    # A second sweep (and a stray task for the same row) must not send it again.
    flush_email_outbox.delay()
    from accounts.tasks import send_email

    send_email.delay(outbox.pk)
    time.sleep(1.5)
    assert len(live_celery.delivered_to("bram@school.example")) == 1
    outbox.refresh_from_db()
    assert outbox.sent_at is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_duplicate_tasks_for_one_mail_send_it_once(beheer_client, live_celery, worker):
    from accounts.tasks import send_email

    account, _elapsed = _register(beheer_client, "dirk@school.example")
    outbox = _outbox(account)
    for _ in range(3):  # e.g. a redelivery after a worker crash (acks_late) and a manual resend
        send_email.delay(outbox.pk)
    assert _wait(lambda: live_celery.delivered_to("dirk@school.example"), 20, 0.2)
    time.sleep(1.5)
    assert len(live_celery.delivered_to("dirk@school.example")) == 1
    assert AuditEvent.objects.filter(action="email.sent", object_id=str(outbox.pk)).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_request_while_the_broker_hangs_does_not_hang(beheer_client, live_celery, redis_broker, worker):
    """A frozen broker (accepts connections, never answers) must not hold the request either."""
    import signal
    import threading

    pid = redis_broker.process.pid
    os.kill(pid, signal.SIGSTOP)
    # Watchdog: whatever happens, the broker resumes after 15 s, so this test can fail but never hang.
    watchdog = threading.Timer(15, os.kill, (pid, signal.SIGCONT))
    watchdog.start()
    try:
        account, elapsed = _register(beheer_client, "frieda@school.example")
    finally:
        watchdog.cancel()
        os.kill(pid, signal.SIGCONT)
    assert elapsed < 5, f"publishing to a frozen broker took {elapsed:.1f}s"
    assert _outbox(account).sent_at is None or live_celery.delivered_to("frieda@school.example")
    # A publish buffered while the broker was frozen may still arrive now: let the worker finish it.
    _wait(lambda: live_celery.delivered_to("frieda@school.example"), 5, 0.2)
