from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KoppelingConfig(AppConfig):
    name = "koppeling"
    verbose_name = _("eHerkenning and koppeling")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import signals  # noqa: F401  (last_login, replacing Django's receiver)
        from .saml import health  # noqa: F401  (registers the certificate and broker metadata checks)

        # django.contrib.auth (earlier in INSTALLED_APPS) connected it in its own ready().
        user_logged_in.disconnect(dispatch_uid="update_last_login")
