import unicodedata

from django.conf import settings
from django.db import transaction
from django.template import Context
from django.template.loader import get_template
from django.utils import translation

from accounts.tasks import send_email, send_emails


def _render_text(name: str, context: dict) -> str:
    # An email body is plain text, not HTML: "Flat & garden" must arrive as
    # typed, not as "Flat &amp; garden", so nothing is escaped.
    return get_template(name).template.render(Context(context, autoescape=False))


def _one_line(text: str) -> str:
    """A header value: whitespace of every kind (CR and LF included) folded into
    single spaces and other control characters dropped, so a name or title
    cannot end the Subject header and start another one."""
    words = " ".join(text.split())
    return "".join(char for char in words if unicodedata.category(char) != "Cc")


def render_email(*, template: str, context: dict) -> tuple[str, str]:
    """The subject (one line) and body of `<template>_subject.txt` and `_body.txt`."""
    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        **context,
    }
    subject = _one_line(_render_text(f"{template}_subject.txt", context))
    body = _render_text(f"{template}_body.txt", context)
    return subject, body


def _language_of(to: str, context: dict) -> str:
    """The recipient's chosen language, whoever's request sends the email."""
    from accounts.models import User

    user = context.get("user")
    if isinstance(user, User) and user.email.lower() == to.lower():
        language = user.language
    else:
        language = (
            User.objects.filter(email__iexact=to)
            .values_list("language", flat=True)
            .first()
        )
    return language or translation.get_language()


def render_templated_email(*, to: str, template: str, context: dict) -> dict:
    """One recipient's email, rendered in their language, ready to queue."""
    with translation.override(_language_of(to, context)):
        subject, body = render_email(template=template, context=context)
    return {"to": [to], "subject": subject, "body": body}


def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """
    Renders `<template>_subject.txt` and `_body.txt` as plain text, in the
    recipient's language, and queues the email once the current transaction
    commits, so a rolled-back change never mails anyone.
    """
    message = render_templated_email(to=to, template=template, context=context)
    transaction.on_commit(lambda: send_email.enqueue(**message))


def send_templated_emails(messages: list[dict]) -> None:
    """Emails rendered with `render_templated_email`, queued as one task once
    the transaction commits: for a run that mails thousands of people."""
    if messages:
        transaction.on_commit(lambda: send_emails.enqueue(messages=messages))
