import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from listings.models import Listing
from messaging import events, services
from messaging.models import Block, Conversation, Message, Report, asks_for_money
from messaging.services import MessagingError
from messaging.tests.factories import (
    ConversationFactory,
    ListingFactory,
    MessageFactory,
)

pytestmark = pytest.mark.django_db


def send(conversation, sender, body="Namaste, is the flat free?", client_id=None):
    return services.message_send(
        conversation=conversation,
        sender=sender,
        client_id=client_id or uuid.uuid4(),
        body=body,
    )


# --- Starting a conversation ---------------------------------------------------


def test_message_owner_starts_one_conversation_and_reopens_it(tenant):
    listing = ListingFactory()
    first = services.conversation_start(listing=listing, tenant=tenant)
    again = services.conversation_start(listing=listing, tenant=tenant)
    assert first.pk == again.pk
    assert first.owner == listing.owner
    assert Conversation.objects.count() == 1


def test_owner_cannot_message_about_own_listing(owner):
    listing = ListingFactory(owner=owner)
    with pytest.raises(MessagingError) as error:
        services.conversation_start(listing=listing, tenant=owner)
    assert error.value.code == "own_listing"


def test_unpublished_listing_cannot_start_a_conversation(tenant):
    listing = ListingFactory(status=Listing.Status.DRAFT)
    with pytest.raises(MessagingError):
        services.conversation_start(listing=listing, tenant=tenant)
    assert not Conversation.objects.exists()


def test_existing_conversation_reopens_after_listing_is_rented(tenant):
    listing = ListingFactory()
    conversation = services.conversation_start(listing=listing, tenant=tenant)
    listing.status = Listing.Status.RENTED
    listing.save()
    assert services.conversation_start(listing=listing, tenant=tenant) == conversation


# --- Sending -------------------------------------------------------------------


def test_message_is_stored_and_broadcast_only_after_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    conversation = ConversationFactory()
    pushed = []
    monkeypatch.setattr(events, "send", pushed.extend)
    with django_capture_on_commit_callbacks() as callbacks:
        message, created = send(conversation, conversation.tenant)
        assert pushed == []
    assert created
    assert len(callbacks) == 1
    callbacks[0]()
    groups = [group for group, _event in pushed]
    assert groups == [
        f"conversation_{conversation.pk}",
        f"user_{conversation.owner_id}",
    ]
    assert pushed[0][1]["message"]["id"] == message.pk
    # The recipient's badge goes up by one, without counting anything.
    assert pushed[1][1] == {"type": "unread.changed", "added": 1}


