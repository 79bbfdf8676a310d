"""The demo Dienst's registration (development profile): ``demo_data`` calls this at every run.

It registers the relying party of demo_rp.py for the OSR rol, with its URIs under this run's
SITE_URL (``PORT=8001 make run`` moves them along) and the client secret both sides derive from
SECRET_KEY. Idempotent: an existing registration is brought up to date, its sub key kept.
"""

from django.conf import settings
from django.db import transaction

from accounts.models import Rol

from . import demo_rp
from .models import Dienst
from .services import dienst_client_save

CODE = "demo-osr"


@transaction.atomic
def demo_dienst_ensure() -> Dienst:
    site = settings.SITE_URL.rstrip("/")
    dienst = Dienst.objects.filter(code=CODE).select_related("application").first() or Dienst(code=CODE)
    dienst.naam_nl = "Onderwijs Service Register (demodienst)"
    dienst.naam_en = "Onderwijs Service Register (demo service)"
    dienst.omschrijving = "De demodienst van het ontwikkelprofiel (/dev/dienst/)."
    dienst.launch_url = f"{site}/dev/dienst/"
    dienst.backchannel_logout_uri = f"{site}/dev/dienst/backchannel-logout/"
    dienst.enabled = True
    dienst, _secret = dienst_client_save(
        dienst=dienst,
        redirect_uris=f"{site}/dev/dienst/callback/",
        post_logout_redirect_uris=f"{site}/dev/dienst/uitgelogd/",
    )
    application = dienst.application
    application.client_id = demo_rp.CLIENT_ID
    application.client_secret = demo_rp.client_secret()
    application.save(update_fields=["client_id", "client_secret", "updated"])
    dienst.rollen.set(Rol.objects.filter(code="osr"))
    return dienst
