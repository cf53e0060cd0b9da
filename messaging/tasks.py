from django.tasks import task

from messaging.services import unread_emails_send


@task()
def send_unread_message_emails() -> int:
    """Emails people about messages left unread for 10 minutes (see the service)."""
    return unread_emails_send()
