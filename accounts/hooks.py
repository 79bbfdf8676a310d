"""Signals other apps hook into when a user's access ends (accounts imports none of them).

The DUO services the portal hands users to (app ``diensten``) must hear of it at once: they send
OpenID Connect Back-Channel Logout to the services involved. The senders are the writes that end
access (accounts, koppeling, beheer); every receiver runs inside the sender's transaction, so
whatever it queues is committed with the change or not at all.

``access_withdrawn(sender, account_ids, rol_ids, reason)``
    The accounts ``account_ids`` lost access: to everything (``rol_ids`` is None: link undone,
    account removed) or to the rollen ``rol_ids`` (a rol revoked, or the beheerautorisatie behind it
    gone from the organisation). ``reason`` is a short code for the audit trail: ``unlinked``,
    ``inactive``, ``removed``, ``rol_revoked``, ``beheerautorisatie_revoked``, ``rol_coverage_changed``
    (the helpdesk removed the rol from a beheerautorisatie of the catalogue: accounts/coverage.py).

``session_ended(sender, session_key, reason)``
    A portal session ended other than by logging out (Django's ``user_logged_out`` covers that):
    ``reason`` ``expired`` (idle or absolute limit). Sent before the session row is deleted.
"""

from django.dispatch import Signal

access_withdrawn = Signal()
session_ended = Signal()


def access_withdrawn_send(*, account_ids, reason: str, rol_ids=None) -> None:
    """Tell the receivers ``account_ids`` lost access (to ``rol_ids`` only, when given)."""
    account_ids = sorted({int(pk) for pk in account_ids if pk is not None})
    if not account_ids:
        return
    access_withdrawn.send(
        sender=None,
        account_ids=account_ids,
        rol_ids=None if rol_ids is None else sorted({int(pk) for pk in rol_ids}),
        reason=reason,
    )


def session_ended_send(*, session_key: str, reason: str = "expired") -> None:
    """Tell the receivers the portal session ``session_key`` ended without a logout."""
    if session_key:
        session_ended.send(sender=None, session_key=session_key, reason=reason)
