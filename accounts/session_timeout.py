"""Session limits (design.md §5, issue 17): an idle timeout renewed by activity and an absolute limit.

WCAG 2.2.1 (Timing Adjustable) asks that a user is warned before a time limit ends and can extend
it with a simple action; the BIO asks that an unattended session does not stay open. So:

- ``SESSION_IDLE_TIMEOUT`` (default 15 minutes; the helpdesk admin ``ADMIN_SESSION_IDLE_TIMEOUT``)
  without a request ends the session; every request renews it. ``SESSION_MAX_AGE`` (default
  8 hours) after the login it ends however active the user is.
- The session records when it started and when it was last active (epoch seconds, in its own data).
  Activity is written at most once per ``ACTIVITY_RESOLUTION`` seconds, so a busy user does not
  cost a database write per request; the session row's ``expire_date`` is the deadline these give
  (accounts/sessions.py), so the session store itself never loads a session past its deadline.
- The server is the judge: the middleware ends a session past its deadline whatever the browser
  shows. The dialog two minutes before (static/js/session-timeout.js) is a courtesy on top.
- A request that finds its session expired gets a page that says so ("Uw sessie is verlopen") with a
  login link back to the page (a GET); a POST is not replayed: the page says the form was not
  saved, and so does the form's page when it opens after the new login (a signed cookie names it).
- The expiry is audited and the DUO services hear of it (``accounts.hooks.session_ended``: the same
  back-channel logout as a logout): from the request that finds it, or from the beat sweep
  (``sessions_expired_sweep``) when the user is away — once either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .constants import AuditAction, AuditResult

STARTED_KEY = "_session_started"
ACTIVE_KEY = "_session_active"
KIND_KEY = "_session_kind"  # "admin" (helpdesk) or "portal"
# Set by the sweep on a session that expired while its user was away (audited and reported then).
ENDED_KEY = "_session_ended"
# Activity is recorded at most once a minute: the deadline may lag the last click by that much.
ACTIVITY_RESOLUTION = 60
# The dialog opens this many seconds before the idle deadline.
WARNING_SECONDS = 120

# A form sent after expiry: its page, signed, so that after the new login that page says what happened.
FORM_LOST_COOKIE = "mijnduo_form_lost"
_FORM_LOST_SALT = "accounts.session_timeout.form_lost"
_FORM_LOST_AGE = 60 * 60
FORM_LOST_TEXT = gettext_noop(
    "Your session had expired, so the form you sent was not saved. Please fill it in again and send it."
)

STATUS_PATH = "/sessie/"
EXTEND_PATH = "/sessie/verlengen/"
# Requests that neither renew nor end the session: the dialog's look at the remaining time.
_PASSIVE_PATHS = frozenset({STATUS_PATH})


def _now() -> float:
    """The clock (time-machine moves it in tests)."""
    return timezone.now().timestamp()


@dataclass(frozen=True)
class Deadline:
    at: float  # epoch seconds
    reason: str  # "idle" or "max_age": which limit ends the session first

    @property
    def extendable(self) -> bool:
        """Activity moves the deadline only while the idle limit is the nearer one."""
        return self.reason == "idle"

    def remaining(self, now: float | None = None) -> int:
        return max(0, int(self.at - (_now() if now is None else now)))


def idle_timeout(kind: str | None) -> int:
    return settings.ADMIN_SESSION_IDLE_TIMEOUT if kind == "admin" else settings.SESSION_IDLE_TIMEOUT


def session_deadline(data) -> Deadline | None:
    """When a logged-in session's data says it ends (None: not a logged-in session with stamps)."""
    started = data.get(STARTED_KEY)
    active = data.get(ACTIVE_KEY)
    if started is None or active is None or SESSION_KEY not in data:
        return None
    idle_end = active + idle_timeout(data.get(KIND_KEY))
    max_end = started + settings.SESSION_MAX_AGE
    if idle_end <= max_end:
        return Deadline(at=idle_end, reason="idle")
    return Deadline(at=max_end, reason="max_age")


def session_deadline_date(data) -> datetime | None:
    """The deadline as the session row's ``expire_date`` (accounts/sessions.py)."""
    deadline = session_deadline(data)
    return None if deadline is None else datetime.fromtimestamp(deadline.at, tz=UTC)


def session_stamp(session, *, kind: str, now: float | None = None) -> None:
    now = int(_now() if now is None else now)
    session[STARTED_KEY] = now
    session[ACTIVE_KEY] = now
    session[KIND_KEY] = kind


@receiver(user_logged_in, dispatch_uid="session_timeout_stamp")
def _stamp_at_login(sender, request, user, **kwargs):
    """Every login (eHerkenning, token, helpdesk) starts both clocks; no query (the row is written
    once by the session middleware, as before)."""
    session = getattr(request, "session", None)
    if session is not None:
        session_stamp(session, kind="admin" if getattr(user, "is_staff", False) else "portal")


