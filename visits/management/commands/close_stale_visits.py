from django.core.management.base import BaseCommand, CommandError
from django.tasks import TaskResultStatus

from visits.tasks import close_stale_visits


class Command(BaseCommand):
    help = (
        "Queues the task that ends visit requests nobody answered before their time "
        "and counts confirmed visits as done three days after, unless the owner "
        "reported a no-show. Run it from the scheduler every hour."
    )

    def handle(self, *args, **options):
        result = close_stale_visits.enqueue()
        if result.status == TaskResultStatus.FAILED:
            raise CommandError("The task failed; see the log.")
        if result.status == TaskResultStatus.SUCCESSFUL:
            self.stdout.write(f"Closed {result.return_value} visits.")
        else:
            self.stdout.write(f"Queued the task ({result.id}).")
