import logging
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from functools import cache

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.emails import send_templated_email
from listings.stats import count_event
from messaging.models import (
    MESSAGE_MAX_LENGTH,
    Block,
    Conversation,
    Message,
    Report,
    asks_for_money,
)
from nobroker import async_db
from nobroker.counters import aforget_count, cached_count, forget_count

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
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None and len(sends) > 1:
        # One trip to Redis for all of them (nobroker.channel_layers).
        try:
            await send_many(sends)
        except Exception:
            logger.exception(
                "Could not broadcast %s",
                ", ".join(f"{event.get('type')} to {group}" for group, event in sends),
            )
        return
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
    conversation, created = Conversation.objects.get_or_create(
        listing=listing, tenant=tenant, owner_id=listing.owner_id
    )
    if created:
        count_event("contact", listing.pk)
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
    second copy. A block between the two people refuses the message.

    On PostgreSQL the message is stored in one statement (see
    `_message_store_sql`); elsewhere in one transaction: the insert, then the
    conversation's update, which is also the block check (a block rolls the
    insert back). Called within a caller's transaction, it joins it.
    """
    message = message_prepare(
        conversation=conversation, sender=sender, client_id=client_id, body=body
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(*message_store_statement(message))
            new_id, allowed = cursor.fetchone()
    else:
        new_id, allowed = _store_in_a_transaction(message)
    return message_stored(message, new_id=new_id, allowed=allowed)


def message_prepare(
    *, conversation: Conversation, sender, client_id: uuid.UUID | str, body: str
) -> Message:
    """The message to store, once the sender and the text pass every check."""
    try:
        client_id = uuid.UUID(str(client_id))
    except ValueError:
        raise MessagingError("bad_id", _("The message could not be sent.")) from None
    if not conversation.has_participant(sender):
        raise MessagingError("not_member", _("You are not part of this conversation."))
    body = validate_body(body)
    return Message(
        conversation=conversation,
        sender=sender,
        client_id=client_id,
        body=body,
        asks_for_money=asks_for_money(body),
        created_at=timezone.now(),
    )


def message_stored(
    message: Message, *, new_id: int | None, allowed: bool
) -> tuple[Message, bool]:
    """
    `(message, created)` after the store: the new message, to be broadcast
    after commit; or, when nothing was inserted, the message this client id
    already stored (a resend), or the reason for the refusal.
    """
    conversation = message.conversation
    if new_id is None:
        # Resends are rare, so they are looked up only now instead of before
        # every insert.
        existing = Message.objects.filter(
            sender_id=message.sender_id, client_id=message.client_id
        ).first()
        if existing is not None and existing.conversation_id == conversation.pk:
            return existing, False
        if not allowed:
            raise MessagingError(
                "blocked", _("Messages between you two are blocked; nothing was sent.")
            )
        raise MessagingError("bad_id", _("The message could not be sent."))
    _message_created(message, new_id)
    transaction.on_commit(message_broadcasts(message).send)
    return message, True


def _message_created(message: Message, new_id: int) -> None:
    """The stored message gets its id; the caller's conversation, its new marks."""
    message.pk = new_id
    message._state.adding = False
    message._state.db = DEFAULT_DB_ALIAS
    conversation = message.conversation
    read_field = _read_field(conversation, message.sender)
    conversation.last_message_at = message.created_at
    setattr(conversation, read_field, max(getattr(conversation, read_field), new_id))


async def amessage_send(
    *, conversation: Conversation, sender, client_id: uuid.UUID | str, body: str
) -> dict:
    """
    `message_send` for a websocket consumer, from its event loop; returns the
    message as the pages see it (`Message.as_event`), new or resent.

    On PostgreSQL the one statement runs from the loop itself (see
    `nobroker.async_db`) and the broadcasts leave as soon as it returns, when
    the message is committed. Elsewhere, and whenever that statement could not
    run, `message_send` runs on a worker thread as any database call of a
    consumer does, and its broadcasts are sent from the loop.
    """
    if async_db.enabled():
        message = message_prepare(
            conversation=conversation, sender=sender, client_id=client_id, body=body
        )
        try:
            new_id, allowed = await async_db.fetchone(*message_store_statement(message))
        except async_db.Unavailable:
            pass
        else:
            if new_id is None:
                # A resend or a refusal: rare, and looked up through Django.
                existing, _created = await database_sync_to_async(
                    message_stored, thread_sensitive=False
                )(message, new_id=None, allowed=allowed)
                return existing.as_event()
            _message_created(message, new_id)
            event = message.as_event()
            await message_broadcasts(message, event).asend()
            return event
    event, sends = await database_sync_to_async(
        _message_send_collecting, thread_sensitive=False
    )(conversation=conversation, sender=sender, client_id=client_id, body=body)
    await send_collected(sends)
    return event


def _message_send_collecting(**kwargs) -> tuple[dict, list]:
    with collected_broadcasts() as sends:
        message, _created = message_send(**kwargs)
    return message.as_event(), sends


class Broadcasts:
    """
    What a stored message sends once it is committed: the `(group, event)`
    pairs, after forgetting the recipient's cached unread count.
    """

    def __init__(self, sends: list[tuple[str, dict]], *, forget_user_id: int):
        self.sends = sends
        self.forget_user_id = forget_user_id

    def send(self) -> None:
        forget_count("messages", self.forget_user_id)
        broadcast_all(self.sends)

    async def asend(self) -> None:
        """`send` from an event loop."""
        await aforget_count("messages", self.forget_user_id)
        await send_collected(self.sends)


