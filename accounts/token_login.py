"""The legacy token login: username + password + TOTP code, until the sector's switch date.

Seed 001: existing users keep their token until their sector switches to eHerkenning, and
"Hebt u eenmaal ingelogd met eHerkenning? Dan is eHerkenning vanaf dat moment het enige geldige
inlogmiddel". So the login is refused from the switch date of the account's organisation type
(``OverstapPlanning``) and always once the account has any Koppeling (active or undone).

A token user whom the helpdesk gave a temporary password (``Account.password_change_required``)
is not logged in after the three factors, but must first choose a password of their own on the next
screen, within a few minutes, in the same (cycled) session; only then is the user logged in.

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
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .audit import audit_log
from .constants import AuditAction, AuditResult
from .models import Account
from .selectors import account_ever_linked, switch_date_for

SESSION_AUTH_METHOD = "auth_method"
PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"
# The state between a right temporary password + code and the chosen new password.
SESSION_PASSWORD_CHANGE = "token_password_change"
PASSWORD_CHANGE_SECONDS = 10 * 60


class TokenOutcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # unknown username, wrong password or code, staff, locked out: one answer
    LINKED = "linked"
    SWITCHED = "switched"
    PASSWORD_CHANGE = "password_change"  # right factors, temporary password: choose a new one first


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
    if account.password_change_required:
        # Not logged in yet: the temporary password is known to the helpdesk. A new session key, so
        # that whoever planted the session before cannot ride on the change that follows.
        request.session.cycle_key()
        request.session[SESSION_PASSWORD_CHANGE] = {
            "account": account.pk,
            "device": device.persistent_id,
            "hash": account.get_session_auth_hash(),
            "at": int(now.timestamp()),
        }
        return TokenLoginResult(TokenOutcome.PASSWORD_CHANGE, account=account)
    _token_session_start(request=request, account=account, device=device)
    return TokenLoginResult(TokenOutcome.OK, account=account)


def _token_session_start(*, request: HttpRequest, account: Account, device) -> None:
    from django_otp import login as otp_login

    # The password backend checked it (authenticate); also after the forced change, which checks none.
    login(request, account, backend=getattr(account, "backend", None) or PASSWORD_BACKEND)
    otp_login(request, device)
    request.session[SESSION_AUTH_METHOD] = "token"
    audit_log(action=AuditAction.TOKEN_LOGIN, actor=account, obj=account, request=request)


def token_password_change_pending(*, request: HttpRequest, now: datetime | None = None):
    """Return (account, device) of the pending forced password change in this session, or None.

    The state lasts ``PASSWORD_CHANGE_SECONDS`` and ends when the password, the account's state or
    the device changed meanwhile (the helpdesk set another temporary password, the account was
    linked to eHerkenning or removed).
    """
    from django_otp.models import Device

    state = request.session.get(SESSION_PASSWORD_CHANGE)
    if not isinstance(state, dict):
        return None
    now = now or timezone.now()
    if not 0 <= now.timestamp() - state.get("at", 0) <= PASSWORD_CHANGE_SECONDS:
        request.session.pop(SESSION_PASSWORD_CHANGE, None)
        return None
    account = (
        Account.objects.select_related("organisatie").filter(pk=state.get("account"), is_active=True).first()
    )
    device = Device.from_persistent_id(state.get("device") or "")
    if (
        account is None
        or account.removed_at is not None
        or not account.password_change_required
        or not constant_time_compare(account.get_session_auth_hash(), state.get("hash", ""))
        or device is None
        or device.user_id != account.pk
        or not device.confirmed
    ):
        # The password, the account or the device changed since the token login: the change is refused.
        request.session.pop(SESSION_PASSWORD_CHANGE, None)
        audit_log(
            action=AuditAction.TOKEN_PASSWORD_CHANGE,
            result=AuditResult.REFUSED,
            request=request,
            obj=account,
            detail={"reason_code": "state_changed"},
        )
        return None
    return account, device


@transaction.atomic
def token_password_change_complete(
    *, request: HttpRequest, account: Account, device, new_password: str
) -> TokenLoginResult:
    """Store the password the token user chose for the temporary one, then log the user in.

    The switch rules are checked again: the account may have been linked in the meantime.
    """
    request.session.pop(SESSION_PASSWORD_CHANGE, None)
    refusal = token_login_refusal(account=account, today=timezone.localdate())
    if refusal is not None:
        outcome, switch_date = refusal
        audit_log(
            action=AuditAction.TOKEN_PASSWORD_CHANGE,
            result=AuditResult.REFUSED,
            actor=account,
            obj=account,
            request=request,
            detail={"reason_code": outcome.value},
        )
        return TokenLoginResult(outcome, account=account, switch_date=switch_date)
    account.set_password(new_password)
    account.password_change_required = False
    account.save(update_fields=["password", "password_change_required"])
    audit_log(action=AuditAction.TOKEN_PASSWORD_CHANGE, actor=account, obj=account, request=request)
    _token_session_start(request=request, account=account, device=device)
    return TokenLoginResult(TokenOutcome.OK, account=account)
