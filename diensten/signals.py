"""Reactions to events of other apps: a changed Dienst drops the overview's rol catalogue snapshot
(its launch URL shows at once in this process, elsewhere within ``SNAPSHOT_SECONDS``); a portal
logout sends back-channel logouts to the Diensten of that session."""

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from accounts.selectors import rollen_snapshot

from .logout import backchannel_logout_queue
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
