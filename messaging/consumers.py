import json
import time
from collections import deque
from datetime import datetime
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.translation import gettext as _

from messaging.events import conversation_group, user_group
from messaging.models import Conversation, Message, message_time
from messaging.services import MessagingError, amessage_send, conversation_mark_read
from nobroker import ratelimits
from nobroker.channel_layers import channel_end
from nobroker.consumers import SiteSocket

# Close codes the page understands: it stops reconnecting on these.
CLOSE_NOT_ALLOWED = 4403
CLOSE_LOGGED_OUT = 4401


class TokenBucket:
    """
    Flood control for one sender's socket: `capacity` messages at once, then
    `rate` per second. Only that socket is slowed; everybody else is unaffected.
    """

    def __init__(self, capacity: float = 10, rate: float = 2):
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def off_thread(func):
    """
    `database_sync_to_async` on a pool thread instead of the one shared sync
    thread: sockets then wait on PostgreSQL side by side, not one after another.
    Each call is a self-contained service call, so no thread affinity is needed.
    """
    return database_sync_to_async(func, thread_sensitive=False)


def _query_int(scope, name: str) -> int:
    values = parse_qs(scope.get("query_string", b"").decode()).get(name)
    try:
        return max(0, int(values[0])) if values else 0
    except ValueError:
        return 0


def _page_language(scope, user) -> str:
    """The language of the page that opened the socket (its `lang`), else the
    person's own."""
    values = parse_qs(scope.get("query_string", b"").decode()).get("lang")
    if values and values[0] in dict(settings.LANGUAGES):
        return values[0]
    return user.language or settings.LANGUAGE_CODE


def unread_payload(event: dict) -> dict:
    """The badge's exact `count`, or how many messages were `added` to it."""
    if "count" in event:
        return {"type": "unread", "count": event["count"]}
    return {"type": "unread", "added": event["added"]}


