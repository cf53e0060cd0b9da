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


@task()
def send_emails(*, messages: list[dict]) -> int:
    """Sends many plain-text emails in one go (keys: to, subject, body)."""
    from django.core.mail import send_mass_mail

    return send_mass_mail([(m["subject"], m["body"], None, m["to"]) for m in messages])


@task()
def send_password_reset(*, email: str) -> int:
    """
    Looks the address up and emails the reset link. Queued for every address
    asked about, so the reset page does the same work whether an account has
    it or not, and answers in the same time.
    """
    from accounts.services import user_send_password_reset

    return user_send_password_reset(email=email)
