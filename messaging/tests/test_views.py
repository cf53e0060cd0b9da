import re
import uuid

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.tests.factories import UserFactory
from messaging.models import Block, Conversation, Message, Report
from messaging.tests.factories import (
    ConversationFactory,
    ListingFactory,
    MessageFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(tenant, owner):
    return ConversationFactory(tenant=tenant, listing=ListingFactory(owner=owner))


def test_message_owner_button_posts_and_redirects_to_the_conversation(client, tenant):
    listing = ListingFactory()
    client.force_login(tenant)
    response = client.post(reverse("messaging:start", args=[listing.pk]))
    conversation = Conversation.objects.get()
    assert response.status_code == 302
    assert response.url == conversation.get_absolute_url()
    client.post(reverse("messaging:start", args=[listing.pk]))
    assert Conversation.objects.count() == 1


def test_listing_actions_show_message_owner_by_role(tenant):
    listing = ListingFactory()
    html = render_to_string(
        "includes/listing_actions.html", {"listing": listing, "user": tenant}
    )
    assert "Message owner" in html
    html = render_to_string(
        "includes/listing_actions.html", {"listing": listing, "user": listing.owner}
    )
    assert "Message owner" not in html
    from django.contrib.auth.models import AnonymousUser

    html = render_to_string(
        "includes/listing_actions.html", {"listing": listing, "user": AnonymousUser()}
    )
    assert "Log in to message the owner" in html
    assert f"next=/messages/start/{listing.pk}/" in html


def test_anonymous_is_sent_to_log_in(client, conversation):
    for url in (
        reverse("messaging:inbox"),
        conversation.get_absolute_url(),
        reverse("messaging:since", args=[conversation.pk, 0]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response.url


@pytest.mark.parametrize(
    "name", ["detail", "since", "before", "report", "block", "unblock"]
)
def test_outsiders_get_404_for_every_conversation_url(client, conversation, name):
    client.force_login(UserFactory())
    args = [conversation.pk] + ([0] if name in ("since", "before") else [])
    url = reverse(f"messaging:{name}", args=args)
    method = client.post if name in ("block", "unblock") else client.get
    assert method(url).status_code == 404


def test_owner_cannot_start_a_conversation_about_own_listing(client, owner):
    listing = ListingFactory(owner=owner)
    client.force_login(owner)
    response = client.post(reverse("messaging:start", args=[listing.pk]), follow=True)
    assert not Conversation.objects.exists()
    assert "This is your own listing." in response.content.decode()


def test_conversation_page_shows_history_oldest_first_and_escapes_html(
    client, conversation
):
    MessageFactory(conversation=conversation, body="First question")
    MessageFactory(
        conversation=conversation,
        sender=conversation.owner,
        body="<script>alert('x')</script> answer",
    )
    client.force_login(conversation.tenant)
    response = client.get(conversation.get_absolute_url())
    html = response.content.decode()
    assert html.index("First question") < html.index("answer")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


def test_viewing_the_conversation_marks_it_read_and_shows_seen(client, conversation):
    mine = MessageFactory(conversation=conversation, body="Hello")
    client.force_login(conversation.owner)
    response = client.get(reverse("home"))
    assert "<span data-unread-number>1</span>" in response.content.decode()
    client.get(conversation.get_absolute_url())
    conversation.refresh_from_db()
    assert conversation.owner_read_up_to == mine.pk
    response = client.get(reverse("home"))
    assert 'data-unread-badge data-unread-url="/messages/unread/" hidden' in (
        response.content.decode()
    )
    client.force_login(conversation.tenant)
    response = client.get(conversation.get_absolute_url())
    assert "data-seen-mark" in response.content.decode()


def test_form_post_without_javascript_sends_once_even_when_repeated(
    client, conversation
):
    client.force_login(conversation.tenant)
    data = {"body": "Is parking available?", "client_id": str(uuid.uuid4())}
    response = client.post(conversation.get_absolute_url(), data)
    assert response.status_code == 302
    assert response.url.endswith("#latest")
    client.post(conversation.get_absolute_url(), data)
    assert Message.objects.filter(body="Is parking available?").count() == 1


def test_too_long_form_post_keeps_the_text_and_explains(client, conversation):
    client.force_login(conversation.tenant)
    text = "n" * 2001
    response = client.post(
        conversation.get_absolute_url(),
        {"body": text, "client_id": str(uuid.uuid4())},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "at most 2000 characters" in html
    assert text in html
    assert not Message.objects.exists()


def test_json_post_returns_the_stored_message(client, conversation):
    client.force_login(conversation.tenant)
    response = client.post(
        conversation.get_absolute_url(),
        {"body": "Namaste", "client_id": str(uuid.uuid4())},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["message"]["body"] == "Namaste"
    response = client.post(
        conversation.get_absolute_url(),
        {"body": "", "client_id": str(uuid.uuid4())},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Write a message first."


def test_since_returns_only_newer_messages(client, conversation):
    first = MessageFactory(conversation=conversation)
    second = MessageFactory(conversation=conversation)
    client.force_login(conversation.owner)
    data = client.get(reverse("messaging:since", args=[conversation.pk, first.pk]))
    ids = [m["id"] for m in data.json()["messages"]]
    assert ids == [second.pk]
    assert data.json()["unread"] == 2


@pytest.mark.parametrize("language", ["en", "ne"])
def test_fetched_messages_carry_the_time_exactly_as_the_page_writes_it(
    client, conversation, settings, language
):
    message = MessageFactory(conversation=conversation, sender=conversation.owner)
    client.force_login(conversation.tenant)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(conversation.get_absolute_url()).content.decode()
    data = client.get(reverse("messaging:since", args=[conversation.pk, 0])).json()
    fetched = data["messages"][0]
    assert fetched["id"] == message.pk
    assert f">{fetched['time']}</time>" in page
    assert bool(re.search("[०-९]", fetched["time"])) == (language == "ne")


def test_older_messages_page_without_javascript(client, conversation):
    messages = [MessageFactory(conversation=conversation) for _ in range(35)]
    client.force_login(conversation.tenant)
    response = client.get(conversation.get_absolute_url())
    html = response.content.decode()
    assert f'href="?before={messages[5].pk}"' in html
    assert messages[4].body not in html
    older = client.get(f"{conversation.get_absolute_url()}?before={messages[5].pk}")
    assert messages[0].body in older.content.decode()
    assert "Newest messages" in older.content.decode()
    data = client.get(
        reverse("messaging:before", args=[conversation.pk, messages[5].pk])
    ).json()
    assert [m["id"] for m in data["messages"]] == [m.pk for m in messages[:5]]
    assert data["has_older"] is False


def test_inbox_lists_conversations_with_name_last_message_and_unread(
    client, tenant, django_assert_max_num_queries
):
    for n in range(6):
        conversation = ConversationFactory(tenant=tenant)
        MessageFactory(
            conversation=conversation, sender=conversation.owner, body=f"Reply {n}"
        )
    client.force_login(tenant)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("messaging:inbox"))
    html = response.content.decode()
    assert "Reply 5" in html
    assert conversation.owner.first_name in html
    assert "inbox__thumb--placeholder" in html
    assert html.count("inbox__item--unread") == 6


def test_empty_inbox_explains_what_to_do(client, tenant):
    client.force_login(tenant)
    response = client.get(reverse("messaging:inbox"))
    assert "Message owner" in response.content.decode()


def test_money_request_shows_a_gentle_warning_to_the_tenant(client, conversation):
    MessageFactory(
        conversation=conversation,
        sender=conversation.owner,
        body="Send Rs. 10,000 advance on eSewa to book it",
        asks_for_money=True,
    )
    client.force_login(conversation.tenant)
    response = client.get(conversation.get_absolute_url())
    assert "never pay an advance" in response.content.decode()


def test_block_then_unblock_from_the_conversation_page(client, conversation):
    client.force_login(conversation.tenant)
    client.post(reverse("messaging:block", args=[conversation.pk]))
    assert Block.objects.filter(
        blocker=conversation.tenant, blocked=conversation.owner
    ).exists()
    response = client.get(conversation.get_absolute_url())
    assert "Unblock" in response.content.decode()
    assert "data-form" not in response.content.decode()
    client.post(reverse("messaging:unblock", args=[conversation.pk]))
    assert not Block.objects.exists()


def test_report_reaches_the_admin_where_staff_read_the_conversation(
    client, conversation, staff
):
    MessageFactory(conversation=conversation, body="Pay the deposit first on Khalti")
    client.force_login(conversation.owner)
    response = client.post(
        reverse("messaging:report", args=[conversation.pk]),
        {"reason": Report.Reason.SCAM, "details": "Strange"},
    )
    assert response.status_code == 302
    report = Report.objects.get()
    client.force_login(staff)
    response = client.get(reverse("admin:messaging_report_change", args=[report.pk]))
    assert "Pay the deposit first on Khalti" in response.content.decode()
    assert client.get(reverse("admin:messaging_report_changelist")).status_code == 200


def test_report_without_a_reason_shows_the_error(client, conversation):
    client.force_login(conversation.tenant)
    response = client.post(reverse("messaging:report", args=[conversation.pk]), {})
    assert response.status_code == 200
    assert "field--error" in response.content.decode()
    assert not Report.objects.exists()


def test_unread_endpoint_counts(client, conversation):
    MessageFactory(conversation=conversation)
    client.force_login(conversation.owner)
    assert client.get(reverse("messaging:unread")).json() == {"count": 1}


def test_inbox_shows_the_listings_cover_photo(client, conversation):
    from listings.models import ListingPhoto

    for n, cover in enumerate([False, True]):
        ListingPhoto.objects.create(
            listing=conversation.listing,
            large=f"listings/aa/large{n}.webp",
            medium=f"listings/aa/medium{n}.webp",
            thumb=f"listings/aa/thumb{n}.webp",
            is_cover=cover,
            position=n,
        )
    client.force_login(conversation.tenant)
    html = client.get(reverse("messaging:inbox")).content.decode()
    assert 'src="/media/listings/aa/thumb1.webp"' in html
    assert "thumb0.webp" not in html
    assert "inbox__thumb--placeholder" not in html
