"""
What messaging pushes to open pages, and the one way it is sent: after the
write that caused it is committed (as Zulip's `send_event_on_commit`), to the
channel-layer groups `conversation_<id>` and `user_<id>`.

The database is the record: when the layer is unreachable the pages catch up
by fetching, so a failed send is logged and never undoes the write.
"""

import functools
import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from nobroker.counters import aforget_count, count_key, forget_count

logger = logging.getLogger(__name__)

Sends = list[tuple[str, dict]]


def user_group(user_id: int) -> str:
    return f"user_{user_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation_{conversation_id}"


def message_new(message, event: dict) -> Sends:
    """
    A new message to its conversation's pages, and one more unread on the
    recipient's badge (no count is run per message; pages get the exact count
    when they load and whenever their user reads something).
    """
    conversation = message.conversation
    recipient_id = conversation.other_participant_id(message.sender)
    return [
        (
            conversation_group(conversation.pk),
            {"type": "message.new", "message": event},
        ),
        (user_group(recipient_id), {"type": "unread.changed", "added": 1}),
    ]


def send_event_on_commit(
    sends: Sends | Callable[[], Sends], *, forget_unread_of: int | None = None
) -> None:
    """
    Sends the events once the current transaction commits (at once outside
    one). `sends` may be a function, to build events from committed data;
    `forget_unread_of` drops that user's cached unread count first.
    """

    def on_commit():
        if forget_unread_of is not None:
            forget_count("messages", forget_unread_of)
        send(sends() if callable(sends) else sends)

    transaction.on_commit(on_commit)


def send(sends: Sends) -> None:
    """Sends events now, from a worker thread (see `asend`)."""
    async_to_sync(asend)(sends)


@functools.cache
def _cache_rides_with_layer() -> bool:
    """Whether the cache lives in the channel layer's one Redis (the usual setup)."""
    layer = settings.CHANNEL_LAYERS.get("default", {})
    hosts = layer.get("CONFIG", {}).get("hosts", ())
    cache = settings.CACHES["default"]
    return cache["BACKEND"] == "django_redis.cache.RedisCache" and list(hosts) == [
        cache["LOCATION"]
    ]


async def asend(
    sends: Sends, *, forget_unread_of: int | None = None, counted=None
) -> None:
    """
    Sends events now, from the event loop, in order and in one trip to Redis
    when the layer can (`nobroker.channel_layers`). Only for writes already
    committed. `counted`, a socket's `ratelimits.SocketLimit`, counts the
    write; it and the forgetting of the unread count ride in the events' own
    trip when the cache is the layer's Redis, else take one trip of their own.
    """
    layer = get_channel_layer()
    send_many = getattr(layer, "group_send_many", None)
    forget = (
        [] if forget_unread_of is None else [count_key("messages", forget_unread_of)]
    )
    try:
        if counted is not None and send_many is not None and _cache_rides_with_layer():
            plan = counted.plan(forget=forget)
            counted.learn(plan, await send_many(sends, then=plan.commands))
            return
        if counted is not None:
            await counted.count(forget=forget)
        elif forget_unread_of is not None:
            await aforget_count("messages", forget_unread_of)
        if send_many is not None and len(sends) > 1:
            await send_many(sends)
            return
        for group, event in sends:
            await layer.group_send(group, event)
    except Exception:
        logger.exception(
            "Could not send %s",
            ", ".join(f"{event.get('type')} to {group}" for group, event in sends),
        )
