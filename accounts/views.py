import email
from datetime import date, timedelta
from email import policy
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from . import devmail
from .forms import MijnGegevensForm, TokenLoginForm
from .portal import (
    EmailChangeError,
    EmailChangeLimitError,
    email_change_confirm,
    email_change_lookup,
    email_change_request,
    onderwerp_visit_count,
    profile_update,
)
from .selectors import (
    email_change_pending,
    overview_for_account,
    rol_toekenningen_for_onderwerp,
    switch_date_for,
)
from .token_login import SESSION_AUTH_METHOD, TokenOutcome, token_login


@require_GET
def home(request):
    return render(request, "accounts/home.html")


# The accessibility statement follows the Dutch government's model (digitoegankelijk.nl): status,
# dates, how it was evaluated, known problems with planned fixes, a contact address.
ACCESSIBILITY_STATEMENT_DATE = date(2026, 11, 29)
ACCESSIBILITY_REVIEWED_DATE = date(2026, 11, 29)


@require_GET
def toegankelijkheid(request):
    context = {
        "statement_date": ACCESSIBILITY_STATEMENT_DATE,
        "reviewed_date": ACCESSIBILITY_REVIEWED_DATE,
        "contact_email": settings.ACCESSIBILITY_CONTACT_EMAIL,
    }
    return render(request, "accounts/toegankelijkheid.html", context)


@require_GET
def gebruiksvoorwaarden(request):
    return render(request, "accounts/gebruiksvoorwaarden.html")


@require_GET
def uitgelogd(request):
    """Where a logout ends (LOGOUT_REDIRECT_URL): the user sees that it worked."""
    return render(request, "accounts/uitgelogd.html")


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
    # Warnings (certificates near expiry, a failing metadata refresh) never change the status code.
    body = {"status": "ok" if healthy else "error", **checks, "warnings": _health_warnings()}
    return JsonResponse(body, status=200 if healthy else 503)


def _health_warnings() -> list:
    """What settings.HEALTHZ_WARNINGS' providers report (the apps that know: accounts imports none)."""
    warnings = []
    for path in settings.HEALTHZ_WARNINGS:
        try:
            warnings.extend(import_string(path)())
        except Exception as error:  # noqa: BLE001  (a warning provider must not break the health check)
            warnings.append({"code": "warning_provider_failed", "message": f"{path}: {type(error).__name__}"})
    return warnings


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


# --- The user's portal: overview, Onderwerpen, Mijn gegevens, token login (issue 6) -------------


