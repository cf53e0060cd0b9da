from django.apps import AppConfig


class NobrokerConfig(AppConfig):
    """The project package as an app: the shared counting machinery's table and command."""

    name = "nobroker"
    verbose_name = "No Broker Kathmandu"
