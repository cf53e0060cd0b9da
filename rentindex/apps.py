from django.apps import AppConfig


class RentIndexConfig(AppConfig):
    name = "rentindex"
    verbose_name = "Rent index"
