"""Reactions to events of other apps: a changed Dienst drops the overview's rol catalogue snapshot
(its launch URL shows at once in this process, elsewhere within ``SNAPSHOT_SECONDS``); a portal
logout or an expired session sends back-channel logouts to the Diensten of that session; access
that ends (link undone, account removed, a rol revoked or the beheerautorisatie behind it gone)
sends them to every Dienst concerned (accounts/hooks.py)."""

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from accounts.hooks import access_withdrawn, session_ended
from accounts.models import RolToekenning
from accounts.selectors import rollen_snapshot

from .logout import backchannel_logout_queue, backchannel_logout_queue_accounts
from .models import Dienst
from .services import session_key_hash


@receiver(post_save, sender=Dienst)
@receiver(post_delete, sender=Dienst)
@receiver(m2m_changed, sender=Dienst.rollen.through)
def dienst_changed(**kwargs):
    rollen_snapshot.clear()


@receiver(user_logged_out)
def portal_logout(sender, request, user, **kwargs):
    """The user logged out of the portal: log him out of every Dienst this session handed him to.

    Runs before Django flushes the session, so its key still names the hand-offs.
    """
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if session_key:
        backchannel_logout_queue(session_key_hash=session_key_hash(session_key), reason="logout")


@receiver(session_ended)
def portal_session_ended(sender, session_key, reason, **kwargs):
    """The portal session expired (idle or absolute limit): as a logout, for that session's sid."""
    backchannel_logout_queue(session_key_hash=session_key_hash(session_key), reason=reason)


@receiver(access_withdrawn)
def portal_access_withdrawn(sender, account_ids, rol_ids, reason, **kwargs):
    backchannel_logout_queue_accounts(account_ids=account_ids, rol_ids=rol_ids, reason=reason)


@receiver(post_delete, sender=RolToekenning)
def rol_toekenning_deleted(sender, instance, **kwargs):
    """A rol taken away, by whatever path (beheerder, helpdesk admin, removal): the Diensten that
    serve it log the user out, so his next login there carries only the rollen he still has."""
    backchannel_logout_queue_accounts(
        account_ids=[instance.account_id], rol_ids=[instance.rol_id], reason="rol_revoked"
    )
