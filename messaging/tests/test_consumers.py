"""
The websocket, end to end through the project's ASGI application (origin check,
session authentication, routing) and the configured channel layer: Redis when
REDIS_URL is set (as in CI), in-memory otherwise.
"""

import asyncio
import logging
import re
import uuid
from urllib.parse import urlsplit

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import translation

from accounts.tests.factories import UserFactory
from messaging import events, services
from messaging.consumers import CLOSE_LOGGED_OUT
from messaging.models import Block, Message, message_time
from messaging.tests.factories import ConversationFactory, MessageFactory
from nobroker import async_db, bsdate
from nobroker.asgi import application
from nobroker.counters import cached_count

pytestmark = pytest.mark.django_db(transaction=True)

# The default origin of `socket`: the site's own.
SITE = object()


@pytest.fixture(autouse=True)
async def _close_event_loop_pools():
    """Each test runs in its own event loop; its database pool ends with it."""
    yield
    await async_db.close_all()


class Session:
    """A logged-in browser: its test client and its session cookie."""

    def __init__(self, user):
        self.user = user
        self.client = Client()
        self.client.force_login(user)
        self.cookie = self.client.cookies["sessionid"].value


def site_origin(host: str = "localhost") -> bytes:
    """The site's origin (scheme and port of SITE_URL) on one of its hosts."""
    site = urlsplit(settings.SITE_URL)
    port = f":{site.port}" if site.port else ""
    return f"{site.scheme}://{host}{port}".encode()


