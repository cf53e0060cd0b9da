from django.core.management.base import BaseCommand, CommandError
from django.tasks import TaskResultStatus

from visits.tasks import send_visit_reminders


class Command(BaseCommand):
    help = (
        "Queues the task that reminds tenants and owners of confirmed visits 24 hours "
        "and 2 hours ahead. Run it from the scheduler every 5 minutes (for example "
        "cron: */5 * * * * python manage.py send_visit_reminders). Each reminder is "
        "flagged on the visit when sent, so repeated or overlapping runs never send "
        "one twice."
    )

    def handle(self, *args, **options):
        result = send_visit_reminders.enqueue()
        if result.status == TaskResultStatus.FAILED:
            raise CommandError("The reminder task failed; see the log.")
        if result.status == TaskResultStatus.SUCCESSFUL:
            self.stdout.write(f"Reminded the parties of {result.return_value} visits.")
        else:
            self.stdout.write(f"Queued the reminder task ({result.id}).")
