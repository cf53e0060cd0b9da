from django.core.management.base import BaseCommand

from nobroker.sendonce import requeue_stale_tasks


class Command(BaseCommand):
    help = (
        "Puts back in the queue the tasks left running by a worker that died "
        "(killed, machine lost): those started longer ago than TASKS_LEASE_SECONDS."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--lease",
            type=float,
            default=None,
            help="seconds; default TASKS_LEASE_SECONDS",
        )

    def handle(self, *args, lease=None, **options):
        count = requeue_stale_tasks(lease)
        if count is None:
            self.stdout.write("requeue_stale_tasks: no database queue")
        else:
            self.stdout.write(f"requeue_stale_tasks: {count} put back")
