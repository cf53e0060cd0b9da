from django.apps import AppConfig


class ListingsConfig(AppConfig):
    name = "listings"
    verbose_name = "Listings"

    def ready(self):
        from listings import signals, stats  # noqa: F401

        stats.register_metrics()