def session_renew(session, *, force: bool = False, now: float | None = None) -> None:
    """Record activity, at most once per ACTIVITY_RESOLUTION seconds unless ``force``."""
    now = int(_now() if now is None else now)
    if force or now - session.get(ACTIVE_KEY, 0) >= ACTIVITY_RESOLUTION:
        session[ACTIVE_KEY] = now


def session_expire(*, request, data: dict, session_key: str, reason: str) -> None:
    """End a session that passed its deadline: the single path for "session ended by expiry".

    Audits it, tells the DUO services (``accounts.hooks.session_ended``: back-channel logout, as a
    logout does through ``user_logged_out``), deletes the session row, forgets the SAML logout state
    and leaves the request anonymous. ``user_logged_out`` is not sent: the receivers of both would
    log the Diensten out twice.
    """
    from .audit import audit_log
    from .hooks import session_ended_send
    from .models import Account

    if not data.get(ENDED_KEY):  # else the sweep did both when the session expired
        account = Account.objects.filter(pk=data.get(SESSION_KEY)).first()
        audit_log(
            action=AuditAction.SESSION_EXPIRED,
            result=AuditResult.SUCCESS,
            actor=account,
            obj=account,
            request=request,
            detail={"reason": reason, "kind": data.get(KIND_KEY, "portal"), "path": request.path[:200]},
        )
        session_ended_send(session_key=session_key, reason="expired")
    session = request.session
    session.delete(session_key)
    session.flush()
    saml_session = getattr(request, "saml_session", None)
    if saml_session is not None:
        saml_session.flush()
    request.user = AnonymousUser()
    request._cached_user = request.user


def _login_url(request, *, kind: str) -> str:
    """Log in again and come back here: the page of a GET, the form page of a POST."""
    base = "/admin/login/" if kind == "admin" else settings.LOGIN_URL
    return (
        f"{base}?{urlencode({'next': request.get_full_path() if request.method == 'GET' else request.path})}"
    )


def _wants_json(request) -> bool:
    return request.path.startswith("/sessie/") or "application/json" in request.headers.get("Accept", "")


