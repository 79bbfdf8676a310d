"""Drop the overview's rol catalogue snapshot when a Dienst changes, so its launch URL shows at once
in this process (other processes within ``SNAPSHOT_SECONDS``, like any catalogue change)."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from accounts.selectors import rollen_snapshot

from .models import Dienst


@receiver(post_save, sender=Dienst)
@receiver(post_delete, sender=Dienst)
@receiver(m2m_changed, sender=Dienst.rollen.through)
def dienst_changed(**kwargs):
    rollen_snapshot.clear()
