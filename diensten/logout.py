"""OpenID Connect Back-Channel Logout 1.0: tell the Diensten a user's portal session ended.

The logout token is a JWT signed with the provider's current key (the Dienst checks it with the
JWKS, like an ID token), naming the user by his pairwise ``sub`` and the session by its ``sid``.
"""

import json
import logging
import time
import uuid
from datetime import timedelta

import requests
from django.db import transaction
from django.utils import timezone
from jwcrypto import jwt
from oauth2_provider.settings import oauth2_settings

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult

from .models import BackchannelLogout, Dienst, Handoff
from .services import pairwise_sub, pairwise_sub_for_id

logger = logging.getLogger(__name__)

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_SECONDS = 120
DELIVERY_TIMEOUT = 5.0
# A Dienst that has been down for a day has expired every token of the session long since.
DELIVERY_GIVE_UP = timedelta(hours=24)


class DeliveryError(Exception):
    """The Dienst did not accept the logout token (network error or an answer other than 200/204)."""


def backchannel_logout_queue(*, session_key_hash: str, reason: str) -> list[BackchannelLogout]:
    """Queue a logout token for every Dienst the portal session handed the user to.

    One per Dienst and session (``sid``), only for enabled Diensten with a back-channel logout URI,
    and never twice for one session (a session that expired after a logout was already reported).
    Published to Celery after the commit; the sweep sends what that misses.
    """
    if not session_key_hash:
        return []
    handoffs = (
        Handoff.objects.filter(session_key_hash=session_key_hash, dienst__enabled=True)
        .exclude(dienst__backchannel_logout_uri="")
        .select_related("dienst", "account")
    )
    seen, rows = set(), []
    for handoff in handoffs:
        key = (handoff.dienst_id, handoff.sid)
        if key in seen:
            continue
        if (
            handoff.sid
            and BackchannelLogout.objects.filter(dienst_id=handoff.dienst_id, sid=handoff.sid).exists()
        ):
            seen.add(key)
            continue
        seen.add(key)
        rows.append(
            BackchannelLogout.objects.create(
                dienst=handoff.dienst,
                sub=pairwise_sub(dienst=handoff.dienst, account=handoff.account),
                sid=handoff.sid,
                reason=reason,
            )
        )
    _publish_on_commit(rows)
    return rows


def backchannel_logout_queue_accounts(*, account_ids, rol_ids=None, reason: str) -> list[BackchannelLogout]:
    """Queue a logout token naming only the user (``sub``, no ``sid``) for every Dienst the accounts
    were ever handed to — limited to the Diensten serving ``rol_ids`` when given.

    Without a ``sid`` the token ends *all* the user's sessions at the Dienst (Back-Channel Logout
    1.0 §2.4): his access ended, not one portal session. One query finds the pairs whatever the
    number of accounts (the 18-month job passes a batch of thousands). A pair with a sub-only token
    still undelivered gets no second one: when it arrives it ends the same sessions.
    """
    account_ids = list(account_ids)
    if not account_ids:
        return []
    handoffs = Handoff.objects.filter(account_id__in=account_ids, dienst__enabled=True).exclude(
        dienst__backchannel_logout_uri=""
    )
    if rol_ids is not None:
        handoffs = handoffs.filter(dienst__rollen__in=list(rol_ids))
    pairs = set(handoffs.values_list("dienst_id", "account_id").distinct())
    if not pairs:
        return []
    diensten = Dienst.objects.in_bulk({dienst_id for dienst_id, _account_id in pairs})
    wanted = {
        (dienst_id, pairwise_sub_for_id(dienst=diensten[dienst_id], account_id=account_id))
        for dienst_id, account_id in pairs
    }
    pending = set(
        BackchannelLogout.objects.filter(
            dienst_id__in=diensten,
            sub__in=[sub for _dienst_id, sub in wanted],
            sid="",
            delivered_at__isnull=True,
        ).values_list("dienst_id", "sub")
    )
    rows = BackchannelLogout.objects.bulk_create(
        [
            BackchannelLogout(dienst_id=dienst_id, sub=sub, reason=reason)
            for dienst_id, sub in sorted(wanted - pending)
        ]
    )
    _publish_on_commit(rows)
    return rows


def _publish_on_commit(rows) -> None:
    for row in rows:
        transaction.on_commit(lambda pk=row.pk: _publish(pk))


def _publish(delivery_id: int) -> None:
    from .tasks import deliver_backchannel_logout

    try:
        deliver_backchannel_logout.delay(delivery_id)
    except Exception:  # noqa: BLE001  (broker down: the sweep delivers it)
        logger.warning("Back-channel logout %s not published; the sweep will deliver it", delivery_id)


def logout_token_build(*, delivery: BackchannelLogout, now: float | None = None) -> str:
    """The logout token (Back-Channel Logout 1.0 §2.4): iss, aud, iat, exp, jti, events, sub and
    sid — and never a nonce, so it cannot pass for an ID token."""
    now = int(now if now is not None else time.time())
    application = delivery.dienst.application
    claims = {
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "aud": application.client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_SECONDS,
        "jti": str(uuid.uuid4()),
        "sub": delivery.sub,
        "events": {LOGOUT_EVENT: {}},
    }
    if delivery.sid:
        claims["sid"] = delivery.sid
    key = application.jwk_key
    header = {"typ": "logout+jwt", "alg": application.algorithm, "kid": key.thumbprint()}
    token = jwt.JWT(header=json.dumps(header), claims=json.dumps(claims))
    token.make_signed_token(key)
    return token.serialize()


def backchannel_logout_deliver(*, delivery_id: int) -> bool:
    """POST the logout token to the Dienst; True once delivered (now or before).

    Raises DeliveryError when the Dienst did not accept it, after recording the attempt (audited),
    so the Celery task retries with backoff.
    """
    delivery = BackchannelLogout.objects.select_related("dienst__application").filter(pk=delivery_id).first()
    if delivery is None or delivery.delivered_at is not None:
        return delivery is not None
    dienst = delivery.dienst
    error = ""
    try:
        response = requests.post(
            dienst.backchannel_logout_uri,
            data={"logout_token": logout_token_build(delivery=delivery)},
            timeout=DELIVERY_TIMEOUT,
            allow_redirects=False,
        )
        if response.status_code not in (200, 204):
            error = f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        error = type(exc).__name__
    now = timezone.now()
    if error:
        BackchannelLogout.objects.filter(pk=delivery.pk).update(
            attempts=delivery.attempts + 1, last_error=error[:500]
        )
    else:
        BackchannelLogout.objects.filter(pk=delivery.pk, delivered_at__isnull=True).update(
            attempts=delivery.attempts + 1, delivered_at=now, last_error=""
        )
    audit_log(
        action=AuditAction.DIENST_LOGOUT,
        result=AuditResult.FAILURE if error else AuditResult.SUCCESS,
        obj=dienst,
        detail={"delivery": delivery.pk, "reason_code": delivery.reason, "error_code": error},
    )
    if error:
        raise DeliveryError(error)
    return True


def pending_backchannel_logout_ids(*, now=None) -> list[int]:
    """Deliveries to try again: undelivered, older than a minute, younger than DELIVERY_GIVE_UP."""
    now = now or timezone.now()
    return list(
        BackchannelLogout.objects.filter(
            delivered_at__isnull=True,
            created_at__lt=now - timedelta(minutes=1),
            created_at__gt=now - DELIVERY_GIVE_UP,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
