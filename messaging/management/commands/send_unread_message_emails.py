from django.core.management.base import BaseCommand
from django.tasks import TaskResultStatus

from messaging.tasks import send_unread_message_emails


class Command(BaseCommand):
    help = (
        "Queues the task that emails people about messages unread for 10 minutes "
        "(at most one email per conversation per hour). Run it every minute from "
        "the scheduler; running it twice does no harm."
    )

    def handle(self, *args, **options):
        result = send_unread_message_emails.enqueue()
        if result.status == TaskResultStatus.SUCCESSFUL:
            self.stdout.write(f"Sent {result.return_value} unread-message emails.")
        else:
            self.stdout.write(f"Queued the unread-message emails task ({result.id}).")