def test_sending_a_message_is_an_insert_and_an_update_that_checks_for_a_block():
    conversation = ConversationFactory()
    with CaptureQueriesContext(connection) as queries:
        send(conversation, conversation.tenant)
    statements = [
        query["sql"].split()[0]
        for query in queries.captured_queries
        # Inside the test's transaction the service's own is a savepoint.
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    # The block check rides on the conversation's update: no query of its
    # own, and no lookup for a resend before the insert. (From a socket on
    # PostgreSQL it is one statement; see test_consumers.)
    assert statements == ["INSERT", "UPDATE"]


def test_reading_pushes_the_exact_unread_count_to_the_readers_pages(
    django_capture_on_commit_callbacks, monkeypatch
):
    conversation = ConversationFactory()
    first, _ = send(conversation, conversation.tenant)
    second, _ = send(conversation, conversation.tenant)
    pushed = []
    monkeypatch.setattr(events, "send", pushed.extend)
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_mark_read(
            conversation=conversation, user=conversation.owner, up_to=first.pk
        )
    assert pushed == [
        (
            f"conversation_{conversation.pk}",
            {
                "type": "message.seen",
                "user_id": conversation.owner_id,
                "up_to": first.pk,
            },
        ),
        (f"user_{conversation.owner_id}", {"type": "unread.changed", "count": 1}),
    ]


def test_resending_the_same_client_id_stores_one_message():
    conversation = ConversationFactory()
    client_id = uuid.uuid4()
    first, created = send(conversation, conversation.tenant, client_id=client_id)
    again, created_again = send(conversation, conversation.tenant, client_id=client_id)
    assert created and not created_again
    assert first.pk == again.pk
    assert Message.objects.count() == 1


def test_same_client_id_from_two_senders_are_two_messages():
    conversation = ConversationFactory()
    client_id = uuid.uuid4()
    send(conversation, conversation.tenant, client_id=client_id)
    send(conversation, conversation.owner, client_id=client_id)
    assert Message.objects.count() == 2


def test_message_over_2000_characters_is_refused():
    conversation = ConversationFactory()
    with pytest.raises(MessagingError) as error:
        send(conversation, conversation.tenant, body="k" * 2001)
    assert error.value.code == "too_long"
    assert "2,000" in error.value.message
    send(conversation, conversation.tenant, body="k" * 2000)
    assert Message.objects.count() == 1


def test_blank_message_is_refused():
    conversation = ConversationFactory()
    with pytest.raises(MessagingError):
        send(conversation, conversation.tenant, body="   \n ")


def test_outsider_cannot_send_into_a_conversation():
    conversation = ConversationFactory()
    with pytest.raises(MessagingError) as error:
        send(conversation, UserFactory())
    assert error.value.code == "not_member"
    assert not Message.objects.exists()


def test_blocked_pair_cannot_message_in_either_direction():
    conversation = ConversationFactory()
    services.user_block(blocker=conversation.owner, blocked=conversation.tenant)
    for sender in (conversation.tenant, conversation.owner):
        with pytest.raises(MessagingError) as error:
            send(conversation, sender)
        assert error.value.code == "blocked"
    assert not Message.objects.exists()
    services.user_unblock(blocker=conversation.owner, blocked=conversation.tenant)
    send(conversation, conversation.tenant)
    assert Message.objects.count() == 1


def test_resend_after_a_block_returns_the_stored_message_and_stores_nothing():
    conversation = ConversationFactory()
    client_id = uuid.uuid4()
    first, _ = send(conversation, conversation.tenant, client_id=client_id)
    services.user_block(blocker=conversation.owner, blocked=conversation.tenant)
    again, created = send(conversation, conversation.tenant, client_id=client_id)
    assert not created
    assert again.pk == first.pk
    with pytest.raises(MessagingError) as error:
        send(conversation, conversation.tenant)
    assert error.value.code == "blocked"
    assert Message.objects.count() == 1


def test_client_id_used_in_another_conversation_is_refused():
    conversation = ConversationFactory()
    elsewhere = ConversationFactory(tenant=conversation.tenant)
    client_id = uuid.uuid4()
    send(elsewhere, conversation.tenant, client_id=client_id)
    with pytest.raises(MessagingError) as error:
        send(conversation, conversation.tenant, client_id=client_id)
    assert error.value.code == "bad_id"
    assert Message.objects.count() == 1


def test_blocked_tenant_cannot_start_a_new_conversation_with_that_owner(tenant):
    listing = ListingFactory()
    Block.objects.create(blocker=listing.owner, blocked=tenant)
    with pytest.raises(MessagingError):
        services.conversation_start(listing=listing, tenant=tenant)


def test_sending_marks_the_senders_own_side_read():
    conversation = ConversationFactory()
    message, _ = send(conversation, conversation.owner)
    conversation.refresh_from_db()
    assert conversation.owner_read_up_to == message.pk
    assert conversation.tenant_read_up_to == 0
    assert conversation.last_message_at == message.created_at


def test_sending_never_moves_the_senders_read_mark_back():
    conversation = ConversationFactory()
    # As if a newer message's update had already been applied.
    Conversation.objects.filter(pk=conversation.pk).update(owner_read_up_to=10**9)
    conversation.refresh_from_db()
    message, _ = send(conversation, conversation.owner)
    assert conversation.owner_read_up_to == 10**9
    conversation.refresh_from_db()
    assert conversation.owner_read_up_to == 10**9
    assert conversation.last_message_at == message.created_at


def test_stored_message_is_a_saved_row():
    conversation = ConversationFactory()
    message, _ = send(conversation, conversation.tenant, body="  Namaste  ")
    assert not message._state.adding
    stored = Message.objects.get(pk=message.pk)
    assert (stored.body, stored.sender_id, stored.client_id) == (
        "Namaste",
        conversation.tenant_id,
        message.client_id,
    )
    assert stored.created_at == message.created_at
    assert message.as_event() == stored.as_event()


@pytest.mark.parametrize(
    "text",
    [
        "Please send 5000 advance to confirm",
        "Deposit first, then you can see the room",
        "Pay on my eSewa 9841000000",
        "khalti ma pathaunus",
        "send money and I will keep it for you",
        "paisa pathau ani aaunu",
    ],
)
def test_money_requests_are_flagged(text):
    assert asks_for_money(text)
    conversation = ConversationFactory()
    message, _ = send(conversation, conversation.owner, body=text)
    assert message.asks_for_money


@pytest.mark.parametrize(
    "text", ["Is parking available?", "Water comes 6 hours a day", "Kati ho bhada?"]
)
def test_ordinary_messages_are_not_flagged(text):
    assert not asks_for_money(text)


# --- Reading -------------------------------------------------------------------


def test_unread_count_counts_only_the_other_persons_unread_messages():
    conversation = ConversationFactory()
    send(conversation, conversation.tenant)
    send(conversation, conversation.tenant)
    send(conversation, conversation.owner)
    assert services.unread_count(conversation.owner) == 0  # Replying read them.
    last, _ = send(conversation, conversation.tenant)
    assert services.unread_count(conversation.owner) == 1
    assert services.unread_count(conversation.tenant) == 0
    services.conversation_mark_read(
        conversation=conversation, user=conversation.owner, up_to=last.pk
    )
    assert services.unread_count(conversation.owner) == 0


def test_read_mark_never_moves_back_nor_past_the_newest_message():
    conversation = ConversationFactory()
    first, _ = send(conversation, conversation.tenant)
    second, _ = send(conversation, conversation.tenant)
    owner = conversation.owner
    services.conversation_mark_read(
        conversation=conversation, user=owner, up_to=second.pk + 1000
    )
    conversation.refresh_from_db()
    assert conversation.owner_read_up_to == second.pk
    moved = services.conversation_mark_read(
        conversation=conversation, user=owner, up_to=first.pk
    )
    conversation.refresh_from_db()
    assert not moved
    assert conversation.owner_read_up_to == second.pk


def test_inbox_needs_the_same_few_queries_for_many_conversations(
    tenant, django_assert_num_queries
):
    def fill(n):
        for _ in range(n):
            conversation = ConversationFactory(tenant=tenant)
            MessageFactory(conversation=conversation, sender=conversation.owner)

    def load():
        conversations = list(Conversation.objects.for_inbox(tenant))
        for conversation in conversations:
            _ = conversation.other_participant(tenant).first_name
            _ = conversation.listing.title, conversation.cover_photo
        return conversations

    fill(2)
    with django_assert_num_queries(2):
        assert len(load()) == 2
    fill(8)
    with django_assert_num_queries(2):
        conversations = load()
    assert len(conversations) == 10
    assert all(c.unread == 1 for c in conversations)
    assert conversations[0].last_body.startswith("Is the flat")


# --- Safety --------------------------------------------------------------------


def test_participant_can_report_a_conversation_and_outsider_cannot():
    conversation = ConversationFactory()
    report = services.conversation_report(
        conversation=conversation,
        reporter=conversation.tenant,
        reason=Report.Reason.SCAM,
        details=" Asked for Khalti money ",
    )
    assert report.details == "Asked for Khalti money"
    assert Report.objects.open().count() == 1
    with pytest.raises(MessagingError):
        services.conversation_report(
            conversation=conversation, reporter=UserFactory(), reason="spam"
        )


def test_nobody_can_block_themself(tenant):
    with pytest.raises(MessagingError):
        services.user_block(blocker=tenant, blocked=tenant)


# --- Unread-message emails -----------------------------------------------------


def run_emails(at):
    with time_machine.travel(at, tick=False):
        return services.unread_emails_send()


def test_message_unread_for_ten_minutes_sends_one_email(
    mailbox, django_capture_on_commit_callbacks
):
    start = timezone.now()
    conversation = ConversationFactory()
    with time_machine.travel(start, tick=False):
        send(conversation, conversation.tenant, body="Can I visit on Saturday?")
    with django_capture_on_commit_callbacks(execute=True):
        assert run_emails(start + timedelta(minutes=9)) == 0
        assert run_emails(start + timedelta(minutes=11)) == 1
        assert run_emails(start + timedelta(minutes=12)) == 0
    assert len(mailbox) == 1
    assert mailbox[0].to == [conversation.owner.email]
    assert "Can I visit on Saturday?" in mailbox[0].body
    assert conversation.get_absolute_url() in mailbox[0].body
    assert conversation.tenant.first_name in mailbox[0].subject


def test_at_most_one_unread_email_per_conversation_per_hour(
    mailbox, django_capture_on_commit_callbacks
):
    start = timezone.now()
    conversation = ConversationFactory()
    for minutes in (0, 20, 40):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            send(conversation, conversation.tenant)
        with django_capture_on_commit_callbacks(execute=True):
            run_emails(start + timedelta(minutes=minutes + 11))
    assert len(mailbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        run_emails(start + timedelta(minutes=72))
    assert len(mailbox) == 2


def test_read_message_sends_no_email(mailbox, django_capture_on_commit_callbacks):
    start = timezone.now()
    conversation = ConversationFactory()
    with time_machine.travel(start, tick=False):
        message, _ = send(conversation, conversation.tenant)
    services.conversation_mark_read(
        conversation=conversation, user=conversation.owner, up_to=message.pk
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert run_emails(start + timedelta(minutes=15)) == 0
    assert mailbox == []
