from django.core.mail import send_mail
from django.tasks import task

from nobroker.sendonce import do_once


@task(takes_context=True)
def send_email(context, *, to: list[str], subject: str, body: str) -> int:
    """
    Sends one plain-text email; runs in the worker (immediately in development).
    A run again of the same task (its worker killed) does not send it twice.
    """
    key = f"send_email:{context.task_result.id}"
    sent = do_once(key, lambda: send_mail(subject, body, None, to, fail_silently=False))
    return sent or 0


@task(takes_context=True)
def send_emails(context, *, messages: list[dict]) -> int:
    """
    Sends many plain-text emails over one connection (keys: to, subject,
    body). Each is sent at most once per task: a run again after the worker
    died part-way sends only those the first run did not.
    """
    from django.core.mail import EmailMessage, get_connection

    sent = 0
    with get_connection(fail_silently=False) as connection:
        for index, message in enumerate(messages):
            email = EmailMessage(
                message["subject"],
                message["body"],
                None,
                message["to"],
                connection=connection,
            )
            key = f"send_emails:{context.task_result.id}:{index}"
            sent += do_once(key, email.send) or 0
    return sent


@task()
def send_password_reset(*, email: str) -> int:
    """
    Looks the address up and emails the reset link. Queued for every address
    asked about, so the reset page does the same work whether an account has
    it or not, and answers in the same time.
    """
    from accounts.services import user_send_password_reset

    return user_send_password_reset(email=email)
