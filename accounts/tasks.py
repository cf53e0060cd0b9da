from django.core.mail import send_mail
from django.tasks import task


@task()
def send_email(*, to: list[str], subject: str, body: str) -> int:
    """Sends one plain-text email; runs in the worker (immediately in development)."""
    return send_mail(subject, body, None, to, fail_silently=False)