def _url_or(name: str, fallback: str) -> str:
    """Reverse a URL another part owns; a fixed path while that part is not there yet."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


def portal_user_required(view):
    """Logged-in organisation users only: anonymous → eHerkenning login, helpdesk staff → 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_staff:
            return render(request, "accounts/portal_forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _portal_context(request) -> dict:
    return {"logout_url": _url_or("logout", "/uitloggen/")}


@never_cache
@require_GET
@portal_user_required
def overzicht(request):
    overview = overview_for_account(account=request.user, now=timezone.now())
    # A token user is told until when the token still works (seed 001: the sector's switch date).
    switch_date = None
    if request.session.get(SESSION_AUTH_METHOD) == "token":
        switch_date = switch_date_for(organisatie_type=overview.organisatie_type)
    return render(
        request,
        "accounts/overzicht.html",
        {
            **_portal_context(request),
            "overview": overview,
            "token_switch_date": switch_date,
            "token_last_day": switch_date - timedelta(days=1) if switch_date else None,
            "beheer_url": _url_or("beheer:gebruikers", "/beheer/") if overview.is_beheerder else "",
        },
    )


@never_cache
@require_GET
@portal_user_required
def onderwerp(request, code):
    toekenningen = rol_toekenningen_for_onderwerp(account=request.user, rol_code=code)
    if not toekenningen:
        from .selectors import rollen_snapshot

        # No such onderwerp: 404. The rol catalogue is public (seed 003 lists every rol), so telling
        # an unknown code from a rol the user does not hold (403) reveals nothing about anybody; the
        # catalogue comes from the per-process snapshot, no extra query.
        if not any(rol[0] == code for rol in rollen_snapshot.get().values()):
            raise Http404
        return render(request, "accounts/portal_forbidden.html", {"onderwerp_code": code}, status=403)
    rol = toekenningen[0].rol
    onderwerp_visit_count(account=request.user, rol=rol)
    return render(
        request,
        "accounts/onderwerp.html",
        {**_portal_context(request), "rol": rol, "toekenningen": toekenningen},
    )


@never_cache
@require_http_methods(["GET", "POST"])
@portal_user_required
def mijn_gegevens(request):
    account = request.user
    status = 200
    if request.method == "POST":
        form = MijnGegevensForm.for_account(account, data=request.POST)
        if form.is_valid():
            data = form.cleaned_data
            new_email = data["email"]
            email_changes = new_email.lower() != account.email.lower()
            try:
                # One transaction: over the daily limit (checked under a row lock by
                # email_change_request), the other details are not saved either.
                with transaction.atomic():
                    if email_changes:
                        email_change_request(account=account, new_email=new_email, request=request)
                    changed = profile_update(
                        account=account,
                        name=data["name"],
                        job_title=data["job_title"],
                        phone=data["phone"],
                        request=request,
                    )
            except EmailChangeLimitError:
                form.add_error(
                    "email", _("You asked for too many address changes today. Try again tomorrow.")
                )
            else:
                if email_changes:
                    messages.info(
                        request,
                        _(
                            "We sent a link to %(email)s. Your new e-mail address takes effect only "
                            "after you follow that link (valid for 24 hours)."
                        )
                        % {"email": new_email},
                    )
                if changed:
                    messages.success(request, _("Your details have been saved."))
                elif not email_changes:
                    messages.info(request, _("Nothing was changed."))
                return redirect("mijn_gegevens")
        status = 400
    else:
        form = MijnGegevensForm.for_account(account)
    return render(
        request,
        "accounts/mijn_gegevens.html",
        {**_portal_context(request), "form": form, "pending": email_change_pending(account=account)},
        status=status,
    )


_EMAIL_CONFIRM_ERRORS = {
    "unknown": (
        400,
        gettext_lazy("This confirmation link is not valid. Check that you copied the whole link."),
    ),
    "expired": (
        410,
        gettext_lazy(
            "This confirmation link has expired. Enter your new e-mail address again in Mijn gegevens."
        ),
    ),
    "used": (
        410,
        gettext_lazy(
            "This confirmation link has already been used or was replaced by a newer one. "
            "Check your e-mail address in Mijn gegevens."
        ),
    ),
}


@never_cache
@require_http_methods(["GET", "POST"])
@portal_user_required
def email_confirm(request, token):
    """Show (GET) and perform (POST) the e-mail change; a mail scanner's GET changes nothing."""
    try:
        if request.method == "POST":
            email_change_confirm(account=request.user, token=token, request=request)
            messages.success(request, _("Your e-mail address has been changed."))
            return redirect("mijn_gegevens")
        wijziging = email_change_lookup(account=request.user, token=token)
    except EmailChangeError as error:
        status, message = _EMAIL_CONFIRM_ERRORS[error.reason]
        return render(
            request,
            "accounts/email_confirm_error.html",
            {**_portal_context(request), "message": message},
            status=status,
        )
    return render(
        request, "accounts/email_confirm.html", {**_portal_context(request), "wijziging": wijziging}
    )


@never_cache
@sensitive_post_parameters("password", "otp_token")
@csrf_protect
@require_http_methods(["GET", "POST"])
def token_login_view(request):
    """Inloggen met token (seeds 001, 004): for existing users until their sector's switch date."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    status = 200
    refusal = None
    if request.method == "POST":
        form = TokenLoginForm(request.POST)
        if form.is_valid():
            result = token_login(
                request=request,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                otp_token=form.cleaned_data["otp_token"],
            )
            if result.outcome is TokenOutcome.OK:
                return redirect(next_url or "overzicht")
            if result.outcome is TokenOutcome.PASSWORD_CHANGE:
                from .token_views import password_change_redirect

                return password_change_redirect(next_url=next_url)
            if result.outcome is TokenOutcome.FAILED:
                form.add_error(None, _("The combination of username, password and code is not correct."))
                status = 400
            else:
                refusal = result
                status = 403
        else:
            status = 400
    else:
        form = TokenLoginForm()
    return render(
        request,
        "accounts/token_login.html",
        {"form": form, "refusal": refusal, "next": next_url},
        status=status,
    )
