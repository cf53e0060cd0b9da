from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from accounts.tasks import send_email


def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """
    Renders `<template>_subject.txt` and `_body.txt` and queues the email once the
    current transaction commits, so a rolled-back change never mails anyone.
    """
    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        **context,
    }
    # In the recipient's chosen language, whoever's request sends it.
    from accounts.models import User

    language = (
        User.objects.filter(email__iexact=to).values_list("language", flat=True).first()
        or translation.get_language()
    )
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        body = render_to_string(f"{template}_body.txt", context)
    transaction.on_commit(
        lambda: send_email.enqueue(to=[to], subject=subject, body=body)
    )
