"""
Visitors who hang up mid-request, against the real server: daphne in its own
process with a small connection pool, on PostgreSQL (and Redis for the
websockets). Every pooled connection must come back, nothing may be left in
a transaction, and the next visitors must be served as if nothing happened.
"""

import asyncio
import json
import os
import random
import socket
import uuid
from contextlib import asynccontextmanager

import psycopg
import pytest
from django.db import connection
from django.test import Client

from listings.tests.factories import ListingFactory
from messaging.models import Message
from messaging.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db(transaction=True)

POOL_MAX = 4


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the connection pool under test is PostgreSQL's (psycopg)")


def _dsn() -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"],
        host=db.get("HOST") or "",
        port=str(db.get("PORT") or ""),
        user=db.get("USER") or "",
        password=db.get("PASSWORD") or "",
    )


@pytest.fixture
def small_pool_server(postgres, asgi_server, tmp_path):
    """Daphne with a pool of 4, its sessions named so pg_stat_activity shows them."""
    app_name = f"hangup-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "daphne.log"
    with asgi_server(
        log=log,
        DATABASE_POOL_MIN="1",
        DATABASE_POOL_MAX=str(POOL_MAX),
        DATABASE_POOL_TIMEOUT="2",
        PGAPPNAME=app_name,
        REDIS_KEY_PREFIX=app_name,
        # Behind a proxy, as in production: each visitor has its own address,
        # so the per-address search limit does not refuse this one test.
        PROXY_COUNT="1",
    ) as server:
        server.app_name = app_name
        server.log = log
        yield server


# --- A raw HTTP client that can hang up at any moment ----------------------------


def _phone() -> str:
    """A visitor's address as the proxy in front reports it: each one its own."""
    return (
        f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    )


