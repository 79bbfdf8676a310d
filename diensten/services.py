"""Writes and security rules of the OpenID Connect provider (design.md §9, issue 18)."""

import hashlib
import hmac
from datetime import datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, IDToken, RefreshToken, get_grant_model

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from accounts.models import Account
from accounts.token_login import SESSION_AUTH_METHOD
from koppeling.identity import identity_from_session
from koppeling.models import Koppeling

from . import selectors
from .models import Dienst, Handoff

# The acr of a login with the legacy token (username, password and TOTP): no eHerkenning level,
# and a value no Dienst can mistake for one.
ACR_TOKEN = "urn:mijnduo:acr:token"
AMR_EHERKENNING = ["eherkenning"]
AMR_TOKEN = ["pwd", "otp", "mfa"]  # RFC 8176


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def pairwise_sub(*, dienst: Dienst, account: Account) -> str:
    """The account's subject identifier at ``dienst`` (OIDC Core §8.1, pairwise).

    An HMAC under the Dienst's own random key: stable for one account at one Dienst, unrelated
    between two Diensten (they cannot join their users), and never the eHerkenning pseudonym.
    """
    return pairwise_sub_for_id(dienst=dienst, account_id=account.pk)


def pairwise_sub_for_id(*, dienst: Dienst, account_id: int) -> str:
    return hmac.new(dienst.sub_secret.encode(), f"account:{account_id}".encode(), hashlib.sha256).hexdigest()


def session_key_hash(session_key: str) -> str:
    """How hand-offs remember the portal session: its key hashed (the key itself is a credential)."""
    return _sha256(session_key)


