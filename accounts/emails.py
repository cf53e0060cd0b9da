import re
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


def _marker(name: str) -> str:
    # Private-use characters: no template, translation or filter makes them.
    return f"\ue000{name}\ue001"


_MARKER = re.compile("\ue000(\\w+)\ue001")


class _MarkedItem(dict):
    """A list item whose every field prints as one marker."""

    def __missing__(self, key):
        return _marker("item")


class MailMerge:
    """
    One email template for thousands of recipients, each email exactly the
    text `render_templated_email` gives: the template is rendered once per
    language with a marker where each per-recipient value goes, the lines of
    each item of a list once per item and language (the body's partial), and
    an email is those pieces joined. For values the template prints as they
    are (autoescape is off in emails): no filter or `{% if %}` on them.

    `context` names each per-recipient value with `MailMerge.value("name")`;
    `lists` maps a list variable of the body to the partial rendering one item.
    """

    value = staticmethod(_marker)

    def __init__(self, *, template: str, context: dict, lists: dict[str, str]):
        self.template = template
        self.context = context
        self.lists = lists
        self._parts: dict[str, tuple[list[str], list[str]]] = {}

    def _split(self, text: str) -> list[str]:
        # Literal text and value names in turn: literal, name, literal, ...
        return _MARKER.split(text)

    def _compile(self, language: str) -> tuple[list[str], list[str]]:
        context = {
            "site_name": settings.SITE_NAME,
            "site_url": settings.SITE_URL,
            **self.context,
            **{name: [_MarkedItem()] for name in self.lists},
        }
        with translation.override(language):
            subject = _render_text(f"{self.template}_subject.txt", context)
            body = _render_text(f"{self.template}_body.txt", context)
            for name, partial in self.lists.items():
                item = _render_text(
                    f"{self.template}_body.txt#{partial}",
                    {**context, partial: _MarkedItem()},
                )
                if body.count(item) != 1:
                    raise ValueError(f"{self.template}: {name} is not one list")
                body = body.replace(item, _marker(name))
        return self._split(subject), self._split(body)

    def item(self, partial: str, context: dict, *, language: str) -> str:
        """One item's lines in the body (cache them: the same for everyone)."""
        context = {
            "site_name": settings.SITE_NAME,
            "site_url": settings.SITE_URL,
            **context,
        }
        with translation.override(language):
            return _render_text(f"{self.template}_body.txt#{partial}", context)

    def email(self, *, to: str, language: str, values: dict[str, str]) -> dict:
        """The email for one recipient; `values` has every value and list (joined)."""
        if language not in self._parts:
            self._parts[language] = self._compile(language)
        subject, body = self._parts[language]

        def fill(parts):
            return "".join(
                part if i % 2 == 0 else values[part] for i, part in enumerate(parts)
            )

        return {"to": [to], "subject": _one_line(fill(subject)), "body": fill(body)}
