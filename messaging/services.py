import logging
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from functools import cache

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.emails import send_templated_email
from messaging.models import (
    MESSAGE_MAX_LENGTH,
    Block,
    Conversation,
    Message,
    Report,
    asks_for_money,
)
from nobroker.counters import cached_count, forget_count

logger = logging.getLogger(__name__)

UNREAD_EMAIL_DELAY = timedelta(minutes=10)
UNREAD_EMAIL_INTERVAL = timedelta(hours=1)
# Older unread messages are not worth an email any more.
UNREAD_EMAIL_MAX_AGE = timedelta(days=2)


class MessagingError(Exception):
    """A refused action, with a message fit to show the person who tried it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def user_group(user_id: int) -> str:
    return f"user_{user_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation_{conversation_id}"


def broadcast(group: str, event: dict) -> None:
    """Sends an event to a channel-layer group (see `broadcast_all`)."""
    broadcast_all([(group, event)])


# Set by `collected_broadcasts`: broadcasts go into this list instead.
_collected: ContextVar[list | None] = ContextVar("collected_broadcasts", default=None)


def broadcast_all(sends: list[tuple[str, dict]]) -> None:
    """
    Sends events to channel-layer groups, in order, in one trip to the event
    loop (or hands them to `collected_broadcasts`). The database is the
    record: when the layer is unreachable the pages catch up by fetching, so a
    failure is logged and never undoes the write that caused it.
    """
    collected = _collected.get()
    if collected is not None:
        collected.extend(sends)
        return
    async_to_sync(send_collected)(sends)


async def send_collected(sends: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    for group, event in sends:
        try:
            await layer.group_send(group, event)
        except Exception:
            logger.exception("Could not broadcast %s to %s", event.get("type"), group)


@contextmanager
def collected_broadcasts():
    """
    Collects the broadcasts of the service calls inside the block (they are
    still made only after commit) for a websocket consumer to send with
    `send_collected` from its own event loop, instead of each call blocking
    its worker thread on a trip to the loop and back.
    """
    collected: list[tuple[str, dict]] = []
    token = _collected.set(collected)
    try:
        yield collected
    finally:
        _collected.reset(token)


def unread_count(user) -> int:
    """Unread messages over all the user's conversations, in one query."""
    as_tenant = Message.objects.unread_for(user, role="tenant").values("id")
    as_owner = Message.objects.unread_for(user, role="owner").values("id")
    return as_tenant.union(as_owner, all=True).count()


def unread_count_cached(user) -> int:
    """The header badge's count, cached until a message arrives or is read."""
    return cached_count("messages", user.pk, lambda: unread_count(user))


def _unread_count_event(user_id: int) -> dict:
    """The exact count for the badge, after the user read something."""
    from accounts.models import User

    forget_count("messages", user_id)
    count = unread_count_cached(User(pk=user_id))
    return {"type": "unread.changed", "count": count}


@transaction.atomic
def conversation_start(*, listing, tenant) -> Conversation:
    """Starts, or reopens, the one conversation between a tenant and an owner."""
    if listing.owner_id == tenant.pk:
        raise MessagingError("own_listing", _("This is your own listing."))
    existing = Conversation.objects.filter(
        listing=listing, tenant=tenant, owner_id=listing.owner_id
    ).first()
    if existing:
        return existing
    if listing.status != listing.Status.PUBLISHED:
        raise MessagingError(
            "not_published", _("This listing is no longer open for messages.")
        )
    if Block.between(tenant.pk, listing.owner_id):
        raise MessagingError("blocked", _("You cannot message this owner."))
    conversation, _created = Conversation.objects.get_or_create(
        listing=listing, tenant=tenant, owner_id=listing.owner_id
    )
    return conversation


def validate_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise MessagingError("empty", _("Write a message first."))
    if len(body) > MESSAGE_MAX_LENGTH:
        raise MessagingError(
            "too_long",
            _("A message can be at most %(max)s characters; this one has %(n)s.")
            % {"max": f"{MESSAGE_MAX_LENGTH:,}", "n": f"{len(body):,}"},
        )
    return body


