from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BeheerConfig(AppConfig):
    name = "beheer"
    verbose_name = _("Autorisatiebeheer")

    def ready(self):
        # Celery's autodiscovery looks for ``tasks`` modules only.
        from . import review_tasks  # noqa: F401
