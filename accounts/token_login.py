"""The legacy token login: username + password + TOTP code, until the sector's switch date.

Seed 001: existing users keep their token until their sector switches to eHerkenning, and
"Hebt u eenmaal ingelogd met eHerkenning? Dan is eHerkenning vanaf dat moment het enige geldige
inlogmiddel". So the login is refused from the switch date of the account's organisation type
(``OverstapPlanning``) and always once the account has any Koppeling (active or undone).

Failed attempts go through django-axes (``authenticate`` with the request), including wrong TOTP
codes and staff accounts, which are signalled as failed logins so that 5 of them lock the
username out for 15 minutes (per username, from any address). Unknown user, wrong password, wrong
code and staff get the same answer; the switch-date and linked-account explanations come only after
a right password and a right code.
"""

import enum
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth import authenticate, login
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from django.utils import timezone

from .audit import audit_log
from .constants import AuditAction, AuditResult
from .models import Account
from .selectors import account_ever_linked, switch_date_for

SESSION_AUTH_METHOD = "auth_method"


class TokenOutcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # unknown username, wrong password or code, staff, locked out: one answer
    LINKED = "linked"
    SWITCHED = "switched"


@dataclass(frozen=True)
class TokenLoginResult:
    outcome: TokenOutcome
    account: Account | None = None
    switch_date: date | None = None


def token_login_refusal(*, account: Account, today: date) -> tuple[TokenOutcome, date | None] | None:
    """Return why the token may no longer be used by ``account`` today, or None when it may.

    An organisation type without a planned date is refused (fail closed): the planning table is
    the helpdesk's statement of who may still use the token.
    """
    if account_ever_linked(account=account):
        return TokenOutcome.LINKED, None
    organisatie_type = account.organisatie.type if account.organisatie_id else None
    switch_date = switch_date_for(organisatie_type=organisatie_type)
    if switch_date is None or today >= switch_date:
        return TokenOutcome.SWITCHED, switch_date
    return None


def _fail(
    *, request: HttpRequest, username: str, reason: str, account: Account | None = None
) -> TokenLoginResult:
    audit_log(
        action=AuditAction.TOKEN_LOGIN_FAILED,
        result=AuditResult.FAILURE,
        obj=account,
        request=request,
        detail={"username": username[:150], "reason_code": reason},
    )
    return TokenLoginResult(TokenOutcome.FAILED)


def _signal_failure(*, request: HttpRequest, username: str) -> None:
    # Counted by django-axes like a wrong password: a known password must not allow unthrottled
    # guessing of the 6-digit code (or probing which usernames are staff).
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def token_login(
    *, request: HttpRequest, username: str, password: str, otp_token: str, now: datetime | None = None
) -> TokenLoginResult:
    """Check the three factors and the switch rules; on success log the user in (session cycled)."""
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    now = now or timezone.now()
    account = authenticate(request=request, username=username, password=password)
    if account is None:  # also when axes has locked the username out
        return _fail(request=request, username=username, reason="credentials")
    if account.is_staff or account.organisatie_id is None:
        _signal_failure(request=request, username=username)
        return _fail(request=request, username=username, reason="staff", account=account)
    device = next(
        (
            device
            for device in TOTPDevice.objects.filter(user=account, confirmed=True)
            if device.verify_token(otp_token)
        ),
        None,
    )
    if device is None:
        _signal_failure(request=request, username=username)
        return _fail(request=request, username=username, reason="otp", account=account)
    # Only after both factors: explaining a refusal earlier would tell whoever has the password alone
    # that it is right (a password oracle for every account past its switch date or linked).
    refusal = token_login_refusal(account=account, today=timezone.localdate(now))
    if refusal is not None:
        outcome, switch_date = refusal
        audit_log(
            action=AuditAction.TOKEN_LOGIN_FAILED,
            result=AuditResult.REFUSED,
            actor=account,
            obj=account,
            request=request,
            detail={"reason_code": outcome.value},
        )
        return TokenLoginResult(outcome, account=account, switch_date=switch_date)
    login(request, account)
    otp_login(request, device)
    request.session[SESSION_AUTH_METHOD] = "token"
    audit_log(action=AuditAction.TOKEN_LOGIN, actor=account, obj=account, request=request)
    return TokenLoginResult(TokenOutcome.OK, account=account)
