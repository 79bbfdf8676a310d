from django.apps import AppConfig


class DevBrokerConfig(AppConfig):
    name = "koppeling.dev_broker"
    label = "dev_broker"
    verbose_name = "eHerkenning dev broker"
