"""The koppel wizard (seed 002 §1.2): Voordat u begint → Disclaimer → Gebruikersvoorwaarden →
Koppelen met gebruikersnaam en activatiecode → Koppeling gelukt.

The wizard's progress lives in the session (server side), bound to the eHerkenning identity the
SAML ACS stored there; a step is served only when the steps before it are done in this session.
"""

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from mijnduo.middleware import client_ip

from . import forms
from .backends import EHERKENNING_BACKEND
from .identity import KOPPEL_NEXT_SESSION_KEY, identity_from_session, identity_store
from .models import Koppeling
from .saml.services import login_record
from .selectors import link_undone_for_identity
from .services import koppel_attempt

SESSION_KEY = "koppel_wizard"
OVERVIEW_URL = "/overzicht/"
DEFAULT_TERMS_VERSION = "2022-1"

START, DISCLAIMER, TERMS, KOPPEL, DONE = 1, 2, 3, 4, 5
STEP_URLS = {
    START: "koppeling:start",
    DISCLAIMER: "koppeling:disclaimer",
    TERMS: "koppeling:voorwaarden",
    KOPPEL: "koppeling:koppel",
    DONE: "koppeling:gelukt",
}


def terms_version() -> str:
    return getattr(settings, "TERMS_VERSION", DEFAULT_TERMS_VERSION)


def _login_redirect():
    return redirect(f"{settings.LOGIN_URL}?{urlencode({'next': reverse('koppeling:start')})}")


def _state(request, identity) -> dict:
    state = request.session.get(SESSION_KEY)
    if not isinstance(state, dict) or state.get("identity") != identity.key:
        state = {"identity": identity.key, "step": START}
    return state


def _save(request, state: dict) -> None:
    request.session[SESSION_KEY] = state


