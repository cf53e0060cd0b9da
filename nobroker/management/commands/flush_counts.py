from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.tasks import TaskResultStatus

from nobroker.tasks import flush_counts


class Command(BaseCommand):
    help = (
        "Queues the task that moves counted views, impressions and the like from "
        "Redis into the daily rows. Run it from the scheduler every minute (cron: "
        "* * * * * python manage.py flush_counts). Each batch is applied exactly "
        "once, so repeated or overlapping runs never count twice."
    )

    def handle(self, *args, **options):
        if not settings.REDIS_URL:
            self.stdout.write(
                "Without REDIS_URL counts live in each web process, which flushes "
                f"them itself every {settings.COUNTING_LOCAL_FLUSH_SECONDS:g} s; "
                "this process has none of its own."
            )
        result = flush_counts.enqueue()
        if result.status == TaskResultStatus.FAILED:
            raise CommandError("The flush task failed; see the log.")
        if result.status == TaskResultStatus.SUCCESSFUL:
            value = result.return_value
            self.stdout.write(
                f"Applied {value['batches']} batches ({value['events']} events, "
                f"{value['unique_keys']} unique counts); {value['skipped']} already "
                "applied."
            )
        else:
            self.stdout.write(f"Queued the flush task ({result.id}).")
