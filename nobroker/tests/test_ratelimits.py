"""The one rate-limit table: every route classified, and each kind of limit holds."""

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.tests.factories import UserFactory
from conftest import PASSWORD
from listings.tests.factories import ListingFactory
from messaging.models import Message
from messaging.tests.factories import ConversationFactory
from nobroker import async_db, ratelimits
from nobroker.asgi import application
from nobroker.origins import site_origins
from nobroker.ratelimits import GET, Limit


def _route_names(resolver=None, namespace=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or ""
            if inner == "admin":
                continue  # Staff only; its writes fall under DEFAULT.
            prefix = f"{namespace}{inner}:" if inner else namespace
            yield from _route_names(pattern, prefix)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_named_route_is_limited_or_listed_as_not_writing():
    names = set(_route_names())
    unclassified = names - set(ratelimits.LIMITS) - ratelimits.NOT_LIMITED
    assert not unclassified, f"Add these to nobroker/ratelimits.py: {unclassified}"
    assert not set(ratelimits.LIMITS) & ratelimits.NOT_LIMITED


def test_every_address_limit_is_far_above_its_user_limit():
    for name, limit in ratelimits.LIMITS.items():
        if limit.user and limit.address:
            user, user_period = ratelimits.parse_rate(limit.user)
            address, address_period = ratelimits.parse_rate(limit.address)
            assert user_period == address_period, name
            assert address >= 10 * user, name


@pytest.fixture
def signup_data():
    def _data(n):
        return {
            "full_name": "Pooja Gurung",
            "email": f"pooja{n}@example.np",
            "phone": "9841234567",
            "role": "tenant",
            "password1": PASSWORD,
            "password2": PASSWORD,
        }

    return _data


@pytest.mark.django_db
def test_password_reset_is_limited_per_email_and_other_addresses_still_go(
    client, tenant, mailbox, django_capture_on_commit_callbacks
):
    url = reverse("accounts:password_reset")
    statuses = []
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            statuses.append(client.post(url, {"email": tenant.email}).status_code)
    assert statuses == [302, 302, 302, 429, 429]
    assert len(mailbox) == 3
    # The same inbox typed another way is the same inbox.
    shouted = client.post(url, {"email": tenant.email.upper()})
    assert shouted.status_code == 429
    other = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"email": other.email}).status_code == 302
    assert len(mailbox) == 4


@pytest.mark.django_db
def test_password_reset_is_limited_per_client_address(client, monkeypatch):
    monkeypatch.setitem(
        ratelimits.LIMITS, "accounts:password_reset", Limit(email="3/h", address="4/h")
    )
    url = reverse("accounts:password_reset")
    statuses = [
        client.post(url, {"email": f"someone{n}@example.np"}).status_code
        for n in range(6)
    ]
    assert statuses == [302] * 4 + [429] * 2
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert elsewhere.post(url, {"email": "someone9@example.np"}).status_code == 302


@pytest.mark.django_db
def test_one_device_is_stopped_signing_up_and_its_neighbour_on_the_address_is_not(
    signup_data,
):
    url = reverse("accounts:signup")
    phone = Client(REMOTE_ADDR="27.34.0.1")
    phone.get(url)
    assert ratelimits.DEVICE_COOKIE in phone.cookies
    statuses = []
    for n in range(6):
        statuses.append(phone.post(url, signup_data(n)).status_code)
        phone.cookies.pop("sessionid", None)  # signed in: sign up again as new
    assert statuses == [302] * 5 + [429]

    neighbour = Client(REMOTE_ADDR="27.34.0.1")
    neighbour.get(url)
    assert neighbour.post(url, signup_data(99)).status_code == 302


@pytest.mark.django_db
def test_many_people_can_sign_up_from_one_shared_address(signup_data, settings):
    """A mobile operator's address: thirty new accounts in an hour all go through."""
    url = reverse("accounts:signup")
    for n in range(30):
        person = Client(REMOTE_ADDR="27.34.0.2")
        person.get(url)
        assert person.post(url, signup_data(n)).status_code == 302