async def _send_request(server, path: str, *, partial: bool = False):
    reader, writer = await asyncio.open_connection(server.host, server.port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: {_phone()}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(request.encode()[: len(request) // 2] if partial else request.encode())
    await writer.drain()
    return reader, writer


def _hang_up(writer) -> None:
    """Half the time a reset, as a phone losing its network; else a plain close."""
    if random.random() < 0.5:
        writer.transport.abort()
    else:
        writer.close()


async def hang_up_after(server, path: str, seconds: float, *, partial=False):
    _, writer = await _send_request(server, path, partial=partial)
    await asyncio.sleep(seconds)
    _hang_up(writer)


async def hang_up_mid_response(server, path: str):
    """Reads the first bytes of the answer, then leaves."""
    reader, writer = await _send_request(server, path)
    try:
        await asyncio.wait_for(reader.read(256), 10)
    finally:
        _hang_up(writer)


async def fetch(server, path: str, timeout: float = 10) -> tuple[int, bytes]:
    reader, writer = await _send_request(server, path)
    try:
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def bounded(coroutines, limit: int = 16):
    gate = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with gate:
            await coroutine

    await asyncio.gather(*(run(c) for c in coroutines))


# --- What the server's process and PostgreSQL say ---------------------------------


async def sessions_of(app_name: str) -> list[tuple]:
    async with await psycopg.AsyncConnection.connect(_dsn(), autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT state, wait_event_type FROM pg_stat_activity "
            "WHERE application_name = %s",
            [app_name],
        )
        return await cursor.fetchall()


async def wait_until_quiet(server, timeout: float = 20) -> dict:
    """/readyz once every connection the process borrowed is back in its pool."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await fetch(server, "/readyz")
        ready = json.loads(body)
        pool = ready["pool"]
        if status == 200 and pool["idle"] == pool["size"] and not pool["waiting"]:
            return ready
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"The pool never came back: {ready}")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def listings_locked():
    """Every query on listings waits while this holds the table: a slow query."""
    async with await psycopg.AsyncConnection.connect(_dsn()) as conn:
        await conn.execute("LOCK TABLE listings_listing IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            await conn.rollback()


async def wait_for_sessions(app_name: str, count: int, timeout: float = 10) -> None:
    """Waits until `count` of the server's sessions wait on the locked table."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        waiting = [s for s in await sessions_of(app_name) if s[1] == "Lock"]
        if len(waiting) >= count:
            return
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(
                f"Only {len(waiting)} of {count} pooled connections could be "
                "borrowed at once: the others are lost."
            )
        await asyncio.sleep(0.05)


async def assert_every_connection_is_back(server) -> None:
    ready = await wait_until_quiet(server)
    assert ready["checks"]["database"] == "ok"
    sessions = await sessions_of(server.app_name)
    assert not [s for s in sessions if s[0] != "idle"], sessions
    # The whole pool can still be borrowed at once: each page below takes a
    # connection and waits on the locked table until all of them have one.
    async with listings_locked():
        pages = [
            asyncio.ensure_future(fetch(server, f"/rent/?rent_max={60_000 + n}"))
            for n in range(POOL_MAX)
        ]
        await wait_for_sessions(server.app_name, POOL_MAX)
    assert [status for status, _ in await asyncio.gather(*pages)] == [200] * POOL_MAX
    await wait_until_quiet(server)
    log = server.log.read_text()
    assert "Exception inside application" not in log, log[-3000:]
    assert "CurrentThreadExecutor" not in log, log[-3000:]


def test_visitors_hanging_up_leave_every_pooled_connection_back(small_pool_server):
    server = small_pool_server
    listings = ListingFactory.create_batch(25)
    detail = listings[0].get_absolute_url()

    def page(n: int) -> str:
        # A different rent bound each time: no answer comes from the cache.
        return random.choice(
            [f"/rent/?rent_max={30_000 + n}", f"/rent/?q=flat&rent_max={30_000 + n}"]
        )

    async def scenario():
        # Before the view runs: half a request, or a whole one and gone at once.
        await bounded(
            hang_up_after(server, page(n), random.uniform(0, 0.01), partial=n % 3 == 0)
            for n in range(100)
        )
        # During the query: the pages wait on the locked table (and, beyond
        # the pool's four, for a connection) when their visitors leave.
        async with listings_locked():
            await bounded(
                (
                    hang_up_after(server, page(n), random.uniform(0, 0.4))
                    for n in range(100, 200)
                ),
                limit=32,
            )
            await asyncio.sleep(0.2)
        # While the answer is on its way.
        await bounded(
            hang_up_mid_response(server, page(n) if n % 4 else detail)
            for n in range(200, 300)
        )
        await assert_every_connection_is_back(server)
        # And the next visitors are served.
        statuses = [(await fetch(server, page(n)))[0] for n in range(300, 310)]
        assert statuses == [200] * 10
        assert (await fetch(server, detail))[0] == 200

    asyncio.run(scenario())


# --- Readiness ---------------------------------------------------------------------


def test_readyz_is_unavailable_while_the_pool_is_exhausted_and_recovers(
    small_pool_server,
):
    server = small_pool_server
    ListingFactory.create_batch(3)

    async def scenario():
        assert (await fetch(server, "/readyz"))[0] == 200
        async with listings_locked():
            # Every connection of the pool is lent to a page stuck on the table.
            pages = [
                asyncio.ensure_future(fetch(server, f"/rent/?rent_max={40_000 + n}"))
                for n in range(POOL_MAX)
            ]
            await wait_for_sessions(server.app_name, POOL_MAX)
            status, body = await fetch(server, "/readyz")
            assert status == 503
            ready = json.loads(body)
            assert ready["failed"] == ["database"]
            assert ready["checks"]["database"] == "failed: PoolTimeout"
            assert ready["pool"]["idle"] == 0
            assert ready["pool"]["size"] == POOL_MAX
            # Liveness does not depend on the database.
            assert (await fetch(server, "/healthz"))[0] == 200
        assert [status for status, _ in await asyncio.gather(*pages)] == [200] * 4
        await wait_until_quiet(server)

    asyncio.run(scenario())


def test_readyz_is_unavailable_when_the_database_cannot_be_reached(
    postgres, asgi_server
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nothing_there = sock.getsockname()[1]
    with asgi_server(
        database_url=f"postgres://nobody@127.0.0.1:{nothing_there}/none"
    ) as server:

        async def scenario():
            assert (await fetch(server, "/healthz"))[0] == 200
            status, body = await fetch(server, "/readyz")
            assert status == 503
            assert json.loads(body)["failed"] == ["database"]

        asyncio.run(scenario())


# --- Websockets -------------------------------------------------------------------


@pytest.fixture
def redis_layer():
    if not os.environ.get("REDIS_URL"):
        pytest.skip("the groups under test are Redis pub/sub subscriptions")
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    yield client
    client.close()


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_sockets_closed_mid_message_leave_nothing_behind(
    small_pool_server, redis_layer
):
    import websockets
    from websockets.frames import Frame, Opcode

    server = small_pool_server
    conversation = ConversationFactory()
    cookies = {
        "tenant": _session_cookie(conversation.tenant),
        "owner": _session_cookie(conversation.owner),
    }
    chat = f"{server.ws_url}/ws/messages/{conversation.pk}/"
    badge = f"{server.ws_url}/ws/messages/"

    def connect(url: str, who: str):
        return websockets.connect(
            url,
            origin=server.url,
            additional_headers={"Cookie": f"sessionid={cookies[who]}"},
            open_timeout=10,
        )

    def chat_message(n: int) -> str:
        return json.dumps(
            {"type": "message", "client_id": str(uuid.uuid4()), "body": f"Hello {n}"}
        )

    async def leave_mid_message(n: int):
        who = random.choice(["tenant", "owner"])
        socket = await connect(chat if n % 4 else badge, who)
        how = n % 3
        if how == 0:
            # Half a frame of a message, then the network is gone.
            frame = Frame(Opcode.TEXT, chat_message(n).encode())
            data = frame.serialize(mask=True, extensions=[])
            socket.transport.write(data[: len(data) // 2])
            await asyncio.sleep(random.uniform(0, 0.05))
            socket.transport.abort()
        elif how == 1:
            # A whole message, gone before the answer.
            await socket.send(chat_message(n))
            socket.transport.abort()
        else:
            await socket.send(json.dumps({"type": "typing"}))
            await socket.send(chat_message(n))
            await asyncio.sleep(random.uniform(0, 0.05))
            await socket.close()

    def channels_left() -> list[bytes]:
        return redis_layer.pubsub_channels(f"{server.app_name}*")

    async def scenario():
        await bounded((leave_mid_message(n) for n in range(60)), limit=10)
        deadline = asyncio.get_running_loop().time() + 10
        while channels_left() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        # No socket's channel and no group subscription outlives its socket.
        assert channels_left() == [], server.log.read_text()[-3000:]
        await assert_every_connection_is_back(server)
        # The conversation still works end to end.
        async with connect(chat, "owner") as owner, connect(chat, "tenant") as tenant:
            await tenant.send(chat_message(1000))
            while True:
                event = json.loads(await asyncio.wait_for(owner.recv(), 10))
                if event["type"] == "message":
                    break
            assert event["message"]["body"] == "Hello 1000"
        deadline = asyncio.get_running_loop().time() + 10
        while channels_left() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        assert channels_left() == []

    asyncio.run(scenario())
    # Each message the server read whole was stored once.
    bodies = list(
        Message.objects.filter(conversation=conversation).values_list("body", flat=True)
    )
    assert len(bodies) == len(set(bodies))
    assert "Hello 1000" in bodies