def socket(path, session=None, origin=SITE):
    headers = [(b"host", b"localhost")]
    if origin is SITE:
        origin = site_origin()
    if origin:
        headers.append((b"origin", origin))
    if session:
        headers.append((b"cookie", f"sessionid={session.cookie}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.fixture
def conversation():
    return ConversationFactory()


@pytest.fixture
def tenant_session(conversation):
    return Session(conversation.tenant)


@pytest.fixture
def owner_session(conversation):
    return Session(conversation.owner)


def path_of(conversation, after=None):
    path = f"/ws/messages/{conversation.pk}/"
    return f"{path}?after={after}" if after is not None else path


async def receive_type(communicator, kind, timeout=2):
    """The next event of one type, skipping others (unread counts, typing)."""
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        if event["type"] == kind:
            return event


async def test_anonymous_socket_is_refused(conversation):
    communicator = socket(path_of(conversation))
    connected, _code = await communicator.connect()
    assert not connected
    communicator = socket("/ws/messages/")
    connected, _code = await communicator.connect()
    assert not connected


async def test_non_member_socket_is_refused(conversation):
    outsider = await database_sync_to_async(Session)(
        await database_sync_to_async(UserFactory)()
    )
    communicator = socket(path_of(conversation), outsider)
    connected, _code = await communicator.connect()
    assert not connected


async def test_foreign_origin_is_refused(conversation, tenant_session):
    communicator = socket(
        path_of(conversation), tenant_session, origin=b"https://evil.example"
    )
    connected, _code = await communicator.connect()
    assert not connected
    communicator = socket(path_of(conversation), tenant_session, origin=None)
    connected, _code = await communicator.connect()
    assert not connected


async def test_origin_must_match_the_sites_scheme_host_and_port(
    conversation, tenant_session, settings
):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.np"]
    refused = [
        b"http://127.0.0.1:9999",
        b"https://127.0.0.1:8000",
        b"ws://127.0.0.1:8000",
        b"http://127.0.0.1",
        b"http://localhost:8001",
        b"http://127.0.0.1.evil.example:8000",
        b"http://example.np",
        b"null",
    ]
    accepted = [
        b"http://127.0.0.1:8000",
        b"http://localhost:8000",
        b"HTTP://LOCALHOST:8000",
        b"https://chat.example.np",
    ]
    for origin in refused:
        communicator = socket(path_of(conversation), tenant_session, origin=origin)
        assert not (await communicator.connect())[0], origin
    for origin in accepted:
        communicator = socket(path_of(conversation), tenant_session, origin=origin)
        assert (await communicator.connect())[0], origin
        await communicator.disconnect()


async def test_binary_frame_is_answered_with_an_error_and_no_traceback(
    conversation, tenant_session, caplog
):
    caplog.set_level(logging.DEBUG)
    for path in (path_of(conversation), "/ws/messages/"):
        communicator = socket(path, tenant_session)
        assert (await communicator.connect())[0]
        await communicator.send_to(bytes_data=b"\x00\xffnot text")
        error = await receive_type(communicator, "error")
        assert error["code"] == "binary"
        assert error["message"] == "This connection only takes text messages."
        # The socket stays open and still works.
        await communicator.send_to(text_data="{}")
        if path == "/ws/messages/":
            assert await communicator.receive_nothing(timeout=0.2)
        else:
            assert (await receive_type(communicator, "error"))["code"] == "unknown"
        await communicator.disconnect()
    assert not [record for record in caplog.records if record.exc_info]


async def test_message_reaches_the_other_participant_and_is_stored_first(
    conversation, tenant_session, owner_session
):
    tenant = socket(path_of(conversation), tenant_session)
    owner = socket(path_of(conversation), owner_session)
    assert (await tenant.connect())[0]
    assert (await owner.connect())[0]
    client_id = str(uuid.uuid4())
    await tenant.send_json_to(
        {"type": "message", "client_id": client_id, "body": "Namaste! Still free?"}
    )
    received = await receive_type(owner, "message")
    assert received["message"]["body"] == "Namaste! Still free?"
    stored = await database_sync_to_async(Message.objects.get)(
        pk=received["message"]["id"]
    )
    assert str(stored.client_id) == client_id
    # The owner's badge goes up by one.
    assert await receive_type(owner, "unread") == {"type": "unread", "added": 1}
    await tenant.disconnect()
    await owner.disconnect()


async def test_each_page_gets_the_message_time_written_in_its_own_language(
    conversation, tenant_session, owner_session
):
    """The tenant's page is in English, the owner's in Nepali (with BS dates
    only): each socket writes the time as its page writes the others."""
    owner = conversation.owner
    owner.calendar_bs_only = True
    await database_sync_to_async(owner.save)(update_fields=["calendar_bs_only"])
    tenant = socket(path_of(conversation) + "?lang=en", tenant_session)
    owner_socket = socket(path_of(conversation) + "?lang=ne", owner_session)
    assert (await tenant.connect())[0]
    assert (await owner_socket.connect())[0]
    await tenant.send_json_to(
        {"type": "message", "client_id": str(uuid.uuid4()), "body": "Namaste"}
    )
    mine = (await receive_type(tenant, "message"))["message"]
    theirs = (await receive_type(owner_socket, "message"))["message"]
    stored = await database_sync_to_async(Message.objects.get)(pk=mine["id"])
    with translation.override("en"):
        assert mine["time"] == message_time(stored.created_at)
    assert re.fullmatch(
        r"\w{3}, \d{1,2} \w{3} · \d{1,2}:\d{2} [AP]M \(.+ BS\)", mine["time"]
    )
    token = bsdate.bs_only.set(True)
    try:
        with translation.override("ne"):
            assert theirs["time"] == message_time(stored.created_at)
    finally:
        bsdate.bs_only.reset(token)
    assert not re.search("[0-9]", theirs["time"]) and re.search("[०-९]", theirs["time"])
    # Everything else is the same event.
    assert {**theirs, "time": ""} == {**mine, "time": ""}
    await tenant.disconnect()
    await owner_socket.disconnect()


async def test_sender_gets_its_message_back_once_and_its_other_tab_too(
    conversation, tenant_session
):
    sending = socket(path_of(conversation), tenant_session)
    other_tab = socket(path_of(conversation), tenant_session)
    assert (await sending.connect())[0]
    assert (await other_tab.connect())[0]
    client_id = str(uuid.uuid4())
    await sending.send_json_to(
        {"type": "message", "client_id": client_id, "body": "Hi"}
    )
    echo = await receive_type(sending, "message")
    assert echo["message"]["client_id"] == client_id
    assert (await receive_type(other_tab, "message"))["message"]["client_id"] == (
        client_id
    )
    # The group's copy is not sent again to the socket that already has it.
    assert await sending.receive_nothing(timeout=0.3)
    await sending.disconnect()
    await other_tab.disconnect()


async def test_oversize_message_is_refused_with_a_reason(conversation, tenant_session):
    tenant = socket(path_of(conversation), tenant_session)
    await tenant.connect()
    await tenant.send_json_to(
        {"type": "message", "client_id": str(uuid.uuid4()), "body": "x" * 2001}
    )
    error = await receive_type(tenant, "error")
    assert error["code"] == "too_long"
    assert "2,000" in error["message"]
    assert not await database_sync_to_async(Message.objects.exists)()
    await tenant.disconnect()


async def test_resending_the_same_message_stores_it_once(conversation, tenant_session):
    tenant = socket(path_of(conversation), tenant_session)
    await tenant.connect()
    payload = {"type": "message", "client_id": str(uuid.uuid4()), "body": "Once"}
    await tenant.send_json_to(payload)
    first = await receive_type(tenant, "message")
    await tenant.send_json_to(payload)
    again = await receive_type(tenant, "message")
    assert first["message"]["id"] == again["message"]["id"]
    assert await database_sync_to_async(Message.objects.count)() == 1
    await tenant.disconnect()


async def test_flooding_sender_is_slowed_and_the_other_person_is_not(
    conversation, tenant_session, owner_session
):
    tenant = socket(path_of(conversation), tenant_session)
    owner = socket(path_of(conversation), owner_session)
    await tenant.connect()
    await owner.connect()
    for n in range(15):
        await tenant.send_json_to(
            {"type": "message", "client_id": str(uuid.uuid4()), "body": f"spam {n}"}
        )
    error = await receive_type(tenant, "error", timeout=5)
    assert error["code"] == "slow_down"
    assert "too fast" in error["message"]
    stored = await database_sync_to_async(Message.objects.count)()
    assert 10 <= stored < 15
    await owner.send_json_to(
        {"type": "message", "client_id": str(uuid.uuid4()), "body": "I am fine"}
    )
    while True:
        event = await receive_type(owner, "message", timeout=5)
        if event["message"]["body"] == "I am fine":
            break
    await tenant.disconnect()
    await owner.disconnect()


async def test_reconnect_gets_everything_since_the_last_message_it_had(
    conversation, tenant_session
):
    seen = await database_sync_to_async(MessageFactory)(conversation=conversation)
    missed = [
        await database_sync_to_async(MessageFactory)(
            conversation=conversation, sender=conversation.owner
        )
        for _ in range(3)
    ]
    tenant = socket(path_of(conversation, after=seen.pk), tenant_session)
    assert (await tenant.connect())[0]
    ids = [(await receive_type(tenant, "message"))["message"]["id"] for _ in missed]
    assert ids == [m.pk for m in missed]
    assert await tenant.receive_nothing(timeout=0.2)
    await tenant.disconnect()


async def test_typing_and_seen_reach_the_other_side(
    conversation, tenant_session, owner_session
):
    message = await database_sync_to_async(MessageFactory)(conversation=conversation)
    tenant = socket(path_of(conversation), tenant_session)
    owner = socket(path_of(conversation), owner_session)
    await tenant.connect()
    await owner.connect()
    await owner.send_json_to({"type": "typing"})
    typing = await receive_type(tenant, "typing")
    assert typing["user_id"] == conversation.owner_id
    await owner.send_json_to({"type": "seen", "up_to": message.pk})
    seen = await receive_type(tenant, "seen")
    assert seen == {
        "type": "seen",
        "user_id": conversation.owner_id,
        "up_to": message.pk,
    }
    # The reader's pages get the exact count, now that they read everything.
    assert await receive_type(owner, "unread") == {"type": "unread", "count": 0}
    await tenant.disconnect()
    await owner.disconnect()


async def test_logging_out_closes_that_sessions_sockets(conversation, tenant_session):
    chat = socket(path_of(conversation), tenant_session)
    badge = socket("/ws/messages/", tenant_session)
    assert (await chat.connect())[0]
    assert (await badge.connect())[0]
    await database_sync_to_async(tenant_session.client.post)("/accounts/logout/")
    for communicator in (chat, badge):
        while True:
            output = await communicator.receive_output(timeout=2)
            if output["type"] == "websocket.close":
                assert output["code"] == CLOSE_LOGGED_OUT
                break
    # The session is gone: a new socket with the old cookie is refused.
    again = socket(path_of(conversation), tenant_session)
    assert not (await again.connect())[0]


async def test_unread_badge_socket_hears_new_messages_on_any_page(
    conversation, tenant_session, owner_session
):
    badge = socket("/ws/messages/", owner_session)
    tenant = socket(path_of(conversation), tenant_session)
    assert (await badge.connect())[0]
    await tenant.connect()
    await tenant.send_json_to(
        {"type": "message", "client_id": str(uuid.uuid4()), "body": "Hi"}
    )
    assert await badge.receive_json_from(timeout=2) == {"type": "unread", "added": 1}
    await badge.disconnect()
    await tenant.disconnect()


async def test_garbage_from_the_page_is_answered_not_crashed(
    conversation, tenant_session
):
    tenant = socket(path_of(conversation), tenant_session)
    await tenant.connect()
    await tenant.send_to(text_data="{not json")
    assert (await receive_type(tenant, "error"))["code"] == "unknown"
    await tenant.send_json_to({"type": "seen", "up_to": "many"})
    await asyncio.sleep(0.05)
    await tenant.send_json_to({"type": "message", "client_id": "x", "body": "Hi"})
    assert (await receive_type(tenant, "error"))["code"] == "bad_id"
    await tenant.disconnect()


async def test_blocked_pair_hears_why_on_the_socket_and_nothing_is_stored(
    conversation, tenant_session
):
    await database_sync_to_async(Block.objects.create)(
        blocker=conversation.owner, blocked=conversation.tenant
    )
    tenant = socket(path_of(conversation), tenant_session)
    assert (await tenant.connect())[0]
    await tenant.send_json_to(
        {"type": "message", "client_id": str(uuid.uuid4()), "body": "Hello?"}
    )
    assert (await receive_type(tenant, "error"))["code"] == "blocked"
    assert not await database_sync_to_async(Message.objects.exists)()
    await tenant.disconnect()


async def test_new_message_forgets_the_recipients_cached_unread_count(
    conversation, tenant_session, owner_session
):
    def badge_count():
        return cached_count("messages", conversation.owner_id, lambda: 0)

    assert await database_sync_to_async(badge_count)() == 0  # cached: 0
    tenant = socket(path_of(conversation), tenant_session)
    owner = socket(path_of(conversation), owner_session)
    assert (await tenant.connect())[0]
    assert (await owner.connect())[0]
    await tenant.send_json_to(
        {"type": "message", "client_id": str(uuid.uuid4()), "body": "Hi"}
    )
    await receive_type(owner, "message")
    # The next page load counts again instead of showing the cached 0.
    recount = await database_sync_to_async(cached_count)(
        "messages", conversation.owner_id, lambda: -1
    )
    assert recount == -1
    await tenant.disconnect()
    await owner.disconnect()


async def test_on_postgresql_a_message_is_stored_without_a_worker_thread(
    conversation, tenant_session, owner_session, monkeypatch
):
    if not async_db.enabled():
        pytest.skip("The event loop's own statement needs PostgreSQL.")

    def no_thread(message):
        raise AssertionError("message_store ran on a worker thread")

    monkeypatch.setattr(services, "message_store", no_thread)
    tenant = socket(path_of(conversation), tenant_session)
    owner = socket(path_of(conversation), owner_session)
    assert (await tenant.connect())[0]
    assert (await owner.connect())[0]
    await tenant.send_json_to(
        {"type": "message", "client_id": str(uuid.uuid4()), "body": "Namaste"}
    )
    received = await receive_type(owner, "message")
    assert received["message"]["body"] == "Namaste"
    echo = await receive_type(tenant, "message")
    assert echo["message"]["id"] == received["message"]["id"]
    assert await receive_type(owner, "unread") == {"type": "unread", "added": 1}
    await tenant.disconnect()
    await owner.disconnect()


async def test_message_still_goes_through_when_the_event_loop_pool_fails(
    conversation, tenant_session, owner_session, monkeypatch
):
    async def unavailable(sql, params, **kwargs):
        raise async_db.Unavailable

    monkeypatch.setattr(async_db, "enabled", lambda alias="default": True)
    monkeypatch.setattr(async_db, "fetchone", unavailable)
    tenant = socket(path_of(conversation), tenant_session)
    owner = socket(path_of(conversation), owner_session)
    assert (await tenant.connect())[0]
    assert (await owner.connect())[0]
    client_id = str(uuid.uuid4())
    await tenant.send_json_to({"type": "message", "client_id": client_id, "body": "Hi"})
    received = await receive_type(owner, "message")
    assert received["message"]["client_id"] == client_id
    assert await receive_type(owner, "unread") == {"type": "unread", "added": 1}
    assert (await receive_type(tenant, "message"))["message"]["client_id"] == client_id
    assert await database_sync_to_async(Message.objects.count)() == 1
    await tenant.disconnect()
    await owner.disconnect()


async def subscribers(group: str) -> set[str]:
    """
    The channels the configured layer holds in a group, and on Redis pub/sub
    the subscriptions Redis itself counts for the group's channel.
    """
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        return set(layer.groups.get(group, {}))
    if not hasattr(layer, "_get_layer"):
        pytest.skip(f"No way to list the groups of {type(layer).__name__}.")
    loop_layer = layer._get_layer()
    channel = loop_layer._get_group_channel_name(group)
    members = set(loop_layer.groups.get(channel, set()))
    shard = loop_layer._get_shard(channel)
    shard._ensure_redis()
    [(_name, count)] = await shard._redis.pubsub_numsub(channel)
    if count:
        members.add(f"{count} Redis subscription(s)")
    return members


async def test_closed_sockets_leave_their_groups(conversation, tenant_session):
    chat = socket(path_of(conversation), tenant_session)
    badge = socket("/ws/messages/", tenant_session)
    assert (await chat.connect())[0]
    assert (await badge.connect())[0]
    groups = (
        events.conversation_group(conversation.pk),
        events.user_group(conversation.tenant_id),
    )
    assert all([await subscribers(group) for group in groups])
    await chat.disconnect()
    await badge.disconnect()
    for group in groups:
        assert await subscribers(group) == set(), group
