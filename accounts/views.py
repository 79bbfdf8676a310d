import email
from email import policy

from django.conf import settings
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import devmail


@require_GET
def home(request):
    return render(request, "accounts/home.html")


@require_GET
def toegankelijkheid(request):
    return render(request, "accounts/toegankelijkheid.html")


@require_GET
def gebruiksvoorwaarden(request):
    return render(request, "accounts/gebruiksvoorwaarden.html")


@never_cache
@require_GET
def healthz(request):
    """Report whether the database and Redis answer; 503 when one does not."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["database"] = f"error: {type(error).__name__}"
    checks["redis"] = _redis_status()
    healthy = all(value in {"ok", "not used"} for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


def _redis_status() -> str:
    """Ping every Redis the running profile depends on: the Celery broker and the cache."""
    import redis

    urls = []
    if not settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL.startswith("redis"):
        urls.append(settings.CELERY_BROKER_URL)
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        urls.append(settings.CACHES["default"]["LOCATION"])
    if not urls:
        return "not used"
    try:
        for url in urls:
            redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as error:  # noqa: BLE001
        return f"error: {type(error).__name__}"
    return "ok"


def _require_dev_mailbox():
    if not settings.DEV_MAILBOX_ENABLED:
        raise Http404


@never_cache
@require_GET
def dev_mail_list(request):
    _require_dev_mailbox()
    messages = []
    for path in sorted(devmail.mail_dir().glob("*.eml"), reverse=True)[:200]:
        parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        messages.append(
            {"name": path.stem, "to": parsed["To"], "subject": parsed["Subject"], "date": parsed["Date"]}
        )
    return render(request, "accounts/dev_mail_list.html", {"mails": messages})


@never_cache
@require_GET
def dev_mail_detail(request, name):
    _require_dev_mailbox()
    path = devmail.mail_dir() / f"{name}.eml"
    if "/" in name or not path.is_file():
        raise Http404
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    body = parsed.get_body(preferencelist=("plain",))
    return render(
        request,
        "accounts/dev_mail_detail.html",
        {"mail": parsed, "body": body.get_content() if body else "", "headers": list(parsed.items())},
    )
