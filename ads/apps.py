from django.apps import AppConfig


class AdsConfig(AppConfig):
    name = "ads"
    verbose_name = "Ads"

    def ready(self):
        from ads import services, serving
        from nobroker import counting

        # The ads own their rows: the shared flush lands their counts here.
        counting.register(serving.EVENTS, apply=services.stats_apply_events)
        counting.register(serving.SPEND, apply=services.stats_apply_spend)
