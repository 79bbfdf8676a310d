"""The e-mail service: every mail goes through the outbox and is sent by Celery.

``email_queue`` writes an outbox row in the caller's transaction and publishes the send task on
commit. If the broker is unreachable the request still succeeds: the row stays unsent and the
beat task ``flush_email_outbox`` sends it once the broker and a worker are back.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from email.utils import make_msgid
from smtplib import SMTPException
from urllib.parse import urlsplit

from celery.exceptions import Retry
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from kombu.exceptions import LimitExceeded
from kombu.exceptions import OperationalError as KombuOperationalError

from .constants import AuditAction, AuditResult
from .models import EmailOutbox

logger = logging.getLogger(__name__)

# Template → dotted path of ``hook(*, outbox: EmailOutbox) -> dict``, called at send time, inside the
# sending transaction, to add a secret to the context (it must not be stored in the outbox row).
SECRET_HOOKS: dict[str, str] = {
    "koppeling/email/activation_code": "koppeling.services.activation_code_email_context",
    "accounts/email/email_change_confirm": "accounts.portal.email_change_email_context",
}

MAX_ATTEMPTS = 10


def email_queue(
    *, to: str, template: str, context: dict | None = None, language: str = "nl", account=None
) -> EmailOutbox:
    """Queue ``templates/<template>_subject.txt`` / ``.txt`` (/ ``.html``) for ``to``.

    ``context`` is stored as JSON, so it holds plain values and no secrets.
    """
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    outbox = EmailOutbox.objects.create(
        to=to,
        template=template,
        context=context or {},
        language=language,
        account=account,
        message_id=make_msgid(domain=domain),
    )
    transaction.on_commit(lambda: _publish_now_or_later(outbox.pk))
    return outbox


# Outbox ids committed inside ``email_publish_deferred``, to be published when it ends.
_deferred_ids: ContextVar[list[int] | None] = ContextVar("email_deferred_ids", default=None)


def _publish_now_or_later(outbox_id: int) -> None:
    deferred = _deferred_ids.get()
    if deferred is None:
        publish_send(outbox_id)
    else:
        deferred.append(outbox_id)


@contextmanager
def email_publish_deferred() -> Iterator[None]:
    """Publish the mails queued (and committed) inside this block when it ends, in chunks.

    For batch jobs such as ``import_beheerders``: a publish per mail costs a broker round trip and
    Celery's message building, about 1 ms each, twice per imported row (design.md §7 P7). The rows
    are in the outbox from their own commit on, so a job that dies half-way loses no mail: what it
    committed is published on the way out, and anything not published is sent by the outbox sweep.
    """
    from .lifecycle import email_publish_many

    ids: list[int] = []
    token = _deferred_ids.set(ids)
    try:
        yield
    finally:
        _deferred_ids.reset(token)
        if ids:
            email_publish_many(outbox_ids=ids)


# Seconds a publish may wait for the broker (connect, and each reply). Without a bound, a broker that
# accepts connections but does not answer (frozen, overloaded, half-open) holds the web request for ever.
PUBLISH_TIMEOUT = 2.0


def publish_send(outbox_id: int) -> None:
    """Hand the outbox row to Celery; when the broker is down or hangs, leave it to the sweep.

    The publish uses connections with socket timeouts (``_publish_connections``), and every error the
    transport can raise (for Redis: ``redis.ConnectionError`` and ``redis.TimeoutError``, which are not
    ``OSError``) counts as "broker unavailable". The request that queued the mail has committed by now
    and must succeed.
    """
    from .tasks import send_email

    app = send_email.app
    if app.conf.task_always_eager:
        try:
            send_email.delay(outbox_id)
        except (OSError, SMTPException, Retry):
            # Eager (development): the SMTP server failed; the row stays for the sweep.
            logger.warning("E-mail %s not sent now; the outbox sweep will send it", outbox_id)
        return
    try:
        with _publish_connections(app).acquire(block=True, timeout=PUBLISH_TIMEOUT) as connection:
            transport_errors = (*connection.connection_errors, *connection.channel_errors)
            try:
                send_email.apply_async((outbox_id,), connection=connection, retry=False)
            except (OSError, KombuOperationalError, *transport_errors):
                connection.collect()  # drop the broken transport; the pool reconnects next time
                logger.warning("Broker unavailable: e-mail %s stays in the outbox for the sweep", outbox_id)
    except (OSError, KombuOperationalError, LimitExceeded):
        logger.warning("Broker unavailable: e-mail %s stays in the outbox for the sweep", outbox_id)


_publish_pools: dict = {}


def _publish_connections(app):
    """A pool of broker connections with socket timeouts, one per broker URL, made on first use.

    Pooled (not one connection per mail) so that bulk jobs publish fast: opening a Redis connection
    and declaring the queue costs about 10 ms, the publish itself well under one.
    """
    options = {
        **(app.conf.broker_transport_options or {}),
        "socket_connect_timeout": PUBLISH_TIMEOUT,
        "socket_timeout": PUBLISH_TIMEOUT,
    }
    key = (app.conf.broker_url, repr(sorted(options.items())))
    pool = _publish_pools.get(key)
    if pool is None:
        pool = app.connection_for_write(transport_options=options).Pool(
            limit=app.conf.broker_pool_limit or 10
        )
        _publish_pools[key] = pool
    return pool


def _render_plain_text(template_name: str, context: dict) -> str:
    """Render a plain-text mail part with autoescaping off.

    HTML escaping belongs to HTML: in a text/plain body or a Subject header "O'Neill" would arrive
    as "O&#x27;Neill". The ``.html`` alternative keeps Django's autoescaping.
    """
    return get_template(template_name).template.render(Context(context, autoescape=False))


def email_render(*, outbox: EmailOutbox, extra_context: dict | None = None) -> EmailMultiAlternatives:
    context = {"SITE_URL": settings.SITE_URL, **outbox.context, **(extra_context or {})}
    with translation.override(outbox.language):
        subject = " ".join(_render_plain_text(f"{outbox.template}_subject.txt", context).split())
        body = _render_plain_text(f"{outbox.template}.txt", context)
        try:
            html = render_to_string(f"{outbox.template}.html", context)
        except TemplateDoesNotExist:
            html = None
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[outbox.to],
        headers={"Message-ID": outbox.message_id, "Auto-Submitted": "auto-generated"},
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message


def email_send(*, outbox_id: int) -> bool:
    """Send one queued mail; return False if it was already sent (or is being sent elsewhere).

    The row is locked for the duration of the SMTP exchange and marked sent in the same
    transaction, so two workers (or a retry racing the sweep) never both send it.
    """
    from .audit import audit_log

    try:
        with transaction.atomic():
            outbox = (
                EmailOutbox.objects.select_for_update(skip_locked=True)
                .filter(pk=outbox_id, sent_at__isnull=True)
                .first()
            )
            if outbox is None:
                return False
            extra = {}
            hook_path = SECRET_HOOKS.get(outbox.template)
            if hook_path:
                extra = import_string(hook_path)(outbox=outbox)
            message = email_render(outbox=outbox, extra_context=extra)
            message.send(fail_silently=False)
            outbox.sent_at = timezone.now()
            outbox.subject = message.subject[:255]
            outbox.attempts += 1
            outbox.last_error = ""
            outbox.save(update_fields=["sent_at", "subject", "attempts", "last_error"])
            audit_log(
                action=AuditAction.EMAIL_SENT, obj=outbox, actor=None, detail={"template": outbox.template}
            )
            return True
    except Exception as error:
        EmailOutbox.objects.filter(pk=outbox_id).update(
            attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:500]
        )
        audit_log(
            action=AuditAction.EMAIL_FAILED,
            result=AuditResult.FAILURE,
            detail={"outbox_id": outbox_id, "error": type(error).__name__},
        )
        raise


def pending_outbox_ids(*, older_than_seconds: int = 60, limit: int = 500) -> list[int]:
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        EmailOutbox.objects.filter(sent_at__isnull=True, created_at__lte=cutoff, attempts__lt=MAX_ATTEMPTS)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
