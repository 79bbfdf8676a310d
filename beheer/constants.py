from django.db import models
from django.utils.translation import gettext_lazy as _

from koppeling.models import UnlinkReason

# The e-mail templates (accounts.email.email_queue) this app queues or looks for.
REGISTERED_EMAIL_TEMPLATE = "beheer/email/registered"
ACTIVATION_CODE_EMAIL_TEMPLATE = "koppeling/email/activation_code"

# The reasons a beheerder may give for undoing a link (seed 002: lost or stolen means, and so on).
BEHEERDER_UNLINK_REASONS = [UnlinkReason.LOST, UnlinkReason.STOLEN, UnlinkReason.DEFECT, UnlinkReason.OTHER]

PAGE_SIZES = (25, 50, 100)


class GebruikerStatus(models.TextChoices):
    """Where a user stands on the way from registration to a working eHerkenning login."""

    AANGEMELD = "aangemeld", _("registered")
    ACTIVATIECODE_VERSTUURD = "activatiecode_verstuurd", _("activation code sent")
    GEKOPPELD = "gekoppeld", _("linked")
    ONTKOPPELD = "ontkoppeld", _("unlinked")
    GEBLOKKEERD = "geblokkeerd", _("blocked")
    VERWIJDERD = "verwijderd", _("removed")
