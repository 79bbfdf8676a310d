from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and organisations")

    def ready(self):
        from . import session_timeout, signals  # noqa: F401  (session_timeout: the login stamp receiver)

        signals.snapshot_receivers_connect()