def message_send(
    *, conversation: Conversation, sender, client_id: uuid.UUID | str, body: str
) -> tuple[Message, bool]:
    """
    Stores a message and, once it is committed, pushes it to both participants.

    Returns `(message, created)`. Sending the same `client_id` again returns the
    stored message: a page that resends after a dropped connection never makes a
    second copy.

    One transaction per message: insert, then the conversation's update, which
    also checks for a block between the two (a block rolls the insert back).
    The transaction is opened inside, not by a decorator, so that a resend (the
    unique constraint failing) rolls back just this transaction; called within
    a caller's transaction, it is a savepoint instead.
    """
    try:
        client_id = uuid.UUID(str(client_id))
    except ValueError:
        raise MessagingError("bad_id", _("The message could not be sent.")) from None
    if not conversation.has_participant(sender):
        raise MessagingError("not_member", _("You are not part of this conversation."))
    body = validate_body(body)
    try:
        # Insert first: a resend is rare, so it is found by the unique
        # constraint instead of a lookup before every message.
        with transaction.atomic():
            message = Message.objects.create(
                conversation=conversation,
                sender=sender,
                client_id=client_id,
                body=body,
                asks_for_money=asks_for_money(body),
            )
            _record_sent(conversation, sender, message)
    except IntegrityError:
        existing = Message.objects.filter(sender=sender, client_id=client_id).first()
        if existing is None or existing.conversation_id != conversation.pk:
            raise MessagingError(
                "bad_id", _("The message could not be sent.")
            ) from None
        return existing, False
    return message, True


@cache
def _record_sent_sql(read_field: str) -> str:
    """
    The conversation's update after a new message, which is also the block
    check: no row is updated when either person blocked the other. Written out
    because it runs for every message, and building it with the ORM cost more
    CPU than the database spends on it.
    """
    if read_field not in ("tenant_read_up_to", "owner_read_up_to"):
        raise ValueError(read_field)
    quote = connection.ops.quote_name
    conversations = quote(Conversation._meta.db_table)
    blocks = quote(Block._meta.db_table)
    # Only quoted names of this schema are interpolated; values are parameters.
    return (
        f"UPDATE {conversations} SET {quote('last_message_at')} = %s, "  # noqa: S608
        f"{quote(read_field)} = %s WHERE {quote('id')} = %s AND NOT EXISTS ("
        f"SELECT 1 FROM {blocks} WHERE "
        f"({quote('blocker_id')} = %s AND {quote('blocked_id')} = %s) OR "
        f"({quote('blocker_id')} = %s AND {quote('blocked_id')} = %s))"
    )


def _record_sent(conversation: Conversation, sender, message: Message) -> None:
    last_message_at = message.created_at
    # The sender has, obviously, read everything up to their own message.
    read_field = (
        "tenant_read_up_to"
        if sender.pk == conversation.tenant_id
        else "owner_read_up_to"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _record_sent_sql(read_field),
            [
                last_message_at,
                message.pk,
                conversation.pk,
                conversation.tenant_id,
                conversation.owner_id,
                conversation.owner_id,
                conversation.tenant_id,
            ],
        )
        updated = cursor.rowcount
    if not updated:
        raise MessagingError(
            "blocked", _("Messages between you two are blocked; nothing was sent.")
        )
    conversation.last_message_at = last_message_at
    setattr(conversation, read_field, message.pk)
    recipient_id = conversation.other_participant_id(sender)
    # The recipient's badge goes up by one; pages get the exact count when
    # they load and whenever their user reads something.
    sends = [
        (
            conversation_group(conversation.pk),
            {"type": "message.new", "message": message.as_event()},
        ),
        (user_group(recipient_id), {"type": "unread.changed", "added": 1}),
    ]

    def push():
        forget_count("messages", recipient_id)
        broadcast_all(sends)

    transaction.on_commit(push)


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, user, up_to: int) -> bool:
    """
    Moves the user's "read" mark forward to `up_to` (never back, never past the
    newest message) and tells the other side it was seen.
    """
    if not conversation.has_participant(user):
        raise MessagingError("not_member", _("You are not part of this conversation."))
    newest = (
        Message.objects.in_conversation(conversation).aggregate(m=Max("id"))["m"] or 0
    )
    up_to = min(int(up_to), newest)
    field = (
        "tenant_read_up_to" if user.pk == conversation.tenant_id else "owner_read_up_to"
    )
    updated = Conversation.objects.filter(
        pk=conversation.pk, **{f"{field}__lt": up_to}
    ).update(**{field: up_to})
    if not updated:
        return False
    setattr(conversation, field, up_to)
    forget_count("messages", user.pk)  # the push after commit recounts
    event = {"type": "message.seen", "user_id": user.pk, "up_to": up_to}

    def push():
        broadcast_all(
            [
                (conversation_group(conversation.pk), event),
                (user_group(user.pk), _unread_count_event(user.pk)),
            ]
        )

    transaction.on_commit(push)
    return True