def session_sid(*, dienst: Dienst, session_key: str) -> str:
    """The ``sid`` of a portal session at ``dienst`` (Back-Channel Logout 1.0): no session key leaks."""
    return hmac.new(
        dienst.sub_secret.encode(), f"session:{session_key}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def login_context(*, request: HttpRequest) -> dict:
    """What the ID token says about the portal login of ``request``: level, methods, time, intermediary.

    Read here, in the browser's request, because the token request comes from the Dienst's server
    without the user's session.
    """
    account = request.user
    session = request.session
    auth_time = account.last_login or timezone.now()
    identity = identity_from_session(request)
    if session.get(SESSION_AUTH_METHOD) == "token" or identity is None:
        return {
            "acr": ACR_TOKEN,
            "amr": AMR_TOKEN,
            "auth_time": auth_time.isoformat(),
            "koppeling_id": None,
            "intermediair": {},
            "session_key": session.session_key or "",
        }
    koppeling_id = (
        Koppeling.objects.filter(
            account=account,
            acting_subject_id=identity.acting_subject_id,
            legal_subject_id__in=identity.legal_subject_ids,
            ended_at__isnull=True,
        )
        .values_list("pk", flat=True)
        .first()
    )
    intermediair = {}
    if identity.intermediate_entity_id:
        intermediair = {"kvk_nummer": identity.intermediate_entity_id}
        if identity.intermediate_company_name:
            intermediair["naam"] = identity.intermediate_company_name
    return {
        "acr": identity.level,
        "amr": AMR_EHERKENNING,
        "auth_time": auth_time.isoformat(),
        "koppeling_id": koppeling_id,
        "intermediair": intermediair,
        "session_key": session.session_key or "",
    }


def handoff_create(*, dienst: Dienst, account: Account, code: str, context: dict) -> Handoff:
    """Record an authorization code's hand-off (only the code's hash: the code itself is a secret)."""
    handoff = handoff_build(dienst=dienst, account=account, code=code, context=context)
    handoff.save(force_insert=True)
    return handoff


def handoff_build(*, dienst: Dienst, account: Account, code: str, context: dict) -> Handoff:
    """The hand-off ``handoff_create`` records, not yet saved (batched_writes.record_code)."""
    session_key = context.get("session_key") or ""
    return Handoff(
        dienst=dienst,
        account=account,
        code_hash=_sha256(code),
        session_key_hash=session_key_hash(session_key) if session_key else "",
        sid=session_sid(dienst=dienst, session_key=session_key) if session_key else "",
        acr=context["acr"],
        amr=context["amr"],
        auth_time=datetime.fromisoformat(context["auth_time"]),
        koppeling_id=context.get("koppeling_id"),
        intermediair=context.get("intermediair") or {},
    )


def handoff_for_code(
    *, code: str, dienst: Dienst | None = None, account: Account | None = None, read: Handoff | None = None
) -> Handoff | None:
    """The hand-off of ``code``, with its Dienst and account: joined in, or — when the caller has
    them loaded already (the token request: the client's Dienst, the grant's user) — taken from the
    caller when they are the hand-off's own (no join to build and read). ``read``: the hand-off as
    the caller read it already by the code's hash (selectors.code_read), else it is read here."""
    if dienst is None or account is None:
        return Handoff.objects.filter(code_hash=_sha256(code)).select_related("dienst", "account").first()
    handoff = read
    if handoff is None:
        handoff = selectors.handoff_for_code_hash(code_hash=_sha256(code))  # P9: SQL built once
    if handoff is not None:
        if handoff.dienst_id == dienst.pk:
            handoff.dienst = dienst
        if handoff.account_id == account.pk:
            handoff.account = account
    return handoff


def handoff_token_link(*, handoff: Handoff, access_token: AccessToken) -> None:
    Handoff.objects.filter(pk=handoff.pk).update(access_token=access_token)
    handoff.access_token = access_token


@transaction.atomic
def code_reuse_refuse(*, code: str, request=None) -> bool:
    """A code presented a second time: revoke every token of its first use (RFC 6749 §4.1.2).

    Whoever presents a used code may have stolen it: the tokens it already gave are no longer
    trusted, whoever holds them. Audited either way. Return whether the code was a spent one.
    """
    handoff = handoff_for_code(code=code)
    if handoff is None or get_grant_model().objects.filter(code=code).exists():
        return False  # never issued, or not yet spent (expired, or refused for another reason)
    revoked = False
    if handoff.access_token_id is not None:
        token = AccessToken.objects.filter(pk=handoff.access_token_id).first()
        if token is not None:
            RefreshToken.objects.filter(access_token=token).delete()
            if token.id_token_id:
                IDToken.objects.filter(pk=token.id_token_id).delete()
            token.delete()
            revoked = True
    audit_log(
        action=AuditAction.DIENST_TOKEN,
        result=AuditResult.REFUSED,
        obj=handoff.dienst,
        ip=getattr(request, "client_ip", None),
        detail={"reason_code": "code_reused", "account_id": handoff.account_id, "revoked": revoked},
    )
    return True


def refusal_reason(*, handoff: Handoff | None) -> str:
    """The audit's reason code when ``account_may_use_dienst`` says no."""
    return "dienst_disabled" if handoff is not None and not handoff.dienst.enabled else "account_closed"


def account_may_use_dienst(*, account: Account, handoff: Handoff | None) -> bool:
    """Whether tokens for ``account`` still stand: an enabled Dienst, an active, not removed
    account, and for an eHerkenning hand-off, the link it logged in with still in place (an undone
    link ends access). A Dienst the helpdesk switches off loses its users' tokens at once, not when
    they expire."""
    if account is None or not account.is_active or account.removed_at is not None or handoff is None:
        return False
    if not handoff.dienst.enabled:
        return False
    if handoff.acr == ACR_TOKEN:
        return True
    return (
        handoff.koppeling_id is not None
        and Koppeling.objects.filter(pk=handoff.koppeling_id, ended_at__isnull=True).exists()
    )


def dienst_client_save(
    *, dienst: Dienst, redirect_uris: str, post_logout_redirect_uris: str
) -> tuple[Dienst, str | None]:
    """Save ``dienst`` with its OpenID Connect client; return it and, for a new client, its secret.

    The client is always confidential, code flow, RS256, without consent screen (the Diensten are
    DUO's own): the helpdesk cannot set it up otherwise. The secret is stored hashed, so the
    returned plain text is the only time anyone sees it.
    """
    secret = None
    with transaction.atomic():
        application = dienst.application if dienst.application_id else None
        if application is None:
            secret = generate_client_secret()
            application = Application(client_secret=secret)
        application.name = dienst.naam_nl
        application.client_type = Application.CLIENT_CONFIDENTIAL
        application.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
        application.algorithm = Application.RS256_ALGORITHM
        application.skip_authorization = True
        application.hash_client_secret = True
        application.redirect_uris = redirect_uris.strip()
        application.post_logout_redirect_uris = post_logout_redirect_uris.strip()
        application.full_clean(exclude=["client_secret", "user"])
        application.save()
        dienst.application = application
        dienst.save()
    return dienst, secret


def dienst_secret_renew(*, dienst: Dienst) -> str:
    """Give the Dienst's client a new secret (the old one stops working at once); return it."""
    secret = generate_client_secret()
    application = dienst.application
    application.client_secret = secret
    application.save(update_fields=["client_secret", "updated"])
    return secret


def max_age_parse(value) -> int | None:
    """The ``max_age`` of an authorization request in seconds, or None when absent or unreadable."""
    if value is None or not (str(value).isascii() and str(value).isdigit()) or len(str(value)) > 10:
        return None
    return int(value)


def login_older_than(*, account: Account, seconds: int) -> bool:
    """Whether the account's portal login (``auth_time``) is more than ``seconds`` ago."""
    if account.last_login is None:
        return True
    return (timezone.now() - account.last_login).total_seconds() > seconds