def wizard_step(step: int):
    """Serve a step only with an eHerkenning identity in the session and every earlier step done."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            identity = identity_from_session(request)
            if identity is None:
                return _login_redirect()
            state = _state(request, identity)
            if step != DONE and request.user.is_authenticated:
                linked = Koppeling.objects.filter(
                    account=request.user,
                    acting_subject_id=identity.acting_subject_id,
                    legal_subject_id__in=identity.legal_subject_ids,
                    ended_at__isnull=True,
                ).exists()
                if linked:
                    return redirect(OVERVIEW_URL)
            if step != DONE and state["step"] == DONE:
                state = {"identity": identity.key, "step": START}  # a finished wizard starts afresh
            if state["step"] < step:
                return redirect(STEP_URLS[state["step"]])
            return view(request, identity, state, *args, **kwargs)

        return wrapper

    return decorator


def _wizard_view(step: int, methods=("GET", "POST")):
    def decorator(view):
        return never_cache(
            sensitive_post_parameters("activation_code")(
                require_http_methods(list(methods))(wizard_step(step)(view))
            )
        )

    return decorator


def _render(request, template, context, status=200):
    return render(request, template, context, status=status)


@_wizard_view(START)
def start(request, identity, state):
    """Stap 1b "Voordat u begint": do you have a username and a valid activation code?"""
    form = forms.StartForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            if form.cleaned_data["situation"] == forms.HAS_CODE:
                _save(request, {**state, "step": max(state["step"], DISCLAIMER), "no_code": False})
                return redirect("koppeling:disclaimer")
            _save(request, {"identity": identity.key, "step": START, "no_code": True})
            return redirect("koppeling:geen_code")
        context = {"form": form, "step": START, "undone": link_undone_for_identity(identity=identity)}
        return _render(request, "koppeling/start.html", context, status=400)
    context = {"form": form, "step": START, "undone": link_undone_for_identity(identity=identity)}
    return _render(request, "koppeling/start.html", context)


@_wizard_view(START, methods=("GET",))
def no_code(request, identity, state):
    """What to do without a username or valid code: ask the beheerder of your organisation."""
    if not state.get("no_code"):
        return redirect("koppeling:start")
    return _render(request, "koppeling/no_code.html", {})


@_wizard_view(DISCLAIMER)
def disclaimer(request, identity, state):
    """Stap 2 "Disclaimer": fraud and privacy, to be accepted."""
    form = forms.AcceptForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            _save(request, {**state, "step": max(state["step"], TERMS)})
            return redirect("koppeling:voorwaarden")
        return _render(request, "koppeling/disclaimer.html", {"form": form, "step": DISCLAIMER}, status=400)
    return _render(request, "koppeling/disclaimer.html", {"form": form, "step": DISCLAIMER})


@_wizard_view(TERMS)
def voorwaarden(request, identity, state):
    """Stap 3 "Gebruikersvoorwaarden": accept; the version and time are kept and stored with the link."""
    form = forms.AcceptForm(request.POST if request.method == "POST" else None)
    context = {"form": form, "terms_version": terms_version(), "step": TERMS}
    if request.method == "POST":
        if form.is_valid():
            _save(
                request,
                {
                    **state,
                    "step": max(state["step"], KOPPEL),
                    "terms_version": terms_version(),
                    "terms_accepted_at": timezone.now().isoformat(),
                },
            )
            return redirect("koppeling:koppel")
        return _render(request, "koppeling/voorwaarden.html", context, status=400)
    return _render(request, "koppeling/voorwaarden.html", context)


@_wizard_view(KOPPEL)
def koppel(request, identity, state):
    """Stap 4 "Koppelen met gebruikersnaam en activatiecode".

    Every failure — unknown username, wrong, expired or used code, a block — gets one and the same
    response: the same status and the same text, with the code field emptied, so that the page never
    tells whether a username exists or is blocked.
    """
    if request.method != "POST":
        return _render(request, "koppeling/koppel.html", {"form": forms.KoppelForm(), "step": KOPPEL})
    form = forms.KoppelForm(request.POST)
    if not form.is_valid():
        return _render(request, "koppeling/koppel.html", {"form": form, "step": KOPPEL}, status=400)
    accepted_at = parse_datetime(state.get("terms_accepted_at") or "")
    result = koppel_attempt(
        identity=identity,
        username=form.cleaned_data["username"],
        code=form.cleaned_data["activation_code"],
        ip=client_ip(request),
        terms_version=state.get("terms_version", ""),
        terms_accepted_at=accepted_at,
    )
    # After a failure the username the user typed stays (it is their own input, and every failure
    # answers alike, so it tells nothing); only the code field is emptied.
    retry = forms.KoppelForm(initial={"username": form.cleaned_data["username"]})
    if result.refused is not None:
        return _render(
            request,
            "koppeling/koppel.html",
            {"form": retry, "refusal": result.refused.message, "step": KOPPEL},
            status=403,
        )
    if result.koppeling is None:
        context = {"form": retry, "failed": True, "step": KOPPEL}
        return _render(request, "koppeling/koppel.html", context, status=400)
    account = result.koppeling.account
    destination = request.session.get(KOPPEL_NEXT_SESSION_KEY)
    # login() cycles the session key; it flushes the session when another account was logged in,
    # so put back what the rest of the visit needs.
    login(request, account, backend=EHERKENNING_BACKEND)
    login_record(koppeling=result.koppeling, now=timezone.now())
    identity_store(request, identity)
    if destination:
        request.session[KOPPEL_NEXT_SESSION_KEY] = destination
    _save(request, {"identity": identity.key, "step": DONE})
    return redirect("koppeling:gelukt")


@_wizard_view(DONE, methods=("GET",))
def gelukt(request, identity, state):
    """Stap 5 "Koppeling gelukt", with the button Verder to the overview — or to where the login was
    going before the wizard (a DUO service's authorize request), which the ACS kept, on this site only."""
    destination = request.session.get(KOPPEL_NEXT_SESSION_KEY) or ""
    if not url_has_allowed_host_and_scheme(
        destination, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        destination = OVERVIEW_URL
    return _render(request, "koppeling/gelukt.html", {"overview_url": destination})
