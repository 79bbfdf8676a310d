from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DienstenConfig(AppConfig):
    name = "diensten"
    verbose_name = _("DUO services")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts.selectors import onderwerp_url_register

        from . import signals  # noqa: F401
        from .selectors import launch_url_expression

        # An Onderwerp whose rol an enabled Dienst serves opens that Dienst (issue 18).
        onderwerp_url_register(launch_url_expression)