@pytest.mark.django_db
def test_over_the_limit_is_a_friendly_page_with_retry_after(
    client, tenant, monkeypatch
):
    monkeypatch.setitem(
        ratelimits.LIMITS, "listings:report", Limit(user="2/h", address="20/h")
    )
    listing = ListingFactory()
    client.force_login(tenant)
    url = reverse("listings:report", args=[listing.pk])
    for _ in range(2):
        client.post(url, {"reason": "scam"})
    response = client.post(url, {"reason": "scam"})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "Try again in about" in response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    # Per user: another person on the same address is not held up.
    client.force_login(UserFactory())
    assert client.post(url, {"reason": "scam"}).status_code != 429


@pytest.mark.django_db
def test_json_callers_get_json_when_limited(client, tenant, monkeypatch):
    monkeypatch.setitem(
        ratelimits.LIMITS, "listings:shortlist_toggle", Limit(user="1/m", address="9/m")
    )
    listing = ListingFactory()
    client.force_login(tenant)
    url = reverse("listings:shortlist_toggle", args=[listing.pk])
    client.post(url, headers={"Accept": "application/json"})
    response = client.post(url, headers={"Accept": "application/json"})
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert response.json()["retry_after"] == int(response["Retry-After"])


@pytest.mark.django_db
def test_search_has_a_generous_per_address_limit(client, monkeypatch):
    count, period = ratelimits.parse_rate(ratelimits.LIMITS["listings:search"].address)
    assert count >= 100 and period == 60
    monkeypatch.setitem(
        ratelimits.LIMITS, "listings:search", Limit(address="3/m", methods=GET)
    )
    url = reverse("listings:search")
    statuses = [client.get(url).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.django_db
def test_a_spoofed_forwarded_for_changes_nothing(settings, monkeypatch):
    """Behind one proxy only the entry it appends counts; the rest is the client's."""
    settings.PROXY_COUNT = 1
    monkeypatch.setitem(
        ratelimits.LIMITS, "listings:search", Limit(address="3/m", methods=GET)
    )
    url = reverse("listings:search")
    proxy = Client(REMOTE_ADDR="10.0.0.5")
    statuses = [
        proxy.get(
            url, headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.7"}
        ).status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    # Someone else behind the same proxy is counted apart.
    other = proxy.get(url, headers={"X-Forwarded-For": "203.0.113.8"})
    assert other.status_code == 200


@pytest.mark.django_db
def test_without_trusted_proxies_forwarded_for_is_ignored(settings, monkeypatch):
    settings.PROXY_COUNT = 0
    monkeypatch.setitem(
        ratelimits.LIMITS, "listings:search", Limit(address="2/m", methods=GET)
    )
    url = reverse("listings:search")
    client = Client(REMOTE_ADDR="203.0.113.7")
    statuses = [
        client.get(url, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_client_address_takes_the_outermost_trusted_proxys_entry(settings):
    settings.PROXY_COUNT = 2
    assert ratelimits.client_address("10.0.0.1", "1.1.1.1, 2.2.2.2, 3.3.3.3") == (
        "2.2.2.2"
    )
    # Fewer entries than proxies: the request did not come through them.
    assert ratelimits.client_address("10.0.0.1", "3.3.3.3") == "10.0.0.1"


def test_an_ipv6_client_is_counted_by_its_64_block():
    one = ratelimits.address_group("2400:1a00:b030:1::5")
    same_home = ratelimits.address_group("2400:1a00:b030:1:abcd::9")
    other = ratelimits.address_group("2400:1a00:b030:2::5")
    assert one == same_home != other


def _break_the_cache(monkeypatch):
    """The counters' store stops answering: a Redis at a closed port, or locmem failing."""
    from django.core.cache import cache

    if ratelimits._redis_backed():
        import django_redis
        import redis

        dead = redis.Redis(port=1, socket_connect_timeout=0.2)
        monkeypatch.setattr(django_redis, "get_redis_connection", lambda alias: dead)
    else:

        def broken(*args, **kwargs):
            raise ConnectionError("cache down")

        monkeypatch.setattr(cache, "add", broken)


def test_a_cache_outage_refuses_nobody(monkeypatch):
    _break_the_cache(monkeypatch)
    assert ratelimits.hit("x", "1/m", "v") == 0
    assert ratelimits.hit("x", "1/m", "v") == 0
    limit = Limit(user="1/m", address="1/m")
    for _ in range(3):
        assert ratelimits.check("x", limit, user_id=1, address="10.1.1.1") == 0


def test_every_key_of_a_limit_is_counted_and_the_tightest_wait_wins():
    limit = Limit(user="2/m", address="5/h")
    waits = [
        ratelimits.check("both", limit, user_id=7, address="10.2.2.2") for _ in range(3)
    ]
    assert waits[:2] == [0, 0]
    assert 1 <= waits[2] <= 60  # the user's minute, not the address's hour
    # Another user on the address is still let through, and counted.
    assert ratelimits.check("both", limit, user_id=8, address="10.2.2.2") == 0
    assert ratelimits.check("both", limit, user_id=8, address="10.2.2.2") == 0
    assert ratelimits.check("both", limit, user_id=9, address="10.2.2.2") > 60


async def test_a_socket_counts_in_the_same_counters_as_pages(monkeypatch):
    from types import SimpleNamespace

    from django.core.cache import cache

    monkeypatch.setitem(ratelimits.LIMITS, "mixed", Limit(user="3/m", address="100/m"))
    scope = {
        "user": SimpleNamespace(pk=5, is_authenticated=True),
        "client": ("10.3.3.3", 5000),
        "headers": [],
    }
    # Two posts through the page, then the socket opens: one send left.
    for _ in range(2):
        assert (
            ratelimits.check(
                "mixed", ratelimits.LIMITS["mixed"], user_id=5, address="10.3.3.3"
            )
            == 0
        )
    limit = ratelimits.SocketLimit("mixed", scope)
    await limit.begin()
    assert limit.wait() == 0
    cache.set("count:messages:9", 4)
    await limit.count(forget=["count:messages:9"])
    assert cache.get("count:messages:9") is None  # forgotten in the same trip
    assert 1 <= limit.wait() <= 60  # the third was the last of the minute
    # The page sees the socket's sends too.
    assert (
        ratelimits.check(
            "mixed", ratelimits.LIMITS["mixed"], user_id=5, address="10.3.3.3"
        )
        > 0
    )
    # A socket opened by someone already over the limit is refused at once.
    late = ratelimits.SocketLimit("mixed", scope)
    await late.begin()
    assert late.wait() > 0


async def test_a_socket_keeps_working_when_the_counters_are_down(monkeypatch):
    from types import SimpleNamespace

    from nobroker import counters

    scope = {
        "user": SimpleNamespace(pk=5, is_authenticated=True),
        "client": ("10.4.4.4", 1),
    }
    limit = ratelimits.SocketLimit("messaging:detail", scope)
    if ratelimits._redis_backed():
        import redis.asyncio

        dead = redis.asyncio.Redis(port=1, socket_connect_timeout=0.2)
        monkeypatch.setattr(ratelimits, "async_redis", lambda: dead)
    else:

        def broken(*args, **kwargs):
            raise ConnectionError("cache down")

        monkeypatch.setattr(ratelimits, "_increment", broken)
        monkeypatch.setattr(counters.cache, "get", broken)
    await limit.begin()
    for _ in range(3):
        await limit.count(forget=["count:messages:1"])
    assert limit.wait() == 0


@pytest.mark.django_db(transaction=True)
async def test_websocket_message_sends_share_the_message_limit(monkeypatch):
    monkeypatch.setitem(
        ratelimits.LIMITS, "messaging:detail", Limit(user="3/m", address="30/m")
    )
    conversation = await database_sync_to_async(ConversationFactory)()
    client = Client()
    await database_sync_to_async(client.force_login)(conversation.tenant)
    socket = WebsocketCommunicator(
        application,
        f"/ws/messages/{conversation.pk}/",
        headers=[
            (b"host", b"localhost"),
            (b"origin", site_origins()[0].encode()),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ],
    )
    connected, _ = await socket.connect()
    assert connected
    answers = []
    for n in range(5):
        await socket.send_json_to(
            {"type": "message", "client_id": str(uuid.uuid4()), "body": f"hi {n}"}
        )
        while True:
            event = await socket.receive_json_from(timeout=5)
            if event["type"] in {"message", "error"}:
                answers.append(event.get("code", event["type"]))
                break
    assert answers == ["message"] * 3 + ["slow_down"] * 2
    assert await database_sync_to_async(Message.objects.count)() == 3
    await socket.disconnect()
    await async_db.close_all()
