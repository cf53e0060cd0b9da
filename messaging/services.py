import logging
import uuid
from datetime import timedelta
from functools import cache

from channels.db import database_sync_to_async
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.models import Exists, F, Max
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.emails import send_templated_email
from listings.stats import count_event
from messaging import events
from messaging.models import (
    MESSAGE_MAX_LENGTH,
    Block,
    Conversation,
    Message,
    Report,
    asks_for_money,
)
from nobroker import async_db
from nobroker.counters import cached_count, forget_count
from nobroker.numbers import shown

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


def validate_body(body) -> str:
    """The message's text, stripped, once it is text of an allowed length."""
    body = body.strip() if isinstance(body, str) else ""
    if not body:
        raise MessagingError("empty", _("Write a message first."))
    if len(body) > MESSAGE_MAX_LENGTH:
        raise MessagingError(
            "too_long",
            _("A message can be at most %(max)s characters; this one has %(n)s.")
            % {
                "max": shown(MESSAGE_MAX_LENGTH, grouped=True),
                "n": shown(len(body), grouped=True),
            },
        )
    return body


# --- Sending a message ---------------------------------------------------------
#
# A message is checked (`message_prepare`), stored (`message_store`, or from a
# socket `amessage_store`), and its events sent once it is committed
# (`messaging.events`). Sending the same client id again stores nothing and
# answers with the stored message.


def message_send(
    *, conversation: Conversation, sender, client_id: uuid.UUID | str, body: str
) -> tuple[Message, bool]:
    """
    Stores a message (a form post) and, once it is committed, pushes it to
    both participants. Returns `(message, created)`: sending the same
    `client_id` again returns the stored message, so a page that resends after
    a dropped connection never makes a second copy. A block between the two
    people refuses the message. Called within a caller's transaction, it
    joins it.
    """
    message = message_prepare(
        conversation=conversation, sender=sender, client_id=client_id, body=body
    )
    message, created = _message_outcome(message, *message_store(message))
    if created:
        events.send_event_on_commit(
            events.message_new(message, message.as_event()),
            forget_unread_of=conversation.other_participant_id(sender),
        )
    return message, created


async def amessage_send(
    *,
    conversation: Conversation,
    sender,
    client_id: uuid.UUID | str,
    body: str,
    counted=None,
) -> dict:
    """
    `message_send` for a websocket consumer, from its event loop; returns the
    message as the pages see it (`Message.as_event`), new or resent. The events
    leave from the loop as soon as the message is stored (committed by then).
    A new message is counted against the socket's limit `counted`
    (`ratelimits.SocketLimit`), if given.
    """
    message = message_prepare(
        conversation=conversation, sender=sender, client_id=client_id, body=body
    )
    new_id, allowed = await amessage_store(message)
    if new_id is None:
        # A resend or a refusal: rare, and looked up through Django.
        existing, _created = await database_sync_to_async(
            _message_outcome, thread_sensitive=False
        )(message, new_id, allowed)
        return existing.as_event()
    _message_outcome(message, new_id, allowed)
    event = message.as_event()
    await events.asend(
        events.message_new(message, event),
        forget_unread_of=conversation.other_participant_id(sender),
        counted=counted,
    )
    return event


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


async def amessage_store(message: Message) -> tuple[int | None, bool]:
    """
    `message_store` from an event loop. On PostgreSQL the message is one
    statement (`message_store_statement`) run from the loop itself
    (`nobroker.async_db`): for one chat message that costs less than half the
    CPU of a worker thread with Django's pooled connection. Whenever it cannot
    run there, and on other databases, `message_store` runs on a worker thread.
    """
    if async_db.enabled():
        try:
            return await async_db.fetchone(*message_store_statement(message))
        except async_db.Unavailable:
            pass
    return await database_sync_to_async(message_store, thread_sensitive=False)(message)


def message_store(message: Message) -> tuple[int | None, bool]:
    """
    Stores a checked message: `(new id, allowed)`, the id None when nothing
    was inserted (this client id was already sent, or a block). In one
    transaction: the insert, then the conversation's last-message time and
    the sender's read mark (never back), an update that is also the block
    check: no row updated means a block, and the insert is rolled back.
    """
    conversation = message.conversation
    read_field = _read_field(conversation, message.sender)
    try:
        with transaction.atomic():
            message.save(force_insert=True)
            updated = (
                Conversation.objects.filter(pk=conversation.pk)
                .exclude(
                    Exists(
                        Block.between_queryset(
                            conversation.tenant_id, conversation.owner_id
                        )
                    )
                )
                .update(
                    last_message_at=message.created_at,
                    **{read_field: Greatest(F(read_field), message.pk)},
                )
            )
            if not updated:
                raise _Blocked
    except IntegrityError:
        return None, True
    except _Blocked:
        return None, False
    return message.pk, True


class _Blocked(Exception):
    """Rolls back the insert of a message between two people with a block."""


def _message_outcome(
    message: Message, new_id: int | None, allowed: bool
) -> tuple[Message, bool]:
    """
    `(message, created)` after the store: the new message with its id and the
    caller's conversation with its new marks; or, when nothing was inserted,
    the message this client id already stored (a resend), or the refusal.
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
    message.pk = new_id
    message._state.adding = False
    message._state.db = DEFAULT_DB_ALIAS
    read_field = _read_field(conversation, message.sender)
    conversation.last_message_at = message.created_at
    setattr(conversation, read_field, max(getattr(conversation, read_field), new_id))
    return message, True


def _read_field(conversation: Conversation, user) -> str:
    return (
        "tenant_read_up_to" if user.pk == conversation.tenant_id else "owner_read_up_to"
    )


@cache
def _message_store_sql(read_field: str) -> str:
    """
    `message_store` as one PostgreSQL statement: checks for a block in either
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
    field = _read_field(conversation, user)
    updated = Conversation.objects.filter(
        pk=conversation.pk, **{f"{field}__lt": up_to}
    ).update(**{field: up_to})
    if not updated:
        return False
    setattr(conversation, field, up_to)
    forget_count("messages", user.pk)  # the count sent after commit is recounted
    events.send_event_on_commit(
        lambda: [
            (
                events.conversation_group(conversation.pk),
                {"type": "message.seen", "user_id": user.pk, "up_to": up_to},
            ),
            (events.user_group(user.pk), _unread_count_event(user.pk)),
        ]
    )
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
    events.send_event_on_commit(
        [
            (
                events.user_group(user_id),
                {"type": "session.ended", "session_key": session_key},
            )
        ]
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
