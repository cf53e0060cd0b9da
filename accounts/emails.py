from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from accounts.tasks import send_email, send_emails


def render_templated_email(*, to: str, template: str, context: dict) -> dict:
    """`<template>_subject.txt` and `_body.txt` rendered for one recipient, in
    their chosen language (whoever's request sends it)."""
    from accounts.models import User

    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        **context,
    }
    user = context.get("user")
    if isinstance(user, User) and user.email.lower() == to.lower():
        language = user.language
    else:
        language = (
            User.objects.filter(email__iexact=to)
            .values_list("language", flat=True)
            .first()
        )
    with translation.override(language or translation.get_language()):
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        body = render_to_string(f"{template}_body.txt", context)
    return {"to": [to], "subject": subject, "body": body}


def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """
    Renders `<template>_subject.txt` and `_body.txt` and queues the email once the
    current transaction commits, so a rolled-back change never mails anyone.
    """
    message = render_templated_email(to=to, template=template, context=context)
    transaction.on_commit(lambda: send_email.enqueue(**message))


def send_templated_emails(messages: list[dict]) -> None:
    """Emails rendered with `render_templated_email`, queued as one task once
    the transaction commits: for a run that mails thousands of people."""
    if messages:
        transaction.on_commit(lambda: send_emails.enqueue(messages=messages))
