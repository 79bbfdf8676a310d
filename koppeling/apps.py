from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KoppelingConfig(AppConfig):
    name = "koppeling"
    verbose_name = _("eHerkenning and koppeling")