def session_expired_response(request, *, kind: str, reason: str):
    if _wants_json(request):
        response = JsonResponse({"expired": True, "remaining": 0}, status=401)
    else:
        response = render(
            request,
            "accounts/session_expired.html",
            {
                "login_url": _login_url(request, kind=kind),
                "form_lost": request.method not in {"GET", "HEAD", "OPTIONS"},
                "reason": reason,
                "idle_minutes": idle_timeout(kind) // 60,
                "max_hours": settings.SESSION_MAX_AGE // 3600,
            },
        )
    if request.method not in {"GET", "HEAD", "OPTIONS"} and not _wants_json(request):
        response.set_signed_cookie(
            FORM_LOST_COOKIE,
            request.path,
            salt=_FORM_LOST_SALT,
            max_age=_FORM_LOST_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    add_never_cache_headers(response)
    return response


def _form_lost_notice(request, response_for):
    """The form page, opened again after logging in, says that what was sent was not saved."""
    path = request.get_signed_cookie(
        FORM_LOST_COOKIE, default=None, salt=_FORM_LOST_SALT, max_age=_FORM_LOST_AGE
    )
    if path != request.path:
        return response_for(request)
    messages.warning(request, _(FORM_LOST_TEXT))
    response = response_for(request)
    response.delete_cookie(FORM_LOST_COOKIE, samesite="Lax")
    return response


class SessionTimeoutMiddleware:
    """End sessions past their deadline (with an explanation) and renew active ones.

    After the session, locale, authentication and message middleware; reads the session data only
    (no query of its own: the session is loaded by the authentication anyway) and writes it at most
    once per ACTIVITY_RESOLUTION seconds.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is None or request.path in _PASSIVE_PATHS:
            return self.get_response(request)
        now = _now()
        session.get(SESSION_KEY)  # loads the session (once; no cookie, no query)
        expired = getattr(session, "expired_row", None)
        if expired is not None:
            key, data = expired
            if SESSION_KEY in data:
                deadline = session_deadline(data)
                return self._expire(request, data=data, key=key, deadline=deadline)
            return self.get_response(request)
        if SESSION_KEY not in session:
            return self.get_response(request)
        deadline = session_deadline(session)
        if deadline is None:
            # A session from before these limits (or a login that sent no signal): start them now.
            session_stamp(session, kind="admin" if request.path.startswith("/admin/") else "portal", now=now)
        elif now >= deadline.at:
            return self._expire(
                request, data=dict(session.items()), key=session.session_key, deadline=deadline
            )
        else:
            session_renew(session, now=now)
        if FORM_LOST_COOKIE in request.COOKIES and request.method == "GET":
            return _form_lost_notice(request, self.get_response)
        return self.get_response(request)

    def _expire(self, request, *, data, key, deadline):
        reason = deadline.reason if deadline is not None else "idle"
        session_expire(request=request, data=data, session_key=key, reason=reason)
        return session_expired_response(request, kind=data.get(KIND_KEY, "portal"), reason=reason)


# --- sessions that expire while their user is away ------------------------------------------------

# The sweep looks back this far (it runs every minute: a missed run or two loses nothing).
SWEEP_WINDOW = timedelta(minutes=10)


def sessions_expired_sweep(*, now: datetime | None = None) -> dict:
    """End the logged-in sessions that passed their deadline without a further request.

    Most sessions end that way: the user walks away. The DUO services must still hear of it when it
    happens (back-channel logout, design.md §9), not when the user returns. Each such session is
    audited and reported once (``ENDED_KEY`` is written into its row), and the row stays, so that a
    user who does come back is still told that the session expired; rows expired longer than
    ``SESSION_MAX_AGE`` ago are deleted (Django's ``clearsessions``, which nothing else schedules).
    """
    from django.contrib.sessions.models import Session

    from .audit import audit_log
    from .hooks import session_ended_send
    from .models import Account
    from .sessions import SessionStore

    now = now or timezone.now()
    store = SessionStore()
    expired = []
    for key, raw in Session.objects.filter(
        expire_date__lte=now, expire_date__gt=now - SWEEP_WINDOW
    ).values_list("session_key", "session_data"):
        data = store.decode(raw)
        if SESSION_KEY in data and not data.get(ENDED_KEY):
            expired.append((key, data))
    accounts = Account.objects.in_bulk([data[SESSION_KEY] for _key, data in expired])
    for key, data in expired:
        account = accounts.get(int(data[SESSION_KEY]))
        deadline = session_deadline(data)
        with transaction.atomic():
            audit_log(
                action=AuditAction.SESSION_EXPIRED,
                actor=account,
                obj=account,
                detail={
                    "reason": deadline.reason if deadline else "idle",
                    "kind": data.get(KIND_KEY, "portal"),
                    "unattended": True,
                },
            )
            session_ended_send(session_key=key, reason="expired")
            Session.objects.filter(session_key=key).update(
                session_data=store.encode({**data, ENDED_KEY: True})
            )
    removed, _ = Session.objects.filter(
        expire_date__lte=now - timedelta(seconds=settings.SESSION_MAX_AGE)
    ).delete()
    return {"ended": len(expired), "removed": removed}


# --- the dialog's endpoints ----------------------------------------------------------------------


def _state(session) -> dict:
    deadline = session_deadline(session) if SESSION_KEY in session else None
    if deadline is None:
        return {"remaining": 0, "extendable": False}
    return {"remaining": deadline.remaining(), "extendable": deadline.extendable}


@never_cache
@require_GET
def session_status(request):
    """The time left, for the dialog of a page that another tab may have kept alive. Neither renews
    nor ends the session (the middleware leaves this path alone); 0 when it has expired."""
    state = _state(request.session)
    expired = getattr(request.session, "expired_row", None)
    if expired is not None:
        # Keep the cookie (Django deletes it for an empty session): the reload that follows must
        # find the expired session to explain it.
        request.session._session_key = expired[0]
    return JsonResponse(state)


@never_cache
@require_POST
def session_extend(request):
    """ "Ingelogd blijven": renew the session now. JSON for the dialog's fetch; without script the
    dialog's form posts here and goes back to the page."""
    if SESSION_KEY not in request.session:
        return JsonResponse({"expired": True, "remaining": 0}, status=401)
    session_renew(request.session, force=True)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(_state(request.session))
    url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        url = settings.LOGIN_REDIRECT_URL
    return HttpResponseRedirect(url)


def session_timeout_context(request) -> dict | None:
    """What the dialog needs on a page of a logged-in session (None: no dialog). No query: the
    session is loaded by then."""
    if request is None:
        return None
    session = getattr(request, "session", None)
    # Only a session this request has loaded already: the tag never costs a query.
    if session is None or not hasattr(session, "_session_cache") or SESSION_KEY not in session:
        return None
    deadline = session_deadline(session)
    if deadline is None:
        return None
    return {
        "remaining": deadline.remaining(),
        "extendable": deadline.extendable,
        "warning": WARNING_SECONDS,
        "status_url": STATUS_PATH,
        "extend_url": EXTEND_PATH,
        "kind": session.get(KIND_KEY, "portal"),
        "next": request.get_full_path(),
    }
