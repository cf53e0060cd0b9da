from django.core.management.base import BaseCommand

from searches.services import saved_search_alerts_run


class Command(BaseCommand):
    help = "Alerts for saved searches that are due (schedule every 5 minutes)."

    def handle(self, *args, **options):
        stats = saved_search_alerts_run()
        self.stdout.write(
            f"{stats['checked']} saved searches checked, {stats['alerted']} alerted"
        )
