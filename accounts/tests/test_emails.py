"""Emails are plain text: names and titles arrive as typed, subjects on one line."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.emails import render_email
from accounts.tests.factories import UserFactory
from listings import services as listing_services
from listings.models import Listing
from listings.tests.factories import ListingFactory

pytestmark = pytest.mark.django_db

NAME = 'D\'Souza & <Sons> "Ltd"'
TITLE = 'Flat & garden, Sita\'s "quiet" <corner>'
ESCAPES = ("&amp;", "&#x27;", "&#39;", "&quot;", "&lt;", "&gt;")


def email_templates() -> list[str]:
    root = Path(settings.BASE_DIR) / "templates"
    return sorted(
        str(path.relative_to(root))[: -len("_body.txt")]
        for path in root.glob("*/emails/*_body.txt")
    )


def test_every_email_template_is_found():
    assert len(email_templates()) >= 8
    for template in email_templates():
        assert (
            Path(settings.BASE_DIR) / "templates" / f"{template}_subject.txt"
        ).exists()


@pytest.fixture
def hostile_context():
    person = UserFactory(full_name=NAME)
    listing = ListingFactory(
        owner=UserFactory(full_name=NAME, role="owner"),
        title=TITLE,
        expires_at=timezone.now(),
    )
    return {
        "user": person,
        "owner": listing.owner,
        "recipient": person,
        "sender": listing.owner,
        "listing": listing,
        "message": type("Message", (), {"body": f"Is {TITLE} free? <b>5 & 6</b>"}),
        "count": 2,
        "path": "/messages/1/",
        "text": f"{NAME} asked to visit {TITLE}",
        "url": "/visits/1/",
        "reason": "Photos & the rent don't match <see>",
        "uid": "MQ",
        "token": "abc-123",
        "advertiser": SimpleNamespace(contact_name=NAME, business_name=NAME),
        "campaign": SimpleNamespace(
            name=TITLE, get_absolute_url=lambda: "/business/campaigns/1/"
        ),
        "balance": "Rs. 500",
    }


@pytest.mark.parametrize("template", email_templates())
def test_every_email_renders_as_plain_text(template, hostile_context):
    subject, body = render_email(template=template, context=hostile_context)
    for text in (subject, body):
        assert not any(escape in text for escape in ESCAPES), text
    assert "\n" not in subject and "\r" not in subject
    # Whatever the template shows of a name or title, it shows as typed.
    shown = subject + body
    assert any(raw in shown for raw in ("D'Souza", TITLE, NAME)), shown


def test_a_listing_email_keeps_the_title_as_typed(
    mailbox, django_capture_on_commit_callbacks
):
    listing = ListingFactory(title=TITLE, status=Listing.Status.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        listing_services.listing_approve(listing=listing)
    assert len(mailbox) == 1
    assert TITLE in mailbox[0].subject
    assert f"“{TITLE}”" in mailbox[0].body
    assert not any(escape in mailbox[0].body for escape in ESCAPES)


def test_a_subject_cannot_carry_a_second_header(
    mailbox, django_capture_on_commit_callbacks
):
    listing = ListingFactory(
        title="Room\r\nBcc: everyone@example.com\n\nHello",
        status=Listing.Status.PENDING,
    )
    with django_capture_on_commit_callbacks(execute=True):
        listing_services.listing_reject(listing=listing, reason="Blurry\r\nphotos")
    assert len(mailbox) == 1
    message = mailbox[0].message()
    assert message["Bcc"] is None
    assert "\n" not in mailbox[0].subject and "\r" not in mailbox[0].subject
    assert "Room Bcc: everyone@example.com Hello" in mailbox[0].subject
    assert mailbox[0].to == [listing.owner.email]


@pytest.mark.parametrize("control", ["\x00", "\x0b", "\x1b", "\u2028", "\x85"])
def test_subjects_drop_control_characters(control):
    listing = ListingFactory()
    listing.title = f"Room{control}with a view"  # as a task might pass it, unsaved
    subject, _ = render_email(
        template="listings/emails/published",
        context={"listing": listing, "owner": listing.owner},
    )
    assert subject.isprintable()