@transaction.atomic
def user_block(*, blocker, blocked) -> Block:
    """Stops all messages between two people, in both directions."""
    if blocker.pk == blocked.pk:
        raise MessagingError("self", _("You cannot block yourself."))
    block, _created = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
    return block


@transaction.atomic
def user_unblock(*, blocker, blocked) -> None:
    Block.objects.filter(blocker=blocker, blocked=blocked).delete()


@transaction.atomic
def conversation_report(
    *, conversation: Conversation, reporter, reason: str, details: str = ""
) -> Report:
    """Puts a conversation in the staff moderation queue."""
    if not conversation.has_participant(reporter):
        raise MessagingError("not_member", _("You are not part of this conversation."))
    return Report.objects.create(
        conversation=conversation,
        reporter=reporter,
        reason=reason,
        details=details.strip(),
    )


def session_end(*, user_id: int, session_key: str | None) -> None:
    """Closes the open sockets of a session that just logged out."""
    broadcast(
        user_group(user_id), {"type": "session.ended", "session_key": session_key}
    )


def unread_emails_send(*, now=None) -> int:
    """
    Emails each person with a message unread for 10 minutes, at most once per
    conversation per hour. Safe to run every minute and from two workers at once:
    each conversation row is locked while it is handled.
    """
    now = now or timezone.now()
    due_before = now - UNREAD_EMAIL_DELAY
    candidates = (
        Message.objects.filter(
            created_at__lte=due_before, created_at__gte=now - UNREAD_EMAIL_MAX_AGE
        )
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    sent = 0
    for conversation_id in list(candidates):
        sent += _email_unread_in_conversation(conversation_id, now, due_before)
    return sent


@transaction.atomic
def _email_unread_in_conversation(conversation_id, now, due_before) -> int:
    conversation = (
        Conversation.objects.select_for_update(skip_locked=True)
        .select_related("listing", "tenant", "owner")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        return 0
    sent = 0
    for recipient, read_field, emailed_field in (
        (conversation.tenant, "tenant_read_up_to", "tenant_emailed_at"),
        (conversation.owner, "owner_read_up_to", "owner_emailed_at"),
    ):
        emailed_at = getattr(conversation, emailed_field)
        if emailed_at and emailed_at > now - UNREAD_EMAIL_INTERVAL:
            continue
        unread = (
            Message.objects.in_conversation(conversation)
            .exclude(sender=recipient)
            .filter(
                id__gt=getattr(conversation, read_field), created_at__lte=due_before
            )
        )
        if emailed_at:
            unread = unread.filter(created_at__gt=emailed_at)
        first = unread.select_related("sender").order_by("id").first()
        if first is None or not recipient.is_active:
            continue
        send_templated_email(
            to=recipient.email,
            template="messaging/emails/unread_message",
            context={
                "recipient": recipient,
                "sender": first.sender,
                "message": first,
                "listing": conversation.listing,
                "count": unread.count(),
                "path": conversation.get_absolute_url(),
            },
        )
        setattr(conversation, emailed_field, now)
        conversation.save(update_fields=[emailed_field])
        sent += 1
    return sent