class SessionSocket(SiteSocket):
    """Both sockets close when their session logs out."""

    async def ended(self) -> None:
        # However the socket ended, nothing of it stays subscribed.
        if getattr(self, "channel_name", None):
            await channel_end(self.channel_layer, self.channel_name, self.groups)

    async def dispatch(self, message):
        """
        Handles an event directly. Channels' own `dispatch` first closes stale
        database connections on the one shared sync thread, for every event
        (each message, typing mark and badge update of every socket), which
        queued the events of all sockets behind that thread. These consumers
        touch the database only through `database_sync_to_async`, which does
        that cleanup itself on its own thread.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def join(self, *groups: str) -> None:
        """
        Joins the groups and keeps them in `self.groups`, the list Channels'
        own disconnect handler walks to leave them when the socket closes.
        """
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)

    async def session_ended(self, event):
        session = self.scope.get("session")
        mine = session.session_key if session is not None else None
        if event.get("session_key") in (None, mine):
            await self.close(code=CLOSE_LOGGED_OUT)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """
        JSON text frames go to `receive_json`; anything else (a binary frame,
        which Channels' JSON consumer answers with an exception and a closed
        socket) gets an error the page can show.
        """
        if text_data is None:
            await self.send_error(
                "binary", _("This connection only takes text messages.")
            )
            return
        await self.receive_json(await self.decode_json(text_data), **kwargs)

    async def send_error(self, code: str, message: str, client_id: str = ""):
        await self.send_json(
            {"type": "error", "code": code, "message": message, "client_id": client_id}
        )

    @classmethod
    async def decode_json(cls, text_data):
        try:
            content = json.loads(text_data)
        except ValueError:
            return {}
        return content if isinstance(content, dict) else {}


class ConversationConsumer(SessionSocket):
    """Live messages, typing and "seen" marks of one conversation."""

    typing_interval = 2.0

    async def connect(self):
        self.user = self.scope["user"]
        if not self.user.is_authenticated:
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        pk = self.scope["url_route"]["kwargs"]["pk"]
        self.conversation = await off_thread(
            Conversation.objects.for_user(self.user).filter(pk=pk).first
        )()
        if self.conversation is None:
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        self.bucket = TokenBucket()
        # Sends count as the form's posts do (messaging:detail).
        self.limit = ratelimits.SocketLimit("messaging:detail", self.scope)
        await self.limit.begin()
        # Times of the messages this socket sends are written as its page
        # writes them: language, digits and calendar choice.
        self.language = _page_language(self.scope, self.user)
        self.bs_only = self.user.calendar_bs_only
        # Client ids of the messages this socket sent lately.
        self.answered = deque(maxlen=20)
        self.last_typing = 0.0
        await self.join(conversation_group(pk), user_group(self.user.pk))
        await self.accept()
        # Joined the group first, then read the gap: a message sent in between
        # arrives twice at worst, and the page keeps one copy per id.
        after = _query_int(self.scope, "after")
        if after:
            missed = Message.objects.in_conversation(self.conversation).after(after)
            for message in await off_thread(missed.events)(limit=500):
                await self.send_json(
                    {"type": "message", "message": self.for_page(message)}
                )

    async def receive_json(self, content, **kwargs):
        kind = content.get("type")
        if kind == "message":
            await self.send_message(content)
        elif kind == "typing":
            now = time.monotonic()
            if now - self.last_typing >= self.typing_interval:
                self.last_typing = now
                await self.channel_layer.group_send(
                    conversation_group(self.conversation.pk),
                    {"type": "typing.started", "user_id": self.user.pk},
                )
        elif kind == "seen":
            try:
                up_to = int(content.get("up_to"))
            except (TypeError, ValueError):
                return
            await off_thread(conversation_mark_read)(
                conversation=self.conversation, user=self.user, up_to=up_to
            )
        else:
            await self.send_error("unknown", _("The page sent something unexpected."))

    async def send_message(self, content):
        client_id = str(content.get("client_id") or "")
        if self.limit.wait() or not self.bucket.take():
            await self.send_error(
                "slow_down",
                _(
                    "You are sending messages too fast. Wait a few seconds and send again."
                ),
                client_id,
            )
            return
        try:
            # Stored, and broadcast to the others, before this returns.
            message = await amessage_send(
                conversation=self.conversation,
                sender=self.user,
                client_id=client_id,
                body=content.get("body"),
                counted=self.limit,
            )
        except MessagingError as error:
            await self.send_error(error.code, error.message, client_id)
            return
        self.answered.append(message["client_id"])
        # The sender hears back even on a resend, which broadcasts nothing.
        await self.send_json({"type": "message", "message": self.for_page(message)})

    async def message_new(self, event):
        message = event["message"]
        # This socket sent it and already had it back; the sender's other
        # pages still get it from the group.
        if message["client_id"] in self.answered:
            return
        await self.send_json({"type": "message", "message": self.for_page(message)})

    def for_page(self, message: dict) -> dict:
        """The message with its time as this socket's page writes it (the
        event was made once, in its sender's language)."""
        created = datetime.fromisoformat(message["created_at"])
        return {**message, "time": message_time(created, self.language, self.bs_only)}

    async def message_seen(self, event):
        await self.send_json(
            {"type": "seen", "user_id": event["user_id"], "up_to": event["up_to"]}
        )

    async def typing_started(self, event):
        if event["user_id"] != self.user.pk:
            await self.send_json({"type": "typing", "user_id": event["user_id"]})

    async def unread_changed(self, event):
        await self.send_json(unread_payload(event))


class UnreadConsumer(SessionSocket):
    """Keeps the header's unread badge current on every page."""

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        await self.join(user_group(user.pk))
        await self.accept()

    async def receive_json(self, content, **kwargs):
        # The page only listens on this socket.
        pass

    async def unread_changed(self, event):
        await self.send_json(unread_payload(event))