def message_broadcasts(message: Message, event: dict | None = None) -> Broadcasts:
    conversation = message.conversation
    recipient_id = conversation.other_participant_id(message.sender)
    # The recipient's badge goes up by one; pages get the exact count when
    # they load and whenever their user reads something.
    return Broadcasts(
        [
            (
                conversation_group(conversation.pk),
                {"type": "message.new", "message": event or message.as_event()},
            ),
            (user_group(recipient_id), {"type": "unread.changed", "added": 1}),
        ],
        forget_user_id=recipient_id,
    )


def _read_field(conversation: Conversation, user) -> str:
    return (
        "tenant_read_up_to" if user.pk == conversation.tenant_id else "owner_read_up_to"
    )


@cache
def _message_store_sql(read_field: str) -> str:
    """
    One PostgreSQL statement for a new message: checks for a block in either
    direction, inserts the message unless there is one or the sender already
    sent this client id, and moves the conversation's last-message time and
    the sender's read mark (never back). Returns the new id (NULL when nothing
    was inserted) and whether no block was found. One statement is atomic on
    its own: no transaction to open and commit, one trip to the database.
    """
    if read_field not in ("tenant_read_up_to", "owner_read_up_to"):
        raise ValueError(read_field)
    quote = connection.ops.quote_name
    messages = quote(Message._meta.db_table)
    conversations = quote(Conversation._meta.db_table)
    blocks = quote(Block._meta.db_table)
    read = quote(read_field)
    # Only quoted names of this schema are interpolated; values are parameters.
    return (
        "WITH allowed AS (SELECT NOT EXISTS ("  # noqa: S608
        f"SELECT 1 FROM {blocks} WHERE "
        '("blocker_id" = %(tenant)s AND "blocked_id" = %(owner)s) OR '
        '("blocker_id" = %(owner)s AND "blocked_id" = %(tenant)s)) AS ok), '
        f"inserted AS (INSERT INTO {messages} "
        '("conversation_id", "sender_id", "client_id", "body", "asks_for_money", '
        '"created_at") '
        "SELECT %(conversation)s, %(sender)s, %(client_id)s, %(body)s, %(money)s, "
        "%(created_at)s FROM allowed WHERE ok "
        'ON CONFLICT ("sender_id", "client_id") DO NOTHING RETURNING "id"), '
        f"updated AS (UPDATE {conversations} "
        'SET "last_message_at" = %(created_at)s, '
        f'{read} = GREATEST({conversations}.{read}, inserted."id") '
        f'FROM inserted WHERE {conversations}."id" = %(conversation)s) '
        'SELECT (SELECT "id" FROM inserted), (SELECT ok FROM allowed)'
    )


def message_store_statement(message: Message) -> tuple[str, dict]:
    """The PostgreSQL statement that stores `message`, and its parameters."""
    conversation = message.conversation
    return _message_store_sql(_read_field(conversation, message.sender)), {
        "tenant": conversation.tenant_id,
        "owner": conversation.owner_id,
        "conversation": conversation.pk,
        "sender": message.sender_id,
        "client_id": message.client_id,
        "body": message.body,
        "money": message.asks_for_money,
        "created_at": message.created_at,
    }


def _store_in_a_transaction(message: Message) -> tuple[int | None, bool]:
    """
    `(new id, allowed)` on databases without data-modifying `WITH`: the
    insert, then the conversation's update, which is also the block check (no
    row updated means a block, and the insert is rolled back).
    """
    conversation = message.conversation
    new_id, allowed = None, True
    try:
        with transaction.atomic():
            message.save(force_insert=True)
            with connection.cursor() as cursor:
                cursor.execute(
                    _record_sent_sql(_read_field(conversation, message.sender)),
                    [
                        message.created_at,
                        message.pk,
                        message.pk,
                        conversation.pk,
                        conversation.tenant_id,
                        conversation.owner_id,
                        conversation.owner_id,
                        conversation.tenant_id,
                    ],
                )
                if not cursor.rowcount:
                    raise _Blocked
            new_id = message.pk
    except IntegrityError:
        pass
    except _Blocked:
        allowed = False
    return new_id, allowed


class _Blocked(Exception):
    """Rolls back the insert of a message between two people with a block."""


@cache
def _record_sent_sql(read_field: str) -> str:
    """
    The conversation's update after a new message, which is also the block
    check: no row is updated when either person blocked the other. The
    sender's read mark never moves back.
    """
    if read_field not in ("tenant_read_up_to", "owner_read_up_to"):
        raise ValueError(read_field)
    quote = connection.ops.quote_name
    conversations = quote(Conversation._meta.db_table)
    blocks = quote(Block._meta.db_table)
    read = quote(read_field)
    # Only quoted names of this schema are interpolated; values are parameters.
    return (
        f"UPDATE {conversations} SET {quote('last_message_at')} = %s, "  # noqa: S608
        f"{read} = CASE WHEN {read} < %s THEN %s ELSE {read} END "
        f"WHERE {quote('id')} = %s AND NOT EXISTS ("
        f"SELECT 1 FROM {blocks} WHERE "
        f"({quote('blocker_id')} = %s AND {quote('blocked_id')} = %s) OR "
        f"({quote('blocker_id')} = %s AND {quote('blocked_id')} = %s))"
    )


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
