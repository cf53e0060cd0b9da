import datetime

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone


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
        if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
            self.stdout.write("requeue_stale_tasks: no database queue")
            return
        from django.tasks import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        seconds = settings.TASKS_LEASE_SECONDS if lease is None else lease
        cutoff = timezone.now() - datetime.timedelta(seconds=seconds)
        count = DBTaskResult.objects.filter(
            status=TaskResultStatus.RUNNING, started_at__lt=cutoff
        ).update(status=TaskResultStatus.READY, started_at=None)
        self.stdout.write(f"requeue_stale_tasks: {count} put back")
